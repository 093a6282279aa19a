"""Reports of a multi-task (DAG) run: a JUnit case per task with failures, errors and skips counted and
explained, the task graph in report.html (inline SVG, no script, every name escaped), every task in
summary.json and --json, and `task_reports` building it all from a run: the newest attempt, the
attempts counted, the task's own duration, the planned order."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bricktasks.backends.base import NotebookTask, Run, RunSpec, TaskRun
from bricktasks.backends.local import LocalBackend
from bricktasks.ci.results import PlannedTask, result_line, task_reports
from bricktasks.ci.summary import NotebookOutcome
from bricktasks.report.dag_svg import dag_svg, layout
from bricktasks.report.reports import (
    BuildReport,
    NotebookRunReport,
    not_run_reason,
    write_html_report,
    write_junit,
    write_summary_json,
)
from bricktasks.runs.supervise import supervise_run

CI_FOLDER = "/Projects/forecasting/CI/12-BI-1"
HEADER = "# Databricks notebook source\n"
TOKEN = "dapi" + "fedcba9876543210" * 2
HOSTILE = "<script>alert(1)</script>\"']]>&\x1b[31m\x00\x07<svg onload=x>"


def task(key: str, state: str = "SUCCESS", *, depends_on: tuple[str, ...] = (), **extra) -> NotebookRunReport:
    fields = dict(
        name=key, notebook_path=f"{CI_FOLDER}/{key}", run_id=41, task_run_id=100 + len(key), result_state=state,
        state_message="", duration_s=3.5, exit_value=None, error=None, error_trace=None, run_page_url=None,
        task_key=key, depends_on=depends_on, life_cycle_state="TERMINATED",
    )
    return NotebookRunReport(**{**fields, **extra})


def build(*tasks: NotebookRunReport) -> BuildReport:
    return BuildReport(build_id="12", branch="BI-1", commit="a" * 40, ci_folder=CI_FOLDER, backend="local",
                       started_at="2024-05-01T10:00:00+00:00", notebooks=list(tasks))


def pipeline() -> BuildReport:
    """PrepareData -> ModelTraining (failed in cell 3 on its second attempt) -> Evaluate (not run); Notify on failure."""
    result = {"notebook_path": f"{CI_FOLDER}/ModelTraining", "status": "FAILED", "failed_cell": 3, "duration_s": 7.0,
              "error": "ValueError: diverged", "error_trace": "Traceback\nValueError: diverged", "cells": []}
    return build(
        task("PrepareData", exit_value="120 series"),
        task("ModelTraining", "FAILED", depends_on=("PrepareData",), attempts=2, duration_s=7.0,
             error="ValueError: diverged", error_trace="Traceback\nValueError: diverged", result=result),
        task("Evaluate", "UPSTREAM_FAILED", depends_on=("ModelTraining",), duration_s=0.0, state_message="Upstream failed"),
        task("Notify", "SUCCESS", depends_on=("ModelTraining",), run_if="AT_LEAST_ONE_FAILED", duration_s=1.25),
    )


# ---- JUnit ---------------------------------------------------------------------------------------


def test_junit_has_a_case_per_task_with_the_failure_the_skip_and_the_counts(tmp_path: Path) -> None:
    suite = ET.parse(write_junit(pipeline(), tmp_path / "junit.xml")).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "0", "1")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == ["PrepareData", "ModelTraining", "Evaluate", "Notify"]
    assert [case.get("time") for case in cases.values()] == ["3.500", "7.000", "0.000", "1.250"]
    failure = cases["ModelTraining"].find("failure")
    assert failure.get("message") == "cell 3: ValueError: diverged (after 2 attempts)"
    assert failure.text == "Traceback\nValueError: diverged"
    skipped = cases["Evaluate"].find("skipped")
    assert skipped.get("message") == "not run: upstream task ModelTraining failed" and skipped.get("type") is None
    assert list(cases["PrepareData"]) == [cases["PrepareData"].find("system-out")] and cases["Notify"].find("skipped") is None
    out = cases["ModelTraining"].find("system-out").text
    assert "task: ModelTraining" in out and "depends on: PrepareData" in out and "attempts: 2" in out


def test_the_skip_reason_names_each_upstream_task_and_how_it_ended() -> None:
    tasks = [task("A", "TIMEDOUT"), task("B", "CANCELED"), task("C"), task("D", "UPSTREAM_FAILED", depends_on=("A", "C")),
             task("E", "UPSTREAM_CANCELED", depends_on=("B",)), task("F", "UPSTREAM_FAILED", depends_on=("D",)),
             task("G", "EXCLUDED", depends_on=("C",), run_if="ALL_FAILED"), task("H", "UPSTREAM_FAILED")]
    reasons = [not_run_reason(each, tasks) for each in tasks]
    assert reasons == [None, None, None, "not run: upstream task A timed out", "not run: upstream task B was cancelled",
                       "not run: upstream task D was not run", "not run: its run_if ALL_FAILED was not met (upstream: C succeeded)",
                       "not run: UPSTREAM_FAILED"]


def test_a_timed_out_retried_task_is_an_error_with_its_cell_and_attempts(tmp_path: Path) -> None:
    slow = task("Slow", "TIMEDOUT", attempts=3, state_message="Task timed out after 60s", result={"failed_cell": 2, "cells": []})
    (case,) = ET.parse(write_junit(build(slow), tmp_path / "junit.xml")).getroot().iter("testcase")
    assert case.find("error").get("message") == "cell 2: Task timed out after 60s (after 3 attempts)"
    assert case.find("error").get("type") == "TIMEDOUT"


def test_junit_stays_valid_with_hostile_task_keys_and_messages(tmp_path: Path) -> None:
    evil = task(f"K{HOSTILE}", "FAILED", error=HOSTILE, error_trace=HOSTILE + "]]>", state_message=HOSTILE)
    downstream = task("Next", "UPSTREAM_FAILED", depends_on=(f"K{HOSTILE}",))
    raw = write_junit(build(evil, downstream), tmp_path / "junit.xml").read_bytes()
    root = ET.fromstring(raw)  # parses: nothing forbidden, nothing unescaped
    names = [case.get("name") for case in root.iter("testcase")]
    assert names[0].startswith("K<script>alert(1)</script>\"']]>&") and "\x00" not in names[0] and "\x1b" not in names[0]
    assert root.find(".//skipped").get("message").startswith("not run: upstream task K<script>")
    assert root.find(".//failure").text.endswith("]]>")


# ---- HTML: the task graph ------------------------------------------------------------------------


class Elements(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.texts.append(data)


def graph_of(page: str) -> str:
    match = re.search(r'<svg class="dag".*?</svg>', page, re.DOTALL)
    assert match, "no task graph in the report"
    return match.group(0)


def test_the_html_report_draws_the_dag_with_a_linked_node_per_task_and_its_edges(tmp_path: Path) -> None:
    page = write_html_report(pipeline(), tmp_path).read_text()
    svg = graph_of(page)
    elements = Elements(svg)
    nodes = [attrs for tag, attrs in elements.tags if tag == "a"]
    assert [node["href"] for node in nodes] == ["#nb-1", "#nb-2", "#nb-3", "#nb-4"]
    for node in nodes:  # each node leads to the task's section, where its cells are
        assert f'<section class="notebook" id="{node["href"][1:]}">' in page
    assert len([attrs for tag, attrs in elements.tags if tag == "path" and attrs.get("class") == "dag-edge"]) == 3
    texts = " ".join(elements.texts)
    assert "ModelTraining" in texts and "FAILED · 7.0s · 2 attempts" in texts and "UPSTREAM_FAILED · 0.0s" in texts
    rects = [attrs for tag, attrs in elements.tags if tag == "rect"]
    assert [rect["stroke"] for rect in rects] == ["#1a7f37", "#cf222e", "#6e7781", "#1a7f37"]  # state colours
    # laid out by depth: PrepareData, then ModelTraining, then Evaluate and Notify in one column, two rows
    assert [(rect["x"], rect["y"]) for rect in rects] == [("8", "8"), ("264", "8"), ("520", "8"), ("520", "78")]
    summary = page.split("</header>", 1)[0]
    assert "not run: upstream task ModelTraining failed" in summary and "<th>Attempts</th>" in summary
    assert "<th>Notebook</th>" not in summary  # every task runs the notebook of its name
    skipped_first = build(task("Notify", "EXCLUDED", run_if="AT_LEAST_ONE_FAILED", depends_on=("A",)), task("A", "TIMEDOUT"))
    assert '<span id="status" class="badge badge-other">TIMEDOUT</span>' in write_html_report(skipped_first, tmp_path).read_text()


def test_layout_puts_each_task_one_column_after_its_deepest_dependency_and_survives_cycles() -> None:
    tasks = [task("A"), task("B", depends_on=("A",)), task("C", depends_on=("A",)), task("D", depends_on=("B", "C")),
             task("E"), task("F", depends_on=("E", "D", "unknown"))]
    assert layout(tasks) == [(0, 0), (1, 0), (1, 1), (2, 0), (0, 1), (3, 0)]
    looped = [task("X", depends_on=("Y",)), task("Y", depends_on=("X",)), task("Z", depends_on=("Z",))]
    assert len(layout(looped)) == 3 and "<svg" in dag_svg(looped)


def test_hostile_task_keys_and_notebook_names_are_escaped_in_the_graph_and_never_an_id(tmp_path: Path) -> None:
    evil = task(HOSTILE, "FAILED", name=f"nb{HOSTILE}", error=HOSTILE, state_message=HOSTILE)
    after = task("After", "UPSTREAM_FAILED", depends_on=(HOSTILE,))
    page = write_html_report(build(evil, after), tmp_path).read_text()
    assert "<script" not in page.lower() and "<svg onload" not in page.lower() and "\x1b" not in page
    svg = graph_of(page)
    elements = Elements(svg)
    assert [tag for tag, _ in elements.tags if tag in ("script", "foreignobject", "image", "use")] == []
    assert all(not name.startswith("on") for _, attrs in elements.tags for name in attrs)
    assert {attrs["href"] for tag, attrs in elements.tags if tag == "a"} == {"#nb-1", "#nb-2"}
    assert "&lt;script&gt;" in svg and len([1 for tag, attrs in elements.tags if attrs.get("class") == "dag-edge"]) == 1
    ids = [attrs["id"] for _, attrs in Elements(page).tags if "id" in attrs]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", ident) for ident in ids), ids


def test_a_secret_in_a_task_key_or_message_is_redacted_in_the_graph(tmp_path: Path) -> None:
    report = build(task(f"Leaky{TOKEN}", "FAILED", state_message=f"token {TOKEN}"), task("B", depends_on=(f"Leaky{TOKEN}",)))
    page = write_html_report(report, tmp_path, secrets=[TOKEN]).read_text()
    assert TOKEN not in page and "[REDACTED]" in graph_of(page)
    assert len(re.findall('class="dag-edge"', page)) == 1  # the redacted key still names its task


# ---- summary.json and --json ---------------------------------------------------------------------


def test_summary_json_and_the_json_outcome_carry_every_task(tmp_path: Path) -> None:
    report = pipeline()
    data = json.loads(write_summary_json(report, tmp_path).read_text())
    entries = {entry["task_key"]: entry for entry in data["notebooks"]}
    assert list(entries) == ["PrepareData", "ModelTraining", "Evaluate", "Notify"]
    training, evaluate = entries["ModelTraining"], entries["Evaluate"]
    facts = (training["result_state"], training["attempts"], training["depends_on"], training["failed_cell"])
    assert facts == ("FAILED", 2, ["PrepareData"], 3)
    assert training["duration_s"] == 7.0 and training["outcome"] == "failure" and training["task_run_id"] == 113
    assert evaluate["outcome"] == "skipped" and evaluate["not_run_reason"] == "not run: upstream task ModelTraining failed"
    assert entries["PrepareData"]["exit_value"] == "120 series" and "result" not in training
    assert data["succeeded"] is False

    fields = [NotebookOutcome.of(nb).json_fields() for nb in report.notebooks]
    assert fields[1] == {
        "task_key": "ModelTraining", "name": "ModelTraining", "result_state": "FAILED", "attempts": 2, "depends_on": ["PrepareData"],
        "duration_s": 7.0, "exit_value": None, "failed_cell": 3, "error": "ValueError: diverged", "task_run_id": 113,
    }


def test_an_excluded_failure_handler_does_not_fail_the_build() -> None:
    assert build(task("A"), task("OnFailure", "EXCLUDED", depends_on=("A",), run_if="AT_LEAST_ONE_FAILED")).succeeded
    assert not build(task("A", "EXCLUDED")).succeeded  # nothing ran
    assert not build(task("A", "FAILED"), task("B", "UPSTREAM_FAILED", depends_on=("A",))).succeeded


# ---- task_reports from a real local run ----------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalBackend, Run, float]:
    """A real local run of two tasks: one exits with a value, one fails in its second cell."""
    backend = LocalBackend(tmp_path_factory.mktemp("dag-report"))
    backend.mkdirs(CI_FOLDER)
    notebooks = {
        "PrepareData": HEADER + "n = 120\n\n# COMMAND ----------\n\ndbutils.notebook.exit(f'{n} series')\n",
        "ModelTraining": HEADER + "x = 1\n\n# COMMAND ----------\n\nraise ValueError('the model diverged')\n",
    }
    for name, source in notebooks.items():
        backend.import_object(f"{CI_FOLDER}/{name}.py", source.encode(), format="AUTO", overwrite=True)
    tasks = tuple(NotebookTask(name, f"{CI_FOLDER}/{name}") for name in notebooks)
    run_id = backend.submit_run(RunSpec(run_name="CI-12-BI-1", tasks=tasks))
    outcome = supervise_run(backend, run_id, timeout_s=120)
    assert outcome.run is not None and outcome.run.is_terminal
    return backend, outcome.run, outcome.elapsed_s


def as_dag(run: Run) -> Run:
    """The real run as a DAG would report it: ModelTraining after PrepareData on its second attempt (the
    first one failed too), and Evaluate, which never ran (its task run id is unknown to the backend)."""
    prepare, training = sorted(run.tasks, key=lambda each: each.task_key != "PrepareData")
    if not prepare.start_time:  # a backend from before task times: give them as runs/get does
        prepare = TaskRun(**{**prepare.__dict__, "start_time": 1_700_000_000_000, "end_time": 1_700_000_001_500})
    first_try = TaskRun("ModelTraining", training.run_id + 1000, "TERMINATED", "FAILED", attempt_number=0)
    training = TaskRun(**{**training.__dict__, "attempt_number": 1, "depends_on": ("PrepareData",)})
    evaluate = TaskRun("Evaluate", training.run_id + 2000, "TERMINATED", "UPSTREAM_FAILED", state_message="Upstream failed",
                       depends_on=("ModelTraining",))
    return Run(**{**run.__dict__, "tasks": (prepare, first_try, training, evaluate)})


PLANNED = [
    PlannedTask("PrepareData", "PrepareData", f"{CI_FOLDER}/PrepareData"),
    PlannedTask("ModelTraining", "ModelTraining", f"{CI_FOLDER}/ModelTraining", ("PrepareData",)),
    PlannedTask("Evaluate", "Evaluate", f"{CI_FOLDER}/Evaluate", ("ModelTraining",)),
]


def test_task_reports_take_the_newest_attempt_count_attempts_and_keep_the_planned_order(finished, tmp_path: Path) -> None:
    backend, run, elapsed = finished
    reports = task_reports(backend, as_dag(run), list(reversed(PLANNED)), elapsed_s=999.0)
    assert [report.key for report in reports] == ["Evaluate", "ModelTraining", "PrepareData"]
    evaluate, training, prepare = reports
    real_training = next(each for each in run.tasks if each.task_key == "ModelTraining")
    assert (training.task_run_id, training.attempts, training.depends_on) == (real_training.run_id, 2, ("PrepareData",))
    assert training.failed_cell == 2 and "the model diverged" in (training.error or "")
    assert (prepare.exit_value, prepare.attempts, prepare.depends_on) == ("120 series", 1, ())
    assert prepare.start_time > 0 and prepare.end_time >= prepare.start_time and prepare.life_cycle_state == "TERMINATED"
    assert 0 < prepare.duration_s < 999.0  # the task's own (detailed) time, never the whole run's elapsed
    assert (evaluate.result_state, evaluate.duration_s, evaluate.attempts) == ("UPSTREAM_FAILED", 0.0, 1)
    assert evaluate.error == "not run: upstream task ModelTraining failed"
    assert result_line(evaluate) == "Evaluate: UPSTREAM_FAILED; not run: upstream task ModelTraining failed"
    assert result_line(training).startswith("ModelTraining: FAILED after 2 attempts; error in cell 2: ")
    assert result_line(prepare) == "PrepareData: SUCCESS; exit value: 120 series"

    report = build(*reports)
    suite = ET.parse(write_junit(report, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    page = write_html_report(report, tmp_path).read_text()
    assert len(re.findall(r'<a class="dag-node"', graph_of(page))) == 3 and 'class="cell kind-python cell-error"' in page


def test_a_task_the_run_never_reached_is_cancelled_and_took_no_time(finished) -> None:
    backend, run, _ = finished
    reports = task_reports(backend, run, [*PLANNED[:1], PlannedTask("Later", "Later", f"{CI_FOLDER}/Later")], elapsed_s=50.0)
    assert [(report.key, report.result_state, report.duration_s, report.attempts) for report in reports][1] == ("Later", "CANCELED", 0.0, 0)
    assert [report.result_state for report in task_reports(backend, None, PLANNED, 5.0)] == ["CANCELED"] * 3


def test_without_a_detailed_result_the_duration_is_the_tasks_own_times(tmp_path: Path) -> None:
    """A backend that keeps no cells (a workspace): each task's start and end, never the run's elapsed."""
    run = Run(1, "CI", "TERMINATED", "SUCCESS", tasks=(
        TaskRun("A", 11, "TERMINATED", "SUCCESS", start_time=1_000_000, end_time=1_004_500),
        TaskRun("B", 12, "TERMINATED", "SUCCESS", attempt_number=2, start_time=1_004_600, end_time=1_010_600, depends_on=("A",)),
        TaskRun("C", 13, "TERMINATED", "SUCCESS"),  # no times at all: the run's elapsed is all there is
    ))
    planned = [PlannedTask(key, key, f"{CI_FOLDER}/{key}") for key in "ABC"]
    reports = task_reports(LocalBackend(tmp_path), run, planned, elapsed_s=30.0)
    assert [(report.duration_s, report.attempts) for report in reports] == [(4.5, 1), (6.0, 3), (30.0, 1)]
    assert reports[1].depends_on == ("A",) and reports[1].run_if == "ALL_SUCCESS"
