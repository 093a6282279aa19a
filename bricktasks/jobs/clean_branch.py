"""`invoke clean-branch BRANCH`: after a merge, remove what the tool made for that branch — its workspace
folder, its library folder and its job copies — and nothing else.

Every check comes before the first write: the branch name (layout.branch_folder refuses `..`, control
characters, the reserved CI/ and libraries/ names), master/main (refuse_protected), both folders inside
the project's roots, and the copies' active runs. A job is a copy of this branch only by our tags (root =
this project's workspace root, target = branch, branch = BRANCH), never by its display name, so someone's
job named `[BRANCH] ...`, another branch's copies and master's jobs stay. A copy with a run still going is
refused without `force` (someone may be debugging it; the run would lose its notebooks); with `force` the
run is cancelled first, so no run outlives its job and its code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bricktasks.backends.base import Backend, Job
from bricktasks.buildinfo import refuse_protected
from bricktasks.console.console import Console, printable
from bricktasks.errors import NotFound, UserInputError
from bricktasks.jobs.desired import TAG_BRANCH, TAG_ROOT, TAG_TARGET
from bricktasks.layout import ProjectLayout, is_within
from bricktasks.workspace.checkout import folder_exists

__all__ = ["CleanBranch", "branch_targets", "is_branch_copy", "clean_branch"]


@dataclass(frozen=True)
class CleanBranch:
    """What clean-branch removed (or, with dry_run, would remove)."""

    branch: str
    folder: str
    libraries: str
    removed: list[str] = field(default_factory=list)  # one line each: "folder ...", "libraries ...", "job ..."
    absent: list[str] = field(default_factory=list)  # folders already gone
    cancelled: list[int] = field(default_factory=list)  # run ids cancelled before their job was deleted

    def record(self) -> dict[str, Any]:
        return {"branch": self.branch, "folder": self.folder, "libraries": self.libraries,
                "removed": self.removed, "already_gone": self.absent, "cancelled_runs": self.cancelled}


def branch_targets(layout: ProjectLayout, branch: str) -> tuple[str, str]:
    """(workspace folder, library folder) of `branch`; UserInputError for a name clean-branch must refuse."""
    refuse_protected(branch, action="clean")
    folder, libraries = layout.branch(branch), layout.branch_libraries(branch)  # branch_folder validates
    if (folder == layout.workspace_root or not is_within(folder, layout.workspace_root)
            or libraries == layout.library_root or not is_within(libraries, layout.library_root)):
        raise UserInputError(f"refusing to clean {branch!r}: its folders are not inside the project's roots",
                             "pass the name of a branch that invoke checkout made")
    return folder, libraries


def is_branch_copy(settings: dict[str, Any], *, workspace_root: str, branch: str) -> bool:
    """True only for a job our tags say is `branch`'s copy in this project."""
    tags = dict(settings.get("tags") or {})
    return tags.get(TAG_ROOT) == workspace_root and tags.get(TAG_TARGET) == "branch" and tags.get(TAG_BRANCH) == branch


def clean_branch(backend: Backend, layout: ProjectLayout, branch: str, *, force: bool, dry_run: bool,
                 console: Console) -> CleanBranch:
    """Delete `branch`'s folder, library folder and job copies (see the module docstring for the rules)."""
    folder, libraries = branch_targets(layout, branch)
    copies = [job for job in backend.list_jobs()
              if is_branch_copy(job.settings, workspace_root=layout.workspace_root, branch=branch)]
    active = {job.job_id: [run.run_id for run in backend.list_runs(job_id=job.job_id, active_only=True)]
              for job in copies}
    running = {job_id: runs for job_id, runs in active.items() if runs}
    if running and not force:
        shown = ", ".join(f"job {job_id} (run {', '.join(map(str, runs))})" for job_id, runs in running.items())
        raise UserInputError(f"refusing to clean {branch!r}: a copy is still running: {shown}",
                             "wait for the run, or pass --force to cancel it first")
    outcome = CleanBranch(branch, folder, libraries)
    verb = "would remove" if dry_run else "removed"
    for job in copies:  # the jobs first: a failure half-way never leaves a copy pointing at deleted notebooks
        _job(backend, job, running.get(job.job_id, []), outcome, verb, dry_run, console)
    _folder(backend, folder, "folder", outcome, verb, dry_run, console, workspace=True)
    _folder(backend, libraries, "libraries", outcome, verb, dry_run, console, workspace=False)
    return outcome


def _folder(backend: Backend, path: str, label: str, outcome: CleanBranch, verb: str, dry_run: bool,
            console: Console, *, workspace: bool) -> None:
    if not _exists(backend, path, workspace=workspace):
        outcome.absent.append(path)
        console.info(f"{label} {path}: already gone")
        return
    if not dry_run:
        try:
            if workspace:
                backend.delete(path, recursive=True)
            else:
                backend.delete_file(path, recursive=True)
        except NotFound:  # removed between the look and the delete (another clean-branch): the goal holds
            pass
    outcome.removed.append(f"{label} {path}")
    console.result(f"{verb} {label} {path}")


def _exists(backend: Backend, path: str, *, workspace: bool) -> bool:
    if workspace:
        return folder_exists(backend, path)
    try:
        backend.list_files(path)  # a library folder: the files API lists a folder, empty or not
    except NotFound:
        return False
    return True


def _job(backend: Backend, job: Job, runs: list[int], outcome: CleanBranch, verb: str, dry_run: bool,
         console: Console) -> None:
    if not dry_run:
        for run_id in runs:
            backend.cancel_run(run_id)
            outcome.cancelled.append(run_id)
            console.info(f"cancelled run {run_id} of job {job.job_id}")
        try:
            backend.delete_job(job.job_id)
        except NotFound:  # deleted between the list and the delete: gone is what we wanted
            pass
    outcome.removed.append(f"job {job.job_id} {job.name}")
    console.result(f"{verb} job {job.job_id}: {printable(job.name)}")
