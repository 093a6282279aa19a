"""Running notebooks in-process: one namespace, %run, overrides, failures, exit, notebook.run."""
from __future__ import annotations

import json

import pytest
from runtime_helpers import LocalRoot, RunCells, notebook

from bricktasks.runtime import NotebookResult

ROOT = "/Projects/forecasting/BI-1"


@pytest.fixture
def project(local: LocalRoot) -> LocalRoot:
    """The article's layout: set_environment -> conf/ci_config -> conf/production_config."""
    local.write(f"{ROOT}/conf/production_config", notebook('ENV = "production"\nN = 10\nCHAIN = ["production"]'))
    local.write(
        f"{ROOT}/conf/ci_config",
        notebook("# MAGIC %md\n# MAGIC # CI", "# MAGIC %run ./production_config", 'ENV = "ci"\nCHAIN.append("ci")'),
    )
    local.write(f"{ROOT}/conf/dev_config", notebook("%run ./production_config", 'ENV = "dev"'))
    local.write(f"{ROOT}/set_environment", notebook("# MAGIC %run ./conf/ci_config"))
    return local


def test_cells_share_one_namespace_with_the_runtime_globals(run_cells: RunCells) -> None:
    result = run_cells(
        "x = 40",
        "y = x + 2\nprint(y)",
        "print(sorted(k for k in ('spark', 'sc', 'dbutils', 'display', 'displayHTML') if k in globals()), __name__)",
    )
    assert result.status == "SUCCESS" and result.failed_cell is None
    assert [cell.stdout for cell in result.cells] == ["", "42\n", "['dbutils', 'display', 'displayHTML', 'sc', 'spark'] __main__\n"]
    assert [cell.index for cell in result.cells] == [1, 2, 3]


def test_spark_is_not_started_by_a_notebook_that_does_not_use_it(run_cells: RunCells) -> None:
    result = run_cells("print(repr(spark))")
    assert "started on first use" in result.cells[0].stdout


def test_run_chain_is_recursive_relative_and_shares_variables(project: LocalRoot) -> None:
    project.write(f"{ROOT}/Train", notebook("# MAGIC %run ./set_environment", "print(ENV, N, CHAIN)"))
    result = project.run(f"{ROOT}/Train")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[1].stdout == "ci 10 ['production', 'ci']\n"
    assert result.cells[0].kind == "run" and result.cells[0].source == "%run ./set_environment"


def test_unprefixed_run_and_absolute_and_parent_paths(project: LocalRoot) -> None:
    project.write(f"{ROOT}/sub/A", notebook("%run ../conf/dev_config", "%run /Projects/forecasting/BI-1/conf/ci_config", "print(ENV)"))
    result = project.run(f"{ROOT}/sub/A")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[2].stdout == "ci\n"


def test_override_replaces_set_environment_without_writing_it(project: LocalRoot) -> None:
    project.write(f"{ROOT}/Train", notebook("# MAGIC %run ./set_environment", "print(ENV)"))
    override = {f"{ROOT}/set_environment": "# Databricks notebook source\n%run ./conf/dev_config\n"}
    assert project.run(f"{ROOT}/Train", overrides=override).cells[1].stdout == "dev\n"
    # the file itself is untouched: without the override it is ci again
    assert project.run(f"{ROOT}/Train").cells[1].stdout == "ci\n"


def test_run_arguments_set_widgets_of_the_child(local: LocalRoot) -> None:
    local.write("/Projects/p/child", notebook('dbutils.widgets.text("who", "nobody")\nWHO = dbutils.widgets.get("who")'))
    local.write("/Projects/p/Main", notebook('%run ./child $who="the parent"', "print(WHO)"))
    assert local.run("/Projects/p/Main").cells[1].stdout == "the parent\n"


