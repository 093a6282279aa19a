"""The terminal experience end to end: --json and --quiet on real tasks, `invoke builds`, and the
live displays under a pseudo-terminal (plain timestamped lines everywhere else)."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from e2e_helpers import BROKEN, HEADER, SLOW, clean_environment, wait_until

CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613"}
TIMESTAMPED = re.compile(r"^\d\d:\d\d:\d\d ", re.MULTILINE)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TINY = HEADER + 'dbutils.notebook.exit("tiny")\n'


def one_json_object(result: subprocess.CompletedProcess) -> dict:
    """stdout is exactly one JSON object on one line; nothing else."""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


def test_json_summaries_of_checkout_switch_env_clean_ci_and_builds(project):
    checkout = project.invoke("checkout", "BI-1", "--json")
    assert checkout.returncode == 0, checkout.stderr
    data = one_json_object(checkout)
    assert data == {
        "task": "checkout", "ok": True, "exit_code": 0, "branch": "BI-1", "folder": "/Projects/forecasting/BI-1",
        "env": "dev", "dry_run": False, "uploaded": 9, "unchanged": 0, "pruned": 0, "not_in_working_copy": 0,
    }
    assert "uploaded 9, unchanged 0" in checkout.stderr  # the human lines went to stderr
    again = one_json_object(project.invoke("checkout", "BI-1", "--json"))
    assert (again["uploaded"], again["unchanged"]) == (0, 9)

    switched = project.invoke("switch-env", "kyle", "--branch", "BI-1", "--json")
    assert one_json_object(switched) == {
        "task": "switch-env", "ok": True, "exit_code": 0, "branch": "BI-1", "folder": "/Projects/forecasting/BI-1",
        "env": "kyle", "dry_run": False,
    }
    assert b"kyle_config" in project.backend().export("/Projects/forecasting/BI-1/set_environment")

    cleaned = one_json_object(project.invoke("clean-ci", "--older-than", "30d", "--dry-run", "--json"))
    assert cleaned == {
        "task": "clean-ci", "ok": True, "exit_code": 0, "older_than": "30d", "dry_run": True,
        "deleted": [], "kept": [], "active": [], "malformed": [], "not_a_build": [],
    }
    listed = one_json_object(project.invoke("builds", "--json"))
    assert listed == {"task": "builds", "ok": True, "exit_code": 0, "folder": "/Projects/forecasting/CI", "builds": []}


def test_bad_input_with_json_is_one_object_saying_ok_false_and_exit_2(project):
    assert project.invoke("checkout", "BI-1").returncode == 0
    before = project.workspace_digest()
    for arguments, expected in [
        (["checkout", "..", "--json"], "starting with '.'"),
        (["switch-env", "nobody", "--branch", "BI-1", "--json"], "use one of: ci, dev, kyle, production"),
        (["clean-ci", "--older-than", "soon", "--json"], "not a duration"),
        (["builds", "--branch", "a__b", "--json"], "reserved for '/'"),
    ]:
        result = project.invoke(*arguments)
        assert result.returncode == 2, result.stdout + result.stderr
        data = one_json_object(result)
        assert data["ok"] is False and data["exit_code"] == 2 and data["task"] == arguments[0]
        assert expected in data["error"]
        assert result.stderr.strip() == f"error: {data['error']}"  # the same one line for a person
        assert "Traceback" not in result.stdout + result.stderr
    assert project.workspace_digest() == before


def test_quiet_prints_only_the_result_line(project):
    result = project.invoke("checkout", "BI-1", "--quiet")
    assert result.returncode == 0
    assert result.stdout == "uploaded 9, unchanged 0, pruned 0\n"
    assert result.stderr == ""
    switched = project.invoke("switch-env", "ci", "--branch", "BI-1", "-q")
    assert switched.stdout == "/Projects/forecasting/BI-1/set_environment now runs ./conf/ci_config\n"


def test_a_secret_is_redacted_in_the_json_summary_and_the_lines(project):
    """A local-run secret that happens to be part of a branch name never shows, in JSON or in lines."""
    secret = "BI-4242-hush"
    env = {"BRICKTASKS_SECRET__team__name": secret}
    result = project.invoke("checkout", secret, "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = one_json_object(result)
    assert data["branch"] == "[REDACTED]" and data["folder"] == "/Projects/forecasting/[REDACTED]"
    assert secret not in result.stdout + result.stderr and "[REDACTED]" in result.stderr


def test_builds_lists_a_running_build_then_its_result_and_ci_json_names_the_run(project):
    project.write_notebook("Slow", SLOW)
    project.commit_all()
    manifest = "/Projects/forecasting/CI/7-BI-5613/.bricktasks-build.json"
    process = project.start("ci", "--notebooks", "Slow", "--json", env=CI_ENV)

    def submitted():
        try:
            return json.loads(project.backend().export(manifest)).get("run_id")
        except Exception:  # noqa: BLE001 - not written yet
            return None

    run_id = wait_until(submitted, timeout=120)
    while_running = project.invoke("builds")
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stdout + stderr
    lines = while_running.stdout.splitlines()
    assert lines[0].split() == ["BUILD", "BRANCH", "AGE", "RESULT"]
    assert lines[1].split()[:2] == ["7-BI-5613", "BI-5613"] and lines[1].split()[-1] == "running"

    ci = json.loads(stdout)
    assert stdout.count("\n") == 1
    assert ci["task"] == "ci" and ci["ok"] is True and ci["exit_code"] == 0
    assert (ci["build_id"], ci["branch"], ci["folder"]) == ("7", "BI-5613", "/Projects/forecasting/CI/7-BI-5613")
    assert ci["run_id"] == run_id and ci["result"] == "SUCCESS"
    assert [(nb["name"], nb["result_state"], nb["exit_value"]) for nb in ci["notebooks"]] == [("Slow", "SUCCESS", "done")]
    assert os.path.exists(ci["reports"]["junit"]) and os.path.exists(ci["reports"]["html"])
    assert "Slow: SUCCESS; exit value: done" in stderr

    after = project.invoke("builds", "--json")
    (build,) = one_json_object(after)["builds"]
    assert (build["name"], build["branch"], build["result"], build["run_id"]) == ("7-BI-5613", "BI-5613", "SUCCESS", run_id)
    assert project.invoke("builds", "--branch", "BI-1").stdout == "no CI builds of BI-1 in /Projects/forecasting/CI\n"


def test_a_failed_ci_run_is_ok_false_with_exit_1_in_json(project):
    project.write_notebook("Broken", BROKEN)
    result = project.invoke("ci", "--notebooks", "Broken", "--json", env={**CI_ENV, "BRICKTASKS_BUILD_ID": "8"})
    assert result.returncode == 1, result.stdout + result.stderr
    data = one_json_object(result)
    assert data["ok"] is False and data["exit_code"] == 1 and data["result"] == "FAILED"
    assert data["notebooks"][0]["failed_cell"] == 2 and "quality below threshold" in data["notebooks"][0]["error"]
    listed = project.invoke("builds").stdout.splitlines()
    assert listed[1].split()[0] == "8-BI-5613" and listed[1].split()[-1] == "FAILED"


def run_in_terminal(project, *arguments: str, columns: int = 120) -> tuple[int, str]:
    """Run invoke with stdout and stderr on a pseudo-terminal; everything it drew, and its exit code."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", *arguments], cwd=project.root, stdin=subprocess.DEVNULL, stdout=terminal,
        stderr=terminal, env=clean_environment({"TERM": "xterm-256color"}), close_fds=True,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    code = process.wait(timeout=120)
    drawn = b"".join(chunks).decode(errors="replace")
    project.outputs.append(drawn)  # the end-of-test secret check looks at this too
    return code, drawn


