"""`invoke builds`: each CI build with branch, age and result, newest first, on a real local backend."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.ci.builds import NO_RUN, RUNNING, UNKNOWN, ci_build_statuses, format_table
from bricktasks.ci.manifest import write_build_manifest
from bricktasks.layout import ProjectLayout

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
LAYOUT = ProjectLayout("/Projects/forecasting", "/Projects/forecasting/libraries")


def add_build(backend: LocalBackend, build_id: str, branch: str, age: timedelta, **manifest) -> None:
    folder = LAYOUT.ci_build(build_id, branch)
    backend.mkdirs(folder)
    created = (NOW - age).isoformat(timespec="seconds")
    write_build_manifest(backend, folder, {"build_id": build_id, "branch": branch, "created": created, "run_id": None, **manifest})


def test_builds_newest_first_with_branch_age_and_result(tmp_path: Path):
    backend = LocalBackend(tmp_path)
    backend.mkdirs("/Projects/forecasting/x")
    sleeper = "# Databricks notebook source\nimport time\ntime.sleep(60)\n"
    backend.import_object("/Projects/forecasting/x/Sleeper.py", sleeper.encode(), format="AUTO", overwrite=True)
    active = backend.submit_run(RunSpec(run_name="active", tasks=(NotebookTask("main", "/Projects/forecasting/x/Sleeper"),)))
    try:
        add_build(backend, "1", "BI-1", timedelta(days=3), run_id=11, result="SUCCESS")
        add_build(backend, "2", "BI-2", timedelta(hours=5), run_id=99999)  # the run is gone, no result recorded
        add_build(backend, "3", "BI-1", timedelta(minutes=2), run_id=active)  # still running
        add_build(backend, "4", "feature/x", timedelta(seconds=30))  # no run submitted yet
        statuses = ci_build_statuses(backend, LAYOUT, now=NOW)
    finally:
        backend.cancel_run(active)
    assert [(s.build.name, s.build.branch, s.result) for s in statuses] == [
        ("4-feature__x", "feature/x", NO_RUN),
        ("3-BI-1", "BI-1", RUNNING),
        ("2-BI-2", "BI-2", UNKNOWN),
        ("1-BI-1", "BI-1", "SUCCESS"),
    ]
    assert [int(s.age_s) for s in statuses] == [30, 120, 5 * 3600, 3 * 86400]
    assert statuses[1].as_dict()["run_id"] == active
    table = format_table(statuses)
    assert table[0].split() == ["BUILD", "BRANCH", "AGE", "RESULT"]
    assert table[2].split() == ["3-BI-1", "BI-1", "2m00s", "running"]
    assert table[1].split() == ["4-feature__x", "feature/x", "30s", "no", "run"]
    assert len({line.index("BI-") for line in table[2:]}) == 1  # the branch column is aligned


def test_builds_of_one_branch_and_none(tmp_path: Path):
    backend = LocalBackend(tmp_path)
    assert ci_build_statuses(backend, LAYOUT, now=NOW) == []
    add_build(backend, "1", "BI-1", timedelta(days=1), run_id=1, result="FAILED")
    add_build(backend, "2", "BI-2", timedelta(days=1), run_id=2, result="SUCCESS")
    assert [s.build.name for s in ci_build_statuses(backend, LAYOUT, now=NOW, branch="BI-1")] == ["1-BI-1"]


# ---- issue 11: names nobody tuned for are shown escaped -----------------------------------------

def test_escape_sequences_and_newlines_in_names_are_shown_escaped(tmp_path: Path):
    """A CI folder or a manifest's branch comes from whoever pushed: a raw ESC would recolour or
    rewrite the terminal, a newline would fake a row."""
    backend = LocalBackend(tmp_path)
    folder = f"{LAYOUT.ci_root}/7-BI-1"  # (a folder named with an ESC is not a build: clean-ci reports it)
    backend.mkdirs(folder)
    write_build_manifest(backend, folder, {"branch": "BI-1\n9-BI-9  BI-9  1s  SUCCESS", "created": NOW.isoformat(), "run_id": None,
                                           "result": "SUCCESS\x1b[2K\u202e"})
    add_build(backend, "8", "BI-8", timedelta(hours=1), run_id=3, result=5)  # a manifest with a number for a result
    table = format_table(ci_build_statuses(backend, LAYOUT, now=NOW))
    text = "\n".join(table)
    assert len(table) == 3 and "\x1b" not in text and "\u202e" not in text
    rows = {row.split()[0]: row for row in table[1:]}
    assert "BI-1\\n9-BI-9" in rows["7-BI-1"] and "SUCCESS\\x1b[2K\\u202e" in rows["7-BI-1"]
    assert rows["8-BI-8"].endswith("malformed manifest")  # a number for a result


def test_printable_text_is_shown_as_it_is():
    from bricktasks.ci.builds import shown

    assert shown("feature/ünïcode-分支 x") == "feature/ünïcode-分支 x"
    assert shown("a\tb\x00c\x7fd\u2028e") == "a\\tb\\x00c\\x7fd\\u2028e"
    assert shown(None) == "?" and shown(12) == "12"
