"""Job definitions (bricktasks.jobdef): the example's files load, and every mistake is one ConfigError
line (exit 2) naming the file and the JSON path, with the closest valid name where there is one."""
from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
from databricks.sdk.service import compute as sdk_compute
from databricks.sdk.service import jobs as sdk_jobs

from bricktasks.backends.base import ExistingCluster, NewCluster, Serverless
from bricktasks.errors import ConfigError
from bricktasks.jobdef import fields
from bricktasks.jobdef.definition import load_job_definition

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["PrepareData", "ModelTraining", "Evaluate", "reports/Weekly"]
SPARK = {"spark_version": "15.4.x-scala2.12", "num_workers": 1}


def task(key, notebook=None, **more):
    return {"task_key": key, "notebook_task": {"notebook_path": notebook or key}, **more}


GOOD = {
    "tasks": [
        task("PrepareData"),
        task("ModelTraining", depends_on=[{"task_key": "PrepareData"}]),
        task("Evaluate", depends_on=[{"task_key": "ModelTraining"}]),
    ]
}


def load(tmp_path: Path, data, name: str = "ci.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return load_job_definition(path, shown=f"jobs/{name}", notebooks=NOTEBOOKS, source_dir="forecasting")


def refusal(tmp_path: Path, data) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data)
    line = caught.value.one_line()
    assert caught.value.exit_code == 2 and "\n" not in line
    return line


def changed(edit):
    data = copy.deepcopy(GOOD)
    edit(data)
    return data


# ---- the example's definitions --------------------------------------------------------------------


def test_the_example_ci_json_is_serverless_prepare_train_evaluate():
    job = load_job_definition(REPO / "jobs" / "ci.json", shown="jobs/ci.json", notebooks=NOTEBOOKS, source_dir="forecasting")
    assert [(t.task_key, t.notebook, t.depends_on) for t in job.tasks] == [
        ("PrepareData", "PrepareData", ()), ("ModelTraining", "ModelTraining", ("PrepareData",)),
        ("Evaluate", "Evaluate", ("ModelTraining",)),
    ]
    assert all(t.compute == Serverless("ci") and t.serverless and not t.libraries for t in job.tasks)
    assert [e["environment_key"] for e in job.environments] == ["ci"]
    assert job.performance_target == "PERFORMANCE_OPTIMIZED" and job.timeout_seconds == 3600


def test_the_classic_variant_resolves_its_job_cluster_into_each_task():
    job = load_job_definition(
        REPO / "jobs" / "ci-classic.json", shown="jobs/ci-classic.json", notebooks=NOTEBOOKS, source_dir="forecasting"
    )
    cluster = json.loads((REPO / "cluster.json").read_text())["new_cluster"]
    assert all(t.compute == NewCluster(cluster) and t.job_cluster_key == "ci_cluster" for t in job.tasks)
    assert cluster["autoscale"] == {"min_workers": 1, "max_workers": 4}
    assert all(t.libraries for t in job.tasks)


def test_every_compute_choice_and_task_setting_is_read(tmp_path):
    data = {
        "run_name": "Nightly", "tags": {"team": "ml"}, "name": "documented only", "email_notifications": {},
        "job_clusters": [
            {"job_cluster_key": "pool", "new_cluster": {"spark_version": "15.4.x", "instance_pool_id": "p-1", "num_workers": 2}},
        ],
        "tasks": [
            task("a", "reports/Weekly.py", job_cluster_key="pool", max_retries=2, min_retry_interval_millis=500,
                 retry_on_timeout=True, timeout_seconds=60, libraries=[{"pypi": {"package": "x==1"}}]),
            task("b", "ModelTraining", existing_cluster_id="0101-abc", depends_on=[{"task_key": "a"}], run_if="ALL_DONE"),
            {**task("c", "./PrepareData", new_cluster=SPARK), "notebook_task": {"notebook_path": "./PrepareData",
                                                                              "base_parameters": {"n": "3"}, "source": "WORKSPACE"}},
            task("d", "Evaluate"),
        ],
    }
    job = load(tmp_path, data)
    a, b, c, d = job.tasks
    assert a.notebook == "reports/Weekly" and a.compute == NewCluster(data["job_clusters"][0]["new_cluster"])
    assert (a.max_retries, a.min_retry_interval_millis, a.retry_on_timeout, a.timeout_seconds) == (2, 500, True, 60)
    assert b.compute == ExistingCluster("0101-abc") and b.run_if == "ALL_DONE" and b.depends_on == ("a",)
    assert c.notebook == "PrepareData" and c.compute == NewCluster(SPARK) and c.base_parameters == {"n": "3"}
    assert d.compute is None and d.serverless
    assert job.run_name == "Nightly" and job.tags == {"team": "ml"}


