"""The build manifest kept in each CI folder (`.bricktasks-build.json`), and the survey of CI/.

`invoke ci` writes it; clean-ci, builds and the summary read it. A malformed one is reported as
such (never trusted), so a hostile or broken manifest cannot make clean-ci delete a live build.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bricktasks.backends.base import Backend, ObjectType
from bricktasks.errors import Conflict, InvalidRequest, NotFound
from bricktasks.layout import ProjectLayout, is_build_name, join
from bricktasks.workspace.sync import (
    DEFAULT_WORKERS,
)

__all__ = [
    "BUILD_MANIFEST", "CiBuild", "CiFolders", "write_build_manifest", "read_build_manifest", "load_build_manifest",
    "list_ci_builds", "survey_ci",
]

BUILD_MANIFEST = ".bricktasks-build.json"
# A manifest `created` this far ahead of our clock is not clock skew but a broken manifest.
CLOCK_SKEW = timedelta(days=1)
MAX_RUN_ID = 2**63 - 1  # the Jobs API's run ids are int64
# ours stay far below (their metrics are capped): a larger one is hostile or broken, not parsed
MAX_MANIFEST_BYTES = 2_000_000


@dataclass(frozen=True)
class CiBuild:
    name: str  # <build>-<branch folder>
    path: str
    created: datetime  # the manifest's time, else the folder's (see `manifest`)
    run_id: int | None
    branch: str | None
    result: str | None = None
    manifest: str = "ok"  # "ok", "missing", or what is wrong with it (the build is then kept and reported)


@dataclass(frozen=True)
class CiFolders:
    """What CI/ holds: the builds, and the entries that are not builds (kept, never touched)."""

    builds: list[CiBuild]
    not_builds: list[str]


def write_build_manifest(backend: Backend, ci_folder: str, data: dict) -> None:
    body = json.dumps(data, indent=1, sort_keys=True).encode()
    backend.import_object(join(ci_folder, BUILD_MANIFEST), body, format="AUTO", overwrite=True)


def read_build_manifest(backend: Backend, ci_folder: str) -> dict | None:
    """The build's manifest, or None when it is missing or malformed (see `_load_manifest`)."""
    data, problem = _load_manifest(backend, ci_folder)
    return data if problem is None else None


def load_build_manifest(backend: Backend, ci_folder: str) -> tuple[dict | None, str | None]:
    """(manifest, None), or (None, what is wrong with it) for a report to say: "missing", not JSON, ..."""
    return _load_manifest(backend, ci_folder)


def _load_manifest(backend: Backend, ci_folder: str) -> tuple[dict | None, str | None]:
    """(manifest, problem): (None, "missing") while the upload runs; a problem names what is malformed."""
    try:
        body = backend.export(join(ci_folder, BUILD_MANIFEST))
    except NotFound:
        return None, "missing"
    except (InvalidRequest, Conflict):  # a folder (or something else no file) in the manifest's place
        return None, f"{BUILD_MANIFEST} is not a file"
    if len(body) > MAX_MANIFEST_BYTES:
        return None, f"{BUILD_MANIFEST} is larger than {MAX_MANIFEST_BYTES // 1_000_000} MB"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError included; RecursionError: nested too deep
        return None, f"{BUILD_MANIFEST} is not JSON"
    if not isinstance(data, dict):
        return None, f"{BUILD_MANIFEST} is not a JSON object"
    run_id = data.get("run_id")
    if run_id is not None and (isinstance(run_id, bool) or not isinstance(run_id, int) or not 0 < run_id <= MAX_RUN_ID):
        return None, f"its run_id {_shown(run_id)} is not a run id"
    if _parse_time(data.get("created")) is None:
        return None, f"its created {_shown(data.get('created'))} is not a time"
    for key in ("branch", "result"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return None, f"its {key} {_shown(data[key])} is not text"
    return data, None


def _shown(value: object) -> str:
    """A manifest value for a one-line message: JSON, escaped, cut short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def list_ci_builds(backend: Backend, layout: ProjectLayout, *, workers: int = DEFAULT_WORKERS) -> list[CiBuild]:
    """Every CI build folder with its creation time (manifest, else the folder's modification time)."""
    return survey_ci(backend, layout, workers=workers).builds


def survey_ci(backend: Backend, layout: ProjectLayout, *, workers: int = DEFAULT_WORKERS) -> CiFolders:
    """CI/'s builds (oldest first) and the names of what else it holds."""
    try:
        entries = backend.list(layout.ci_root)
    except NotFound:
        return CiFolders([], [])
    folders, not_builds = [], []
    for info in entries:
        name = info.path.rsplit("/", 1)[1]
        if info.object_type is ObjectType.DIRECTORY and is_build_name(name):
            folders.append(info)
        else:
            not_builds.append(name)

    def describe(info) -> CiBuild:
        manifest, problem = _load_manifest(backend, info.path)
        manifest = manifest or {}
        created = _parse_time(manifest.get("created")) or datetime.fromtimestamp((info.modified_at or 0) / 1000, timezone.utc)
        name = info.path.rsplit("/", 1)[1]
        return CiBuild(
            name, info.path, created, manifest.get("run_id"), manifest.get("branch"), manifest.get("result"), problem or "ok"
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        builds = sorted(pool.map(describe, folders), key=lambda build: build.created)
    return CiFolders(builds, sorted(not_builds))


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


