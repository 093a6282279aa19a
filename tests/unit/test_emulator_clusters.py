"""The emulator's minimal Clusters API, runs on its cluster (one tiny notebook reading a secret,
shown redacted) and on a cluster that does not exist, and the --cluster-id flag."""
from __future__ import annotations

import base64
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from databricks.sdk.errors import OperationFailed, ResourceDoesNotExist
from databricks.sdk.service import compute, jobs

from bricktasks.emulator.__main__ import parse_args
from bricktasks.testing.emulator import start_emulator, workspace_client

TOKEN = "t"
CLUSTER = "0202-123456-mycluster"
VALUE = "sentinel-RUN-SECRET-81bd"
HEADER = "# Databricks notebook source\n"
READS_THE_SECRET = HEADER + (
    "value = dbutils.secrets.get('kv', 'token')\n"
    "print('the secret is', value)\n"
    "assert dbutils.secrets.getBytes('kv', 'raw') == bytes([255, 0, 7])\n"
    "print([s.name for s in dbutils.secrets.listScopes()], [m.key for m in dbutils.secrets.list('kv')])\n"
    "dbutils.notebook.exit('exit ' + value)\n"
)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with start_emulator(tmp_path_factory.mktemp("clusters") / "root", token=TOKEN, cluster_id=CLUSTER) as handle:
        yield handle


@pytest.fixture(scope="module")
def w(emulator):
    return workspace_client(emulator.url, TOKEN)


@pytest.fixture(scope="module")
def reader(emulator, w) -> str:
    """The secret-reading notebook, with the scope it reads."""
    w.secrets.create_scope("kv")
    w.secrets.put_secret("kv", "token", string_value=VALUE)
    w.secrets.put_secret("kv", "raw", bytes_value=base64.b64encode(bytes([255, 0, 7])).decode())
    emulator.backend.mkdirs("/Projects/c")
    emulator.backend.import_object("/Projects/c/reads.py", READS_THE_SECRET.encode())
    return "/Projects/c/reads"


def get(emulator, path: str, **params) -> requests.Response:
    return requests.get(emulator.url + path, params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def test_the_sdk_selects_a_runtime_and_a_node_type(w):
    assert w.clusters.select_spark_version(latest=True, long_term_support=True) == "16.4.x-scala2.12"
    assert w.clusters.select_spark_version(latest=True, long_term_support=True, scala="2.13") == "17.3.x-scala2.13"
    assert w.clusters.select_spark_version(latest=True, ml=True) == "15.4.x-cpu-ml-scala2.12"
    assert w.clusters.select_node_type(local_disk=True) == "Standard_DS3_v2"
    assert w.clusters.select_node_type(min_memory_gb=32) == "Standard_E8ds_v5"


def test_one_always_running_cluster_with_the_configured_id(w):
    [cluster] = list(w.clusters.list())
    assert cluster.cluster_id == CLUSTER and cluster.state == compute.State.RUNNING
    got = w.clusters.get(CLUSTER)
    assert (got.state, got.spark_version, got.num_workers) == (compute.State.RUNNING, "15.4.x-scala2.12", 0)
    w.clusters.ensure_cluster_is_running(CLUSTER)  # returns at once: it runs
    with pytest.raises(ResourceDoesNotExist, match="Cluster 0000-nope does not exist"):
        w.clusters.get("0000-nope")


def test_list_filters_and_bad_input(emulator, w):
    running = compute.ListClustersFilterBy(cluster_states=[compute.State.TERMINATED, compute.State.RUNNING])
    assert [c.cluster_id for c in w.clusters.list(filter_by=running)] == [CLUSTER]
    terminated = compute.ListClustersFilterBy(cluster_states=[compute.State.TERMINATED])
    assert list(w.clusters.list(filter_by=terminated)) == []
    jobs_only = compute.ListClustersFilterBy(cluster_sources=[compute.ClusterSource.JOB])
    assert list(w.clusters.list(filter_by=jobs_only)) == []
    for params in ({"filter_by.cluster_states": "ASLEEP"}, {"page_size": "-1"}, {"page_token": "abc"}):
        answer = get(emulator, "/api/2.1/clusters/list", **params)
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    for params in ({}, {"cluster_id": ""}):
        answer = get(emulator, "/api/2.1/clusters/get", **params)
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert get(emulator, "/api/2.0/clusters/get", cluster_id=CLUSTER).json()["cluster_id"] == CLUSTER  # older clients
    started = requests.post(emulator.url + "/api/2.1/clusters/start", json={"cluster_id": CLUSTER},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert (started.status_code, started.json()["error_code"]) == (400, "INVALID_STATE")
    assert all(entry["status"] != 500 for entry in emulator.requests)


def test_a_run_on_the_cluster_reads_secrets_and_its_output_shows_them_redacted(emulator, w, reader):
    task = jobs.SubmitTask(task_key="t", existing_cluster_id=CLUSTER, notebook_task=jobs.NotebookTask(notebook_path=reader))
    run = w.jobs.submit(run_name="secret reader", tasks=[task]).result(timeout=timedelta(minutes=2))
    assert run.state.result_state == jobs.RunResultState.SUCCESS, run.state
    [task_run] = run.tasks
    assert task_run.cluster_instance.cluster_id == CLUSTER
    output = w.jobs.get_run_output(task_run.run_id)
    assert output.notebook_output.result == "exit [REDACTED]"
    page = w.jobs.export_run(task_run.run_id).views[0].content
    assert "the secret is [REDACTED]" in page
    assert VALUE not in page
    for file in Path(emulator.root, "runs").rglob("*"):
        assert not file.is_file() or VALUE.encode() not in file.read_bytes(), file


def test_a_run_on_an_unknown_cluster_fails_at_once_with_databricks_message(emulator, w, reader):
    task = jobs.SubmitTask(task_key="t", existing_cluster_id="0000-gone", notebook_task=jobs.NotebookTask(notebook_path=reader))
    started = time.monotonic()
    waiter = w.jobs.submit(run_name="no cluster", tasks=[task])
    with pytest.raises(OperationFailed, match="Run executed on existing cluster ID 0000-gone failed since the cluster does not exist"):
        waiter.result(timeout=timedelta(minutes=1))
    assert time.monotonic() - started < 10
    run = w.jobs.get_run(waiter.run_id)
    assert (run.state.life_cycle_state, run.state.result_state) == (jobs.RunLifeCycleState.INTERNAL_ERROR, jobs.RunResultState.FAILED)
    assert "supervisor" not in emulator.backend.runs.read(waiter.run_id)  # nothing was started


@pytest.mark.parametrize("value", ["", "-starts-with-dash", "has space", "a/b", "x" * 101])
def test_a_bad_cluster_id_flag_exits_2(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--root", "r", "--cluster-id", value])
    assert exit_.value.code == 2 and "--cluster-id" in capsys.readouterr().err