def test_a_terminal_gets_an_upload_bar_and_no_timestamps(project):
    code, drawn = run_in_terminal(project, "checkout", "BI-1")
    assert code == 0, drawn
    text = ANSI.sub("", drawn)
    assert "━" in text and "9/9 files" in text and "kB" in text  # the bar: files and bytes
    assert "uploaded 9, unchanged 0, pruned 0" in text
    assert not TIMESTAMPED.search(text.replace("\r", "\n"))

    code, quiet = run_in_terminal(project, "checkout", "BI-2", "--quiet")
    assert code == 0
    assert ANSI.sub("", quiet).strip() == "uploaded 9, unchanged 0, pruned 0"  # no bar with --quiet


def test_a_log_gets_timestamped_lines_and_no_bar(project):
    result = project.invoke("checkout", "BI-1")
    assert "\x1b[" not in result.stdout and "━" not in result.stdout
    announced = [line for line in result.stdout.splitlines() if "uploading to /Projects/forecasting/BI-1" in line]
    assert len(announced) == 1 and TIMESTAMPED.match(announced[0]) and "9 files" in announced[0]


def test_build_wheel_names_the_wheel_in_json_and_as_its_quiet_result(project):
    data = one_json_object(project.invoke("build-wheel", "--branch", "BI-1", "--json"))
    (wheel,) = data["artifacts"]
    assert data["ok"] is True and wheel.endswith(".whl") and os.path.isfile(wheel)
    quiet = project.invoke("build-wheel", "--branch", "BI-1", "-q")
    assert len(quiet.stdout.splitlines()) == 1 and quiet.stdout.strip().endswith(".whl") and os.path.isfile(quiet.stdout.strip())