def test_failing_cell_stops_the_run_with_its_number_error_and_trace(run_cells: RunCells) -> None:
    result = run_cells(
        "x = 1",
        "# MAGIC %md\n# MAGIC not run",
        "def check():\n    raise ValueError('quality below threshold')\n\ncheck()",
        "print('never')",
    )
    assert result.status == "FAILED"
    assert result.failed_cell == 3
    assert result.error == "ValueError: quality below threshold"
    assert [cell.index for cell in result.cells] == [1, 2, 3]  # cell 4 never ran
    assert result.cells[2].error == result.error
    trace = result.error_trace or ""
    assert "/Projects/p/Main, cell 3" in trace and "raise ValueError('quality below threshold')" in trace
    assert "executor.py" not in trace  # the runtime's own frames are left out


def test_failure_inside_a_run_child_names_the_top_cell_and_the_child(project: LocalRoot) -> None:
    project.write(f"{ROOT}/conf/ci_config", notebook("%run ./production_config", "N = 1 / 0"))
    project.write(f"{ROOT}/Train", notebook("print('start')", "# MAGIC %run ./set_environment", "print('never')"))
    result = project.run(f"{ROOT}/Train")
    assert result.status == "FAILED" and result.failed_cell == 2
    assert result.error == f"ZeroDivisionError: division by zero (in {ROOT}/conf/ci_config, cell 2)"
    trace = result.error_trace or ""
    assert f"in {ROOT}/Train, cell 2: %run {ROOT}/conf/ci_config" in trace.splitlines()[0]
    assert f"{ROOT}/conf/ci_config, cell 2" in trace and "N = 1 / 0" in trace


def test_syntax_error_and_missing_notebook_fail_the_cell(run_cells: RunCells) -> None:
    result = run_cells("x = (", "print(1)")
    assert result.failed_cell == 1 and result.error is not None and result.error.startswith("SyntaxError")
    result = run_cells("%run ./nowhere")
    assert result.failed_cell == 1 and "Notebook not found: /Projects/p/nowhere" in (result.error or "")


def test_run_cycles_are_refused(local: LocalRoot) -> None:
    local.write("/Projects/p/a", notebook("%run ./b"))
    local.write("/Projects/p/b", notebook("%run ./a"))
    result = local.run("/Projects/p/a")
    assert result.status == "FAILED" and "%run cycle: /Projects/p/a -> /Projects/p/b -> /Projects/p/a" in (result.error or "")


def test_missing_notebook_non_python_notebook_and_missing_header(local: LocalRoot) -> None:
    result = local.run("/Projects/p/absent")
    assert result.status == "FAILED" and result.failed_cell is None and "Notebook not found" in (result.error or "")
    sql = local.root / "workspace" / "Projects" / "p" / "Query.sql"
    sql.parent.mkdir(parents=True)
    sql.write_text("-- Databricks notebook source\nSELECT 1\n")
    assert "is a SQL notebook; only Python notebooks run locally" in (local.run("/Projects/p/Query").error or "")
    local.write("/Projects/p/plain", "print(1)\n")
    assert "not a Databricks notebook" in (local.run("/Projects/p/plain").error or "")


def test_notebook_exit_ends_the_run_with_success_and_a_value(run_cells: RunCells) -> None:
    result = run_cells(
        "import json",
        "try:\n    dbutils.notebook.exit(json.dumps({'a': 1}))\nexcept Exception:\n    print('caught')",
        "print('never')",
    )
    assert result.status == "SUCCESS" and result.exit_value == '{"a": 1}'
    assert len(result.cells) == 2 and result.cells[1].stdout == ""


def test_exit_inside_a_run_child_ends_the_whole_run(local: LocalRoot) -> None:
    local.write("/Projects/p/child", notebook("dbutils.notebook.exit('from child')"))
    local.write("/Projects/p/Main", notebook("%run ./child", "print('never')"))
    result = local.run("/Projects/p/Main")
    assert (result.status, result.exit_value, len(result.cells)) == ("SUCCESS", "from child", 1)


def test_markdown_cells_are_recorded_not_run(run_cells: RunCells) -> None:
    result = run_cells("# MAGIC %md\n# MAGIC # Title\n# MAGIC print('not python')")
    assert result.status == "SUCCESS"
    assert (result.cells[0].kind, result.cells[0].stdout) == ("md", "")
    assert result.cells[0].source == "%md\n# Title\nprint('not python')"


