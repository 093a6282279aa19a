"""Fixtures of the unit tests: a local backend on disk, a minimal project, a console that records.

Real parts only: the backend is a `LocalBackend` on a temporary folder, the project is files on
disk (a git working copy where a test asks for one), the console prints into a StringIO.
"""
from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.console.console import Console
from bricktasks.project import Project, load_project

HEADER = "# Databricks notebook source\n"
# what a plain checkout of the project holds in its notebooks folder (the default source dir)
NOTEBOOKS = {
    "ModelTraining.py": HEADER + "# MAGIC %run ./set_environment\n\n# COMMAND ----------\n\nprint('train')\n",
    "PrepareData.py": HEADER + "print('prepare')\n",
    "reports/Weekly.py": HEADER + "print('weekly')\n",
    "set_environment.py": HEADER + "# MAGIC %run ./conf/dev_config\n",
    "install_libraries.py": HEADER + "# committed copy\n",
    "conf/dev_config.py": HEADER + "ENV = 'dev'\n",
    "conf/ci_config.py": HEADER + "ENV = 'ci'\n",
    "helper.py": "def helper():\n    return 1\n",  # no header: a workspace file, not a notebook
    "data.csv": "a,b\n1,2\n",
}
LIBRARY_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "tinylib"
version = "0.3.1"

[tool.setuptools]
packages = ["tinylib"]
"""


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` with a fixed identity (no global config needed); its stripped stdout."""
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class RecordingConsole:
    """A real Console printing into StringIOs; `lines` is what it printed, in order."""

    console: Console
    out: io.StringIO
    err: io.StringIO

    @property
    def lines(self) -> list[str]:
        """Every line printed, its HH:MM:SS timestamp (a log's, not a terminal's) removed."""
        return [_TIMESTAMP.sub("", line) for line in self.out.getvalue().splitlines()]

    @property
    def warnings(self) -> list[str]:
        return [_TIMESTAMP.sub("", line) for line in self.err.getvalue().splitlines()]


_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d ")


@pytest.fixture
def recording() -> RecordingConsole:
    out, err = io.StringIO(), io.StringIO()
    # as in a CI log: a line per message, no progress bars drawn
    return RecordingConsole(Console(stream=out, error_stream=err, terminal=False), out, err)


@pytest.fixture
def console(recording: RecordingConsole) -> Console:
    return recording.console


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    """A local backend in its own folder (beside, never inside, a project folder)."""
    return LocalBackend(tmp_path / "backend")


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A minimal project on disk: notebooks under forecasting/ (the default source dir), its
    configs in conf/, the helper notebooks, and one tiny library under libs/."""
    root = tmp_path / "project"
    write_files(root / "forecasting", NOTEBOOKS)
    write_files(
        root / "libs" / "tinylib",
        {"pyproject.toml": LIBRARY_PYPROJECT, "tinylib/__init__.py": "VALUE = 3\n"},
    )
    return root


@pytest.fixture
def git_project_dir(project_dir: Path) -> Path:
    """`project_dir` as a git working copy on branch BI-7 with one commit."""
    git(project_dir, "init", "-q", "-b", "BI-7")
    git(project_dir, "add", "-A")
    git(project_dir, "commit", "-q", "-m", "initial")
    return project_dir


@pytest.fixture
def make_project(project_dir: Path) -> Callable[..., Project]:
    """Load `project_dir` as a Project: `make_project(environ={...}, **flags)`; no .env unless a test writes one."""

    def make(environ: dict[str, str] | None = None, **flags: object) -> Project:
        return load_project(project_dir, environ or {}, flags or None)

    return make


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    """The minimal project with default settings (local backend, /Projects/forecasting)."""
    return make_project()


def write_wheel(folder: Path, name: str = "tinylib", version: str = "0.3.1", *, body: str = "VALUE = 3\n") -> Path:
    """A real, installable pure-Python wheel of package `name` (one module, no dependencies),
    written with zipfile: no build backend needed."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": body,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: bricktasks-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for rel, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{rel},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for rel, text in files.items():
            archive.writestr(rel, text)
    return wheel


@pytest.fixture
def make_wheel(tmp_path: Path) -> Callable[..., Path]:
    """`make_wheel(name="tinylib", version="0.3.1", body=...)`: a real wheel under tmp_path/wheels."""
    return lambda name="tinylib", version="0.3.1", **options: write_wheel(tmp_path / "wheels", name, version, **options)


@pytest.fixture
def add_files() -> Callable[[Path, dict[str, str]], Path]:
    """`add_files(folder, {"rel/path": text})`: write text files, making their folders."""
    return write_files


@pytest.fixture
def run_git() -> Callable[..., str]:
    """`run_git(cwd, *args)`: git with a fixed identity; its stripped stdout."""
    return git
