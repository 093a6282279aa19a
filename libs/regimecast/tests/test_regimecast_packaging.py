"""Versioning: the build reads the stamped version from the environment and writes it into the package.

Builds run in a copy of the library in a temporary folder, so the tests never leave build/ or
*.egg-info in the source tree (a full wheel/egg build is left to the build tasks: it is slow).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import regimecast as rc

LIBRARY_ROOT = Path(__file__).resolve().parent.parent
VERSION_VARIABLES = ("REGIMECAST_VERSION", "BRICKTASKS_LIB_VERSION")


@pytest.fixture()
def library_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "regimecast"
    copy.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(LIBRARY_ROOT / name, copy / name)
    shutil.copytree(LIBRARY_ROOT / "regimecast", copy / "regimecast", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _setup(library: Path, *args: str, **variables: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in VERSION_VARIABLES}
    env.update(variables)
    result = subprocess.run(
        [sys.executable, "setup.py", *args], cwd=library, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_source_version_is_the_base_version() -> None:
    assert rc.__version__ == "0.4.0"


def test_setup_reads_the_version_from_the_environment(library_copy: Path) -> None:
    assert _setup(library_copy, "--version").split()[-1] == rc.__version__
    assert _setup(library_copy, "--version", BRICKTASKS_LIB_VERSION="0.4.0.dev3+main.gabc1234").split()[-1] == "0.4.0.dev3+main.gabc1234"
    stamped = _setup(library_copy, "--version", REGIMECAST_VERSION="0.4.0.dev12+bi.5613.gabc1234", BRICKTASKS_LIB_VERSION="9.9")
    assert stamped.split()[-1] == "0.4.0.dev12+bi.5613.gabc1234"  # the library's own variable wins


def test_build_stamps_the_version_into_the_package_copy_only(library_copy: Path) -> None:
    source_version_file = (library_copy / "regimecast" / "_version.py").read_text()
    _setup(library_copy, "-q", "build_py", "--build-lib", "out", REGIMECAST_VERSION="0.4.0+gabc1234")
    built = (library_copy / "out" / "regimecast" / "_version.py").read_text()
    assert '__version__ = "0.4.0+gabc1234"' in built
    assert (library_copy / "regimecast" / "_version.py").read_text() == source_version_file
    assert sorted(p.name for p in (library_copy / "out" / "regimecast").glob("*.py")) == sorted(
        p.name for p in (LIBRARY_ROOT / "regimecast").glob("*.py")
    )
