"""A git working copy of a project in a temporary folder, driven with `invoke` in a subprocess.

Support for the end-to-end tests and the benchmarks (as `bricktasks.testing.emulator` is for the
emulator): both need the same copy, the same hermetic environment and the same way to call invoke.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["COPIED", "IGNORED", "clean_environment", "wait_until", "ProjectCopy"]

# what a project copy holds: the tasks, the notebooks, the libraries and their settings
COPIED = ["tasks.py", "forecasting", "libs", "cluster.json", ".gitignore", ".env.example"]
IGNORED = shutil.ignore_patterns("__pycache__", "build", "dist", "*.egg-info", ".pytest_cache", ".databricks-local")
# variables that would make the copy think it runs in some CI system or against a workspace, or
# send its requests through a proxy (copies talk to loopback only)
STRIPPED_PREFIXES = (
    "DATABRICKS_", "BRICKTASKS_", "GITHUB_", "GITLAB_", "CI_", "BUILD_", "SYSTEM_", "CIRCLE", "BITBUCKET_", "BUILDKITE",
    "JENKINS_",
)
STRIPPED = {
    "CI", "TF_BUILD", "PIPELINES_BUILD_ID", "GIT_BRANCH", "BRANCH_NAME", "CHANGE_BRANCH", "JOB_NAME", "BUILD_NUMBER",
    "GIT_COMMIT", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy",
}

T = TypeVar("T")


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without CI, workspace or proxy variables, plus `extra`."""
    env = {name: value for name, value in os.environ.items() if name not in STRIPPED and not name.startswith(STRIPPED_PREFIXES)}
    env.update(extra or {})
    return env


def wait_until(predicate: Callable[[], T], timeout: float = 120.0, interval: float = 0.2) -> T:
    """Poll `predicate` until it returns something true, and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout:g} s")


class ProjectCopy:
    """A git working copy of a project (by default this repository's example) in `root`."""

    source_dir = "forecasting"

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def create(cls, root: Path, *, repo: Path, author: str = "CI", prepare: Callable[[Path], None] | None = None):
        """Copy `repo`'s project files into a new `root`, let `prepare` add to it, and commit it all on main."""
        root.mkdir(parents=True)
        for name in COPIED:
            source = repo / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=IGNORED)
            elif source.exists():
                shutil.copy2(source, root / name)
        copy = cls(root)
        if prepare:
            prepare(copy.source)
        copy.git("init", "-q", "-b", "main")
        copy.git("config", "user.email", f"{author.lower()}@example.com")
        copy.git("config", "user.name", author)
        copy.commit_all("initial")
        return copy

    def clone(self, root: Path):
        """A fresh clone: the same commit, new modification times."""
        subprocess.run(["git", "clone", "-q", str(self.root), str(root)], check=True, capture_output=True)
        return type(self)(root)

    @property
    def source(self) -> Path:
        return self.root / self.source_dir

    @property
    def local_root(self) -> Path:
        return self.root / ".databricks-local"

    def git(self, *args: str) -> str:
        return subprocess.run(["git", *args], cwd=self.root, check=True, capture_output=True, text=True).stdout.strip()

    def commit_all(self, message: str = "change") -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def write_notebook(self, name: str, source: str) -> None:
        (self.source / f"{name}.py").write_text(source)

    def invoke(self, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "invoke", *args], cwd=self.root, env=clean_environment(env),
            capture_output=True, text=True, timeout=timeout,
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args], cwd=self.root, env=clean_environment(env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
