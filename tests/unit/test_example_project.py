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
    assert "raise " in text, "a quality gate must fail the run"
