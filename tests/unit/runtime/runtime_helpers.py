"""Helpers for the runtime tests: a local root with notebooks and runs, and a real wheel's build.
The fixtures that use them are in conftest.py beside this file."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bricktasks.runtime import NotebookResult, RuntimeContext, execute_notebook

HEADER = "# Databricks notebook source\n"
RunCells = Callable[..., NotebookResult]  # the run_cells fixture: write cells as /Projects/p/Main, run it
SEP = "\n# COMMAND ----------\n\n"


def notebook(*cells: str) -> str:
    """Source text of a notebook with these cells, as Databricks exports it."""
    return HEADER + SEP.join(cell.rstrip("\n") + "\n" for cell in cells)


class LocalRoot:
    """A local backend root with helpers to write notebooks and run them in-process."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.root.mkdir()
        self._runs = 0

    def write(self, workspace_path: str, source: str) -> Path:
        file = self.root / "workspace" / (workspace_path.lstrip("/") + ".py")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(source)
        return file

    def context(self, **fields: Any) -> RuntimeContext:
        self._runs += 1
        return RuntimeContext(local_root=self.root, run_dir=self.base / f"run{self._runs}", **fields)

    def run(self, workspace_path: str, **fields: Any) -> NotebookResult:
        return execute_notebook(self.context(**fields), workspace_path)


def build_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("rtwheel-src")
    (source / "rtwheel").mkdir()
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "rtwheel"\nversion = "0.1.0"\ndependencies = ["pandas"]\n'
    )
    (source / "rtwheel" / "__init__.py").write_text(
        "OFFSET = 100\n\n\ndef shift(frame):\n    frame = frame.copy()\n    frame['v'] = frame['v'] + OFFSET\n    return frame\n"
    )
    dist = tmp_path_factory.mktemp("rtwheel-dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(dist), str(source)],
        check=True, cwd=source,
    )
    (built,) = dist.glob("rtwheel-*.whl")
    return built
