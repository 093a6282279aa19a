"""The checks a run's libraries get at submit, before anything starts: a `pypi` library's package
must be one PEP 508 requirement and its `repo` an http(s) index; a `requirements` library a path;
a serverless environment's `dependencies` requirement strings or library paths. Shared by the
Jobs API rules (`task_rules`: the emulator's runs/submit and saved jobs) and the local run store's
submit, so both refuse the same input with the same InvalidRequest (400 INVALID_PARAMETER_VALUE over
HTTP). Messages are ours (the real API's are unconfirmed): what is wrong and what to give instead.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bricktasks.errors import InvalidRequest
from bricktasks.pipcache import index_problem, requirement_problem

__all__ = ["check_libraries", "check_environments", "is_library_path"]

_PATH_PREFIXES = ("/", "dbfs:/")


def is_library_path(text: str) -> bool:
    """Whether an environment dependency names a file (a wheel on the workspace, DBFS or a Volume)."""
    return text.startswith(_PATH_PREFIXES)


def check_libraries(task_key: str, libraries: Iterable[Mapping[str, Any]]) -> None:
    """InvalidRequest for the first malformed `pypi` or `requirements` library of a task."""
    for library in libraries:
        if "pypi" in library:
            _check_pypi(task_key, library["pypi"])
        if "requirements" in library:
            location = library["requirements"]
            if not isinstance(location, str) or not is_library_path(location) or "\x00" in location:
                raise InvalidRequest(
                    f"task {task_key!r}: requirements must be the path of a requirements.txt file; got {location!r}",
                    "give a /Workspace/..., /Volumes/... or dbfs:/ path",
                )


def _check_pypi(task_key: str, pypi: Any) -> None:
    if not isinstance(pypi, Mapping):
        raise InvalidRequest(f"task {task_key!r}: pypi must be an object {{\"package\": ..., \"repo\": ...}}")
    problem = requirement_problem(pypi.get("package"))
    if problem is None and pypi.get("repo") is not None:
        problem = index_problem(pypi["repo"])
    if problem is not None:
        raise InvalidRequest(f"task {task_key!r}: pypi library: {problem}")


def check_environments(environments: Iterable[Mapping[str, Any]]) -> None:
    """InvalidRequest for the first environment whose spec.dependencies are not requirement strings
    or library paths."""
    for environment in environments:
        key = environment.get("environment_key")
        dependencies = (environment.get("spec") or {}).get("dependencies")
        if dependencies is None:
            continue
        if not isinstance(dependencies, list):
            raise InvalidRequest(f"environment {key!r}: spec.dependencies must be a list of requirement strings")
        for dependency in dependencies:
            if isinstance(dependency, str) and is_library_path(dependency) and "\x00" not in dependency:
                continue
            problem = requirement_problem(dependency)
            if problem is not None:
                raise InvalidRequest(
                    f"environment {key!r}: dependency {problem}",
                    "each dependency is a requirement ('name==1.0', 'name @ https://...') or a library path",
                )
