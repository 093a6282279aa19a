"""Issue 11 item 12: an unreachable or refusing host fails fast; a busy one keeps its retries.

A refused connection, a name that does not resolve (under `.invalid`, which never does) and a
blackholed address (modelled on loopback: a listening socket whose backlog is full, so a connect
never completes; no traffic leaves the machine) end `invoke` with exit 2 and one line naming the
host and what to check, within 5 s (refused) or 30 s. A reachable workspace that answers 429 or
503 keeps the SDK's full retry budget: the same tasks succeed through it.
"""
from __future__ import annotations

import json
import socket
import time

import pytest
from e2e_helpers import SENTINEL_TOKEN

from bricktasks.testing.emulator import EmulatorProcess, client_environment

TOKEN = SENTINEL_TOKEN


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket closes


@pytest.fixture
def blackhole():
    """A loopback address whose connects never complete: a listener that never accepts, its backlog
    filled by connections of our own, so the kernel drops every further SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def _invoke_against(project, host: str, *args: str):
    env = {"BRICKTASKS_BACKEND": "databricks", "DATABRICKS_HOST": host, "DATABRICKS_TOKEN": TOKEN}
    started = time.monotonic()
    result = project.invoke(*args, "--json", env=env, timeout=120)
    return result, time.monotonic() - started


def _assert_one_line_exit_2(result, host: str) -> dict:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "warning:", "Traceback"))]
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach "), result.stderr
    assert host in lines[0] and "check DATABRICKS_HOST" in lines[0], lines[0]
    (summary_line,) = [line for line in result.stdout.splitlines() if line.strip()]
    summary = json.loads(summary_line)
    assert summary["exit_code"] == 2 and host in summary["error"]
    return summary


def test_a_refused_connection_fails_within_5_s(project):
    host = f"http://127.0.0.1:{_closed_port()}"
    result, took = _invoke_against(project, host, "checkout", "BI-5613")
    _assert_one_line_exit_2(result, host)
    assert "refused" in result.stderr
    assert took < 5 + 3, f"{took:.1f} s (5 s for the refusal, plus the interpreter's start)"


def test_a_name_that_does_not_resolve_fails_within_30_s(project):
    host = "https://bricktasks-workspace.invalid"
    result, took = _invoke_against(project, host, "ci")
    _assert_one_line_exit_2(result, host)
    assert "does not resolve" in result.stderr
    assert took < 30
    assert not (project.root / "ci-results").exists() or not any((project.root / "ci-results").iterdir())


def test_a_blackholed_address_fails_within_30_s(project, blackhole):
    result, took = _invoke_against(project, blackhole, "checkout", "BI-5613")
    _assert_one_line_exit_2(result, blackhole)
    assert "no answer" in result.stderr
    assert took < 30


@pytest.mark.parametrize(
    "conditions", [{"rate_limit": 3}, {"fault_rate": 0.3, "fault_kinds": "503", "seed": 3}], ids=["429", "503"]
)
def test_a_busy_workspace_keeps_the_retry_budget(project, tmp_path, conditions):
    with EmulatorProcess(tmp_path / "emulated", token=TOKEN, **conditions) as emulator:
        result = project.invoke("checkout", "BI-5613", env=client_environment(emulator.url, TOKEN), timeout=300)
        requests = emulator.requests()
    assert result.returncode == 0, result.stdout + result.stderr
    refused = [r for r in requests if r["status"] in (429, 503)]
    assert refused, "the workspace did refuse some requests"
    assert any(r["status"] == 200 and r["path"].endswith("/workspace/import") for r in requests)
