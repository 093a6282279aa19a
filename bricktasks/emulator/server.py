"""The emulator's HTTP server: a local backend root served as the Databricks REST API.

One `ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive. Each request goes through, in
order: framing and NUL checks, latency, auth, rate limit, fault decision (all before the handler
touches any state), the handler, and one request-log entry. Tests start it in-process with
`start_emulator`; `python -m bricktasks.emulator` runs it as a process.

An error answer never shows where the emulator keeps its files: the root's disk paths in it are
written as the API paths they stand for (`/Workspace/...`, `/dbfs/...`, `/Volumes/...`), as are
those in the Jobs API's answers (run logs and errors).
"""
from __future__ import annotations

import errno
import hmac
import json
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bricktasks.emulator import dbfs_api, files_api, jobs_api, jobs_saved_api, workspace_api
from bricktasks.emulator.faults import DEFAULT_FAULT_KINDS, FaultInjector, TokenBucket
from bricktasks.emulator.protocol import (
    CHUNK,
    ApiError,
    BodyReader,
    Request,
    Response,
    api_error_for,
    content_length,
    json_response,
)
from bricktasks.emulator.requestlog import RequestLog
from bricktasks.emulator.routing import QUIRKS, EmulatorState, Route
from bricktasks.emulator.schedules import ScheduleFirer
from bricktasks.errors import BricktasksError

__all__ = ["EmulatorOptions", "EmulatorServer", "EmulatorHandle", "start_emulator", "ROUTES"]


def _host_config(request: Request, state: EmulatorState, match) -> Response:
    # `{}`: the SDK finds no OIDC endpoint, account or workspace id and keeps the explicit
    # configuration, without the warning a 404 would log on every client start
    return json_response({})


ROUTES: list[Route] = [
    Route.of("GET", r"/\.well-known/databricks-config", _host_config, mutating=False, api="meta"),
    *workspace_api.ROUTES,
    *dbfs_api.ROUTES,
    *files_api.ROUTES,
    *jobs_api.ROUTES,
    *jobs_saved_api.ROUTES,
]


@dataclass(frozen=True)
class EmulatorOptions:
    """How the emulator behaves; the CLI flags map one to one."""

    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = field(default=None, repr=False)  # never shown
    no_auth: bool = False  # without a token, serving anyone must be asked for
    latency_ms: float = 0.0
    rate_limit: float | None = None
    fault_rate: float = 0.0
    seed: int | None = None
    fault_kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    request_log: Path | None = None
    quirks: tuple[str, ...] = ()  # see routing.QUIRKS
    serverless: bool = True  # False: a workspace without serverless jobs (--no-serverless)
    cluster_start_s: float = 0.0  # how long a task on a new cluster stays PENDING (--cluster-start-s)
    run_schedules: bool = False  # fire saved jobs' UNPAUSED schedules (--run-schedules, see schedules.py)


