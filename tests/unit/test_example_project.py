"""The example project's notebooks are Databricks source notebooks wired the way the article describes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "forecasting"
NOTEBOOKS = sorted(SOURCE.rglob("*.py"))
CONFIGS = sorted((SOURCE / "conf").glob("*_config.py"))


def _run_targets(path: Path) -> list[str]:
    return re.findall(r"^# MAGIC %run (\S+)$", path.read_text(), flags=re.MULTILINE)


def test_the_example_has_notebooks_and_configs() -> None:
    names = {path.stem for path in NOTEBOOKS}
    assert {"ModelTraining", "PrepareData", "set_environment"} <= names
    assert {path.stem for path in CONFIGS} >= {"production_config", "ci_config", "dev_config"}
    assert len(CONFIGS) >= 4, "a per-developer example config is expected besides production, ci and dev"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: str(path.relative_to(SOURCE)))
def test_every_notebook_has_the_databricks_header(path: Path) -> None:
    assert path.read_text().startswith("# Databricks notebook source\n")


def test_set_environment_is_one_run_of_the_production_config() -> None:
    lines = (SOURCE / "set_environment.py").read_text().splitlines()
    assert lines == ["# Databricks notebook source", "# MAGIC %run ./conf/production_config"]


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.stem != "production_config"], ids=lambda p: p.stem)
def test_every_other_config_builds_on_production(path: Path) -> None:
    assert _run_targets(path) == ["./production_config"]


def test_the_production_config_is_the_base() -> None:
    assert _run_targets(SOURCE / "conf" / "production_config.py") == []


def test_model_training_reads_its_settings_trains_per_series_and_exits_with_a_summary() -> None:
    text = (SOURCE / "ModelTraining.py").read_text()
    assert _run_targets(SOURCE / "ModelTraining.py") == ["./install_libraries", "./set_environment"]
    assert ".applyInPandas(" in text and "groupBy(" in text
    assert "dbutils.notebook.exit(json.dumps(" in text
    assert 'taskValues.get(taskKey="PrepareData"' in text and 'taskValues.set(key="mlflow_run_id"' in text


def test_the_ci_job_is_prepare_train_evaluate_and_evaluate_is_the_gate() -> None:
    """jobs/ci.json chains the three notebooks; the values each task reads are the ones its upstream sets."""
    import json

    job = json.loads((SOURCE.parent / "jobs" / "ci.json").read_text())
    assert [(task["task_key"], [d["task_key"] for d in task.get("depends_on", [])]) for task in job["tasks"]] == [
        ("PrepareData", []), ("ModelTraining", ["PrepareData"]), ("Evaluate", ["ModelTraining"]),
    ]
    sets = {
        name: set(re.findall(r'taskValues\.set\(key="(\w+)"', (SOURCE / f"{name}.py").read_text()))
        for name in ("PrepareData", "ModelTraining")
    }
    assert sets["PrepareData"] >= {"series", "input_path"}
    read_by_training = set(re.findall(r'from_prepare_data\("(\w+)"\)', (SOURCE / "ModelTraining.py").read_text()))
    assert read_by_training and read_by_training <= sets["PrepareData"]
    evaluate = (SOURCE / "Evaluate.py").read_text()
    training = (SOURCE / "ModelTraining.py").read_text()
    assert 'for key in ("mae_ratio", "series_in", "series_forecast"):' in training
    assert 'for key in ("mae_ratio", "series_in", "series_forecast", "mlflow_run_id")' in evaluate
    assert 'taskValues.get(taskKey="ModelTraining"' in evaluate
    assert "raise RuntimeError" in evaluate, "the quality gate must fail the run"


def _experiment(path: Path) -> str | None:
    found = re.findall(r'^MLFLOW_EXPERIMENT = "([^"]+)"$', path.read_text(), flags=re.MULTILINE)
    return found[-1] if found else None


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_config_names_its_own_mlflow_experiment_as_a_workspace_path(path: Path) -> None:
    experiment = _experiment(path)
    assert experiment is not None, f"{path.name} must set MLFLOW_EXPERIMENT, or its runs land in production's"
    assert experiment.startswith("/"), "on Databricks an experiment name is an absolute workspace path"


def test_ci_and_developers_log_to_other_experiments_than_production() -> None:
    experiments = {path.stem: _experiment(path) for path in CONFIGS}
    assert experiments["ci_config"] != experiments["production_config"]
    assert len(set(experiments.values())) == len(experiments), f"configs share an experiment: {experiments}"


def test_model_training_logs_params_metrics_and_the_model_to_the_configs_experiment() -> None:
    text = (SOURCE / "ModelTraining.py").read_text()
    assert "mlflow.set_experiment(MLFLOW_EXPERIMENT)" in text
    assert "mlflow.start_run(" in text
    for call in ("mlflow.log_params(", "mlflow.log_metrics(", "mlflow.pyfunc.log_model(", "mlflow.set_tags("):
        assert call in text
    # the local backend sets the tracking URI for its runs; a notebook that set one would miss the workspace
    assert "set_tracking_uri" not in text and "MLFLOW_TRACKING_URI =" not in text
    # the gate is Evaluate's, downstream: a run below the gates is logged (and tagged there) too
    assert "raise RuntimeError(" not in text and "quality_gate" in (SOURCE / "Evaluate.py").read_text()


def test_the_logged_model_pins_regimecasts_own_dependencies() -> None:
    """The model carries regimecast's code, so its requirements are the library's dependencies."""
    import tomllib
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((SOURCE.parent / "libs" / "regimecast" / "pyproject.toml").read_text())
    library = sorted(Requirement(line).name for line in pyproject["project"]["dependencies"])
    (line,) = [line for line in (SOURCE / "ModelTraining.py").read_text().splitlines() if line.startswith("MODEL_REQUIREMENTS =")]
    assert sorted(re.findall(r'"([a-z0-9_.-]+)"', line.split(" for name in ", 1)[1])) == library