def test_last_expression_is_shown(run_cells: RunCells) -> None:
    result = run_cells("x = 6 * 7\nx", "None", "print('p')")
    assert result.cells[0].outputs == [{"type": "text", "text": "42"}]
    assert result.cells[1].outputs == [] and result.cells[2].outputs == []


def test_unsupported_magic_fails_clearly(run_cells: RunCells) -> None:
    result = run_cells("# MAGIC %scala\n# MAGIC println(1)")
    assert result.failed_cell == 1 and "%scala cells do not run locally" in (result.error or "")


def test_sh_runs_bash_in_the_run_dir_and_fails_on_nonzero_exit(run_cells: RunCells, local: LocalRoot) -> None:
    result = run_cells("# MAGIC %sh\n# MAGIC echo out; echo err >&2; pwd; touch made-here", "# MAGIC %sh exit 3")
    run_dir = local.base / "run1"
    assert result.cells[0].stdout == f"out\nerr\n{run_dir}\n"
    assert (run_dir / "made-here").exists()
    assert result.failed_cell == 2 and result.error == "MagicCommandError: %sh command exited with code 3"


def test_stderr_is_captured_with_stdout(run_cells: RunCells) -> None:
    result = run_cells("import sys, warnings\nprint('a')\nprint('b', file=sys.stderr)\nwarnings.warn('careful')")
    assert result.cells[0].stdout.startswith("a\nb\n") and "UserWarning: careful" in result.cells[0].stdout


def test_notebook_run_uses_a_fresh_namespace_and_returns_the_exit_value(local: LocalRoot) -> None:
    local.write(
        "/Projects/p/jobs/Child",
        notebook(
            "dbutils.widgets.text('n', '1')",
            "import json\nseen = 'secret_var' in globals()\ndbutils.notebook.exit(json.dumps([dbutils.widgets.get('n'), seen]))",
        ),
    )
    local.write(
        "/Projects/p/Main",
        notebook("secret_var = 1", "print(dbutils.notebook.run('./jobs/Child', 60, {'n': 5}))", "print(secret_var)"),
    )
    result = local.run("/Projects/p/Main")
    assert result.status == "SUCCESS", result.error_trace
    assert result.cells[1].stdout == '["5", false]\n'
    assert result.cells[2].stdout == "1\n"


def test_notebook_run_failure_raises_in_the_caller(local: LocalRoot) -> None:
    local.write("/Projects/p/Child", notebook("x = 1", "raise RuntimeError('child broke')"))
    local.write("/Projects/p/Main", notebook("dbutils.notebook.run('./Child', 0)"))
    result = local.run("/Projects/p/Main")
    assert result.failed_cell == 1
    assert result.error == "NotebookRunFailed: notebook /Projects/p/Child failed in cell 2: RuntimeError: child broke"
    assert "raise RuntimeError('child broke')" in (result.error_trace or "")


def test_notebook_run_timeout(local: LocalRoot) -> None:
    local.write("/Projects/p/Slow", notebook("import time\ntime.sleep(30)"))
    local.write("/Projects/p/Main", notebook("dbutils.notebook.run('./Slow', 1)"))
    result = local.run("/Projects/p/Main")
    assert result.duration_s < 10
    assert result.error == "NotebookRunFailed: notebook /Projects/p/Slow timed out after 1 s"


def test_result_json_round_trip(run_cells: RunCells) -> None:
    result = run_cells("print('x')\ndisplay([1, 2])", "raise KeyError('k')")
    data = json.loads(json.dumps(result.to_dict()))
    assert NotebookResult.from_dict(data) == result
    assert set(data) == {
        "notebook_path", "status", "exit_value", "error", "error_trace", "failed_cell", "duration_s", "cells", "library_error",
    }
    assert set(data["cells"][0]) == {"index", "kind", "source", "stdout", "outputs", "error", "duration_s"}


def test_runaway_output_is_capped(run_cells: RunCells) -> None:
    result = run_cells("print('start')\nprint('x' * 1_500_000)\nprint('the end')")
    stdout = result.cells[0].stdout
    assert len(stdout) < 1_000_100 and stdout.startswith("start\n") and stdout.endswith("the end\n")
    assert "characters cut" in stdout
