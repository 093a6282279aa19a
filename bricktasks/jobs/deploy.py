"""Bring a target's copies of the production jobs (jobs/production/*.json) to git, plan first: master's
(`invoke deploy`) or a branch's paused `[BRANCH] name` copies (`invoke checkout BRANCH --jobs`).

Loading (load_master_jobs) is separate from deploying (deploy_jobs) so the task checks every definition
before a folder changes. Only the plan's create/update/remove entries cost a write request;
unchanged, not-in-git and not-ours jobs are never written.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bricktasks.backends.base import Backend
from bricktasks.console.console import Console
from bricktasks.jobdef.production import ProductionJob, load_production_jobs
from bricktasks.jobs.desired import TAG_ROOT, desired_jobs
from bricktasks.jobs.plan import CREATE, MISSING, REMOVE, UPDATE, JobPlan, PlanEntry, format_plan, plan_jobs
from bricktasks.libraries.upload import library_spec, newest_libraries
from bricktasks.project import Project

__all__ = ["PRODUCTION_FOLDER", "load_master_jobs", "deploy_jobs", "deploy_branch_jobs", "entry_record"]

PRODUCTION_FOLDER = "jobs/production"


def load_master_jobs(project: Project) -> list[ProductionJob] | None:
    """Every production definition, checked (ConfigError on the first mistake); None without the folder."""
    folder = project.root / PRODUCTION_FOLDER
    if not folder.is_dir():
        return None
    return load_production_jobs(folder, shown=PRODUCTION_FOLDER, notebooks=project.notebooks(),
                                source_dir=project.settings.source_dir)


def deploy_jobs(project: Project, backend: Backend, jobs: Sequence[ProductionJob] | None, *,
                libraries: Sequence[Mapping[str, Any]], remove: bool, dry_run: bool, console: Console,
                branch: str | None = None) -> JobPlan:
    """Plan the target's jobs (master's, or with `branch` that branch's copies: notebooks in its folder,
    schedules paused) against the workspace's, print the plan, and (unless dry_run) apply it.
    `jobs` is load_master_jobs' answer; `libraries` the job settings' library specs (the target's wheel)."""
    if jobs is None and not remove:
        # no request at all: a project without production jobs deploys as before (git drops an empty
        # folder, so after the last definition's removal `--remove-jobs` still finds our jobs)
        console.info(f"no {PRODUCTION_FOLDER}/ folder: no production jobs to deploy")
        return JobPlan()
    root = project.layout.workspace_root
    folder = project.layout.master if branch is None else project.layout.branch(branch)
    desired = desired_jobs(jobs or [], workspace_root=root, target_folder=folder, libraries=libraries, branch=branch)
    plan = plan_jobs(desired, _existing(backend, root, desired), project_root_tag=root, branch=branch, remove=remove)
    for line in format_plan(plan) or ["no production jobs"]:
        console.result(line)
    if dry_run:
        console.info(f"dry run: {plan.writes} job write(s) planned, none made")
        return plan
    for entry in plan.entries:
        _apply(backend, entry, console)
    return plan


def deploy_branch_jobs(project: Project, backend: Backend, jobs: Sequence[ProductionJob] | None, branch: str, *,
                       dry_run: bool, console: Console) -> JobPlan:
    """`invoke checkout BRANCH --jobs`: the branch's paused copies, on the libraries its library folder holds
    (what checkout's install_libraries names). A copy whose definition left git is removed: these are the
    branch's own dev copies, and the flag asked for exactly the branch's jobs."""
    libraries = [library_spec(remote) for remote in newest_libraries(backend, project.layout.branch_libraries(branch))]
    return deploy_jobs(project, backend, jobs, libraries=libraries, remove=True, dry_run=dry_run, console=console,
                       branch=branch)


def _existing(backend: Backend, root: str, desired: Sequence[tuple[str, Mapping[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """The candidates plan_jobs needs: jobs tagged with our root, and any job named like a desired one
    (to report it as "not ours"). jobs/list with expand_tasks carries the full settings (the SDK fetches
    jobs/get itself for a job with more than 100 tasks), so no per-job read is needed."""
    names = {str(settings.get("name")).casefold() for _, settings in desired}
    return [(job.job_id, job.settings) for job in backend.list_jobs()
            if dict(job.settings.get("tags") or {}).get(TAG_ROOT) == root
            or str(job.settings.get("name")).casefold() in names]


def _apply(backend: Backend, entry: PlanEntry, console: Console) -> None:
    if entry.action == CREATE and entry.settings is not None:
        job_id = backend.create_job(entry.settings)
        console.info(f"created job {job_id}: {entry.file}")
    elif entry.action == UPDATE and entry.settings is not None and entry.job_id is not None:
        backend.reset_job(entry.job_id, entry.settings)  # reset, not update: the job becomes exactly the file
        console.info(f"updated job {entry.job_id}: {entry.file}")
    elif entry.action == REMOVE and entry.job_id is not None:
        backend.delete_job(entry.job_id)
        console.info(f"deleted job {entry.job_id}: {entry.file}")


def entry_record(entry: PlanEntry) -> dict[str, Any]:
    """A plan entry for the task's --json record."""
    return {"name": entry.name, "file": entry.file, "action": entry.action, "job_id": entry.job_id,
            "changes": [{"field": change.path, "old": _plain(change.old), "new": _plain(change.new)}
                        for change in entry.changes],
            "drift": entry.drift}


def _plain(value: Any) -> Any:
    return None if value is MISSING else value
