"""What init can tell about a repository on its own: its notebook folders (files with the Databricks
header), its libraries (a pyproject.toml or setup.py at the top, or in libs/*, packages/*), its name
and CI system. Every answer is a proposal: flags win."""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bricktasks.backends.base import notebook_language
from bricktasks.layout import HELPER_NOTEBOOKS

__all__ = ["Detected", "detect", "notebooks_in", "DEFAULT_SOURCE"]

DEFAULT_SOURCE = "notebooks"
# folders never searched: tools' state, environments, builds
_SKIPPED = {".git", ".databricks-local", ".bricktasks", ".venv", "venv", "node_modules", "dist", "build", "__pycache__", "ci-results"}
_LIBRARY_PARENTS = ("libs", "packages")
_BUILD_FILES = ("pyproject.toml", "setup.py")
_PROJECT_NAME = re.compile(r'^\s*name\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_CI_MARKERS = ((".github/workflows", "github"), ("azure-pipelines.yml", "azure"), (".gitlab-ci.yml", "gitlab"), ("Jenkinsfile", "jenkins"))


@dataclass(frozen=True)
class Detected:
    name: str
    source: str
    libs: tuple[str, ...]
    ci: str
    notebook_folders: tuple[str, ...]  # every folder holding notebooks, most notebooks first


def _is_notebook(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return notebook_language(path.name, handle.read(64)) is not None
    except OSError:
        return False


def notebooks_in(source_dir: Path) -> list[str]:
    """The runnable notebooks below `source_dir`, relative, without extension (conf/ and the helpers left out)."""
    found = []
    for folder, subfolders, files in os.walk(source_dir):
        subfolders[:] = sorted(name for name in subfolders if name not in _SKIPPED and not name.startswith(".") and name != "conf")
        for file in sorted(files):
            path = Path(folder) / file
            relative = path.relative_to(source_dir).with_suffix("").as_posix()
            if _is_notebook(path) and relative not in HELPER_NOTEBOOKS and not path.is_symlink():
                found.append(relative)
    return sorted(found)


def _notebook_folders(target: Path) -> list[str]:
    counts: Counter[str] = Counter()
    for folder, subfolders, files in os.walk(target):
        subfolders[:] = [name for name in subfolders if name not in _SKIPPED and not name.startswith(".") and name != "conf"]
        here = Path(folder)
        if here == target:
            continue  # the notebooks get a folder of their own
        for file in files:
            if Path(file).stem not in HELPER_NOTEBOOKS and _is_notebook(here / file):
                counts[here.relative_to(target).as_posix()] += 1
    return sorted(counts, key=lambda folder: (-counts[folder], folder.count("/"), folder))


def _libraries(target: Path) -> tuple[str, ...]:
    if any((target / build_file).is_file() for build_file in _BUILD_FILES):
        return (".",)
    found = []
    for parent in _LIBRARY_PARENTS:
        folder = target / parent
        if folder.is_dir():
            found += [
                f"{parent}/{child.name}" for child in sorted(folder.iterdir())
                if child.is_dir() and any((child / build_file).is_file() for build_file in _BUILD_FILES)
            ]
    return tuple(found)


def _name(target: Path) -> str:
    pyproject = target / "pyproject.toml"
    if pyproject.is_file():
        match = _PROJECT_NAME.search(pyproject.read_text(encoding="utf-8", errors="replace"))
        if match:
            return match.group(1)
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", target.name).strip("-.")
    return cleaned or "project"


def _ci(target: Path) -> str:
    for marker, system in _CI_MARKERS:
        if (target / marker).exists():
            return system
    return "github"


def detect(target: Path) -> Detected:
    folders = _notebook_folders(target)
    return Detected(
        name=_name(target), source=folders[0] if folders else DEFAULT_SOURCE, libs=_libraries(target), ci=_ci(target),
        notebook_folders=tuple(folders),
    )
