"""The workspace side of the workflow: checkout a branch, switch its env, deploy master, clean CI builds.

Plain functions with explicit arguments; the invoke tasks only resolve settings and call these.
Every name is validated before the first request, so a refusal changes nothing.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bricktasks.backends.base import Backend, ObjectType
from bricktasks.durations import format_duration
from bricktasks.errors import Conflict, InvalidRequest, NotFound, UserInputError
from bricktasks.layout import PROTECTED_BRANCHES, ProjectLayout, branch_folder, is_build_name, join
from bricktasks.libraries import INSTALL_LIBRARIES_FILE, install_libraries_source, newest_libraries
from bricktasks.output import Console, printable
from bricktasks.project import SET_ENVIRONMENT, set_environment_source
from bricktasks.retry import call_with_retries
from bricktasks.sync import (
    DEFAULT_WORKERS, Destination, SyncResult, apply_sync, check_uploadable, collect_source, plan_sync, survey,
)

__all__ = [
    "check_source",
    "push_source",
    "folder_exists",
    "checkout",
    "switch_env",
    "BUILD_MANIFEST",
    "CiBuild",
    "CiFolders",
    "list_ci_builds",
    "survey_ci",
    "clean_ci",
]

BUILD_MANIFEST = ".bricktasks-build.json"
SET_ENVIRONMENT_FILE = f"{SET_ENVIRONMENT}.py"


def check_source(source_dir: Path) -> None:
    """Refuse, before any request, a working copy the workspace cannot hold as it is: a name over
    255 bytes, a notebook or file over the 10 MB import limit, two paths that become one object."""
    check_uploadable(collect_source(source_dir), prefix=f"{source_dir.name}/")


def push_source(
    backend: Backend,
    source_dir: Path,
    target: str,
    *,
    env: str | None,
    prune: bool,
    dry_run: bool,
    console: Console,
    libraries: list[str] | None = None,
    destination: Destination | None = None,
) -> SyncResult:
    """Sync the working copy into `target`; with `env`, set_environment selects conf/<env>_config;
    with `libraries`, install_libraries installs those uploads (else the committed one goes up).
    `destination` is the target's survey, when the caller read it already."""
    replace = {SET_ENVIRONMENT_FILE: set_environment_source(env)} if env else {}
    if libraries is not None:
        replace[INSTALL_LIBRARIES_FILE] = install_libraries_source(libraries)
    items = collect_source(source_dir, replace=replace)
    plan = plan_sync(backend, items, target, destination)
    if dry_run:
        for rel in plan.replaced:
            console.info(f"would replace {rel} ({plan.remote[rel].object_type.value.lower()} in the way)")
        for item in plan.uploads:
            console.info(f"would upload {item.remote_rel}")
        for rel in plan.extra:
            console.info(f"would {'prune' if prune else 'keep (not in the working copy)'} {rel}")
        return SyncResult(target, uploaded=[i.remote_rel for i in plan.uploads], unchanged=[i.remote_rel for i in plan.unchanged], extra=plan.extra)
    uploading = console.upload_progress(
        files=len(plan.uploads), total_bytes=sum(len(item.content) for item in plan.uploads), label=f"uploading to {target}"
    )
    with uploading:
        result = apply_sync(backend, plan, prune=prune, on_upload=lambda item: uploading.advance(len(item.content)))
    for rel in result.replaced:
        console.info(f"replaced {rel}: the {plan.remote[rel].object_type.value.lower()} there was in the way")
    if result.unverified:
        console.info(
            f"another sync wrote into {target} at the same time (or one was interrupted in the last 30 minutes): "
            f"the next sync sends these {len(result.unverified)} objects again, so that the folder holds its working copy"
        )
    for rel in result.extra:
        console.info(f"not in the working copy (pass --prune to remove): {rel}")
    for rel in result.pruned:
        console.info(f"pruned {rel}")
    return result


def checkout(
    backend: Backend,
    layout: ProjectLayout,
    source_dir: Path,
    branch: str,
    *,
    env: str,
    prune: bool,
    dry_run: bool,
    console: Console,
) -> SyncResult:
    """Put the working copy into the branch's folder, set_environment pointing at the developer's config."""
    if branch.lower() in PROTECTED_BRANCHES:
        raise UserInputError(f"refusing to check out {branch}: master/ is written only by deploy", "use invoke deploy")
    target = layout.branch(branch)
    console.info(f"checking out {branch} into {target} (env {env})")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the branch's libraries decide install_libraries' content, not what the folder holds: read both at once
        newest = pool.submit(newest_libraries, backend, layout.branch_libraries(branch))
        destination = survey(backend, target)
        libraries = newest.result()
    if not libraries:
        console.info(f"no library uploaded for {branch} yet: run invoke upload-lib to have its notebooks install one")
    result = push_source(
        backend, source_dir, target, env=env, prune=prune, dry_run=dry_run, console=console, libraries=libraries,
        destination=destination,
    )
    verb = "would upload" if dry_run else "uploaded"
    console.result(
        f"{verb} {len(result.uploaded)}, unchanged {len(result.unchanged)}, pruned {len(result.pruned)}"
        + (f", not in the working copy {len(result.extra)}" if result.extra else "")
    )
    return result