class EmulatorServer(ThreadingHTTPServer):
    """The HTTP server plus what its handlers share."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, options: EmulatorOptions) -> None:
        self.options = options
        unknown = set(options.quirks) - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; known: {', '.join(QUIRKS)}")
        if not options.token and not options.no_auth:
            raise ValueError("the emulator needs a token, or no_auth=True to accept unauthenticated requests on purpose")
        self.state = EmulatorState(
            Path(root), tuple(options.quirks), serverless=options.serverless, cluster_start_s=options.cluster_start_s
        )
        self.disk_paths = _disk_path_names([Path(root).absolute(), self.state.backend.paths.root])
        self.log = RequestLog(options.request_log)
        self.bucket = TokenBucket(options.rate_limit) if options.rate_limit else None
        self.faults = FaultInjector(options.fault_rate, options.seed, options.fault_kinds) if options.fault_rate > 0 else None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((options.host, options.port), EmulatorHandler)
        self.schedules = ScheduleFirer(self.state.backend).start() if options.run_schedules else None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):  # a TCP server's address is (str, int); the type allows a bytes host
            host = host.decode()
        return f"http://{host}:{port}"

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def close_connections(self) -> None:
        """End idle keep-alive connections, so no handler thread serves a stopped emulator."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def without_disk_paths(self, response: Response) -> Response:
        """The answer with the root's disk paths written as the API paths they stand for."""
        if response.file is not None or not response.content_type.startswith("application/json"):
            return response
        body = response.body
        for disk, shown in self.disk_paths:
            body = body.replace(disk, shown)
        response.body = body
        return response

    def route(self, method: str, path: str) -> tuple[Route | None, Any]:
        for route in ROUTES:
            found = route.pattern.match(path)
            if found and route.method == method:
                return route, found
        return None, None


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries its Content-Length
    server_version = "bricktasks-emulator"
    timeout = 300  # an idle keep-alive connection is closed after this many seconds
    server: EmulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request log is the record, and it never holds headers or bodies."""

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # -- one request ------------------------------------------------------------
    def _serve(self) -> None:
        server, options = self.server, self.server.options
        started = time.time()
        split = urlsplit(self.path)  # absolute URLs arrive when a client uses us as its proxy
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        early = _malformed(self.path, query)
        try:
            length = content_length(self.headers)
        except ApiError as exc:
            # the body's end is unknown: read none of it, answer, and close the connection
            early, length = exc, 0
            self.close_connection = True
        body = BodyReader(self.rfile, self.headers, length)
        base_url = f"http://{self.headers.get('Host') or server.url.split('//', 1)[1]}"
        request = Request(self.command, split.path or "/", query, self.headers, body, base_url)
        route, match = server.route(self.command, request.path)
        entry: dict[str, Any] = {
            "t": round(started, 6), "method": self.command, "path": request.path, "query": query,
            "status": None, "mutating": bool(route and route.mutating), "target": None, "bytes_in": 0,
        }
        fault = None
        logged = False

        def record(status: int | None) -> None:
            # logged before the answer goes out: a client that saw the answer finds its entry
            nonlocal logged
            entry.update(status=status, target=request.target, bytes_in=body.bytes_read)
            if fault:
                entry["fault"] = fault
            server.log.record(entry)
            logged = True

        try:
            if options.latency_ms:
                time.sleep(options.latency_ms / 1000.0)
            response = early.response() if early is not None else self._admit(request, route)
            if response is None and server.faults is not None and request.path.startswith("/api/"):
                fault = server.faults.decide()  # decided before the handler can change anything
            if fault == "drop":
                record(None)
                return self._hang_up()
            if fault == "503":
                response = ApiError(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable (injected fault).").response()
            if response is None:
                assert route is not None  # _admit answers an unknown endpoint with a 404
                response = self._call(request, route, match)
            if response.status >= 400 or (route is not None and route.api == "jobs"):
                response = server.without_disk_paths(response)
            try:
                body.drain()  # unread body bytes would turn our close into a reset that eats the answer
            except ApiError:
                self.close_connection = True  # a body we cannot frame: answer, then hang up
            if fault == "drop-after":
                record(None)
                return self._hang_up()
            record(response.status)
            self._write(response)
        except (ConnectionError, OSError, TimeoutError):
            self.close_connection = True  # the client went away mid-request
        finally:
            if not logged:
                record(None)

    def _admit(self, request: Request, route: Route | None) -> Response | None:
        """An early answer (401, 429, 404 for unknown endpoints) or None to go on."""
        options = self.server.options
        is_api = request.path.startswith("/api/")
        if not options.no_auth and (route is None or route.api != "meta"):
            supplied = self.headers.get("Authorization") or ""
            if not hmac.compare_digest(supplied.encode(), f"Bearer {options.token}".encode()):
                return ApiError(401, "UNAUTHENTICATED", "Invalid access token: send Authorization: Bearer <token>.").response()
        if is_api and self.server.bucket is not None:
            wait = self.server.bucket.take()
            if wait is not None:
                message = "Too many requests: the rate limit is exceeded."
                return ApiError(429, "REQUEST_LIMIT_EXCEEDED", message, {"Retry-After": str(wait)}).response()
        if route is None:
            return ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{self.command} {request.path}'").response()
        return None

    def _call(self, request: Request, route: Route, match: Any) -> Response:
        try:
            return route.handler(request, self.server.state, match)
        except ApiError as exc:
            return exc.response()
        except BricktasksError as exc:
            return api_error_for(exc, route.api).response()
        except (ConnectionError, TimeoutError):
            raise
        except OSError as exc:
            return _disk_error(exc).response()
        except Exception as exc:  # noqa: BLE001 - a bug in a handler answers 500, never a hang
            traceback.print_exc(file=sys.stderr)
            return ApiError(500, "INTERNAL_ERROR", f"emulator handler failed: {type(exc).__name__}: {exc}").response()

    def _hang_up(self) -> None:
        """Close the connection without an answer, as a dropped connection does."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(response.length))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD" or response.status in (204, 304):
            return
        if response.file is None:
            self.wfile.write(response.body)
            return
        remaining = response.length
        with open(response.file, "rb") as source:
            source.seek(response.file_offset)
            while remaining > 0:
                data = source.read(min(CHUNK, remaining))
                if not data:
                    self.close_connection = True  # the file shrank meanwhile: the framing is broken
                    return
                self.wfile.write(data)
                remaining -= len(data)


