"""One contract suite, every backend: `local`, `databricks` (DatabricksBackend -> emulator), `live`.

`live` talks to a real workspace when DATABRICKS_HOST is set (marked `live`, skipped
otherwise). It works in unique scratch folders and removes them afterwards:
    workspace   $BRICKTASKS_WORKSPACE_ROOT/contract-<id>      (default /Users/Shared)
    DBFS        dbfs:/tmp/bricktasks-contract-<id>
    Volumes     $BRICKTASKS_CONTRACT_VOLUME/contract-<id>      (Volume tests skip without it)
    runs        existing cluster $BRICKTASKS_CONTRACT_CLUSTER_ID, else serverless
"""
from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from databricks.sdk.service.catalog import VolumeType

from bricktasks.backends.base import Backend, ExistingCluster, NotebookTask, Run, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.errors import BackendError
from bricktasks.testing.emulator import databricks_backend, start_emulator, workspace_client

HEADER = "# Databricks notebook source\n"


@dataclass
class Place:
    """A backend and the scratch folders a test may use on it."""

    kind: str
    backend: Backend
    workspace: str
    dbfs: str
    volume: str | None
    cluster_id: str | None = None
    run_wait_seconds: float = 60.0

    def root_of(self, file_system: str) -> str:
        if file_system == "dbfs":
            return self.dbfs
        if file_system == "volumes":
            if self.volume is None:
                pytest.skip("set BRICKTASKS_CONTRACT_VOLUME=/Volumes/<catalog>/<schema>/<volume> for live Volume tests")
            return self.volume
        return self.workspace

    def spec(self, notebook: str, **options) -> RunSpec:
        options.setdefault("compute", ExistingCluster(self.cluster_id) if self.cluster_id else None)
        return RunSpec(run_name=f"contract {notebook.rsplit('/', 1)[-1]}", tasks=(NotebookTask("main", notebook),), **options)

    def wait(self, run_id: int, *, until=lambda run: run.is_terminal) -> Run:
        deadline = time.monotonic() + self.run_wait_seconds
        while True:
            run = self.backend.get_run(run_id)
            if until(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still {run.life_cycle_state} after {self.run_wait_seconds}s")
            time.sleep(0.05 if self.kind != "live" else 5)


def _offline_places(kind: str, tmp_path: Path) -> Iterator[Place]:
    folders = dict(workspace="/Projects/contract", dbfs="dbfs:/contract", volume="/Volumes/main/default/contract/t")
    if kind == "local":
        backend = LocalBackend(tmp_path / "local-root")
        backend.mkdirs(folders["workspace"])
        yield Place(kind, backend, **folders)
        backend.close()
        return
    with start_emulator(tmp_path / "emulator-root", token="contract-token") as emulator:
        # as on a workspace, the volume exists only once created (the live place names an existing one)
        workspace_client(emulator.url, "contract-token").volumes.create("main", "default", "contract", VolumeType.MANAGED)
        backend = databricks_backend(emulator.url, "contract-token")
        backend.mkdirs(folders["workspace"])
        yield Place(kind, backend, **folders)
        backend.close()


def _live_place() -> Iterator[Place]:
    if not os.environ.get("DATABRICKS_HOST"):
        pytest.skip("live contract tests need DATABRICKS_HOST (and a token or profile)")
    from bricktasks.backends.databricks import DatabricksBackend

    unique = uuid.uuid4().hex[:10]
    backend = DatabricksBackend(
        os.environ.get("DATABRICKS_HOST"), os.environ.get("DATABRICKS_TOKEN"), os.environ.get("DATABRICKS_CONFIG_PROFILE")
    )
    root = os.environ.get("BRICKTASKS_WORKSPACE_ROOT", "/Users/Shared").rstrip("/")
    volume = os.environ.get("BRICKTASKS_CONTRACT_VOLUME")
    place = Place(
        "live", backend, f"{root}/contract-{unique}", f"dbfs:/tmp/bricktasks-contract-{unique}",
        f"{volume.rstrip('/')}/contract-{unique}" if volume else None,
        cluster_id=os.environ.get("BRICKTASKS_CONTRACT_CLUSTER_ID"), run_wait_seconds=1800,
    )
    backend.mkdirs(place.workspace)
    try:
        yield place
    finally:
        for cleanup in (
            lambda: backend.delete(place.workspace, recursive=True),
            lambda: backend.delete_file(place.dbfs, recursive=True),
            lambda: place.volume and backend.delete_file(place.volume, recursive=True),
        ):
            with contextlib.suppress(BackendError):
                cleanup()
        backend.close()


@pytest.fixture(params=["local", "databricks", pytest.param("live", marks=pytest.mark.live)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    """The backend under test with its scratch folders."""
    if request.param == "live":
        yield from _live_place()
    else:
        yield from _offline_places(request.param, tmp_path)


@pytest.fixture
def backend(place: Place) -> Backend:
    return place.backend


@pytest.fixture
def notebook(place: Place):
    """Write a Python source notebook into the scratch folder; returns its workspace path."""

    def write(name: str, body: str) -> str:
        path = f"{place.workspace}/{name}"
        place.backend.import_object(path + ".py", (HEADER + body).encode(), overwrite=True)
        return path

    return write
