"""Issue 11 items 11 and 12, piece by piece: signals are raised wherever the main thread is (an SDK
request included) and never swallowed; a submit's answer survives a signal; a cancel has a short
deadline; a host that answered once and then goes away is transient, one that never answered is
not. Real SDK against the in-process emulator, real signals sent to this process."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.backends.databricks import HostUnreachable
from bricktasks.backends.local import LocalBackend
from bricktasks.errors import TransientError
from bricktasks.interrupts import Interrupted, deferred, handle_signals, received
from bricktasks.libraries.build import _run_in_own_group
from bricktasks.runs.supervise import cancel_briefly, submit_answered
from bricktasks.testing.emulator import databricks_backend, start_emulator


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path):
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "databrickscfg").write_text("")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "databrickscfg"))


def _signal_soon(sig: int = signal.SIGTERM, after: float = 0.3) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), sig))
    timer.start()
    return timer


def test_a_signal_inside_an_sdk_request_is_raised_not_translated(tmp_path):
    # the request waits 2 s in the emulator: the signal lands while the SDK waits for the answer
    with start_emulator(tmp_path / "root", latency_ms=2000) as emulator:
        backend = databricks_backend(emulator.url)
        with handle_signals():
            _signal_soon(signal.SIGTERM)
            with pytest.raises(Interrupted) as caught:
                backend.list("/")
    assert caught.value.exit_code == 143


def test_sigint_is_130_and_later_signals_are_not_raised():
    with handle_signals():
        with pytest.raises(Interrupted) as caught:  # (the timer's start is inside: a loaded machine may signal during it)
            _signal_soon(signal.SIGINT, after=0.05)
            time.sleep(5)
        assert caught.value.exit_code == 130
        os.kill(os.getpid(), signal.SIGTERM)  # on the way out: noted, not raised
        time.sleep(0.1)
        assert received() is caught.value
    assert received() is None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the task's end restores the handlers


def test_a_signal_while_the_submit_is_in_flight_keeps_its_run_id():
    def slow_submit() -> int:
        time.sleep(1.0)  # the workspace creates the run; the answer is on its way
        return 42

    with handle_signals():
        _signal_soon(after=0.2)
        with pytest.raises(Interrupted) as caught:
            submit_answered(slow_submit)
    assert caught.value.run_id == 42


def test_a_submit_that_never_answers_says_a_run_may_have_started():
    with handle_signals():
        _signal_soon(after=0.1)
        with pytest.raises(Interrupted) as caught:
            submit_answered(lambda: time.sleep(30) or 1, wait_s=0.5)
    assert caught.value.run_id is None and "may have started" in caught.value.detail


class SignalledOnCancel(LocalBackend):
    """The local backend, signalled (as GitHub sends SIGTERM after its SIGINT) as its cancel starts."""

    def cancel_run(self, run_id: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs here, in the middle of the cancel
        super().cancel_run(run_id)


def test_a_second_signal_does_not_cut_the_cancel(tmp_path):
    backend = SignalledOnCancel(tmp_path / "root")
    backend.mkdirs("/Projects/p")
    backend.import_object("/Projects/p/Sleeper.py", b"# Databricks notebook source\nimport time\ntime.sleep(60)\n")
    run_id = backend.submit_run(RunSpec(run_name="r", tasks=(NotebookTask("t", "/Projects/p/Sleeper"),)))
    with handle_signals():
        with pytest.raises(Interrupted):  # (the timer's start is inside: a loaded machine may signal during it)
            timer = _signal_soon(signal.SIGINT, after=0.05)
            time.sleep(5)
        timer.join()
        outcome = cancel_briefly(backend, run_id)
    assert outcome.accepted and outcome.run is not None and outcome.run.result_state == "CANCELED"
    assert outcome.describe(run_id) == f"run {run_id} was cancelled"


def test_a_cancel_to_a_host_gone_away_gives_up_within_its_deadline(tmp_path):
    emulator = start_emulator(tmp_path / "root")
    backend = databricks_backend(emulator.url, retry_timeout_seconds=300, http_timeout_seconds=60)
    backend.mkdirs("/Projects/p")  # the host answered once
    emulator.stop()
    started = time.monotonic()
    outcome = cancel_briefly(backend, 7)
    assert time.monotonic() - started < 20, "15 s deadline, whatever the SDK's own budget"
    assert not outcome.accepted
    line = outcome.describe(7, page_url=f"{emulator.url}/#job/0/run/7")
    assert "could not cancel run 7" in line and "may still be running" in line and emulator.url in line


def test_a_host_that_answered_once_and_goes_away_is_transient(tmp_path):
    emulator = start_emulator(tmp_path / "root")
    backend = databricks_backend(emulator.url, retry_timeout_seconds=2, http_timeout_seconds=2)
    backend.mkdirs("/Projects/p")
    emulator.stop()
    with pytest.raises(TransientError) as caught:
        backend.list("/Projects/p")
    assert not isinstance(caught.value, HostUnreachable)


def test_a_host_that_never_answered_is_exit_2_naming_it():
    with pytest.raises(HostUnreachable) as caught:
        databricks_backend("https://nothing-here.invalid").list("/")
    assert caught.value.exit_code == 2 and "nothing-here.invalid" in caught.value.one_line()


def test_a_signal_during_the_build_kills_its_whole_process_tree(tmp_path):
    marker = tmp_path / "grandchild.pid"
    # a parent that starts a child of its own and waits, as `python -m build` runs its backend
    script = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "child.wait()\n"
    )
    with handle_signals():
        timer = threading.Thread(target=lambda: (_wait_for(marker), os.kill(os.getpid(), signal.SIGTERM)))
        timer.start()
        with pytest.raises(Interrupted):
            _run_in_own_group([sys.executable, "-c", script], tmp_path, dict(os.environ), 60)
        timer.join()
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def _wait_for(path: Path) -> None:
    while not path.exists() or not path.read_text():
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie is dead, only not reaped yet


def test_deferred_raises_a_signal_at_its_end():
    with handle_signals():
        with pytest.raises(Interrupted), deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)  # not raised here
            finished = True
        assert finished
