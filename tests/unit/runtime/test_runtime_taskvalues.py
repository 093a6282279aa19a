"""dbutils.jobs.taskValues: set/get between the tasks of a run, the 48 KiB limit, upstream-only
reads, default and debugValue, escaped file names, and two task processes sharing one values dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_helpers import LocalRoot, RunCells, notebook

from bricktasks.runtime import RuntimeContext, execute_notebook
from bricktasks.runtime.taskvalues import MAX_VALUE_BYTES, TaskValues, values_file

REPO = Path(__file__).resolve().parents[3]
RUN = ("PrepareData", "ModelTraining", "Evaluate", "Other")


def _task(values_dir: Path, key: str, upstream: tuple[str, ...] = ()) -> TaskValues:
    return TaskValues(key, values_dir, upstream, RUN)


# -- set and get ---------------------------------------------------------------------------
def test_a_downstream_task_reads_what_an_upstream_task_set(tmp_path: Path) -> None:
    prepare = _task(tmp_path, "PrepareData")
    prepare.set("series", 12)
    prepare.set("meta", {"run_id": "abc", "ids": (1, 2), 3: None})
    prepare.set("series", 13)  # a later set replaces the value; the task's other values stay
    evaluate = _task(tmp_path, "Evaluate", upstream=("ModelTraining", "PrepareData"))
    assert evaluate.get("PrepareData", "series") == 13
    # what the JSON round trip gives: tuples are lists, keys are strings
    assert evaluate.get(taskKey="PrepareData", key="meta", default=None, debugValue=None) == {"run_id": "abc", "ids": [1, 2], "3": None}
    assert json.loads((tmp_path / "PrepareData.json").read_text()) == {"series": 13, "meta": {"run_id": "abc", "ids": [1, 2], "3": None}}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["PrepareData.json"]  # no temp file left


def test_a_key_not_set_gives_the_default_else_value_error(tmp_path: Path) -> None:
    _task(tmp_path, "PrepareData").set("series", 1)
    training = _task(tmp_path, "ModelTraining", upstream=("PrepareData",))
    assert training.get("PrepareData", "missing", default=0) == 0
    assert training.get("PrepareData", "missing", default=[]) == []  # any default but None counts
    with pytest.raises(ValueError, match="Task 'PrepareData' set no value for key 'missing' in this run; pass default="):
        training.get("PrepareData", "missing")
    # an upstream task that set nothing at all: the same rules
    evaluate = _task(tmp_path, "Evaluate", upstream=("ModelTraining", "PrepareData"))
    assert evaluate.get("ModelTraining", "run_id", default="none") == "none"
    with pytest.raises(ValueError, match="set no value for key 'run_id'"):
        evaluate.get("ModelTraining", "run_id")


def test_only_tasks_of_the_run_upstream_of_this_one_can_be_read(tmp_path: Path) -> None:
    _task(tmp_path, "Other").set("x", 1)
    training = _task(tmp_path, "ModelTraining", upstream=("PrepareData",))
    with pytest.raises(ValueError) as unknown:
        training.get("Nope", "x", default=0)
    assert str(unknown.value) == "No task 'Nope' in this run; its tasks are PrepareData, ModelTraining, Evaluate, Other"
    with pytest.raises(ValueError) as not_upstream:
        training.get("Other", "x", default=0)  # set, but not upstream: refused even with a default
    assert str(not_upstream.value) == (
        "Task 'Other' must be upstream of 'ModelTraining' to read its values: "
        "add it to 'ModelTraining''s depends_on (directly or through other tasks)"
    )
    with pytest.raises(ValueError, match="must be upstream"):
        training.get("ModelTraining", "x", default=0)  # not even its own
    with pytest.raises(TypeError, match="taskKey must be a str"):
        training.get(None, "x", default=0)  # type: ignore[arg-type]


def test_the_size_limit_is_48_kib_of_json(tmp_path: Path) -> None:
    task = _task(tmp_path, "PrepareData")
    at_limit = "x" * (MAX_VALUE_BYTES - 2)  # plus its two quotes: exactly 49152 bytes of JSON
    assert len(json.dumps(at_limit)) == 48 * 1024
    task.set("big", at_limit)
    with pytest.raises(ValueError) as over:
        task.set("big", at_limit + "x")
    assert str(over.value).startswith(
        "The value of task value 'big' is 49153 bytes as JSON, over the limit of 49152 bytes (48 KiB); "
    )
    assert _task(tmp_path, "Evaluate", upstream=("PrepareData",)).get("PrepareData", "big") == at_limit  # the refused set changed nothing


@pytest.mark.parametrize("value", [{1, 2}, object(), float("nan"), {"t": b"bytes"}, [float("inf")]])
def test_a_value_json_cannot_represent_is_a_type_error_naming_the_key(tmp_path: Path, value: object) -> None:
    task = _task(tmp_path, "PrepareData")
    with pytest.raises(TypeError, match="The value of task value 'model' cannot be represented as JSON"):
        task.set("model", value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("key, error", [("", ValueError), (None, TypeError), (3, TypeError)])
def test_the_key_must_be_a_non_empty_str(tmp_path: Path, key: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="key must"):
        _task(tmp_path, "PrepareData").set(key, 1)  # type: ignore[arg-type]


# -- outside a job run ---------------------------------------------------------------------
def test_outside_a_job_get_returns_debug_value_and_set_stores_nothing(tmp_path: Path) -> None:
    outside = TaskValues.for_context(RuntimeContext(local_root=tmp_path, run_dir=tmp_path / "run"))
    assert not outside.in_job
    assert outside.get("PrepareData", "series", default=5, debugValue=7) == 7
    assert outside.get(taskKey="Anything", key="k", debugValue=[]) == []
    with pytest.raises(TypeError) as missing:
        outside.get("PrepareData", "series", default=5)
    assert str(missing.value) == "Must pass debugValue when calling get outside of a job context. debugValue cannot be None."
    outside.set("series", 12)
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # nothing written anywhere
    with pytest.raises(ValueError, match="over the limit"):
        outside.set("big", "x" * MAX_VALUE_BYTES)  # what Databricks would refuse fails here too


# -- hostile task keys ---------------------------------------------------------------------
@pytest.mark.parametrize("key, name", [("../../escape", "..%2F..%2Fescape.json"), ("..", "...json"), ("a/b\x00c", "a%2Fb%00c.json")])
def test_a_task_key_never_reaches_a_path_unescaped(tmp_path: Path, key: str, name: str) -> None:
    values_dir = tmp_path / "run" / "task_values"
    assert values_file(values_dir, key) == values_dir / name
    TaskValues(key, values_dir, (), (key, "Down")).set("k", "v")
    assert [path.name for path in values_dir.iterdir()] == [name]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    assert TaskValues("Down", values_dir, (key,), (key, "Down")).get(key, "k") == "v"


# -- in notebooks: the context file, two task processes, a downstream task ------------------
def _context(local: LocalRoot, task_key: str, upstream: tuple[str, ...], values_dir: Path) -> RuntimeContext:
    return local.context(task_key=task_key, task_values_dir=values_dir, upstream_task_keys=upstream, run_task_keys=RUN[:3])


def test_the_task_fields_round_trip_the_context_file_and_may_be_absent(local: LocalRoot) -> None:
    ctx = _context(local, "Evaluate", ("ModelTraining", "PrepareData"), local.base / "values")
    file = local.base / "context.json"
    ctx.to_json(file)
    assert RuntimeContext.from_json(file) == ctx
    old = RuntimeContext.from_dict({"local_root": str(local.root), "run_dir": str(local.base / "r")})
    assert (old.task_key, old.task_values_dir, old.upstream_task_keys, old.run_task_keys) == (None, None, (), ())


def test_two_task_processes_share_the_values_dir_with_a_downstream_task(local: LocalRoot) -> None:
    values_dir = local.base / "parent" / "task_values"
    local.write("/Projects/p/PrepareData", notebook(
        "dbutils.jobs.taskValues.set('series', 12)",
        "dbutils.jobs.taskValues.set(key='rows', value=[1, 2, 3])",
    ))
    local.write("/Projects/p/ModelTraining", notebook("dbutils.jobs.taskValues.set('run_id', 'r-1')"))
    # two independent tasks, each in its own runtime process, started together as the supervisor does
    workers = []
    for task_key in ("PrepareData", "ModelTraining"):
        ctx = _context(local, task_key, (), values_dir)
        ctx.to_json(local.base / f"{task_key}.json")
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "bricktasks.runtime", "--context", str(local.base / f"{task_key}.json"),
             "--notebook", f"/Projects/p/{task_key}", "--result", str(ctx.run_dir / "result.json")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        ))
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output
    assert sorted(path.name for path in values_dir.iterdir()) == ["ModelTraining.json", "PrepareData.json"]
    local.write("/Projects/p/Evaluate", notebook(
        "tv = dbutils.jobs.taskValues\n"
        "print(tv.get(taskKey='PrepareData', key='series', default=0, debugValue=-1), tv.get('PrepareData', 'rows'))\n"
        "print(tv.get('ModelTraining', 'run_id'), tv.get('ModelTraining', 'nope', default='d'))",
        "dbutils.jobs.taskValues.get('Evaluate', 'series')",
    ))
    result = execute_notebook(_context(local, "Evaluate", ("ModelTraining", "PrepareData"), values_dir), "/Projects/p/Evaluate")
    assert result.cells[0].stdout == "12 [1, 2, 3]\nr-1 d\n", result.error_trace
    assert result.failed_cell == 2
    assert result.error is not None and result.error.startswith("ValueError: Task 'Evaluate' must be upstream of 'Evaluate'")


def test_a_notebook_run_directly_uses_debug_values(run_cells: RunCells) -> None:
    result = run_cells(
        "dbutils.jobs.taskValues.set('series', 3)\n"
        "print(dbutils.jobs.taskValues.get(taskKey='PrepareData', key='series', debugValue=42))",
        "dbutils.jobs.taskValues.get('PrepareData', 'series', default=1)",
    )
    assert result.cells[0].stdout == "42\n"
    assert result.error == "TypeError: Must pass debugValue when calling get outside of a job context. debugValue cannot be None."


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env
