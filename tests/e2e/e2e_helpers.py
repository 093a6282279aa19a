"""End-to-end helpers: notebooks the tests write, the project copy (bricktasks.projectcopy) with
its local backend, and process checks.

A module of its own (not conftest) so tests import it by a name no other test folder uses."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from pathlib import Path

from bricktasks import projectcopy
from bricktasks.backends.local import LocalBackend
from bricktasks.projectcopy import clean_environment, wait_until  # noqa: F401 - the tests import them from here

REPO = Path(__file__).resolve().parents[2]

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


class ProjectCopy(projectcopy.ProjectCopy):
    """The example project's copy, with what the tests look at in its local backend."""

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
