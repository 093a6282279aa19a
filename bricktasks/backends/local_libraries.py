"""What a local task installs before its notebook starts, from its settings as submitted: library
files (whl/egg on the workspace, DBFS or a Volume), pip requests (`pypi` libraries, each its own;
a `requirements` file, as one; a serverless environment's `spec.dependencies`, as one) and the
problems a cluster would report without running the task (a missing file, a bad requirements file).

The pip requests are installed by the task's own process (`runtime.session`, through `pipcache`),
so a slow index never holds up the scheduler's loop and a cancel kills the install with the task.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bricktasks.backends.library_rules import is_library_path
from bricktasks.backends.local_paths import LocalPaths
from bricktasks.errors import InvalidRequest
from bricktasks.pipcache import PipRequest, parse_requirements_text

__all__ = ["TaskLibraries", "task_libraries"]


@dataclass
class TaskLibraries:
    """A task's libraries resolved on this machine."""

    files: list[str] = field(default_factory=list)
    pip_requests: list[PipRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def task_libraries(
    paths: LocalPaths, libraries: list[dict[str, Any]], environment: Mapping[str, Any] | None = None
) -> TaskLibraries:
    """The task's `libraries` (classic compute) and its serverless `environment`'s dependencies."""
    found = TaskLibraries()
    for library in libraries:
        if "whl" in library or "egg" in library:
            _add_file(paths, str(library.get("whl") or library["egg"]), found)
        elif "pypi" in library:
            pypi = library["pypi"]
            found.pip_requests.append(PipRequest((str(pypi["package"]),), pypi.get("repo") or None))
        elif "requirements" in library:
            _add_requirements_file(paths, str(library["requirements"]), found)
    dependencies = ((environment or {}).get("spec") or {}).get("dependencies") or []
    requirements = []
    for dependency in dependencies:
        if is_library_path(dependency):
            _add_file(paths, dependency, found)
        else:
            requirements.append(dependency)
    if requirements:
        found.pip_requests.append(PipRequest(tuple(requirements)))
    return found


def _add_file(paths: LocalPaths, location: str, found: TaskLibraries) -> None:
    local = _local(paths, location, found)
    if local is None:
        return
    if local.is_file():
        found.files.append(str(local))
    else:
        found.problems.append(f"library {location} does not exist")


def _add_requirements_file(paths: LocalPaths, location: str, found: TaskLibraries) -> None:
    local = _local(paths, location, found)
    if local is None:
        return
    if not local.is_file():
        found.problems.append(f"requirements file {location} does not exist")
        return
    try:
        found.pip_requests.append(parse_requirements_text(local.read_text(encoding="utf-8"), location))
    except (ValueError, UnicodeDecodeError) as exc:
        found.problems.append(str(exc))


def _local(paths: LocalPaths, location: str, found: TaskLibraries) -> Path | None:
    try:
        return paths.file_path(location)
    except InvalidRequest as exc:
        found.problems.append(exc.message)
        return None