def folder_exists(backend: Backend, folder: str) -> bool:
    try:
        return call_with_retries(lambda: backend.get_status(folder)).object_type is ObjectType.DIRECTORY
    except NotFound:
        return False


def switch_env(
    backend: Backend, folder: str, env: str, *, valid_envs: list[str], dry_run: bool, console: Console
) -> None:
    """Rewrite `folder`'s set_environment to select conf/<env>_config."""
    if env not in valid_envs:
        raise UserInputError(f"there is no conf/{env}_config", f"use one of: {', '.join(valid_envs) or 'none found'}")
    try:
        kind = call_with_retries(lambda: backend.get_status(folder)).object_type
    except NotFound:
        raise UserInputError(f"{folder} does not exist", "run invoke checkout first") from None
    if kind is not ObjectType.DIRECTORY:
        raise UserInputError(f"{folder} is not a folder", "pass the branch whose folder to switch")
    target = join(folder, SET_ENVIRONMENT_FILE)
    if dry_run:
        console.result(f"would point {join(folder, SET_ENVIRONMENT)} at conf/{env}_config")
        return
    call_with_retries(lambda: backend.import_object(target, set_environment_source(env), format="AUTO", overwrite=True))
    console.result(f"{join(folder, SET_ENVIRONMENT)} now runs ./conf/{env}_config")


# A build whose manifest is missing, or says no run was submitted yet, may be uploading right now: it is
# deleted only once nothing in its folder was written for this long (and for --older-than). An upload writes
# every few seconds; a day without a write means the pipeline that made it is gone.
IN_PROGRESS_GRACE = timedelta(days=1)
# A manifest `created` this far ahead of our clock is not clock skew but a broken manifest.
CLOCK_SKEW = timedelta(days=1)
MAX_RUN_ID = 2**63 - 1  # the Jobs API's run ids are int64


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
    call_with_retries(lambda: backend.import_object(join(ci_folder, BUILD_MANIFEST), body, format="AUTO", overwrite=True))


def read_build_manifest(backend: Backend, ci_folder: str) -> dict | None:
    """The build's manifest, or None when it is missing or malformed (see `_load_manifest`)."""
    data, problem = _load_manifest(backend, ci_folder)
    return data if problem is None else None


def _load_manifest(backend: Backend, ci_folder: str) -> tuple[dict | None, str | None]:
    """(manifest, problem): (None, "missing") while the upload runs; a problem names what is malformed."""
    try:
        body = call_with_retries(lambda: backend.export(join(ci_folder, BUILD_MANIFEST)))
    except NotFound:
        return None, "missing"
    except (InvalidRequest, Conflict):  # a folder (or something else no file) in the manifest's place
        return None, f"{BUILD_MANIFEST} is not a file"
    try:
        data = json.loads(body)
    except ValueError:  # UnicodeDecodeError included
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
        entries = call_with_retries(lambda: backend.list(layout.ci_root))
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


_GONE = datetime.min.replace(tzinfo=timezone.utc)  # _newest_write: the folder vanished under us


def _newest_write(backend: Backend, folder: str, *, files: bool, fallback: int | None = None) -> datetime | None:
    """When anything below `folder` was last written: None if nothing says, _GONE if it vanished."""
    newest = fallback or 0
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            if files:
                entries = [(info.path, info.is_dir, info.modified_at) for info in call_with_retries(lambda: backend.list_files(current))]
            else:
                entries = [
                    (info.path, info.object_type is ObjectType.DIRECTORY, info.modified_at)
                    for info in call_with_retries(lambda: backend.list(current))
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
        for build, verdict in zip(ci.builds, pool.map(clean, ci.builds)):
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
        entries = call_with_retries(lambda: backend.list_files(layout.ci_libraries_root))
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
            console.info(f"{'keep   ' if verdict == 'kept' else 'skip   '} {label} ({shown}{'' if verdict == 'kept' else ': it may be uploading'})")
            outcome[verdict].append(label)


def _run_active(backend: Backend, run_id: int) -> bool:
    try:
        return not call_with_retries(lambda: backend.get_run(int(run_id))).is_terminal
    except (NotFound, InvalidRequest, ValueError, TypeError, OverflowError):  # the run is gone: nothing to protect
        return False
    except Exception:  # noqa: BLE001 - when in doubt, keep the build: deleting a live run's code is worse
        return True


def _delete_if_present(backend: Backend, path: str, *, folder: bool) -> None:
    """Delete `path` and below; already gone (another clean-ci was quicker) is fine."""
    try:
        if folder:
            call_with_retries(lambda: backend.delete(path, recursive=True))
        else:
            call_with_retries(lambda: backend.delete_file(path, recursive=True))
    except NotFound:
        pass