# ---- every mistake: one line naming the file and the place ------------------------------------------


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # keys and the graph
        (lambda d: d["tasks"].append(task("PrepareData")),
         "jobs/ci.json: tasks[3] (PrepareData).task_key: 'PrepareData' is also the key of tasks[0]"),
        (lambda d: d["tasks"][0].pop("task_key"), "jobs/ci.json: tasks[0]: has no task_key"),
        (lambda d: d["tasks"][0].update(task_key="bad key!"), "jobs/ci.json: tasks[0].task_key: task_key 'bad key!' must be"),
        (lambda d: d["tasks"][1].update(depends_on=[{"task_key": "PrepareDta"}]),
         "jobs/ci.json: tasks[1] (ModelTraining).depends_on[0]: 'PrepareDta' is not a task of this definition; did you mean"
         " 'PrepareData'?"),
        (lambda d: d["tasks"][0].update(depends_on=[{"task_key": "Evaluate"}]),
         "the tasks' depends_on form a cycle: PrepareData -> ModelTraining -> Evaluate -> PrepareData"),
        (lambda d: d["tasks"][0].update(depends_on=[{"task_key": "PrepareData"}]),
         "tasks[0] (PrepareData).depends_on[0]: a task cannot depend on itself"),
        (lambda d: d["tasks"][1].update(depends_on=[{"task_key": "PrepareData", "outcome": "true"}]),
         "tasks[1] (ModelTraining).depends_on[0].outcome: 'outcome' is a Jobs API field, but ci does not carry it"),
        (lambda d: d.update(tasks=[]), "jobs/ci.json: tasks: is empty"),
        (lambda d: d.pop("tasks"), "jobs/ci.json: has no tasks"),
        # run_if and compute
        (lambda d: d["tasks"][2].update(run_if="ALL_DONNE"),
         "tasks[2] (Evaluate).run_if: 'ALL_DONNE' is not one of ALL_SUCCESS, AT_LEAST_ONE_SUCCESS, NONE_FAILED, ALL_DONE,"
         " AT_LEAST_ONE_FAILED, ALL_FAILED; did you mean 'ALL_DONE'?"),
        (lambda d: d["tasks"][0].update(existing_cluster_id="x", new_cluster=SPARK),
         "tasks[0] (PrepareData): names two compute choices (existing_cluster_id and new_cluster)"),
        (lambda d: d["tasks"][0].update(job_cluster_key="ci"),
         "tasks[0] (PrepareData).job_cluster_key: there is no job cluster 'ci' in job_clusters"),
        (lambda d: (d.update(job_clusters=[{"job_cluster_key": "ci_cluster", "new_cluster": SPARK}]),
                    d["tasks"][0].update(job_cluster_key="ci_clustr")),
         "there is no job cluster 'ci_clustr' in job_clusters; did you mean 'ci_cluster'?"),
        (lambda d: d["tasks"][0].update(environment_key="default"),
         "tasks[0] (PrepareData).environment_key: there is no environment 'default' in environments"),
        (lambda d: d["tasks"][0].update(libraries=[{"pypi": {"package": "ruptures"}}]),
         "tasks[0] (PrepareData).libraries: a serverless task takes no libraries (the Jobs API refuses them); install them in the"
         " notebook (the example's install_libraries does)"),
        (lambda d: d["tasks"][0].update(new_cluster=SPARK, libraries=[{"pypi": {}}]),
         "tasks[0] (PrepareData).libraries[0]: pypi.package must be a non-empty string"),
        (lambda d: d["tasks"][0].update(new_cluster=SPARK, libraries=[{"pypi": {"package": "ruptures 1.1.9"}}]),
         "tasks[0] (PrepareData).libraries[0]: 'ruptures 1.1.9' is not a valid requirement"),
        (lambda d: d["tasks"][0].update(new_cluster=SPARK, libraries=[{"pypi": {"package": "x==1", "repo": "pypi.org/simple"}}]),
         "tasks[0] (PrepareData).libraries[0]: repo 'pypi.org/simple' is not an http(s) index URL"),
        (lambda d: d.update(job_clusters=[{"job_cluster_key": "a", "new_cluster": {"num_workers": 1}}]),
         "job_clusters[0] (a).new_cluster.spark_version: must be a non-empty string"),
        (lambda d: d.update(job_clusters=[{"job_cluster_key": "a", "new_cluster": SPARK}, {"job_cluster_key": "a", "new_cluster": SPARK}]),
         "job_clusters[1] (a).job_cluster_key: 'a' names more than one job cluster"),
        # notebooks
        (lambda d: d["tasks"][0]["notebook_task"].update(notebook_path="PrepareDatta"),
         "tasks[0] (PrepareData).notebook_task.notebook_path: there is no notebook 'PrepareDatta' in forecasting; did you mean"
         " 'PrepareData'?"),
        (lambda d: d["tasks"][0]["notebook_task"].update(notebook_path="/Workspace/Users/me/PrepareData"),
         "notebook_task.notebook_path: '/Workspace/Users/me/PrepareData' is absolute; write it relative to forecasting/"),
        (lambda d: d["tasks"][0]["notebook_task"].update(notebook_path="../tasks"), "'../tasks' leaves the source folder ('..')"),
        (lambda d: d["tasks"][0]["notebook_task"].update(notebook_path="set_environment"),
         "there is no notebook 'set_environment' in forecasting"),
        (lambda d: d["tasks"][0]["notebook_task"].update(source="GIT"), "notebook_task.source: only WORKSPACE notebooks are supported"),
        (lambda d: d["tasks"][0].pop("notebook_task"), "tasks[0] (PrepareData): has no notebook_task"),
        # unknown fields, level by level, with the closest valid name
        (lambda d: d.update(timeout_second=5),
         "jobs/ci.json: timeout_second: unknown field 'timeout_second'; did you mean 'timeout_seconds'?"),
        (lambda d: d["tasks"][0].update(depends=[]), "tasks[0] (PrepareData).depends: unknown field 'depends'; did you mean 'depends_on'?"),
        (lambda d: d["tasks"][0]["notebook_task"].update(base_parameter={}),
         "notebook_task.base_parameter: unknown field 'base_parameter'; did you mean 'base_parameters'?"),
        (lambda d: d["tasks"][0].update(new_cluster={**SPARK, "node_typ_id": "x"}),
         "new_cluster.node_typ_id: unknown field 'node_typ_id'; did you mean 'node_type_id'?"),
        (lambda d: d["tasks"][0].update(new_cluster={**SPARK, "autoscale": {"min_worker": 1}}),
         "new_cluster.autoscale.min_worker: unknown field 'min_worker'; did you mean 'min_workers'?"),
        (lambda d: d.update(environments=[{"environment_key": "e", "spec": {"dependecies": []}}]),
         "environments[0] (e).spec.dependecies: unknown field 'dependecies'; did you mean 'dependencies'?"),
        (lambda d: d.update(job_clusters=[{"job_cluster_key": "a", "new_clustr": SPARK}]),
         "job_clusters[0].new_clustr: unknown field 'new_clustr'; did you mean 'new_cluster'?"),
        (lambda d: d.update(schedule={"quartz_cron_expression": "0 0 * * * ?"}),
         "schedule: 'schedule' is a Jobs API field, but ci does not carry it to the run; remove it"),
        (lambda d: d["tasks"][0].update(spark_python_task={}), "'spark_python_task' is a Jobs API field, but ci runs notebook tasks only"),
        (lambda d: d.update(email_notifications={"on_failure": ["me@x"]}),
         "email_notifications: ci sends no notifications; remove it or leave it {}"),
        # wrong types
        (lambda d: d["tasks"][0].update(timeout_seconds="60"),
         "tasks[0] (PrepareData).timeout_seconds: must be a whole number, not a string"),
        (lambda d: d["tasks"][0].update(max_retries=-2), "max_retries: must be at least -1, not -2"),
        (lambda d: d["tasks"][0].update(retry_on_timeout="yes"), "retry_on_timeout: must be true or false, not a string"),
        (lambda d: d["tasks"][0]["notebook_task"].update(base_parameters={"n": 3}), "notebook_task.base_parameters.n: must be a string"),
        (lambda d: d["tasks"][0].update(depends_on={"task_key": "x"}),
         "tasks[0] (PrepareData).depends_on: must be a JSON list, not an object"),
        (lambda d: d.update(tasks={"a": 1}), "jobs/ci.json: tasks: must be a JSON list, not an object"),
        (lambda d: d.update(performance_target="PERFORMANCE"),
         "performance_target: 'PERFORMANCE' is not one of PERFORMANCE_OPTIMIZED, STANDARD; did you mean 'PERFORMANCE_OPTIMIZED'?"),
        (lambda d: d.update(tags={"a": 1}), "jobs/ci.json: tags.a: must be a string"),
    ],
)
def test_each_mistake_is_one_line_naming_the_place(tmp_path, edit, expected):
    assert expected in refusal(tmp_path, changed(edit))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1]", "jobs/ci.json: must be a JSON object"),
        ('{"tasks": ' + "[" * 30 + "]" * 30 + "}", "nested too deeply"),
        ('{"tasks": NaN}', "is not valid JSON"),
        ("\xff{", "is not valid JSON"),
    ],
)
def test_odd_json_is_refused_like_cluster_json(tmp_path, text, expected):
    path = tmp_path / "ci.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_job_definition(path, shown="jobs/ci.json", notebooks=NOTEBOOKS, source_dir="forecasting")
    assert expected in caught.value.one_line() and "jobs/ci.json" in caught.value.one_line()


