"""LocalRunStore's typed surface: what the emulator reads of a run and its task runs."""
from __future__ import annotations

import pytest

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.backends.local_runs import StoredRun
from bricktasks.errors import NotFound
from bricktasks.testing.projectcopy import wait_until

NOTEBOOK = b"# Databricks notebook source\nprint('hello')\n"


def test_a_run_and_its_task_runs_are_described_by_stored_run(tmp_path):
    backend = LocalBackend(tmp_path / "root")
    backend.mkdirs("/Projects/p")
    backend.import_object("/Projects/p/A.py", NOTEBOOK)
    backend.import_object("/Projects/p/B.py", NOTEBOOK)
    spec = RunSpec(
        run_name="two",
        tasks=(NotebookTask("a", "/Projects/p/A", {"branch": "main"}), NotebookTask("b", "/Projects/p/B")),
    )
    run_id = backend.submit_run(spec)
    wait_until(lambda: backend.get_run(run_id).is_terminal, timeout=60)

    run = backend.runs.stored_run(run_id)
    assert not run.is_task and run.run_name == "two" and run.parent_run_id is None
    assert run.task_run_ids == tuple(task.run_id for task in backend.get_run(run_id).tasks)
    assert run.notebook_path is None and run.start_time > 0

    first = backend.runs.stored_run(run.task_run_ids[0])
    assert first == StoredRun(
        run_id=run.task_run_ids[0], run_name="two", parent_run_id=run_id, notebook_path="/Projects/p/A",
        base_parameters={"branch": "main"}, start_time=first.start_time, end_time=first.end_time,
        settings={
            "task_key": "a",
            "notebook_task": {"notebook_path": "/Projects/p/A", "source": "WORKSPACE", "base_parameters": {"branch": "main"}},
        },
        attempt_number=0,
    )
    assert first.is_task and first.start_time > 0 and first.end_time >= first.start_time
    assert backend.runs.stored_run(run.task_run_ids[1]).base_parameters == {}


def test_a_missing_run_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        LocalBackend(tmp_path / "root").runs.stored_run(42)
