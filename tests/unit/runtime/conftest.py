"""Fixtures of the runtime tests: a local root, a notebook runner, and one real wheel per session."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import LocalRoot, RunCells, build_wheel, notebook

from bricktasks.runtime import NotebookResult


@pytest.fixture
def local(tmp_path: Path) -> LocalRoot:
    return LocalRoot(tmp_path)


@pytest.fixture
def run_cells(local: LocalRoot) -> RunCells:
    """Write the cells as /Projects/p/Main and run it."""

    def run(*cells: str, **fields: Any) -> NotebookResult:
        local.write("/Projects/p/Main", notebook(*cells))
        return local.run("/Projects/p/Main", **fields)

    return run


_WHEELS: dict[Path, Path] = {}  # one build per test session, whichever module asks first


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real wheel of a tiny package `rtwheel` (needs only pandas), built with pip."""
    session = tmp_path_factory.getbasetemp()
    if session not in _WHEELS:
        _WHEELS[session] = build_wheel(tmp_path_factory)
    return _WHEELS[session]


