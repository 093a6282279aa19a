"""MLflow during a local run: tracking goes to `<local root>/mlflow`, and the notebook is the main program."""
from __future__ import annotations

import json
import os
import sys

import pytest
from runtime_helpers import LocalRoot, notebook

from bricktasks.runtime.tracking import local_tracking_uri

MAIN = "/Projects/p/Main"


def test_a_run_sees_the_local_store_and_its_own_file_as_argv_then_the_caller_gets_its_own_back(
    local: LocalRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a developer whose shell points MLflow at the workspace: a local run must still log locally
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    argv = list(sys.argv)
    local.write(
        MAIN,
        notebook(
            "import json, os, sys\n"
            "dbutils.notebook.exit(json.dumps({'uri': os.environ['MLFLOW_TRACKING_URI'],"
            " 'allow': os.environ['MLFLOW_ALLOW_FILE_STORE'], 'argv': sys.argv}))"
        ),
    )
    result = local.run(MAIN)
    assert result.status == "SUCCESS", result.error_trace
    seen = json.loads(result.exit_value or "{}")
    assert seen["uri"] == (local.root.resolve() / "mlflow").as_uri() == local_tracking_uri(local.root)
    assert seen["allow"] == "true"
    assert seen["argv"] == [str(local.root / "workspace" / "Projects" / "p" / "Main.py")]
    assert os.environ["MLFLOW_TRACKING_URI"] == "databricks"
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert sys.argv == argv


def test_a_notebook_logs_to_the_local_store_under_a_workspace_path_experiment(
    local: LocalRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    local.write(
        MAIN,
        notebook(
            "import mlflow\n"
            "mlflow.set_experiment('/Projects/p/experiments/ci')\n"
            "with mlflow.start_run() as run:\n"
            "    mlflow.log_param('horizon', 12)\n"
            "    mlflow.log_metric('mae_ratio', 0.25)\n"
            "dbutils.notebook.exit(run.info.run_id)"
        ),
    )
    result = local.run(MAIN)
    assert result.status == "SUCCESS", result.error_trace
    # reading a file store needs the same opt-in as writing it (MLflow 3.13+)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=local_tracking_uri(local.root))
    experiment = client.get_experiment_by_name("/Projects/p/experiments/ci")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == result.exit_value
    assert run.data.params == {"horizon": "12"} and run.data.metrics == {"mae_ratio": 0.25}
    # MLflow names the notebook as the run's source, not the runtime module that ran it
    assert run.data.tags["mlflow.source.name"] == str(local.root / "workspace" / "Projects" / "p" / "Main.py")
