"""`invoke builds`: each CI build folder with its branch, age and how it ended (or that it runs).

The result comes from the build manifest `invoke ci` writes when the run ends; a build without
one is asked about its run (still running, or a run whose waiter died before recording it).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from bricktasks.backends.base import Backend
from bricktasks.ci.manifest import CiBuild, list_ci_builds
from bricktasks.console.console import printable as shown
from bricktasks.durations import format_duration
from bricktasks.errors import BackendError
from bricktasks.layout import ProjectLayout

__all__ = ["RUNNING", "NO_RUN", "UNKNOWN", "MALFORMED", "BuildStatus", "ci_build_statuses", "format_table", "shown"]

RUNNING = "running"
NO_RUN = "no run"  # the upload is under way, or it failed before a run was submitted
UNKNOWN = "unknown"  # the run is gone or cannot be asked about
MALFORMED = "malformed manifest"  # clean-ci keeps such a build and says what is wrong with it


@dataclass(frozen=True)
class BuildStatus:
    build: CiBuild
    result: str
    age_s: float

    def as_dict(self) -> dict:
        return {
            "name": self.build.name,
            "branch": self.build.branch,
            "created": self.build.created.isoformat(timespec="seconds"),
            "age_s": int(self.age_s),
            "result": self.result,
            "run_id": self.build.run_id,
            "folder": self.build.path,
        }


def build_result(backend: Backend, build: CiBuild) -> str:
    """The manifest's recorded result, else the run's: `running` while it is active."""
    if build.manifest not in ("ok", "missing"):
        return MALFORMED
    if build.result:
        return build.result
    if build.run_id is None:
        return NO_RUN
    try:
        run = backend.get_run(int(build.run_id))
    except (BackendError, ValueError, TypeError):
        return UNKNOWN
    if not run.is_terminal:
        return RUNNING
    return run.result_state or run.life_cycle_state


def ci_build_statuses(
    backend: Backend, layout: ProjectLayout, *, now: datetime, branch: str | None = None, workers: int = 8
) -> list[BuildStatus]:
    """Every CI build (of `branch`, if given), newest first."""
    builds = [build for build in list_ci_builds(backend, layout) if branch is None or build.branch == branch]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda build: build_result(backend, build), builds))
    statuses = [BuildStatus(build, result, (now - build.created).total_seconds()) for build, result in zip(builds, results, strict=True)]
    return sorted(statuses, key=lambda status: status.build.created, reverse=True)


def format_table(statuses: list[BuildStatus]) -> list[str]:
    """Aligned lines: a header, then one line per build."""
    rows = [("BUILD", "BRANCH", "AGE", "RESULT")] + [
        (shown(status.build.name), shown(status.build.branch), format_duration(status.age_s), shown(status.result))
        for status in statuses
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3] for row in rows]
