"""A branch's folder: check the working copy out into it, switch its env, push a folder (deploy's too).

Plain functions with explicit arguments; the invoke tasks only resolve settings and call these.
Every name is validated before the first request, so a refusal changes nothing.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bricktasks.backends.base import Backend, ObjectType
from bricktasks.buildinfo import refuse_protected
from bricktasks.console.console import Console, printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.layout import HELPER_NOTEBOOKS, SET_ENVIRONMENT, ProjectLayout, join
from bricktasks.libraries.upload import newest_libraries
from bricktasks.source.items import SourceItem, collect_source
from bricktasks.workspace.helpers import SET_ENVIRONMENT_FILE, desired_items, set_environment_source
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.sync import Destination, SyncResult, apply_sync, check_uploadable, plan_sync, survey

__all__ = ["check_source", "survey_with_libraries", "push_source", "folder_exists", "checkout", "switch_env", "report_overwritten"]

def check_source(source_dir: Path, source: list[SourceItem] | None = None) -> list[SourceItem]:
    """Refuse, before any request, a working copy the workspace cannot hold as it is: a name over
    255 bytes, a notebook or file over the 10 MB import limit, two paths that become one object.
    Returns what was checked (`source`, when the caller collected it already), for the sync."""
    items = collect_source(source_dir) if source is None else source
    check_uploadable(items, prefix=f"{source_dir.name}/")
    return items


def survey_with_libraries(backend: Backend, target: str, library_folder: str) -> tuple[Destination, list[str]]:
    """`target`'s survey and the newest uploads in `library_folder`, read at once: the folder's libraries
    decide install_libraries' content (what a sync writes), not what the folder holds."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        newest = pool.submit(newest_libraries, backend, library_folder)
        return survey(backend, target), newest.result()


def push_source(
    backend: Backend,
    source_dir: Path,
    target: str,
    *,
    env: str | None,
    prune: bool,
    dry_run: bool,
    console: Console,
    keeper: Keeper | None,
    libraries: list[str] | None = None,
    destination: Destination | None = None,
    source: list[SourceItem] | None = None,
) -> SyncResult:
    """Sync the working copy into `target`; with `env`, set_environment selects conf/<env>_config;
    with `libraries`, install_libraries installs those uploads (else the committed one goes up).
    `destination` is the target's survey, when the caller read it already; `source` the working
    copy as collected (and scanned) already: what was scanned is what is sent. `keeper` keeps the
    workspace's version of what the sync writes over or prunes although it was edited there since
    the last sync; None (--force) keeps no copy, and the warning says so."""
    items = desired_items(source_dir, env=env, libraries=libraries, source=source)
    plan = plan_sync(backend, items, target, destination)
    # the helper notebooks are the tool's own, rewritten on every sync (switch-env edits set_environment
    # in place): an edit of theirs is never a loss to keep
    plan = replace(plan, edited=[rel for rel in plan.edited if rel not in HELPER_NOTEBOOKS],
                   edited_extra=[rel for rel in plan.edited_extra if rel not in HELPER_NOTEBOOKS])
    if dry_run:
        for rel in sorted({*plan.edited, *(plan.edited_extra if prune else [])}):
            console.warn(f"would overwrite {target}/{printable(rel)}: edited in the workspace since the last sync "
                         + (f"(a copy would be kept in {keeper.shown})" if keeper else "(--force: no copy would be kept)"))
        for rel in plan.replaced:
            console.info(f"would replace {rel} ({plan.remote[rel].object_type.value.lower()} in the way)")
        for item in plan.uploads:
            console.info(f"would upload {item.remote_rel}")
        for rel in plan.extra:
            console.info(f"would {'prune' if prune else 'keep (not in the working copy)'} {rel}")
        uploaded, unchanged = [i.remote_rel for i in plan.uploads], [i.remote_rel for i in plan.unchanged]
        return SyncResult(target, uploaded=uploaded, unchanged=unchanged, extra=plan.extra)
    uploading = console.upload_progress(
        files=len(plan.uploads), total_bytes=sum(len(item.content) for item in plan.uploads), label=f"uploading to {target}"
    )
    with uploading:
        result = apply_sync(backend, plan, prune=prune, on_upload=lambda item: uploading.advance(len(item.content)),
                            keep=keeper.keep if keeper else None)
    report_overwritten(result, console)
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


def report_overwritten(result: SyncResult, console: Console) -> None:
    """One line per workspace edit the sync wrote over: where its copy is, and how to get it back."""
    deleted = [*result.pruned, *result.replaced]
    for rel in result.overwritten_edits:
        shown = f"{result.target}/{printable(rel)}"
        verb = "deleted" if any(rel == gone or rel.startswith(gone + "/") for gone in deleted) else "overwrote"
        if rel in result.kept:
            console.warn(f"{verb} {shown}, edited in the workspace since the last sync; its version is kept in "
                         f"{printable(result.kept[rel])}: copy it into the working copy to keep those edits "
                         "(next time, invoke status shows them and invoke pull brings them in before a checkout)")
        else:
            console.warn(f"{verb} {shown}, edited in the workspace since the last sync (--force: no copy kept)")


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
    keeper: Keeper | None,
    source: list[SourceItem] | None = None,
) -> SyncResult:
    """Put the working copy into the branch's folder, set_environment pointing at the developer's config;
    `keeper`, `source`: see push_source."""
    refuse_protected(branch, action="check out")
    target = layout.branch(branch)
    console.info(f"checking out {branch} into {target} (env {env})")
    destination, libraries = survey_with_libraries(backend, target, layout.branch_libraries(branch))
    if not libraries:
        console.info(f"no library uploaded for {branch} yet: run invoke upload-lib to have its notebooks install one")
    result = push_source(
        backend, source_dir, target, env=env, prune=prune, dry_run=dry_run, console=console, libraries=libraries,
        destination=destination, keeper=keeper, source=source,
    )
    verb = "would upload" if dry_run else "uploaded"
    console.result(
        f"{verb} {len(result.uploaded)}, unchanged {len(result.unchanged)}, pruned {len(result.pruned)}"
        + (f", not in the working copy {len(result.extra)}" if result.extra else "")
    )
    return result


def folder_exists(backend: Backend, folder: str) -> bool:
    try:
        return backend.get_status(folder).object_type is ObjectType.DIRECTORY
    except NotFound:
        return False


def switch_env(
    backend: Backend, folder: str, env: str, *, valid_envs: list[str], dry_run: bool, console: Console
) -> None:
    """Rewrite `folder`'s set_environment to select conf/<env>_config."""
    if env not in valid_envs:
        raise UserInputError(f"there is no conf/{env}_config", f"use one of: {', '.join(valid_envs) or 'none found'}")
    try:
        kind = backend.get_status(folder).object_type
    except NotFound:
        raise UserInputError(f"{folder} does not exist", "run invoke checkout first") from None
    if kind is not ObjectType.DIRECTORY:
        raise UserInputError(f"{folder} is not a folder", "pass the branch whose folder to switch")
    target = join(folder, SET_ENVIRONMENT_FILE)
    if dry_run:
        console.result(f"would point {join(folder, SET_ENVIRONMENT)} at conf/{env}_config")
        return
    backend.import_object(target, set_environment_source(env), format="AUTO", overwrite=True)
    console.result(f"{join(folder, SET_ENVIRONMENT)} now runs ./conf/{env}_config")


