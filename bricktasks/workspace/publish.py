"""Publishing builds into the workspace: `upload-lib` (a target's libraries, and its folder's
install_libraries pointed at them) and `deploy` (master's libraries and master/ from a clean main).

The tasks resolve settings and call one function here; the refusals come first, so a refused
deploy changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bricktasks.backends.base import Backend
from bricktasks.console.console import Console
from bricktasks.errors import UserInputError
from bricktasks.git import current_git_branch, git_tree_is_dirty
from bricktasks.layout import PROTECTED_BRANCHES
from bricktasks.libraries import targets
from bricktasks.libraries.upload import UploadedLibrary, upload_libraries
from bricktasks.project import Project
from bricktasks.workspace.checkout import folder_exists, push_source
from bricktasks.workspace.helpers import write_install_libraries
from bricktasks.workspace.overwritten import Keeper
from bricktasks.workspace.sync import SyncResult

__all__ = ["Deployed", "check_deployable", "deploy_master", "publish_libraries"]


@dataclass(frozen=True)
class Deployed:
    """What a deploy did (or, with dry_run, would do)."""

    folder: str
    libraries: list[str]
    sync: SyncResult


def check_deployable(root: Path, *, force: bool) -> None:
    """master/ mirrors git: deploy runs from a clean main or master (`force` allows another branch)."""
    branch = current_git_branch(root)
    if branch not in PROTECTED_BRANCHES and not force:
        raise UserInputError(f"deploy runs from main or master, not {branch!r}", "merge first, or pass --force")
    if git_tree_is_dirty(root):
        raise UserInputError("the git working tree has uncommitted changes", "commit or stash them; master/ mirrors git")


def deploy_master(project: Project, backend: Backend, *, prune: bool, dry_run: bool, console: Console) -> Deployed:
    """Build the master libraries, upload them to the library root, and refresh master/ from the
    working copy, its install_libraries naming those uploads."""
    built = targets.build_for(project, targets.BuildTarget.master(project), kind="wheel", console=console, dry_run=dry_run)
    uploaded = upload_libraries(backend, built, project.layout.master_libraries, console=console, dry_run=dry_run)
    libraries = [library.remote for library in uploaded]
    console.info(f"deploying {project.settings.source_dir}/ to {project.layout.master}")
    result = push_source(
        backend, project.source_dir, project.layout.master, env=None, prune=prune, dry_run=dry_run, console=console, libraries=libraries,
        keeper=Keeper.for_folder(project.root, project.layout.workspace_root, project.layout.master),
    )
    return Deployed(project.layout.master, libraries, result)


def publish_libraries(
    project: Project, backend: Backend, target: targets.BuildTarget, *, kind: str, dry_run: bool, console: Console
) -> tuple[str, list[UploadedLibrary]]:
    """Build the libraries for `target`, upload them into its library folder, and point its
    workspace folder's install_libraries at them (when that folder exists already; checkout
    does it otherwise). Returns the library folder and the uploads."""
    built = targets.build_for(project, target, kind=kind, console=console)
    destination = target.library_folder(project.layout)
    uploaded = upload_libraries(backend, built, destination, console=console, dry_run=dry_run)
    notebooks = target.workspace_folder(project.layout)
    if notebooks and folder_exists(backend, notebooks):
        write_install_libraries(backend, notebooks, [library.remote for library in uploaded], console=console, dry_run=dry_run)
    elif notebooks:
        console.info(f"{notebooks} does not exist yet: invoke checkout will point its install_libraries at this upload")
    return destination, uploaded
