"""Issue 11 item 11: no window of `invoke ci` orphans a run.

SIGINT or SIGTERM during the library build, the uploads, right after `runs/submit` is answered,
the wait, or while the results are fetched: the task exits 130/143 with one line (with --json,
exactly one JSON object on stdout), and a submitted run is cancelled (`runs/cancel` in the
emulator's request log, the run ends CANCELED). Each window is found through the emulator's
request log (its latency holds every request long enough to land a signal in the window), not by
sleeping. The after-submit window also runs on the local backend, through a hook in the project
copy's tasks.py that signals the process as the real submit returns.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from e2e_helpers import HEADER, SENTINEL_TOKEN, SLEEPER, terminate, wait_until

from bricktasks.backends.local import LocalBackend
from bricktasks.testing.emulator import EmulatorProcess, client_environment

TOKEN = SENTINEL_TOKEN
CI_ENV = {"BRICKTASKS_BUILD_ID": "7", "BRICKTASKS_BRANCH": "BI-5613"}
QUICK = HEADER + 'dbutils.notebook.exit("done")\n'
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
# every request waits this long in the emulator: the window after an answer lasts at least as long
LATENCY_MS = 400


def _answered(emulator: EmulatorProcess, endpoint: str) -> list[dict]:
    return [r for r in emulator.requests() if r["path"].endswith(endpoint) and r["status"] == 200]


def _single_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"exactly one JSON object on stdout: {stdout!r}"
    return json.loads(lines[0])


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _run_ci_and_signal(project, emulator, notebook: str, source: str, when, sig: int, timeout: float = 120):
    """Start `invoke ci --json` on the emulator, wait for `when()` (polling fast), send `sig`, collect."""
    project.write_notebook(notebook, source)
    project.commit_all()
    env = {**client_environment(emulator.url, TOKEN), **CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": notebook}
    process = project.start("ci", "--json", env=env)
    try:
        wait_until(when, timeout=timeout, interval=0.02)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        terminate(process, signal.SIGKILL)
    return process.returncode, stdout, stderr


@pytest.fixture
def slow_emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN, latency_ms=LATENCY_MS) as running:
        yield running


@pytest.fixture
def slower_emulator(tmp_path):
    """A full second per request: the window between the submit's answer and the wait's first poll
    (the build manifest's write) outlasts any delay of a loaded machine in delivering the signal."""
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN, latency_ms=1000) as running:
        yield running


def _assert_cancelled(emulator, run_id: int) -> None:
    requests = emulator.requests()
    cancels = [r for r in requests if r["path"].endswith("/jobs/runs/cancel")]
    assert cancels and str(cancels[0]["target"]) == str(run_id), cancels
    wait_until(lambda: LocalBackend(emulator.root).get_run(run_id).is_terminal, timeout=30)
    run = LocalBackend(emulator.root).get_run(run_id)
    assert (run.life_cycle_state, run.result_state) == ("TERMINATED", "CANCELED")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_right_after_the_submit_is_answered_cancels_the_run(project, slower_emulator, sig):
    code, stdout, stderr = _run_ci_and_signal(
        project, slower_emulator, "Sleeper", SLEEPER, lambda: _answered(slower_emulator, "/jobs/runs/submit"), sig,
    )
    assert code == EXIT[sig], stdout + stderr
    summary = _single_json(stdout)
    (run,) = LocalBackend(slower_emulator.root).list_runs()
    assert summary["exit_code"] == EXIT[sig] and summary["run_id"] == run.run_id
    assert f"run {run.run_id} was cancelled" in summary["error"]
    assert len(_error_lines(stderr)) == 1 and "Traceback" not in stderr, stderr
    _assert_cancelled(slower_emulator, run.run_id)
    requests = slower_emulator.requests()
    cancel = next(r for r in requests if r["path"].endswith("/jobs/runs/cancel"))
    # the signal landed before the wait began: no poll of the run arrived before its cancel
    assert not [r for r in requests if r["path"].endswith("/jobs/runs/get") and r["t"] < cancel["t"]]


def test_sigterm_during_the_wait_cancels_the_run(project, slow_emulator):
    code, stdout, stderr = _run_ci_and_signal(
        project, slow_emulator, "Sleeper", SLEEPER, lambda: _answered(slow_emulator, "/jobs/runs/get"), signal.SIGTERM,
    )
    assert code == 143, stdout + stderr
    (run,) = LocalBackend(slow_emulator.root).list_runs()
    summary = _single_json(stdout)
    assert summary["run_id"] == run.run_id and f"run {run.run_id} was cancelled" in summary["error"]
    assert len(_error_lines(stderr)) == 1 and "Traceback" not in stderr, stderr
    _assert_cancelled(slow_emulator, run.run_id)


def test_sigterm_during_the_uploads_submits_nothing(project, slow_emulator):
    code, stdout, stderr = _run_ci_and_signal(
        project, slow_emulator, "Sleeper", SLEEPER, lambda: _answered(slow_emulator, "/workspace/import"), signal.SIGTERM,
    )
    assert code == 143, stdout + stderr
    summary = _single_json(stdout)
    assert "no run was submitted" in summary["error"], summary
    assert len(_error_lines(stderr)) == 1 and "Traceback" not in stderr, stderr
    requests = slow_emulator.requests()
    assert not [r for r in requests if "/jobs/runs/" in r["path"]], "nothing submitted, nothing to cancel"
    assert LocalBackend(slow_emulator.root).list_runs() == []


