"""A CI build's metrics, and the earlier builds the report compares them with.

`build_metrics` reads this build's metrics from its tasks' exit values and from the MLflow runs
they name (where the backend can read the tracking). `quality_comparison` finds, in a bounded
number of requests, the newest successful build of master/main (the deployed line) and the last
N builds of this branch, and compares (bricktasks.report.quality).

The requests: one listing of CI/, then (in parallel) the manifests of the N newest folders named
like this branch's builds and of the MASTER_CANDIDATES newest named like master's (newest by the
folder's modification time, else by build id); of those, the successful master build created last
is master's. So 1 + N + MASTER_CANDIDATES at most, however many
builds CI/ holds. Each manifest's own branch is checked: a folder's name alone is not trusted.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from bricktasks.backends.base import Backend, ObjectInfo, ObjectType
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.manifest import load_build_manifest
from bricktasks.errors import BackendError, NotFound, UserInputError
from bricktasks.layout import PROTECTED_BRANCHES, ProjectLayout, branch_folder, validate_build_id
from bricktasks.report.model import NotebookRunReport
from bricktasks.report.quality import BuildMetrics, Directions, QualityComparison, compare_quality
from bricktasks.report.quality_metrics import Metrics, clean_metrics, merge_metrics, metrics_from_exit_value, mlflow_run_id

__all__ = ["MASTER_CANDIDATES", "build_metrics", "quality_comparison"]

MASTER_CANDIDATES = 5  # master builds read, newest first, to find the newest successful one
_WORKERS = 4


def build_metrics(backend: Backend, reports: Sequence[NotebookRunReport]) -> Metrics:
    """Each task's exit-value numbers (`<task>.<key>`) and its MLflow run's metrics (`<task>.mlflow.<key>`,
    each MLflow run once: under the first task naming it). An unreadable MLflow run is skipped."""
    parts = []
    seen_runs: set[str] = set()
    for report in reports:
        parts.append(metrics_from_exit_value(report.key, report.exit_value))
        run_id = mlflow_run_id(report.exit_value)
        if run_id is None or run_id in seen_runs:
            continue
        seen_runs.add(run_id)
        try:
            logged = backend.tracked_metrics(run_id)
        except BackendError:
            logged = None
        if logged:
            named = {f"{report.key}.mlflow.{key}": value for key, value in logged.items()}
            parts.append(clean_metrics(named, source=f"{report.key}'s MLflow run"))
    return merge_metrics(parts)


def _split_name(name: str, folders: Sequence[str]) -> str | None:
    """The branch folder of `folders` that `name` (<build id>-<branch folder>) ends with, if any."""
    for folder in folders:
        if name.endswith("-" + folder):
            try:
                validate_build_id(name[: -len(folder) - 1])
            except UserInputError:  # not a build id: not a build of that branch
                continue
            return folder
    return None


def _newest_first(entries: list[ObjectInfo]) -> list[ObjectInfo]:
    def key(info: ObjectInfo) -> tuple[int, list[object]]:
        name = info.path.rsplit("/", 1)[1]
        # a natural order of the build id, so 10 comes after 9 where there are no times
        natural: list[object] = [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]
        return (info.modified_at or 0, natural)

    return sorted(entries, key=key, reverse=True)


def _read(backend: Backend, info: ObjectInfo) -> tuple[BuildMetrics | None, str | None]:
    name = info.path.rsplit("/", 1)[1]
    manifest, problem = load_build_manifest(backend, info.path)
    if manifest is None:
        return None, None if problem == "missing" else f"build {name}: its manifest is not trusted ({problem})"
    metrics = clean_metrics(manifest.get("metrics"), source=f"build {name}'s metrics")
    created = datetime.fromisoformat(manifest["created"])  # checked by load_build_manifest
    created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return BuildMetrics(
        name=name, branch=str(manifest.get("branch") or ""), created=created.isoformat(timespec="seconds"),
        result=manifest.get("result"), metrics=metrics.values, notes=metrics.notes,
    ), None


def quality_comparison(
    backend: Backend,
    layout: ProjectLayout,
    build: BuildInfo,
    current: Metrics,
    *,
    created: str,
    result: str | None,
    branch_builds: int = 5,
    directions: Directions | None = None,
) -> QualityComparison:
    """This build's metrics against master's newest successful build and the branch's last builds."""
    directions = directions or Directions()
    this_name = layout.ci_build_name(build.build_id, build.branch)
    this = BuildMetrics(this_name, build.branch, created, result, current.values, current.notes)
    ours = branch_folder(build.branch)
    master_folders = [branch_folder(name) for name in PROTECTED_BRANCHES]
    requests = 1
    try:
        entries = backend.list(layout.ci_root)
    except NotFound:
        entries = []
    except BackendError as exc:
        return compare_quality(this, None, (), directions=directions, requests=requests,
                               notes=(f"the earlier builds could not be listed: {exc.one_line()}",))
    folders = [info for info in entries if info.object_type is ObjectType.DIRECTORY and info.path.rsplit("/", 1)[1] != this_name]
    mine = _newest_first([info for info in folders if _split_name(info.path.rsplit("/", 1)[1], [ours]) == ours])
    if ours in master_folders:  # a master build compares with the master builds before it
        masters = mine
    else:
        masters = _newest_first([info for info in folders if _split_name(info.path.rsplit("/", 1)[1], master_folders)])
    notes: list[str] = []

    def read(info: ObjectInfo) -> tuple[BuildMetrics | None, str | None]:
        try:
            return _read(backend, info)
        except BackendError as exc:
            return None, f"build {info.path.rsplit('/', 1)[1]}: not read ({exc.one_line()})"

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        branch_read = list(pool.map(read, mine[:branch_builds]))
    requests += len(branch_read)
    history = []
    for found, note in branch_read:
        if note:
            notes.append(note)
        if found is not None and found.branch == build.branch:
            history.append(found)
    history.sort(key=lambda found: found.created)

    known = {found.name: found for found in history}
    candidates = [info for info in masters[:MASTER_CANDIDATES] if info.path.rsplit("/", 1)[1] not in known]
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        master_read = list(pool.map(read, candidates))
    requests += len(master_read)
    notes.extend(note for _, note in master_read if note)
    successful = [found for found in [*known.values(), *(found for found, _ in master_read)]
                  if found is not None and found.branch in PROTECTED_BRANCHES and found.result == "SUCCESS"]
    master = max(successful, key=lambda found: found.created, default=None)
    if master is not None and not master.metrics:
        notes.extend(master.notes)  # why it has none, when it is its manifest's fault
    return compare_quality(
        this, master if master and master.metrics else None, history, directions=directions, notes=notes,
        requests=requests, master_found=master.name if master else None,
    )
