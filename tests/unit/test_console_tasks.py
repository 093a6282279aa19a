"""The run status of a multi-task run: in a log one line per task state change (attempts, waiting
messages, durations), on a terminal a compact per-task summary on the live line; task keys escaped.
And the wait reports task changes, not only the run's own state (a real local run)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from bricktasks.backends.base import NotebookTask, Run, RunSpec, TaskRun
from bricktasks.backends.local import LocalBackend
from bricktasks.console.console import Console
from bricktasks.console.progress import RunStatusLine
from bricktasks.runs.supervise import wait_for_run

SECRET = "dapi" + "0badc0de" * 4
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
START = 1_700_000_000_000  # epoch ms of the tasks' start


def run(state: str, *tasks: TaskRun, result: str | None = None) -> Run:
    return Run(run_id=12, run_name="CI-12", life_cycle_state=state, result_state=result, tasks=tasks)


def t(key: str, state: str, result: str | None = None, *, attempt: int = 0, message: str = "", start: int = 0, end: int = 0) -> TaskRun:
    return TaskRun(key, 100 + attempt, state, result, state_message=message, attempt_number=attempt, start_time=start, end_time=end)


SEQUENCE = [
    run("PENDING", t("PrepareData", "PENDING", message="Waiting for cluster"), t("ModelTraining", "BLOCKED")),
    run("RUNNING", t("PrepareData", "RUNNING", message="In run", start=START), t("ModelTraining", "BLOCKED")),
    run("RUNNING", t("PrepareData", "TERMINATED", "SUCCESS", start=START, end=START + 12_000), t("ModelTraining", "RUNNING", start=START)),
    run("RUNNING", t("PrepareData", "TERMINATED", "SUCCESS", start=START, end=START + 12_000),
        t("ModelTraining", "TERMINATED", "FAILED"), t("ModelTraining", "RUNNING", attempt=1, start=START)),
    run("INTERNAL_ERROR", t("PrepareData", "TERMINATED", "SUCCESS", start=START, end=START + 12_000),
        t("ModelTraining", "TERMINATED", "FAILED"), t("ModelTraining", "TERMINATED", "FAILED", attempt=1),
        t("Evaluate", "TERMINATED", "UPSTREAM_FAILED"), result="FAILED"),
]


def test_a_log_gets_one_line_per_task_state_change_and_the_runs_end_last():
    lines: list[str] = []
    status = RunStatusLine(12, secrets=[], rich=None, print_line=lines.append)
    for number, state in enumerate(SEQUENCE):
        status(state, float(number))
        status(state, float(number) + 0.5)  # polled again, nothing changed: nothing printed
    assert lines == [
        "run 12: PENDING after 0s",
        "run 12: PrepareData PENDING (Waiting for cluster)",
        "run 12: ModelTraining BLOCKED",
        "run 12: RUNNING after 1s",
        "run 12: PrepareData RUNNING",
        "run 12: PrepareData SUCCESS in 12s",
        "run 12: ModelTraining RUNNING",
        "run 12: ModelTraining RUNNING (attempt 2)",
        "run 12: ModelTraining FAILED (attempt 2)",
        "run 12: Evaluate UPSTREAM_FAILED",
        "run 12: INTERNAL_ERROR FAILED after 4s",
    ]


def test_the_console_log_prints_the_task_lines_timestamped_and_escaped():
    out = io.StringIO()
    console = Console(secrets=[SECRET], stream=out, error_stream=io.StringIO(), terminal=False)
    status = console.run_status(12)
    status(run("RUNNING", t(f"Evil\x1b[2J\nrun 12: SUCCESS{SECRET}", "PENDING", message="line\nbreak")), 1.0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and all(re.match(r"^\d\d:\d\d:\d\d run 12: ", line) for line in lines)
    assert lines[1].endswith("run 12: Evil\\x1b[2J\\nrun 12: SUCCESS[REDACTED] PENDING (line\\nbreak)")


def test_the_live_line_sums_up_the_tasks_and_ticks_the_running_ones():
    now = [100.0]
    wall = [START / 1000 + 41]
    status = RunStatusLine(12, secrets=[], rich=None, print_line=None, clock=lambda: now[0], wall_clock=lambda: wall[0])
    status(SEQUENCE[2], 20.0)
    assert status.task_summary(SEQUENCE[2]) == "1/2 done · ModelTraining RUNNING 41s"
    wall[0] += 60
    now[0] += 60
    cells = [str(cell) for column in status._render().columns for cell in column._cells]
    assert "run 12: RUNNING after 1m20s · 1/2 done · ModelTraining RUNNING 1m41s" in cells
    many = run("RUNNING", *(t(f"T{n}", "PENDING") for n in range(4)), t("Done", "TERMINATED", "SUCCESS"))
    assert status.task_summary(many) == "1/5 done · T0 PENDING · T1 PENDING · +2 more"
    assert status.task_summary(SEQUENCE[-1]) == "1 SUCCESS, 1 FAILED, 1 UPSTREAM_FAILED"


def test_a_terminal_shows_the_task_summary_on_its_status_line_and_its_final_frame():
    out = io.StringIO()
    console = Console(secrets=[SECRET], stream=out, error_stream=io.StringIO(), terminal=True, width=160)
    status = console.run_status(12)
    for number, state in enumerate(SEQUENCE):
        status(state, float(number))
    text = ANSI.sub("", out.getvalue())
    assert "run 12: INTERNAL_ERROR FAILED after 4s · 1 SUCCESS, 1 FAILED, 1 UPSTREAM_FAILED" in text
    assert status._live is None


def test_the_wait_reports_a_task_ending_while_the_run_is_still_running(tmp_path: Path):
    """A real local run: a quick task and a slow one; on_state sees the quick one end mid-run."""
    backend = LocalBackend(tmp_path)
    backend.mkdirs("/Projects/x")
    notebooks = {"Quick": "import time\ntime.sleep(1)\n", "Slow": "import time\ntime.sleep(4)\n"}
    for name, body in notebooks.items():
        backend.import_object(f"/Projects/x/{name}.py", f"# Databricks notebook source\n{body}".encode(), format="AUTO", overwrite=True)
    run_id = backend.submit_run(RunSpec(run_name="two", tasks=tuple(NotebookTask(name, f"/Projects/x/{name}") for name in notebooks)))
    seen: list[Run] = []
    outcome = wait_for_run(backend, run_id, timeout_s=120, on_state=lambda state, _: seen.append(state), poll_cap=0.5)
    assert outcome.run.is_terminal
    quick_done_mid_run = [
        state for state in seen
        if not state.is_terminal and any(task.task_key == "Quick" and task.is_terminal for task in state.tasks)
    ]
    quick_running = [state for state in seen
                     if any(task.task_key == "Quick" and task.life_cycle_state == "RUNNING" for task in state.tasks)]
    shown = [(state.life_cycle_state, [(task.task_key, task.life_cycle_state) for task in state.tasks]) for state in seen]
    assert quick_done_mid_run and quick_running, shown
    states = [(state.life_cycle_state, tuple((task.task_key, task.life_cycle_state, task.result_state) for task in state.tasks))
              for state in seen]
    assert len(states) == len(set(states))  # called on changes only, never once per poll
