"""checkout, switch-env, prune, clean-ci and deploy end to end on the local backend."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from e2e_helpers import SLEEPER

from bricktasks.backends.base import NotebookTask, RunSpec

BRANCH = "/Projects/forecasting/BI-5613"


def test_checkout_switch_env_and_prune(project):
    first = project.invoke("checkout", "BI-5613")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "uploaded 9, unchanged 0, pruned 0" in first.stdout
    backend = project.backend()
    assert backend.export(f"{BRANCH}/set_environment") == b"# Databricks notebook source\n# MAGIC %run ./conf/dev_config\n"
    assert backend.get_status(f"{BRANCH}/ModelTraining").object_type.value == "NOTEBOOK"
    again = project.invoke("checkout", "BI-5613")
    assert "uploaded 0, unchanged 9, pruned 0" in again.stdout

    switched = project.invoke("switch-env", "kyle", "--branch", "BI-5613")
    assert switched.returncode == 0, switched.stderr
    assert b"./conf/kyle_config" in backend.export(f"{BRANCH}/set_environment")

    (project.root / "forecasting" / "PrepareData.py").unlink()
    kept = project.invoke("checkout", "BI-5613", "--env", "kyle")
    assert "PrepareData" in kept.stdout and "--prune" in kept.stdout
    assert backend.get_status(f"{BRANCH}/PrepareData")
    pruned = project.invoke("checkout", "BI-5613", "--env", "kyle", "--prune")
    assert "pruned 1" in pruned.stdout, pruned.stdout
    assert "PrepareData" not in {info.path.rsplit("/", 1)[1] for info in backend.list(BRANCH)}


def test_slashes_map_to_a_safe_folder_and_switch_env_defaults_to_the_git_branch(project):
    project.git("checkout", "-q", "-b", "feature/new-model")
    result = project.invoke("checkout", "feature/new-model", "--env", "ci")
    assert result.returncode == 0, result.stderr
    folder = "/Projects/forecasting/feature__new-model"
    assert project.backend().get_status(f"{folder}/ModelTraining")
    switched = project.invoke("switch-env", "dev")  # no --branch: the current git branch
    assert switched.returncode == 0, switched.stderr
    assert b"./conf/dev_config" in project.backend().export(f"{folder}/set_environment")


def test_dry_run_changes_nothing(project):
    before = project.workspace_digest()
    result = project.invoke("checkout", "BI-5613", "--dry-run")
    assert result.returncode == 0 and "would upload 9" in result.stdout
    assert project.workspace_digest() == before


def _make_build(backend, name, created, run_id=None):
    folder = f"/Projects/forecasting/CI/{name}"
    backend.mkdirs(folder)
    manifest = {"build_id": name.split("-")[0], "branch": "x", "created": created.isoformat(), "run_id": run_id}
    backend.import_object(f"{folder}/.bricktasks-build.json", json.dumps(manifest).encode())
    backend.mkdirs_files(f"/Projects/forecasting/libraries/CI/{name}")


def test_clean_ci_deletes_old_builds_only(project):
    backend = project.backend()
    now = datetime.now(timezone.utc)
    backend.mkdirs("/Projects/forecasting/master")
    backend.mkdirs(BRANCH)
    backend.mkdirs("/Projects/forecasting/CI")
    _make_build(backend, "1-old", now - timedelta(days=40))
    _make_build(backend, "2-new", now - timedelta(days=2))
    backend.mkdirs("/Projects/forecasting/sleepers")
    backend.import_object("/Projects/forecasting/sleepers/Sleeper.py", SLEEPER.encode())
    active = backend.submit_run(RunSpec("active", (NotebookTask("s", "/Projects/forecasting/sleepers/Sleeper"),)))
    try:
        _make_build(backend, "3-active", now - timedelta(days=50), run_id=active)
        before = project.workspace_digest()
        dry = project.invoke("clean-ci", "--older-than", "30d", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would delete 1-old" in dry.stdout and "3-active" in dry.stdout and "still active" in dry.stdout
        assert project.workspace_digest() == before
        real = project.invoke("clean-ci", "--older-than", "30d")
        assert real.returncode == 0, real.stderr
        assert "deleted 1, kept 1, active 1" in real.stdout
        left = {info.path.rsplit("/", 1)[1] for info in backend.list("/Projects/forecasting/CI")}
        assert left == {"2-new", "3-active"}
        libraries = {info.path.rsplit("/", 1)[1] for info in backend.list_files("/Projects/forecasting/libraries/CI")}
        assert libraries == {"2-new", "3-active"}
        assert backend.get_status("/Projects/forecasting/master") and backend.get_status(BRANCH)
    finally:
        backend.cancel_run(active)
    after_cancel = project.invoke("clean-ci", "--older-than", "0d")
    assert "deleted 2" in after_cancel.stdout
    assert backend.list("/Projects/forecasting/CI") == []


def test_deploy_refuses_other_branches_and_dirty_trees_then_deploys(project):
    backend = project.backend()
    project.git("checkout", "-q", "-b", "BI-1")
    refused = project.invoke("deploy")
    assert refused.returncode == 2 and "deploy runs from main or master" in refused.stderr
    project.git("checkout", "-q", "main")
    (project.root / "forecasting" / "Scratch.py").write_text("# Databricks notebook source\n1\n")
    dirty = project.invoke("deploy")
    assert dirty.returncode == 2 and "uncommitted changes" in dirty.stderr
    (project.root / "forecasting" / "Scratch.py").unlink()
    deployed = project.invoke("deploy")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert b"production_config" in backend.export("/Projects/forecasting/master/set_environment")
    wheels = backend.list_files("/Projects/forecasting/libraries")
    assert any(info.path.endswith(".whl") and "+g" in info.path for info in wheels)