def _malformed(raw_target: str, query: dict[str, str]) -> ApiError | None:
    """A 400 for a NUL byte in the path or the query, raw or percent-encoded (no file name holds one)."""
    if "\x00" in unquote(raw_target) or any("\x00" in key or "\x00" in value for key, value in query.items()):
        return ApiError(400, "INVALID_PARAMETER_VALUE", "the request's path or query contains a NUL byte")
    return None


# what the disk refused, as Databricks answers a request that cannot be done (never with the disk path)
_DISK_ERRORS = {
    errno.ENAMETOOLONG: (400, "INVALID_PARAMETER_VALUE", "a name in the path is longer than 255 bytes"),
    errno.EEXIST: (400, "RESOURCE_ALREADY_EXISTS", "a file is in the way of the path"),
    errno.ENOTDIR: (400, "RESOURCE_ALREADY_EXISTS", "a file is in the way of the path"),
    errno.EISDIR: (400, "RESOURCE_ALREADY_EXISTS", "a folder is in the way of the path"),
    errno.ENOENT: (404, "RESOURCE_DOES_NOT_EXIST", "the path does not exist"),
}


def _disk_error(exc: OSError) -> ApiError:
    known = _DISK_ERRORS.get(exc.errno or 0)
    if known:
        return ApiError(*known)
    traceback.print_exc(file=sys.stderr)
    return ApiError(500, "INTERNAL_ERROR", f"emulator handler failed: {type(exc).__name__}: {exc.strerror or 'disk error'}")


def _disk_path_names(roots: list[Path]) -> list[tuple[bytes, bytes]]:
    """(disk path as it appears in a JSON string, what to show instead), longest first, for the root
    as given and as resolved (a root reached through a link has two spellings)."""
    shown = [("workspace", "/Workspace"), ("dbfs", "/dbfs"), ("volumes", "/Volumes"), ("", "<emulator root>")]
    names = {}
    for base in roots:
        for folder, instead in shown:
            disk = str(base / folder) if folder else str(base)
            names[json.dumps(disk)[1:-1].encode()] = instead.encode()
    return sorted(names.items(), key=lambda pair: len(pair[0]), reverse=True)


class EmulatorHandle:
    """An emulator serving in a thread of this process: `.url`, `.requests`, `.stop()`."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = server.url
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="bricktasks-emulator")
        self._thread.start()
        self._stopped = False

    @property
    def root(self) -> Path:
        return self.server.state.backend.root

    @property
    def backend(self):
        """The LocalBackend over the served root (to check what clients wrote)."""
        return self.server.state.backend

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.log.entries()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.server.schedules is not None:
            self.server.schedules.stop()  # before the state closes: no firing into a closed root
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.server.state.close()
        self.server.log.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(root: Path | str, **options: Any) -> EmulatorHandle:
    """Serve `root` on 127.0.0.1 (port 0: a free one) in a background thread.

    Options are `EmulatorOptions` fields: host, port, token, no_auth, latency_ms, rate_limit,
    fault_rate, seed, fault_kinds, request_log, quirks, serverless, cluster_start_s. Without a token this in-process test
    emulator accepts any request, as if `no_auth=True` were given (the process needs it said).
    """
    options.setdefault("no_auth", not options.get("token"))
    if "request_log" in options and options["request_log"] is not None:
        options["request_log"] = Path(options["request_log"])
    for name in ("fault_kinds", "quirks"):
        if isinstance(options.get(name), str):
            options[name] = tuple(options[name].split(","))
    return EmulatorHandle(EmulatorServer(Path(root), EmulatorOptions(**options)))
