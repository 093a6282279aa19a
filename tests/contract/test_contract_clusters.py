"""Clusters, as a client picks a runtime and a node type before it submits, through the real SDK
(`w.clusters.*`). Against the emulator (one always-running cluster), and a real workspace with
`-m live` (its cluster: BRICKTASKS_CONTRACT_CLUSTER_ID)."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service import compute, jobs
from databricks.sdk.service.workspace import ImportFormat, Language
from sdk_clients import SdkPlace, sdk_client

from bricktasks.emulator.routing import DEFAULT_CLUSTER_ID


def _cluster_id(place: SdkPlace) -> str:
    if place.kind == "emulator":
        return DEFAULT_CLUSTER_ID
    cluster_id = os.environ.get("BRICKTASKS_CONTRACT_CLUSTER_ID")
    if not cluster_id:
        pytest.skip("set BRICKTASKS_CONTRACT_CLUSTER_ID to a running all-purpose cluster for live cluster tests")
    return cluster_id


def test_select_spark_version_and_node_type(sdk_client):
    w = sdk_client.w
    lts = w.clusters.select_spark_version(latest=True, long_term_support=True)
    assert lts in [v.key for v in w.clusters.spark_versions().versions] and "-scala2.12" in lts
    node_type = w.clusters.select_node_type(local_disk=True)
    assert node_type in [n.node_type_id for n in w.clusters.list_node_types().node_types]


def test_the_cluster_is_listed_and_running(sdk_client):
    w, cluster_id = sdk_client.w, _cluster_id(sdk_client)
    assert cluster_id in [c.cluster_id for c in w.clusters.list()]
    w.clusters.ensure_cluster_is_running(cluster_id)
    cluster = w.clusters.get(cluster_id)
    assert cluster.state == compute.State.RUNNING and cluster.spark_version


def test_an_unknown_cluster_does_not_exist(sdk_client):
    with pytest.raises(NotFound, match="does not exist"):
        sdk_client.w.clusters.get("0000-000000-doesnotexist")


def test_a_submit_on_the_cluster_runs(sdk_client):
    w, cluster_id = sdk_client.w, _cluster_id(sdk_client)
    folder = f"/Shared/bricktasks-contract-{uuid.uuid4().hex[:10]}"
    w.workspace.mkdirs(folder)
    try:
        w.workspace.upload(f"{folder}/hello", b"# Databricks notebook source\nprint('hello')\n",
                           format=ImportFormat.SOURCE, language=Language.PYTHON)
        task = jobs.SubmitTask(task_key="hello", existing_cluster_id=cluster_id,
                               notebook_task=jobs.NotebookTask(notebook_path=f"{folder}/hello"))
        run = w.jobs.submit(run_name="on the cluster", tasks=[task]).result(timeout=timedelta(minutes=30))
        assert run.state.result_state == jobs.RunResultState.SUCCESS
        assert run.tasks[0].cluster_instance.cluster_id == cluster_id
    finally:
        w.workspace.delete(folder, recursive=True)
