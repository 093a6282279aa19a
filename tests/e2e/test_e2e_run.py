"""`invoke run`: a notebook of the working copy on the local backend, with the chosen config."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from e2e_helpers import BROKEN, HEADER

from bricktasks.testing.projectcopy import clean_environment

CI_EXPERIMENT = "/Projects/forecasting/experiments/ci"  # forecasting/conf/ci_config.py
# shaped like a personal access token; a developer's shell may hold one while running locally
WORKSPACE_TOKEN = "dapi" + "0e2e" * 8

# what a notebook can see of its run's environment (only whether a token is there, never its value)
ENVIRONMENT_PROBE = HEADER + """import json
import os

dbutils.notebook.exit(json.dumps({
    "token_present": "DATABRICKS_TOKEN" in os.environ,
    "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
}))
"""

# load the logged model where regimecast is not installed and forecast two series with one known level each
LOAD_AND_PREDICT = """import json, sys
import mlflow.pyfunc
import pandas as pd

model = mlflow.pyfunc.load_model(sys.argv[1])
history = pd.DataFrame({
    "series_id": ["shift"] * 30 + ["flat"] * 30,
    "t": list(range(30)) * 2,
    "y": [0.0] * 15 + [5.0] * 15 + [1.0] * 30,
})
forecasts = model.predict(history)
import regimecast
print(json.dumps({"rows": forecasts.to_dict("records"), "regimecast": regimecast.__file__}))
"""


def _exit_value(stdout: str) -> dict:
    exit_line = next(line for line in stdout.splitlines() if line.startswith("exit value: "))
    return json.loads(exit_line.removeprefix("exit value: "))


def test_model_training_trains_on_local_spark_with_the_ci_config_and_logs_to_mlflow(project, monkeypatch):
    result = project.invoke("run", "ModelTraining", "--env", "ci")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = _exit_value(result.stdout)
    assert summary["environment"] == "ci"
    assert summary["series_forecast"] == summary["series_in"] == 200
    assert summary["mae_ratio"] < 0.7  # the ci config's quality gate

    # the run, read back from the local root's file store with MLflow's own client
    from mlflow import MlflowClient

    tracking_uri = (project.local_root / "mlflow").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3.13+ asks for it to read a file store too
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(CI_EXPERIMENT)
    assert experiment is not None, [e.name for e in client.search_experiments()]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_id == summary["mlflow_run_id"] and run.info.status == "FINISHED"
    assert run.data.params["horizon"] == "12" and run.data.params["holdout"] == "12"
    assert run.data.params["n_series"] == "200"
    assert run.data.metrics["mae_ratio"] == summary["mae_ratio"]
    assert run.data.metrics["series_forecast"] == 200
    tags = run.data.tags
    assert tags["environment"] == "ci" and tags["branch"] == "main"
    # run alone there is no PrepareData upstream: it prepared its own input; and no Evaluate downstream to tag the gate
    assert tags["input_path"].endswith("/ml/forecasting/ci_sandbox/input/series") and "quality_gate" not in tags
    assert tags["notebook"].endswith("/.local-runs/main/ModelTraining")
    # MLflow's source is the notebook's local file, not the runtime module in the toolkit's checkout, so
    # no toolkit commit is recorded (MLflow skips git tags for a gitignored file such as the local root's)
    local_file = project.local_root / "workspace" / "Projects" / "forecasting" / ".local-runs" / "main" / "ModelTraining.py"
    assert tags["mlflow.source.name"] == str(local_file)
    assert "mlflow.source.git.commit" not in tags
    (logged,) = client.search_logged_models([experiment.experiment_id])
    assert logged.source_run_id == run.info.run_id and summary["model_uri"] == f"models:/{logged.model_id}"

    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_AND_PREDICT, summary["model_uri"]],
        env=clean_environment({"MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_ALLOW_FILE_STORE": "true"}),
        cwd=project.root.parent, capture_output=True, text=True, timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    prediction = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert "/mlflow/" in prediction["regimecast"], "the model must carry the library it was trained with"
    rows = {row["series_id"]: row for row in prediction["rows"]}
    assert rows["shift"]["n_breaks"] == 1 and rows["flat"]["n_breaks"] == 0
    assert json.loads(rows["shift"]["forecast"]) == pytest.approx([5.0] * 12)
    assert json.loads(rows["flat"]["forecast"]) == pytest.approx([1.0] * 12)


def test_a_local_run_logs_mlflow_under_the_local_root_and_never_sees_the_workspace_token(project):
    project.write_notebook("Probe", ENVIRONMENT_PROBE)
    result = project.invoke("run", "Probe", "--env", "ci", env={"DATABRICKS_TOKEN": WORKSPACE_TOKEN})
    assert result.returncode == 0, result.stdout + result.stderr
    seen = _exit_value(result.stdout)
    assert seen == {"token_present": False, "tracking_uri": (project.local_root / "mlflow").as_uri()}
    assert WORKSPACE_TOKEN not in result.stdout + result.stderr


def test_a_broken_cell_exits_1_and_names_the_cell(project):
    project.write_notebook("Broken", BROKEN)
    result = project.invoke("run", "Broken", "--env", "ci")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cell 2 of Broken failed: ValueError: quality below threshold" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr  # the notebook's trace is reported, invoke's is not
