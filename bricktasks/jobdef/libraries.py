"""The Jobs API's `libraries` entries: what shape each kind takes (cluster.json and job definitions)."""
from __future__ import annotations

from typing import Any

from bricktasks.pipcache import index_problem, requirement_problem

__all__ = ["LIBRARY_KINDS", "library_problem"]

# the Jobs API's library kinds (compute.Library): a path for the first four, an object with these fields for the rest
PATH_LIBRARIES = ("whl", "egg", "jar", "requirements")
PACKAGE_LIBRARIES: dict[str, dict[str, type]] = {
    "pypi": {"package": str, "repo": str},
    "maven": {"coordinates": str, "repo": str, "exclusions": list},
    "cran": {"package": str, "repo": str},
}
REQUIRED_FIELD = {"pypi": "package", "maven": "coordinates", "cran": "package"}
LIBRARY_KINDS = {*PATH_LIBRARIES, *PACKAGE_LIBRARIES}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def library_problem(library: Any) -> str | None:
    """What is wrong with one entry of "libraries", or None."""
    if not isinstance(library, dict) or len(library) != 1 or next(iter(library)) not in LIBRARY_KINDS:
        return f"each library is one of {sorted(LIBRARY_KINDS)}, as an object with that one key"
    kind, value = next(iter(library.items()))
    if kind in PATH_LIBRARIES:
        return None if _is_text(value) else f"{kind} must be a non-empty string (the library's path)"
    if not isinstance(value, dict):
        return f'{kind} must be an object, e.g. {{"{REQUIRED_FIELD[kind]}": "..."}}'
    fields = PACKAGE_LIBRARIES[kind]
    unknown = set(value) - set(fields)
    if unknown:
        return f"{kind} has unknown keys: {', '.join(sorted(map(str, unknown)))}"
    if not _is_text(value.get(REQUIRED_FIELD[kind])):
        return f"{kind}.{REQUIRED_FIELD[kind]} must be a non-empty string"
    for key, kind_of in fields.items():
        if key in value and kind_of is str and not _is_text(value[key]):
            return f"{kind}.{key} must be a non-empty string"
        if key in value and kind_of is list and not (isinstance(value[key], list) and all(_is_text(item) for item in value[key])):
            return f"{kind}.{key} must be a list of strings"
    if kind == "pypi":  # what runs/submit refuses too (backends/library_rules), caught before anything is uploaded
        return requirement_problem(value["package"]) or (index_problem(value["repo"]) if "repo" in value else None)
    return None
