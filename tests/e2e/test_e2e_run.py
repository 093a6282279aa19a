"""`invoke run`: a notebook of the working copy on the local backend, with the chosen config."""
from __future__ import annotations

import json

from e2e_helpers import BROKEN


def test_model_training_trains_on_local_spark_with_the_ci_config(project):
    result = project.invoke("run", "ModelTraining", "--env", "ci")
    assert result.returncode == 0, result.stdout + result.stderr
    exit_line = next(line for line in result.stdout.splitlines() if line.startswith("exit value: "))
    summary = json.loads(exit_line.removeprefix("exit value: "))
    assert summary["environment"] == "ci"
    assert summary["series_forecast"] == summary["series_in"] == 200
    assert summary["mae_ratio"] < 0.7  # the ci config's quality gate


def test_a_broken_cell_exits_1_and_names_the_cell(project):
    project.write_notebook("Broken", BROKEN)
    result = project.invoke("run", "Broken", "--env", "ci")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cell 2 of Broken failed: ValueError: quality below threshold" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr  # the notebook's trace is reported, invoke's is not