def test_a_hostile_key_is_cut_short_in_the_message(tmp_path):
    line = refusal(tmp_path, changed(lambda d: d.update({"x" * 5000: 1})))
    assert len(line) < 700 and "x" * 61 not in line


# ---- the field lists are the SDK's ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "dataclass"),
    [
        (fields.JOB_SETTINGS_FIELDS, sdk_jobs.JobSettings),
        (fields.TASK_FIELDS, sdk_jobs.Task),
        (fields.CLUSTER_SPEC_FIELDS, sdk_compute.ClusterSpec),
        (fields.ENVIRONMENT_SPEC_FIELDS, sdk_compute.Environment),
        (fields.NOTEBOOK_TASK.api, sdk_jobs.NotebookTask),
        (fields.DEPENDENCY.api, sdk_jobs.TaskDependency),
        (fields.AUTOSCALE.api, sdk_compute.AutoScale),
    ],
)
def test_the_known_fields_are_the_installed_sdks(listed, dataclass):
    assert set(listed) == {field.name for field in dataclasses.fields(dataclass)}


def test_submit_tasks_take_every_carried_task_field_but_job_cluster_key():
    submit = {field.name for field in dataclasses.fields(sdk_jobs.SubmitTask)}
    assert set(fields.TASK.carried) - {"$comment"} - submit == {"job_cluster_key"}  # resolved before the submit
    assert {f.name for f in dataclasses.fields(sdk_jobs.JobCluster)} >= set(fields.JOB_CLUSTER.carried) - {"$comment"}
    assert {f.name for f in dataclasses.fields(sdk_jobs.JobEnvironment)} == set(fields.ENVIRONMENT.carried) - {"$comment"}
