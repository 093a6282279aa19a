"""End-to-end fixtures; the helpers they use live in e2e_helpers."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e_helpers import COPIED, IGNORED, REPO, ProjectCopy


@pytest.fixture
def project(tmp_path: Path) -> ProjectCopy:
    root = tmp_path / "project"
    root.mkdir()
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=IGNORED)
        else:
            shutil.copy2(source, root / name)
    copy = ProjectCopy(root)
    copy.git("init", "-q", "-b", "main")
    copy.git("config", "user.email", "ci@example.com")
    copy.git("config", "user.name", "CI")
    copy.commit_all("initial")
    return copy
