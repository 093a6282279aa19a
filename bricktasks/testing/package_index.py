"""A PEP 503 "simple" package index on loopback, serving wheels built by the test, with a request log.

    wheel = build_wheel(tmp_path / "build", "bricktasks-tinypkg", "1.0", {"bt_tinypkg": "VALUE = 'tiny'\\n"})
    with PackageIndex([wheel]) as index:
        ... pypi={"package": "bricktasks-tinypkg==1.0", "repo": index.url} ...
        index.requests()          # every path asked for so far

`closed_index_url()` is an index nobody listens on (a loopback port just freed): what an
unreachable index looks like, without waiting for a timeout.
"""
from __future__ import annotations

import hashlib
import html
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

__all__ = ["PackageIndex", "build_wheel", "closed_index_url", "normalize_name"]


def normalize_name(name: str) -> str:
    """PEP 503's normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheel(folder: Path, name: str, version: str, modules: dict[str, str], requires: tuple[str, ...] = ()) -> Path:
    """A real wheel of a minimal setuptools project (`modules`: top-level module name -> source),
    built by `pip wheel` offline (no build isolation: setuptools is already installed)."""
    project = Path(folder) / f"{normalize_name(name)}-{version}"
    project.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (project / f"{module}.py").write_text(source, encoding="utf-8")
    dependencies = ", ".join(f'"{requirement}"' for requirement in requires)
    (project / "pyproject.toml").write_text(
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
        f"[project]\nname = \"{name}\"\nversion = \"{version}\"\ndependencies = [{dependencies}]\n\n"
        f"[tool.setuptools]\npy-modules = [{', '.join(repr(module) for module in modules)}]\n",
        encoding="utf-8",
    )
    out = Path(folder) / "wheels"
    command = [
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet",
        "--disable-pip-version-check", "--wheel-dir", str(out), str(project),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    prefix = f"{re.sub(r'[-.]+', '_', name)}-{version}-"
    return next(wheel for wheel in out.glob("*.whl") if wheel.name.lower().startswith(prefix.lower()))


class PackageIndex:
    """`/simple/` (the projects), `/simple/<project>/` (its files, with sha256 fragments) and
    `/files/<wheel>` on 127.0.0.1, port 0; started on enter, stopped on exit."""

    def __init__(self, wheels: list[Path]) -> None:
        self.files = {wheel.name: Path(wheel) for wheel in wheels}
        self._requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="package-index", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple"

    def requests(self) -> list[str]:
        """Every path asked for so far, in order."""
        with self._lock:
            return list(self._requests)

    def __enter__(self) -> PackageIndex:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _projects(self) -> dict[str, list[str]]:
        projects: dict[str, list[str]] = {}
        for name in sorted(self.files):
            projects.setdefault(normalize_name(name.split("-", 1)[0]), []).append(name)
        return projects

    def _page(self, path: str) -> tuple[int, str, bytes]:
        projects = self._projects()
        if path in ("/simple", "/simple/"):
            links = "".join(f'<a href="/simple/{project}/">{project}</a>\n' for project in projects)
            return 200, "text/html", f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        match = re.fullmatch(r"/simple/([^/]+)/?", path)
        if match and normalize_name(match.group(1)) in projects:
            links = "".join(
                f'<a href="/files/{html.escape(name)}#sha256={hashlib.sha256(self.files[name].read_bytes()).hexdigest()}">'
                f"{html.escape(name)}</a>\n"
                for name in projects[normalize_name(match.group(1))]
            )
            return 200, "text/html", f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        match = re.fullmatch(r"/files/([^/]+)", path)
        if match and match.group(1) in self.files:
            return 200, "application/octet-stream", self.files[match.group(1)].read_bytes()
        return 404, "text/plain", b"not found\n"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802  (http.server's name)
                path = self.path.split("?", 1)[0]
                with index._lock:
                    index._requests.append(path)
                status, content_type, body = index._page(path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (http.server's name)
                pass  # the request log is `requests()`; nothing on the test's stderr

        return Handler


def closed_index_url() -> str:
    """An index URL on a loopback port nobody listens on (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"
