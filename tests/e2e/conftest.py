"""End-to-end fixtures; the helpers they use live in e2e_helpers."""
from __future__ import annotations

from pathlib import Path

import pytest

from e2e_helpers import REPO, ProjectCopy


@pytest.fixture
def project(tmp_path: Path) -> ProjectCopy:
    return ProjectCopy.create(tmp_path / "project", repo=REPO)
