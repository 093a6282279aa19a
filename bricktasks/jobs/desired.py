"""A production job's settings as deployed: absolute notebook paths in master/ or a branch folder, master's
(or the branch's) libraries on classic compute, and the tags by which deploy knows its own jobs.

Ownership is by tag, never by display name (people rename jobs in the UI): `bricktasks-root` names the
project's workspace root, `bricktasks-job` the definition's file, `bricktasks-target` master or branch,
`bricktasks-branch` the branch of a copy. A branch copy is named `[<branch>] <name>` and its schedule
is PAUSED, so a developer's copy never runs on the production schedule.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from bricktasks.jobdef.production import ProductionJob
from bricktasks.layout import join

__all__ = ["TAG_ROOT", "TAG_JOB", "TAG_TARGET", "TAG_BRANCH", "TAG_HASH", "OWNERSHIP_TAGS", "ownership_tags",
           "desired_settings", "desired_jobs", "copy_name", "CLASSIC_COMPUTE"]

TAG_ROOT = "bricktasks-root"
TAG_JOB = "bricktasks-job"
TAG_TARGET = "bricktasks-target"
TAG_BRANCH = "bricktasks-branch"
TAG_HASH = "bricktasks-deployed-hash"  # plan.py: the settings we last wrote, to tell a UI edit (drift)
OWNERSHIP_TAGS = (TAG_ROOT, TAG_JOB, TAG_TARGET, TAG_BRANCH)
CLASSIC_COMPUTE = ("job_cluster_key", "new_cluster", "existing_cluster_id")  # a task on these takes libraries


def ownership_tags(*, workspace_root: str, file: str, branch: str | None = None) -> dict[str, str]:
    """Our tags for the job from `file` deployed to master/ (branch None) or as `branch`'s copy."""
    tags = {TAG_ROOT: workspace_root, TAG_JOB: file, TAG_TARGET: "master" if branch is None else "branch"}
    if branch is not None:
        tags[TAG_BRANCH] = branch
    return tags


def copy_name(name: str, branch: str) -> str:
    return f"[{branch}] {name}"


def desired_settings(job: ProductionJob, *, target_folder: str, libraries: Sequence[Mapping[str, Any]],
                     tags: Mapping[str, str]) -> dict[str, Any]:
    """The Jobs API settings to deploy `job` with: notebooks under `target_folder` (master/ or the branch's
    folder), `libraries` (the target's: wheel and requirements) added to every task on classic compute
    (a serverless task takes none: the notebook's install_libraries installs them), `tags` (ownership_tags)
    over the file's own. With a TAG_BRANCH tag it is a branch copy: renamed and its schedule PAUSED."""
    settings = copy.deepcopy(job.settings)
    for task in settings["tasks"]:
        task["notebook_task"]["notebook_path"] = join(target_folder, task["notebook_task"]["notebook_path"])
        if any(choice in task for choice in CLASSIC_COMPUTE) and libraries:
            own = list(task.get("libraries", []))
            task["libraries"] = own + [dict(library) for library in libraries if library not in own]
    settings["tags"] = {**settings.get("tags", {}), **tags}
    branch = tags.get(TAG_BRANCH)
    if branch is not None:
        settings["name"] = copy_name(job.name, branch)
        if "schedule" in settings:
            settings["schedule"]["pause_status"] = "PAUSED"
    return settings


def desired_jobs(jobs: Sequence[ProductionJob], *, workspace_root: str, target_folder: str,
                 libraries: Sequence[Mapping[str, Any]], branch: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """plan_jobs' `desired`: every job's (file, settings) for master/ (branch None) or `branch`'s copies."""
    return [
        (job.file, desired_settings(job, target_folder=target_folder, libraries=libraries,
                                    tags=ownership_tags(workspace_root=workspace_root, file=job.file, branch=branch)))
        for job in jobs
    ]
