"""End-to-end helpers: a temporary git copy of the project, driven with `invoke` in a subprocess.

A module of its own (not conftest) so tests import it by a name no other test folder uses."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bricktasks.backends.local import LocalBackend

REPO = Path(__file__).resolve().parents[2]
COPIED = ["tasks.py", "forecasting", "libs", "cluster.json", ".gitignore", ".env.example"]
IGNORED = shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info", ".pytest_cache")
# variables that would make the copy think it runs in some CI system or against a workspace
STRIPPED_PREFIXES = ("DATABRICKS_", "BRICKTASKS_", "GITHUB_", "GITLAB_", "CI_", "BUILD_", "SYSTEM_", "CIRCLE", "BITBUCKET_", "BUILDKITE", "JENKINS_")
STRIPPED = {"CI", "TF_BUILD", "PIPELINES_BUILD_ID", "GIT_BRANCH", "BRANCH_NAME", "CHANGE_BRANCH", "JOB_NAME", "BUILD_NUMBER", "GIT_COMMIT"}

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


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in STRIPPED and not name.startswith(STRIPPED_PREFIXES)
    }
    env.update(extra or {})
    return env


class ProjectCopy:
    """A git working copy of the example project in a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def local_root(self) -> Path:
        return self.root / ".databricks-local"

    def backend(self) -> LocalBackend:
        return LocalBackend(self.local_root)

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout.strip()

    def commit_all(self, message: str = "change") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def write_notebook(self, name: str, source: str) -> None:
        (self.root / "forecasting" / f"{name}.py").write_text(source)

    def invoke(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=clean_environment(env),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=clean_environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

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


def wait_until(predicate, timeout: float = 120.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


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
