"""What the build fills into a job definition (bricktasks.ci.runspec), seen in the runs/submit body
every backend sends or stores (submit_body): the example's serverless and classic definitions, and
the shorthand of cluster.json + notebooks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bricktasks.backends.base import NewCluster
from bricktasks.backends.submit_json import submit_body
from bricktasks.buildinfo import BuildInfo
from bricktasks.ci.runspec import build_run_spec
from bricktasks.clusterspec import load_cluster_spec
from bricktasks.jobdef.definition import load_job_definition
from bricktasks.jobdef.shorthand import shorthand_job

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["PrepareData", "ModelTraining", "Evaluate"]
BUILD = BuildInfo("42", "BI-5613", "abc", "github-actions")
FOLDER = "/Projects/forecasting/CI/42-BI-5613"
WHEEL = {"whl": "/Projects/forecasting/libraries/CI/42-BI-5613/regimecast-0.4.0-py3-none-any.whl"}
TAGS = {"bricktasks-build": "42", "bricktasks-branch": "BI-5613"}


def body_of(job, *, timeout_s: float = 1500) -> dict:
    spec = build_run_spec(job, ci_folder=FOLDER, run_name="CI-42-BI-5613", build=BUILD, wheels=[WHEEL],
                          timeout_s=timeout_s, idempotency_token="t" * 64)
    return submit_body(spec) | {"tags": spec.tags}


def example(name: str):
    return load_job_definition(REPO / "jobs" / name, shown=f"jobs/{name}", notebooks=NOTEBOOKS, source_dir="forecasting")


def test_the_serverless_example_gets_paths_parameters_and_no_libraries():
    body = body_of(example("ci.json"))
    tasks = {task["task_key"]: task for task in body["tasks"]}
    assert list(tasks) == ["PrepareData", "ModelTraining", "Evaluate"]
    for key, task in tasks.items():
        assert task["notebook_task"] == {
            "notebook_path": f"{FOLDER}/{key}", "source": "WORKSPACE", "base_parameters": {"build": "42", "branch": "BI-5613"},
        }
        # serverless: the API refuses libraries there; the notebook's install_libraries installs the wheel
        assert "libraries" not in task and "new_cluster" not in task and task["environment_key"] == "ci"
    assert tasks["ModelTraining"]["depends_on"] == [{"task_key": "PrepareData"}]
    assert tasks["Evaluate"]["timeout_seconds"] == 600
    assert body["environments"][0]["spec"]["dependencies"] == ["ruptures==1.1.9", "mlflow-skinny==3.17.2"]
    assert body["performance_target"] == "PERFORMANCE_OPTIMIZED"
    assert body["timeout_seconds"] == 1500  # the file's 3600, cut to ci's own wait
    assert body["run_name"] == "CI-42-BI-5613" and body["idempotency_token"] == "t" * 64 and body["tags"] == TAGS


def test_the_classic_example_inlines_its_job_cluster_with_tags_and_gets_the_wheel():
    body = body_of(example("ci-classic.json"), timeout_s=7200)
    cluster = json.loads((REPO / "cluster.json").read_text())["new_cluster"]
    for task in body["tasks"]:
        # runs/submit has no job_clusters[]: each task gets the job cluster's spec as its own new_cluster
        assert "job_cluster_key" not in task
        assert task["new_cluster"] == {**cluster, "custom_tags": {"cluster-purpose": "CI-testing", **TAGS}}
        assert task["libraries"][0] == WHEEL and task["libraries"].count(WHEEL) == 1
    assert body["tasks"][1]["libraries"][1:] == [{"pypi": {"package": "ruptures==1.1.9"}}, {"pypi": {"package": "mlflow-skinny==3.17.2"}}]
    assert body["timeout_seconds"] == 3600  # the file's, shorter than ci's wait
    assert "environments" not in body and "performance_target" not in body


def test_the_files_parameters_and_tags_are_kept_under_the_builds(tmp_path):
    path = tmp_path / "ci.json"
    path.write_text(json.dumps({
        "tags": {"team": "ml", "bricktasks-build": "mine"},
        "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "Evaluate", "base_parameters": {"n": "3", "build": "x"}},
                   "new_cluster": {"spark_version": "15.4.x", "instance_pool_id": "pool-1"}}],
    }))
    job = load_job_definition(path, shown="ci.json", notebooks=NOTEBOOKS, source_dir="forecasting")
    (task,) = body_of(job)["tasks"]
    assert task["notebook_task"]["base_parameters"] == {"n": "3", "build": "42", "branch": "BI-5613"}
    assert task["new_cluster"] == {"spark_version": "15.4.x", "instance_pool_id": "pool-1", "custom_tags": {"team": "ml", **TAGS}}
    assert task["libraries"] == [WHEEL]


@pytest.mark.parametrize("spec", [{"existing_cluster_id": "0101-abc"}, None])
def test_the_shorthand_runs_each_notebook_on_the_cluster_json_cluster(tmp_path, spec):
    cluster = load_cluster_spec(REPO / "cluster.json") if spec is None else load_cluster_spec(_write(tmp_path, spec))
    job = shorthand_job(["ModelTraining", "reports/Weekly"], compute=cluster.compute, libraries=cluster.libraries, source="cluster.json")
    body = body_of(job)
    assert [task["task_key"] for task in body["tasks"]] == ["ModelTraining", "reports_Weekly"]
    for task in body["tasks"]:
        assert "depends_on" not in task
        assert task["libraries"] == [*cluster.libraries, WHEEL]
        if isinstance(cluster.compute, NewCluster):
            assert task["new_cluster"]["custom_tags"] == {"cluster-purpose": "CI-testing", **TAGS}
        else:
            assert task["existing_cluster_id"] == "0101-abc"
    assert body["tasks"][1]["notebook_task"]["notebook_path"] == f"{FOLDER}/reports/Weekly"


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(data))
    return path
