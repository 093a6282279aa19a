"""End-to-end helpers: notebooks the tests write, the project copy (bricktasks.testing.projectcopy) with
its local backend, process checks, and the checks every end-to-end test ends with (the sentinel
token, confinement).

A module of its own (not conftest) so tests import it by a name no other test folder uses."""
from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bricktasks.backends.local import LocalBackend
from bricktasks.testing import projectcopy
from bricktasks.testing.projectcopy import clean_environment, wait_until  # noqa: F401 - the tests import them from here

REPO = Path(__file__).resolve().parents[2]

# Every project copy keeps this token in its .env, as a developer keeps theirs, and the emulator
# tests' emulators accept it: it must never show in what the tasks print or write (issue 6). Shaped
# like a real personal access token, so a pattern-based check would see it too.
SENTINEL_TOKEN = "dapi" + "5e171e1" * 4 + "5e17"
WORKSPACE_ROOT = "/Projects/forecasting"

HEADER = "# Databricks notebook source\n"
SMOKE = HEADER + """# MAGIC %run ./install_libraries

# COMMAND ----------

# MAGIC %run ./set_environment

# COMMAND ----------

import regimecast

dbutils.notebook.exit(f"{ENVIRONMENT} {regimecast.__version__}")
"""
BROKEN = HEADER + """# MAGIC %run ./set_environment

# COMMAND ----------

raise ValueError("quality below threshold")
"""
SLEEPER = HEADER + """import time

time.sleep(300)
"""
SLOW = HEADER + """import time

time.sleep(8)
dbutils.notebook.exit("done")
"""


class RecordedProcess(subprocess.Popen):
    """A started invoke whose output, once read with communicate(), is also kept in `outputs`."""

    def __init__(self, *args: Any, outputs: list[str], **options: Any) -> None:
        self.outputs = outputs
        self.kept = False
        super().__init__(*args, **options)

    def communicate(self, *args: Any, **kwargs: Any) -> tuple[str, str]:
        stdout, stderr = super().communicate(*args, **kwargs)
        self.kept = True
        self.outputs += [stdout or "", stderr or ""]
        return stdout, stderr

    def read_rest(self) -> None:
        """Keep what a process printed that the test never read (one it killed); skips one still running."""
        if not self.kept and self.poll() is not None:
            try:
                self.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):  # a child still holds the pipe; closed streams
                pass