def test_sigterm_while_the_results_are_fetched_exits_143_with_the_run_ended(project, slow_emulator):
    code, stdout, stderr = _run_ci_and_signal(
        project, slow_emulator, "Quick", QUICK, lambda: _answered(slow_emulator, "/jobs/runs/get-output"), signal.SIGTERM,
    )
    assert code == 143, stdout + stderr
    summary = _single_json(stdout)
    (run,) = LocalBackend(slow_emulator.root).list_runs()
    assert run.result_state == "SUCCESS"  # it had ended: nothing left to cancel
    assert f"run {run.run_id} had ended (SUCCESS)" in summary["error"], summary
    assert len(_error_lines(stderr)) == 1 and "Traceback" not in stderr, stderr


def _build_processes(project_root: Path) -> list[int]:
    """Live `python -m build` processes (and their backend children) of this project copy: another
    test's build (another worker's copy) is no sign that this one's task has started building."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cwd = os.readlink(proc / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state != "Z" and cwd.startswith(f"{project_root}/libs/regimecast") and ("build" in cmdline or "_in_process" in cmdline):
            found.append(int(proc.name))
    return found


def test_sigterm_during_the_library_build_stops_the_build_and_uploads_nothing(project, slow_emulator):
    building = lambda: _build_processes(project.root.resolve())  # noqa: E731
    code, stdout, stderr = _run_ci_and_signal(project, slow_emulator, "Sleeper", SLEEPER, building, signal.SIGTERM)
    assert code == 143, stdout + stderr
    summary = _single_json(stdout)
    assert summary["exit_code"] == 143 and summary["error"].startswith("interrupted by SIGTERM"), summary
    assert len(_error_lines(stderr)) == 1 and "Traceback" not in stderr, stderr
    assert not [r for r in slow_emulator.requests() if r.get("mutating")], "nothing uploaded"
    wait_until(lambda: building() == [], timeout=10)  # the build's whole process tree is gone


def test_a_signal_while_the_host_is_gone_ends_within_the_cancel_deadline_and_names_the_run(project, tmp_path):
    """Item 12: the workspace stops answering during the wait; SIGTERM still ends the task quickly,
    the cancel tried with a short deadline, and the line says the run may still be running."""
    project.write_notebook("Sleeper", SLEEPER)
    project.commit_all()
    emulator = EmulatorProcess(tmp_path / "emulated", token=TOKEN).start()
    env = {**client_environment(emulator.url, TOKEN), **CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Sleeper"}
    process = project.start("ci", env=env)
    try:
        runs = LocalBackend(emulator.root)
        wait_until(lambda: any(r.life_cycle_state == "RUNNING" for r in runs.list_runs()), timeout=120)
        (run,) = runs.list_runs()
        wait_until(lambda: _answered(emulator, "/jobs/runs/get"), timeout=30)
        emulator.stop()  # the workspace goes away; the task keeps retrying its poll
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=40)  # the cancel's deadline is 15 s
    finally:
        terminate(process, signal.SIGKILL)
        emulator.stop()
    assert process.returncode == 143, stdout + stderr
    (line,) = _error_lines(stderr)
    assert f"could not cancel run {run.run_id}" in line and "it may still be running" in line, line
    assert emulator.url in line  # the run's page (or the host) to look at
    assert "Traceback" not in stderr


LOCAL_HOOK = '''

# test hook (tests/e2e/test_e2e_trust_signals.py): signal this process as the real submit returns
import os as _os
import signal as _signal

from bricktasks.backends.local import LocalBackend as _LocalBackend

_submit = _LocalBackend.submit_run


def _submit_then_signal(self, spec):
    run_id = _submit(self, spec)
    _os.kill(_os.getpid(), getattr(_signal, _os.environ["HOOK_SIGNAL"]))
    return run_id


_LocalBackend.submit_run = _submit_then_signal
'''


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_on_the_local_backend_a_signal_as_the_submit_returns_cancels_the_run(project, sig):
    project.write_notebook("Sleeper", SLEEPER)
    with open(project.root / "tasks.py", "a") as tasks:
        tasks.write(LOCAL_HOOK)
    project.commit_all()
    env = {**CI_ENV, "BRICKTASKS_CI_NOTEBOOKS": "Sleeper", "HOOK_SIGNAL": signal.Signals(sig).name}
    result = project.invoke("ci", "--json", env=env, timeout=120)
    assert result.returncode == EXIT[sig], result.stdout + result.stderr
    (run,) = project.backend().list_runs()
    wait_until(lambda: project.backend().get_run(run.run_id).is_terminal, timeout=30)
    assert project.backend().get_run(run.run_id).result_state == "CANCELED"
    summary = _single_json(result.stdout)
    assert summary["run_id"] == run.run_id and f"run {run.run_id} was cancelled" in summary["error"]
    assert len(_error_lines(result.stderr)) == 1 and "Traceback" not in result.stderr, result.stderr
