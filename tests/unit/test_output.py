"""The output layer: plain timestamped lines in a log, rich live displays on a terminal, --quiet,
and redaction on every path (lines, the upload bar, the run status line)."""
from __future__ import annotations

import io
import re
from pathlib import Path

from bricktasks.backends.base import NotebookTask, Run, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.console.console import Console
from bricktasks.console.progress import RunStatusLine
from bricktasks.runs.supervise import supervise_run

SECRET = "dapi" + "c0ffee42" * 4
TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d ", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
URL = f"https://example.cloud.databricks.com/#job/1/run/5?token={SECRET}"


def log_console(**options) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(secrets=[SECRET], stream=out, error_stream=err, terminal=False, **options), out, err


def terminal_console(**options) -> tuple[Console, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Console(secrets=[SECRET], stream=out, error_stream=err, terminal=True, width=120, **options), out, err


def run_state(life_cycle: str, result: str | None = None) -> Run:
    return Run(run_id=5, run_name="CI-7", life_cycle_state=life_cycle, result_state=result, run_page_url=URL)


def upload(console: Console, sizes: list[int], label: str) -> None:
    with console.upload_progress(files=len(sizes), total_bytes=sum(sizes), label=label) as progress:
        for size in sizes:
            progress.advance(size)
    console.close()


# ---- a log (not a terminal) -------------------------------------------------------------------


def test_a_log_gets_timestamped_info_and_bare_result_lines():
    console, out, err = log_console()
    console.info(f"using {SECRET}")
    console.result("uploaded 3, unchanged 0")
    console.warn("slow")
    lines = out.getvalue().splitlines()
    assert TIMESTAMP.match(lines[0]) and lines[0].endswith("using [REDACTED]")
    assert lines[1] == "uploaded 3, unchanged 0"
    assert TIMESTAMP.match(err.getvalue()) and "warning: slow" in err.getvalue()
    assert "\x1b[" not in out.getvalue()


def test_quiet_keeps_only_results_warnings_and_errors():
    console, out, err = log_console(quiet=True)
    console.info("chatter")
    upload(console, [10, 20], "uploading to /Projects/x")
    status = console.run_status(5)
    status(run_state("RUNNING"), 1.0)
    console.result("the answer")
    console.warn("careful")
    console.error("broken")
    assert out.getvalue() == "the answer\n"
    assert "warning: careful" in err.getvalue() and "error: broken" in err.getvalue()


def test_an_upload_in_a_log_is_one_line_not_one_per_file():
    console, out, _ = log_console()
    upload(console, [1000] * 50, f"uploading to /Projects/{SECRET}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert TIMESTAMP.match(lines[0]) and "50 files (50.0 kB)" in lines[0]
    assert SECRET not in out.getvalue() and "[REDACTED]" in lines[0]


def test_nothing_to_upload_prints_nothing():
    console, out, _ = log_console()
    upload(console, [], "uploading to /Projects/x")
    assert out.getvalue() == ""


def test_a_run_in_a_log_prints_a_line_per_state_change_only(tmp_path: Path):
    """A real local run: the wait polls many times, the log shows each state once."""
    backend = LocalBackend(tmp_path)
    backend.mkdirs("/Projects/x")
    notebook = "# Databricks notebook source\nimport time\ntime.sleep(2)\ndbutils.notebook.exit('ok')\n"
    backend.import_object("/Projects/x/Sleepy.py", notebook.encode(), format="AUTO", overwrite=True)
    run_id = backend.submit_run(RunSpec(run_name="sleepy", tasks=(NotebookTask("main", "/Projects/x/Sleepy"),)))
    console, out, _ = log_console()
    outcome = supervise_run(backend, run_id, timeout_s=60, on_state=console.run_status(run_id))
    assert outcome.exit_code == 0
    lines = out.getvalue().splitlines()
    states = [line.split(": ", 1)[1].split(" after ")[0] for line in lines]
    assert states[-1] == "TERMINATED SUCCESS"
    assert len(states) == len(set(states))  # no state twice: no line per poll
    assert all(TIMESTAMP.match(line) and line[9:].startswith(f"run {run_id}: ") for line in lines)


# ---- a terminal -------------------------------------------------------------------------------


def test_a_terminal_gets_untimestamped_lines():
    console, out, _ = terminal_console()
    console.info(f"checking out BI-1 with {SECRET}")
    console.result("uploaded 3")
    text = ANSI.sub("", out.getvalue())
    assert text.splitlines() == ["checking out BI-1 with [REDACTED]", "uploaded 3"]
    assert not TIMESTAMP.search(text)


def test_a_terminal_upload_draws_a_bar_with_files_and_bytes_and_redacts_the_label():
    console, out, _ = terminal_console()
    upload(console, [1500, 2500, 1000], f"uploading to /Projects/{SECRET}")
    raw = out.getvalue()
    text = ANSI.sub("", raw)
    assert "\x1b[" in raw and "━" in text  # drawn, not printed
    assert "3/3 files" in text and "5.0/5.0 kB" in text
    assert SECRET not in raw and "uploading to /Projects/[REDACTED]" in text
    assert not TIMESTAMP.search(text)


def test_lines_printed_during_an_upload_stay_readable():
    console, out, _ = terminal_console()
    with console.upload_progress(files=2, total_bytes=20, label="uploading") as progress:
        progress.advance(10)
        console.info("one file had to be retried")
        progress.advance(10)
    console.close()
    text = ANSI.sub("", out.getvalue())
    assert "one file had to be retried\n" in text and "2/2 files" in text


def test_a_terminal_status_line_shows_state_elapsed_and_url_redacted_and_stops_at_the_end():
    console, out, _ = terminal_console()
    status = console.run_status(5)
    status(run_state("PENDING"), 0.0)
    status(run_state("RUNNING"), 3.0)
    status(run_state("TERMINATED", "SUCCESS"), 75.0)
    raw = out.getvalue()
    text = ANSI.sub("", raw)
    assert "run 5: TERMINATED SUCCESS after 1m15s https://example.cloud.databricks.com/#job/1/run/5?token=[REDACTED]" in text
    assert SECRET not in raw
    assert not TIMESTAMP.search(text)
    assert status._live is None  # the live display ended with the run


def test_the_status_line_elapsed_time_ticks_between_polls():
    """Drawn from the last state plus the time since it was seen (a clock the test turns)."""
    now = [100.0]
    status = RunStatusLine(7, secrets=[SECRET], rich=None, print_line=None, clock=lambda: now[0])
    status(run_state("RUNNING"), 10.0)
    now[0] += 50
    drawn = status._render()
    cells = [cell for column in drawn.columns for cell in column._cells]
    assert any(str(cell) == f"run 7: RUNNING after 1m00s {URL.replace(SECRET, '[REDACTED]')}" for cell in cells)


def test_a_warning_ends_the_live_status_line_first():
    console, out, err = terminal_console()
    status = console.run_status(5)
    status(run_state("RUNNING"), 1.0)
    console.warn(f"timed out; cancelling run 5 ({SECRET})")
    assert status._live is None
    assert err.getvalue() == "warning: timed out; cancelling run 5 ([REDACTED])\n"


def test_no_message_reaches_the_terminal_with_a_raw_control_character():
    """Whatever name a message quotes (a pushed folder, a manifest's branch), ESC, C1 controls and
    bidi overrides come out escaped on every path: info, result, warning and error, log and terminal."""
    hostile = "7-BI-1\x1b[2J\x1b]0;owned\x07\u202eSSECCUS\x9b"
    for make in (log_console, terminal_console):
        console, out, err = make()
        console.info(f"kept {hostile}")
        console.result(f"done {hostile}")
        console.warn(f"odd {hostile}")
        console.error(f"bad {hostile}")
        text = out.getvalue() + err.getvalue()
        raw = [char for char in text if not char.isprintable() and char not in "\n\t"]
        if make is terminal_console:  # rich's own styling codes are allowed, nothing else
            raw = [char for char in ANSI.sub("", text) if not char.isprintable() and char not in "\n\t"]
        assert not raw, (make.__name__, raw)
        assert "\\x1b[2J" in text and "\\u202e" in text and "\\x07" in text


def test_a_name_is_shown_printable_and_a_message_keeps_its_own_line_breaks():
    from bricktasks.console.console import printable, terminal_safe

    assert printable("feature/ünïcode-分支 x") == "feature/ünïcode-分支 x"
    assert printable("a\nb") == "a\\nb" and printable(None) == "?"
    assert terminal_safe("line one\nline\ttwo\x1b") == "line one\nline\ttwo\\x1b"
