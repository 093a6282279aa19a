"""clean-ci: delete old CI builds and their libraries; never a build in progress, never anything else."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from bricktasks.backends.base import Backend, ObjectType
from bricktasks.ci.manifest import CLOCK_SKEW, CiBuild, survey_ci
from bricktasks.console.console import Console, printable
from bricktasks.durations import format_duration
from bricktasks.errors import InvalidRequest, NotFound
from bricktasks.layout import ProjectLayout, is_build_name, join
from bricktasks.workspace.sync import (
    DEFAULT_WORKERS,
)

__all__ = ["clean_ci", "IN_PROGRESS_GRACE"]

# A build whose manifest is missing, or says no run was submitted yet, may be uploading right now: it is
# deleted only once nothing in its folder was written for this long (and for --older-than). An upload writes
# every few seconds; a day without a write means the pipeline that made it is gone.
IN_PROGRESS_GRACE = timedelta(days=1)

_GONE = datetime.min.replace(tzinfo=timezone.utc)  # _newest_write: the folder vanished under us


def _newest_write(backend: Backend, folder: str, *, files: bool, fallback: int | None = None) -> datetime | None:
    """When anything below `folder` was last written: None if nothing says, _GONE if it vanished."""
    newest = fallback or 0
    pending = [folder]
    while pending:
        current = pending.pop()
        entries: list[tuple[str, bool, int | None]]
        try:
            if files:
                entries = [(info.path, info.is_dir, info.modified_at) for info in backend.list_files(current)]
            else:
                entries = [
                    (info.path, info.object_type is ObjectType.DIRECTORY, info.modified_at)
                    for info in backend.list(current)
                ]
        except NotFound:  # deleted under us (another clean-ci, or ci replacing the build)
            if current == folder:
                return _GONE
            continue
        for path, is_dir, modified_at in entries:
            newest = max(newest, modified_at or 0)
            if is_dir and path != current:
                pending.append(path)
    return datetime.fromtimestamp(newest / 1000, timezone.utc) if newest else None


def clean_ci(
    backend: Backend,
    layout: ProjectLayout,
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool,
    console: Console,
    workers: int = DEFAULT_WORKERS,
) -> dict[str, list[str]]:
    """Delete CI builds (and their library folders) older than `older_than`, never one in progress.

    - a build with a manifest and a run: by the manifest's `created`; kept while its run is active;
    - a build with no manifest yet (its upload may be under way): only once nothing in its folder was
      written for `older_than` and for IN_PROGRESS_GRACE;
    - a build whose manifest records no run yet (the submit may be under way): kept for IN_PROGRESS_GRACE;
    - a build whose manifest is malformed, and anything in CI/ that is not a build: kept and reported;
    - a library folder in libraries/CI/ whose CI folder is gone: by its newest file, with the same grace
      (ci uploads the libraries before it creates the CI folder).
    Each build is checked and deleted by one worker, all in parallel: a build's run is looked up right
    before its folders go, and hundreds of builds cost a few round trips, not hundreds. A folder that
    vanishes under us (another clean-ci) is not an error."""
    outcome: dict[str, list[str]] = {"deleted": [], "kept": [], "active": [], "malformed": [], "not_a_build": []}
    ci = survey_ci(backend, layout, workers=workers)
    for name in ci.not_builds:
        console.info(f"not a build, kept: {join(layout.ci_root, printable(name))}")
    outcome["not_a_build"] += [join("CI", name) for name in ci.not_builds]
    verb = "would delete" if dry_run else "deleted"

    def clean(build: CiBuild) -> str:
        verdict, why = _build_verdict(backend, build, older_than, now=now)
        if verdict == "malformed":
            console.warn(f"kept {build.name}: {why}; delete {build.path} by hand if it is not wanted")
        elif verdict == "deleted":
            if not dry_run:
                _delete_if_present(backend, build.path, folder=True)
                _delete_if_present(backend, join(layout.ci_libraries_root, build.name), folder=False)
            console.info(f"{verb} {build.name} ({why})")
        elif verdict != "gone":
            console.info(f"{'keep   ' if verdict == 'kept' else 'skip   '} {build.name} ({why})")
        return verdict

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for build, verdict in zip(ci.builds, pool.map(clean, ci.builds), strict=True):
            if verdict != "gone":
                outcome[verdict].append(build.name)
    _clean_orphan_libraries(backend, layout, {build.name for build in ci.builds} | set(ci.not_builds), older_than,
                            now=now, dry_run=dry_run, console=console, outcome=outcome)
    for names in outcome.values():
        names.sort()
    return outcome


def _build_verdict(backend: Backend, build: CiBuild, older_than: timedelta, *, now: datetime) -> tuple[str, str]:
    """(deleted | kept | active | malformed | gone, why) for one build; see clean_ci for the rules."""
    if build.manifest not in ("ok", "missing"):
        return "malformed", build.manifest
    if build.manifest == "missing":
        verdict, idle = _judge_in_progress(backend, build.path, older_than, now=now, files=False, fallback=build.created)
        since = "age unknown" if idle is None else f"last write {format_duration(idle.total_seconds())} ago"
        return verdict, f"no manifest yet, {since}" + (": it may be uploading" if verdict == "active" else "")
    if build.created > now + CLOCK_SKEW:
        return "malformed", f"its created {build.created.isoformat()} is in the future"
    age = now - build.created
    shown = f"age {format_duration(age.total_seconds())}"
    if age < older_than:
        return "kept", shown
    if build.run_id is None and build.result is None and age < IN_PROGRESS_GRACE:
        return "active", f"{shown}: no run recorded yet, it may be submitting"  # the manifest goes up before the submit
    if build.run_id is not None and _run_active(backend, build.run_id):
        return "active", f"{shown}: run {build.run_id} is still active"
    return "deleted", shown


def _judge_in_progress(
    backend: Backend, folder: str, older_than: timedelta, *, now: datetime, files: bool, fallback: datetime | None = None
) -> tuple[str, timedelta | None]:
    """(kept | active | deleted | gone, time since the last write) for a folder that may still be uploading."""
    fallback_ms = int(fallback.timestamp() * 1000) if fallback and fallback.timestamp() > 0 else None
    newest = _newest_write(backend, folder, files=files, fallback=fallback_ms)
    if newest is _GONE:  # another clean-ci (or ci replacing the build) was quicker
        return "gone", None
    if newest is None:  # nothing tells its age: it may be starting
        return "active", None
    idle = now - newest
    if idle < older_than:
        return "kept", idle
    if idle < IN_PROGRESS_GRACE:
        return "active", idle
    return "deleted", idle


def _clean_orphan_libraries(
    backend: Backend,
    layout: ProjectLayout,
    ci_names: set[str],
    older_than: timedelta,
    *,
    now: datetime,
    dry_run: bool,
    console: Console,
    outcome: dict[str, list[str]],
) -> None:
    """libraries/CI/<name> whose CI/<name> is gone: deleted by the age of its newest file (plus the grace)."""
    try:
        entries = backend.list_files(layout.ci_libraries_root)
    except NotFound:
        return
    for info in entries:
        name = info.path.rstrip("/").rsplit("/", 1)[1]
        label = join("libraries/CI", name)
        if name in ci_names:
            continue  # its build decided (deleted with it, or kept with it)
        if not info.is_dir or not is_build_name(name):
            console.info(f"not a build's libraries, kept: {printable(info.path)}")
            outcome["not_a_build"].append(label)
            continue
        verdict, idle = _judge_in_progress(backend, info.path, older_than, now=now, files=True)
        if verdict == "gone":
            continue
        shown = f"libraries of a build whose CI folder is gone, last write {format_duration(idle.total_seconds()) if idle else '?'} ago"
        if verdict == "deleted":
            if not dry_run:
                _delete_if_present(backend, info.path, folder=False)
            console.info(f"{'would delete' if dry_run else 'deleted'} {label} ({shown})")
            outcome["deleted"].append(label)
        else:
            kept = verdict == "kept"
            console.info(f"{'keep   ' if kept else 'skip   '} {label} ({shown}{'' if kept else ': it may be uploading'})")
            outcome[verdict].append(label)


def _run_active(backend: Backend, run_id: int) -> bool:
    try:
        return not backend.get_run(int(run_id)).is_terminal
    except (NotFound, InvalidRequest, ValueError, TypeError, OverflowError):  # the run is gone: nothing to protect
        return False
    except Exception:  # noqa: BLE001 - when in doubt, keep the build: deleting a live run's code is worse
        return True


def _delete_if_present(backend: Backend, path: str, *, folder: bool) -> None:
    """Delete `path` and below; already gone (another clean-ci was quicker) is fine."""
    try:
        if folder:
            backend.delete(path, recursive=True)
        else:
            backend.delete_file(path, recursive=True)
    except NotFound:
        pass
