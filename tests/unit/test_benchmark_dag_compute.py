"""benchmarks/dag_compute.py's own arithmetic: the alternating order and the start-ups on the DAG's longest chain."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "dag_compute.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dag_compute", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dag_compute"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_specs_alternate_so_each_runs_first_as_often(bench: ModuleType) -> None:
    assert bench.order(1) == ["serverless", "classic"]
    assert bench.order(3) == ["serverless", "classic", "classic", "serverless", "serverless", "classic"]


def _task(key: str, compute: str, *depends_on: str) -> dict[str, object]:
    return {"task_key": key, "compute": compute, "depends_on": depends_on}


def test_start_ups_are_counted_on_the_longest_chain_only(bench: ModuleType) -> None:
    def waits(*tasks: dict[str, object]) -> int:
        return bench.Measured("classic", 0.0, 1, "TERMINATED/SUCCESS", list(tasks)).waits_on_path()

    chain = [_task("PrepareData", "new_cluster"), _task("ModelTraining", "new_cluster", "PrepareData"),
             _task("Evaluate", "new_cluster", "ModelTraining")]
    assert waits(*chain) == 3
    assert waits(*[{**task, "compute": "serverless"} for task in chain]) == 0
    # two parallel branches wait at the same time: one start-up on the path, not two
    assert waits(_task("A", "new_cluster"), _task("B", "new_cluster"), _task("C", "serverless", "A", "B")) == 1
    assert waits(_task("A", "existing_cluster"), _task("B", "new_cluster", "A")) == 1
