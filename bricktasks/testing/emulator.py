"""Helpers for tests and benchmarks: the emulator as a subprocess, and clients pointed at it.

    with EmulatorProcess(tmp_path / "root", token="t") as emulator:
        backend = databricks_backend(emulator.url, "t")
        ...
        emulator.requests()          # the request log so far

`start_emulator` (in-process, a thread) is re-exported here so test code imports one module.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bricktasks.emulator.__main__ import TOKEN_ENV
from bricktasks.emulator.requestlog import read_request_log
from bricktasks.emulator.server import EmulatorHandle, start_emulator

__all__ = [
    "EmulatorProcess",
    "EmulatorHandle",
    "start_emulator",
    "databricks_backend",
    "workspace_client",
    "client_environment",
    "raw_api",
    "LISTENING",
]

LISTENING = "bricktasks emulator listening on "


class EmulatorProcess:
    """`python -m bricktasks.emulator` in a subprocess: started on enter, SIGTERMed on exit.

    Options mirror the CLI flags (token, no_auth, latency_ms, rate_limit, fault_rate, seed,
    fault_kinds, host, port, serverless, cluster_start_s, cluster_id). Give a token or `no_auth=True`: with neither the emulator refuses
    to start. A request log is always kept (in `request_log`, default a file beside the root)
    so `requests()` can read it.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str | None = None,
        no_auth: bool = False,
        latency_ms: float = 0.0,
        rate_limit: float | None = None,
        fault_rate: float = 0.0,
        seed: int | None = None,
        fault_kinds: str | None = None,
        request_log: Path | str | None = None,
        quirks: tuple[str, ...] = (),
        serverless: bool = True,
        cluster_start_s: float = 0.0,
        run_schedules: bool = False,
        cluster_id: str | None = None,
        startup_timeout: float = 20.0,
        program: tuple[str, ...] | None = None,
    ) -> None:
        """`program`: what starts the emulator, default this Python's `-m bricktasks.emulator` (an installed
        package's console script is `(<venv>/bin/bricktasks, "emulator")`)."""
        self.root = Path(root)
        self.request_log = Path(request_log) if request_log else self.root.parent / f"{self.root.name}.requests.jsonl"
        started_by = list(program) if program else [sys.executable, "-m", "bricktasks.emulator"]
        self.command = [*started_by, "--root", str(self.root), "--port", str(port), "--host", host]
        for flag, value in (
            ("--latency-ms", latency_ms or None), ("--rate-limit", rate_limit), ("--fault-rate", fault_rate or None),
            ("--seed", seed), ("--fault-kinds", fault_kinds), ("--request-log", self.request_log),
        ):
            if value is not None:
                self.command += [flag, str(value)]
        for quirk in quirks:
            self.command += ["--quirk", quirk]
        if no_auth:
            self.command.append("--no-auth")
        if not serverless:
            self.command.append("--no-serverless")
        if cluster_start_s:
            self.command += ["--cluster-start-s", str(cluster_start_s)]
        if run_schedules:
            self.command.append("--run-schedules")
        if cluster_id is not None:
            self.command += ["--cluster-id", cluster_id]
        self._token = token  # handed over in the environment, not argv, and never printed
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"EmulatorProcess(root={str(self.root)!r}, url={self.url!r})"

    def start(self) -> EmulatorProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=self._environment(),
        )
        line: list[str] = []
        stdout = self.process.stdout
        assert stdout is not None  # stdout=PIPE
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].startswith(LISTENING):
            self._end(10.0)
            error = self.process.stderr.read() if self.process.stderr else ""  # before stop() closes it
            self.stop()
            raise RuntimeError(f"the emulator did not start: {(line[0] if line else '').strip()} {error.strip()[-2000:]}")
        self.url = line[0][len(LISTENING):].strip()
        return self

    def _environment(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if name != TOKEN_ENV}
        if self._token:
            env[TOKEN_ENV] = self._token
        return env

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def requests(self) -> list[dict[str, Any]]:
        return read_request_log(self.request_log)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not end. Returns the exit code."""
        if self.process is None:
            return None
        self._end(timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        return self.process.returncode

    def _end(self, timeout: float) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def workspace_client(url: str, token: str = "emulator-token", **config: Any):
    """A databricks-sdk WorkspaceClient for the emulator, independent of DATABRICKS_* in the environment."""
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    settings = {"retry_timeout_seconds": 30, "http_timeout_seconds": 30, **config}
    return WorkspaceClient(config=Config(host=url, token=token, auth_type="pat", **settings))


def databricks_backend(url: str, token: str = "emulator-token", **options: Any):
    """A DatabricksBackend for the emulator with short retry budgets (tests fail fast)."""
    from bricktasks.backends.databricks import DatabricksBackend

    options.setdefault("retry_timeout_seconds", 30)
    options.setdefault("http_timeout_seconds", 30)
    return DatabricksBackend(host=url, token=token, profile=None, **options)


def client_environment(url: str, token: str = "emulator-token") -> dict[str, str]:
    """Variables that point `invoke` (or any Databricks client) at the emulator, for subprocess envs."""
    return {"DATABRICKS_HOST": url, "DATABRICKS_TOKEN": token, "BRICKTASKS_BACKEND": "databricks"}


@contextmanager
def raw_api(url: str, token: str) -> Iterator[Callable[..., Any]]:
    """`call(method, path, **requests_kwargs)` against the emulator at `url` with `token`: the raw HTTP a
    test needs where the SDK would hide the status or reshape the body (one keep-alive session)."""
    import requests  # the SDK's own dependency; imported here so that importing this module stays cheap

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return session.request(method, url + path, timeout=30, **kwargs)

    try:
        yield call
    finally:
        session.close()
