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
from bricktasks.errors import InvalidRequest, NotFound, UserInputError
from bricktasks.layout import PROTECTED_BRANCHES, ProjectLayout, branch_folder, join
from bricktasks.libraries import INSTALL_LIBRARIES_FILE, install_libraries_source, newest_libraries
from bricktasks.output import Console
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
    "list_ci_builds",
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


@dataclass(frozen=True)
class CiBuild:
    name: str  # <build>-<branch folder>
    path: str
    created: datetime
    run_id: int | None
    branch: str | None
    result: str | None = None


def write_build_manifest(backend: Backend, ci_folder: str, data: dict) -> None:
    body = json.dumps(data, indent=1, sort_keys=True).encode()
    call_with_retries(lambda: backend.import_object(join(ci_folder, BUILD_MANIFEST), body, format="AUTO", overwrite=True))


def read_build_manifest(backend: Backend, ci_folder: str) -> dict | None:
    try:
        data = json.loads(call_with_retries(lambda: backend.export(join(ci_folder, BUILD_MANIFEST))))
    except (NotFound, ValueError):
        return None
    return data if isinstance(data, dict) else None


def list_ci_builds(backend: Backend, layout: ProjectLayout, *, workers: int = DEFAULT_WORKERS) -> list[CiBuild]:
    """Every CI build folder with its creation time (manifest, else the folder's modification time)."""
    try:
        folders = [info for info in call_with_retries(lambda: backend.list(layout.ci_root)) if info.object_type is ObjectType.DIRECTORY]
    except NotFound:
        return []

    def describe(info) -> CiBuild:
        manifest = read_build_manifest(backend, info.path) or {}
        created = _parse_time(manifest.get("created")) or datetime.fromtimestamp((info.modified_at or 0) / 1000, timezone.utc)
        name = info.path.rsplit("/", 1)[1]
        return CiBuild(name, info.path, created, manifest.get("run_id"), manifest.get("branch"), manifest.get("result"))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sorted(pool.map(describe, folders), key=lambda build: build.created)


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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
    """Delete CI builds (and their library folders) older than `older_than`, never an active one.

    Each old build is checked and deleted by one worker, all builds in parallel: a build's run is
    looked up right before its folders go, and hundreds of builds cost a few round trips, not hundreds."""
    outcome: dict[str, list[str]] = {"deleted": [], "active": [], "kept": []}
    old = []
    for build in list_ci_builds(backend, layout, workers=workers):
        age = now - build.created
        if age < older_than:
            outcome["kept"].append(build.name)
            console.info(f"keep    {build.name} (age {format_duration(age.total_seconds())})")
        else:
            old.append((build, age))

    def clean(entry: tuple[CiBuild, timedelta]) -> str:
        build, age = entry
        if build.run_id is not None and _run_active(backend, build.run_id):
            console.info(f"skip    {build.name} (age {format_duration(age.total_seconds())}): run {build.run_id} is still active")
            return "active"
        if not dry_run:
            _delete_if_present(backend, build.path, folder=True)
            _delete_if_present(backend, join(layout.ci_libraries_root, build.name), folder=False)
        console.info(f"{'would delete' if dry_run else 'deleted'} {build.name} (age {format_duration(age.total_seconds())})")
        return "deleted"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for (build, _), verdict in zip(old, pool.map(clean, old)):
            outcome[verdict].append(build.name)
    outcome["deleted"].sort()
    return outcome


def _run_active(backend: Backend, run_id: int) -> bool:
    try:
        return not call_with_retries(lambda: backend.get_run(int(run_id))).is_terminal
    except (NotFound, InvalidRequest, ValueError, TypeError):  # the run is gone: nothing to protect
        return False
    except Exception:  # noqa: BLE001 - when in doubt, keep the build: deleting a live run's code is worse
        return True


def _delete_if_present(backend: Backend, path: str, *, folder: bool) -> None:
    try:
        if folder:
            call_with_retries(lambda: backend.delete(path, recursive=True))
        else:
            call_with_retries(lambda: backend.delete_file(path, recursive=True))
    except NotFound:
        pass
