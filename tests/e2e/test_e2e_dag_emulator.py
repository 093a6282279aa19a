"""The example's DAG by `invoke ci` over the emulator, through the real databricks-sdk: jobs/ci.json on
serverless, and jobs/ci-classic.json on a workspace without serverless whose job clusters take a
second to start. What each task was submitted with is read back from runs/get as the SDK parses it."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from e2e_helpers import SENTINEL_TOKEN, with_the_ci_job

from bricktasks.testing.emulator import EmulatorProcess, workspace_client

CI_ENV = {"BRICKTASKS_BUILD_ID": "21", "BRICKTASKS_BRANCH": "BI-5613", "BRICKTASKS_BACKEND": "databricks"}
TASKS = ["PrepareData", "ModelTraining", "Evaluate"]


@pytest.mark.spark
@pytest.mark.parametrize(
    ("definition", "conditions"),
    [("jobs/ci.json", {}), ("jobs/ci-classic.json", {"serverless": False, "cluster_start_s": 1.0})],
    ids=["serverless", "classic-without-serverless"],
)
def test_the_example_dag_runs_over_the_emulator(project, tmp_path, definition, conditions):
    with_the_ci_job(project)
    with EmulatorProcess(tmp_path / "emulated", token=SENTINEL_TOKEN, **conditions) as emulator:
        # the host in the environment, the token in .env (the sentinel the end checks look for)
        result = project.invoke("ci", env={**CI_ENV, "DATABRICKS_HOST": emulator.url, "BRICKTASKS_CI_JOB": definition})
        assert result.returncode == 0, result.stdout + result.stderr
        client = workspace_client(emulator.url, SENTINEL_TOKEN)
        (listed,) = list(client.jobs.list_runs())
        run = client.jobs.get_run(listed.run_id)

    assert run.state.result_state.value == "SUCCESS"
    tasks = {task.task_key: task for task in run.tasks}
    assert list(tasks) == TASKS  # each once: nothing was retried
    assert [dep.task_key for dep in tasks["ModelTraining"].depends_on] == ["PrepareData"]
    assert [dep.task_key for dep in tasks["Evaluate"].depends_on] == ["ModelTraining"]
    assert tasks["PrepareData"].end_time <= tasks["ModelTraining"].start_time  # the order held
    assert tasks["ModelTraining"].end_time <= tasks["Evaluate"].start_time
    for task in tasks.values():
        assert task.notebook_task.notebook_path == f"/Projects/forecasting/CI/21-BI-5613/{task.task_key}"
        assert task.notebook_task.base_parameters == {"build": "21", "branch": "BI-5613"}
        if definition == "jobs/ci.json":  # serverless: the environment, no libraries (the API refuses them)
            assert task.environment_key == "ci" and not task.libraries and task.new_cluster is None
        else:  # a job cluster of its own per task, the build's wheel as a task library, started in a second
            assert task.new_cluster.autoscale.max_workers == 4
            assert task.new_cluster.custom_tags["bricktasks-build"] == "21"
            assert any((library.whl or "").endswith(".whl") and "regimecast" in library.whl for library in task.libraries)
            assert task.setup_duration >= 1000
    cases = ET.parse(project.root / "ci-results" / "test-results.xml").getroot().iter("testcase")
    assert [case.get("name") for case in cases] == TASKS
    for task in TASKS:
        assert f"{task}: SUCCESS" in result.stdout
