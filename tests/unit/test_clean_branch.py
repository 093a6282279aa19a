"""clean-branch's rules (bricktasks.jobs.clean_branch) against a real LocalBackend: which names it refuses,
which jobs are a branch's copies (by our tags only), a dry run that writes nothing, a folder already gone,
and a copy deleted by someone else between the listing and the delete."""
from __future__ import annotations

from typing import Any

import pytest

from bricktasks.backends.local import LocalBackend
from bricktasks.errors import UserInputError
from bricktasks.jobs.clean_branch import branch_targets, clean_branch, is_branch_copy
from bricktasks.jobs.desired import TAG_HASH, ownership_tags
from bricktasks.layout import ProjectLayout

ROOT = "/Projects/forecasting"
LAYOUT = ProjectLayout(ROOT, f"{ROOT}/libraries")


def _job(name: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "tags": tags,
            "tasks": [{"task_key": "T", "notebook_task": {"notebook_path": f"{ROOT}/x/T"}}]}


def copy_tags(branch: str, root: str = ROOT) -> dict[str, str]:
    return {**ownership_tags(workspace_root=root, file="training.json", branch=branch), TAG_HASH: "h"}


@pytest.mark.parametrize("name", ["master", "main", "Main", "CI", "ci", "libraries", "../x", "a/../../b", "x\x1by", ""])
def test_branch_targets_refuses_protected_reserved_and_unsafe_names(name):
    with pytest.raises(UserInputError):
        branch_targets(LAYOUT, name)


def test_branch_targets_are_the_branch_folder_and_its_library_folder():
    assert branch_targets(LAYOUT, "feature/x") == (f"{ROOT}/feature__x", f"{ROOT}/libraries/feature__x")


def test_only_our_tags_for_that_branch_make_a_copy():
    assert is_branch_copy({"tags": copy_tags("BI-1")}, workspace_root=ROOT, branch="BI-1")
    assert not is_branch_copy({"name": "[BI-1] Forecast training"}, workspace_root=ROOT, branch="BI-1")
    assert not is_branch_copy({"tags": copy_tags("BI-2")}, workspace_root=ROOT, branch="BI-1")
    assert not is_branch_copy({"tags": copy_tags("BI-1", root="/Projects/other")}, workspace_root=ROOT, branch="BI-1")
    master = ownership_tags(workspace_root=ROOT, file="training.json")
    assert not is_branch_copy({"tags": {**master, "bricktasks-branch": "BI-1"}}, workspace_root=ROOT, branch="BI-1")


def _workspace(backend: LocalBackend) -> dict[str, int]:
    backend.mkdirs(f"{ROOT}/BI-1")
    backend.import_object(f"{ROOT}/BI-1/Train", b"# Databricks notebook source\n1", format="SOURCE", language="PYTHON")
    return {
        "copy": backend.create_job(_job("[BI-1] Forecast training", copy_tags("BI-1"))),
        "other": backend.create_job(_job("[BI-2] Forecast training", copy_tags("BI-2"))),
        "theirs": backend.create_job(_job("[BI-1] Forecast training", {})),
    }


def test_a_dry_run_lists_and_writes_nothing_then_the_clean_removes_only_the_copy(backend, recording):
    jobs = _workspace(backend)
    planned = clean_branch(backend, LAYOUT, "BI-1", force=False, dry_run=True, console=recording.console)
    assert planned.removed == [f"job {jobs['copy']} [BI-1] Forecast training", f"folder {ROOT}/BI-1"]
    assert planned.absent == [f"{ROOT}/libraries/BI-1"]
    assert {job.job_id for job in backend.list_jobs()} == set(jobs.values())
    assert backend.get_status(f"{ROOT}/BI-1")

    done = clean_branch(backend, LAYOUT, "BI-1", force=False, dry_run=False, console=recording.console)
    assert done.removed == planned.removed
    assert {job.job_id for job in backend.list_jobs()} == {jobs["other"], jobs["theirs"]}
    assert f"removed job {jobs['copy']}: [BI-1] Forecast training" in recording.lines
    assert f"libraries {ROOT}/libraries/BI-1: already gone" in recording.lines


class _Raced(LocalBackend):
    """A real local backend where another clean-branch deletes each job just after it is listed."""

    def list_jobs(self, *, name: str | None = None):
        listed = super().list_jobs(name=name)
        for job in listed:
            super().delete_job(job.job_id)
        return listed


def test_a_copy_deleted_between_the_listing_and_the_delete_is_fine(tmp_path, recording):
    backend = _Raced(tmp_path / "raced")
    _workspace(backend)
    done = clean_branch(backend, LAYOUT, "BI-1", force=False, dry_run=False, console=recording.console)
    assert [line.split(" ", 1)[0] for line in done.removed] == ["job", "folder"]
    assert LocalBackend(tmp_path / "raced").list_jobs() == []