class ProjectCopy(projectcopy.ProjectCopy):
    """The example project's copy, with what the tests look at in its local backend, and everything
    its invoke calls printed (`outputs`), for the end-of-test secret check."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.outputs: list[str] = []
        self.started: list[RecordedProcess] = []
        self.clones: list[ProjectCopy] = []

    def invoke(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        result = super().invoke(*args, env=env, timeout=timeout)
        self.outputs += [result.stdout, result.stderr]
        return result

    def start(self, *args: str, env: dict[str, str] | None = None) -> RecordedProcess:
        process = RecordedProcess(
            [sys.executable, "-m", "invoke", *args], cwd=self.root, env=clean_environment(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, outputs=self.outputs,
        )
        self.started.append(process)
        return process

    def clone(self, root: Path) -> ProjectCopy:
        copy = super().clone(root)
        self.clones.append(copy)
        return copy

    def all_outputs(self) -> list[str]:
        """What this copy's and its clones' invoke calls printed, including killed ones'."""
        for process in self.started:
            process.read_rest()
        return [*self.outputs, *(text for clone in self.clones for text in clone.all_outputs())]

    def dotenv_files(self) -> list[Path]:
        """The .env files that hold the sentinel token on purpose."""
        return [self.root / ".env", *(path for clone in self.clones for path in clone.dotenv_files())]

    def backend(self) -> LocalBackend:
        return LocalBackend(self.local_root)

    def workspace_digest(self) -> str:
        """A hash of the local backend's workspace, DBFS and Volumes (every path and its bytes) plus
        the ids of its runs, to prove a command changed nothing. A run's own records (state, logs)
        are left out: an active run started by the test updates them on its own."""
        digest = hashlib.sha256()
        if self.local_root.exists():
            for path in sorted(self.local_root.rglob("*")):
                relative = path.relative_to(self.local_root)
                if relative.parts[0] == "runs":
                    if len(relative.parts) == 2 and path.is_dir():
                        digest.update(b"run " + relative.parts[1].encode() + b"\0")
                elif path.is_file() and path.name != ".lock":
                    digest.update(str(relative).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()


def processes_mentioning(text: str) -> list[int]:
    """Live (non-zombie) processes whose command line or working folder mentions `text` (a Spark JVM's
    command line does not name the run, but it inherits the run's working folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state != "Z" and (text in cmdline or text in cwd):
            found.append(int(proc.name))
    return found


def terminate(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)


# ---- the checks every end-to-end test ends with (conftest's autouse fixture) ------------------

def secret_leaks(secret: str, *, outputs: Iterable[str], paths: Iterable[Path], allowed: Iterable[Path] = ()) -> list[str]:
    """Where `secret` shows: "output N" for a printed text, a file in `paths` or below them (inside a
    zip archive such as a wheel too: its members are compressed), except the `allowed` files."""
    needle = secret.encode()
    places = [f"output {index}" for index, text in enumerate(outputs) if secret in text]
    allowed_files = {path.resolve() for path in allowed}
    for top in paths:
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if path.is_symlink() or not path.is_file() or path.resolve() in allowed_files:
                continue
            data = path.read_bytes()
            if needle in data:
                places.append(str(path))
            elif zipfile.is_zipfile(io.BytesIO(data)):
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    places += [f"{path}!{name}" for name in archive.namelist() if needle in archive.read(name)]
    return places


def _within(path: str, root: str) -> bool:
    return path == root.rstrip("/") or path.startswith(root.rstrip("/") + "/")


def is_write(request: dict[str, Any]) -> bool:
    """A request that changes, or tries to change, the workspace: the emulator marks its mutating
    endpoints; any other POST, PUT, PATCH or DELETE counts too (an unknown endpoint), except the one
    read-only POST the emulator serves (a download URL)."""
    if request.get("mutating"):
        return True
    return request["method"] in ("POST", "PUT", "PATCH", "DELETE") and not request["path"].endswith("/fs/create-download-url")


def confinement_breaches(
    requests: Iterable[dict[str, Any]], *, library_roots: Iterable[str], master_allowed: bool
) -> list[str]:
    """Write requests aimed outside the workspace root and the library roots, or (unless this is a
    deploy) into master/ or at a master library (a library file right in a library root)."""
    roots = [WORKSPACE_ROOT, f"{WORKSPACE_ROOT}/libraries", *library_roots]
    breaches = []
    for request in requests:
        if not is_write(request):
            continue
        target = request.get("target")
        described = f"{target} <- {request['method']} {request['path']} ({request['status']})"
        if target is None:
            # answered before it was parsed (401, 429, an injected fault): it changed nothing, unless it succeeded
            if request["status"] is not None and request["status"] < 300:
                breaches.append(f"{described}: a write with no target")
            continue
        if not target.startswith(("/", "dbfs:/")):
            continue  # a run id (jobs/runs/cancel): not a place
        if not any(_within(target, root) for root in roots):
            breaches.append(f"{described}: outside the workspace and library roots")
        elif not master_allowed:
            folder, name = target.rsplit("/", 1)
            if _within(target, f"{WORKSPACE_ROOT}/master"):
                breaches.append(f"{described}: into master/ outside a deploy")
            elif any(folder == root.rstrip("/") for root in roots[1:]) and (".whl" in name or ".egg" in name):
                breaches.append(f"{described}: a master library outside a deploy")
    return breaches


def with_the_ci_job(project: ProjectCopy) -> None:
    """The project copy with the example's job definitions (jobs/), committed, as a fresh clone has
    them; the copies leave them out so that the other tests run the shorthand."""
    shutil.copytree(REPO / "jobs", project.root / "jobs")
    project.commit_all("the CI job")


JOB_WRITES = re.compile(r"/api/2\.\d/jobs/(create|reset|update|delete)$")


def succeeded(result: subprocess.CompletedProcess) -> str:
    """What an invoke that must succeed printed (stdout and stderr); its output in the failure otherwise."""
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def job_writes(emulator: Any, since: int = 0) -> list[str]:
    """The saved-job writes in the emulator's request log (from request number `since`): create, reset, update, delete."""
    return [request["path"].rsplit("/", 1)[1] for request in emulator.requests()[since:]
            if request["method"] == "POST" and JOB_WRITES.search(request["path"])]
