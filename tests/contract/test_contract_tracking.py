"""MLflow tracking as the report reads it: `tracked_metrics` of a run that does not exist is None on
every backend (local: the file store; databricks: runs/get, which the emulator does not serve and a
workspace answers RESOURCE_DOES_NOT_EXIST), never an error: the metrics are a report's extra."""
from __future__ import annotations


def test_an_unknown_mlflow_run_has_no_metrics_and_raises_nothing(backend):
    assert backend.tracked_metrics("0123456789abcdef0123456789abcdef") is None


def test_an_mlflow_run_id_is_never_a_path(backend):
    assert backend.tracked_metrics("../../../etc") is None
