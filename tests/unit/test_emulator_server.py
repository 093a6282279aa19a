"""The emulator itself: auth, rate limit, faults, latency, the request log, and the process's life."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import requests

from bricktasks.emulator.faults import FaultInjector, TokenBucket
from bricktasks.testing.emulator import LISTENING, EmulatorProcess, start_emulator

EMULATOR_SOURCES = Path(__file__).resolve().parents[2] / "bricktasks" / "emulator"


def get(url: str, path: str = "/api/2.0/workspace/list", token: str | None = "t", **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url + path, params=params or {"path": "/"}, headers=headers, timeout=10)


# -- auth -------------------------------------------------------------------------------
def test_a_token_is_required_when_configured(tmp_path):
    with start_emulator(tmp_path, token="s3cret", request_log=tmp_path / "log.jsonl") as emulator:
        for token in (None, "wrong"):
            answer = get(emulator.url, token=token)
            assert answer.status_code == 401
            assert answer.json()["error_code"] == "UNAUTHENTICATED"
        assert get(emulator.url, token="s3cret").status_code == 200
        assert get(emulator.url, "/.well-known/databricks-config", token=None).json() == {}  # public, as on Databricks
    assert "s3cret" not in (tmp_path / "log.jsonl").read_text()


def test_without_a_token_any_bearer_is_accepted(tmp_path):
    with start_emulator(tmp_path) as emulator:
        assert get(emulator.url, token="anything").status_code == 200
        assert get(emulator.url, token=None).status_code == 200


# -- rate limit and latency ----------------------------------------------------------------
def test_beyond_the_rate_limit_answers_429_with_retry_after(tmp_path):
    with start_emulator(tmp_path, rate_limit=3) as emulator:
        answers = [get(emulator.url) for _ in range(12)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and len(limited) < len(answers)
    for answer in limited:
        assert answer.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert int(answer.headers["Retry-After"]) >= 1


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(2, clock=lambda: now[0])
    assert [bucket.take(), bucket.take()] == [None, None]
    assert bucket.take() == 1
    now[0] += 0.5
    assert bucket.take() is None


def test_latency_is_added_to_every_request(tmp_path):
    with start_emulator(tmp_path, latency_ms=150) as emulator:
        started = time.monotonic()
        get(emulator.url)
        assert time.monotonic() - started >= 0.15


# -- faults ---------------------------------------------------------------------------------
def _statuses(root: Path, seed: int) -> list[int | str]:
    with start_emulator(root, fault_rate=0.4, seed=seed, fault_kinds="503,drop") as emulator:
        seen = []
        for _ in range(25):
            try:
                seen.append(get(emulator.url).status_code)
            except requests.ConnectionError:
                seen.append("dropped")
        return seen


def test_faults_are_deterministic_for_a_seed(tmp_path):
    first, again, other = _statuses(tmp_path / "a", 7), _statuses(tmp_path / "b", 7), _statuses(tmp_path / "c", 8)
    assert first == again
    assert first != other
    assert {503, "dropped", 200} <= set(first)


def test_injected_503_and_drop_never_apply_the_request(tmp_path):
    with start_emulator(tmp_path, fault_rate=1.0, seed=1, fault_kinds="503") as emulator:
        answer = requests.post(emulator.url + "/api/2.0/workspace/mkdirs", json={"path": "/Projects/no"}, timeout=10)
        assert (answer.status_code, answer.json()["error_code"]) == (503, "TEMPORARILY_UNAVAILABLE")
        assert not (emulator.root / "workspace" / "Projects" / "no").exists()
    with start_emulator(tmp_path, fault_rate=1.0, seed=1, fault_kinds="drop") as emulator:
        with pytest.raises(requests.ConnectionError):
            requests.post(emulator.url + "/api/2.0/workspace/mkdirs", json={"path": "/Projects/no"}, timeout=10)
        assert not (emulator.root / "workspace" / "Projects" / "no").exists()


def test_drop_after_applies_the_request_then_hangs_up(tmp_path):
    with start_emulator(tmp_path, fault_rate=1.0, seed=1, fault_kinds="drop-after") as emulator:
        with pytest.raises(requests.ConnectionError):
            requests.post(emulator.url + "/api/2.0/workspace/mkdirs", json={"path": "/Projects/yes"}, timeout=10)
        assert (emulator.root / "workspace" / "Projects" / "yes").is_dir()
        [entry] = emulator.requests
        assert entry["fault"] == "drop-after" and entry["status"] is None and entry["target"] == "/Projects/yes"


def test_the_fault_stream_draws_the_same_for_the_same_seed():
    one, two = FaultInjector(0.5, 3, ("503", "drop", "drop-after")), FaultInjector(0.5, 3, ("503", "drop", "drop-after"))
    assert [one.decide() for _ in range(50)] == [two.decide() for _ in range(50)]


def test_error_messages_avoid_the_phrases_the_sdk_retries():
    for source in EMULATOR_SOURCES.glob("*.py"):
        text = source.read_text()
        assert "Unexpected error" not in text.replace('"Unexpected error" or', "")
        assert "try again later" not in text.lower()


# -- request log -------------------------------------------------------------------------------
def test_the_request_log_records_each_request_without_bodies(tmp_path):
    log = tmp_path / "requests.jsonl"
    with start_emulator(tmp_path / "root", request_log=log) as emulator:
        requests.post(emulator.url + "/api/2.0/workspace/mkdirs", json={"path": "/Projects/logged"}, timeout=10)
        requests.post(
            emulator.url + "/api/2.0/workspace/import",
            json={"path": "/Projects/logged/f.txt", "content": "c2VjcmV0LWJvZHk=", "format": "AUTO"},
            headers={"Authorization": "Bearer hidden-token"},
            timeout=10,
        )
        get(emulator.url, path="/api/2.0/workspace/get-status", path_="x")
        in_memory = emulator.requests
    written = [json.loads(line) for line in log.read_text().splitlines()]
    assert written == in_memory
    mkdirs, upload, status = written
    assert set(upload) == {"t", "method", "path", "query", "status", "mutating", "target", "bytes_in"}
    assert (mkdirs["mutating"], mkdirs["target"], mkdirs["status"]) == (True, "/Projects/logged", 200)
    assert (upload["path"], upload["target"], upload["mutating"]) == ("/api/2.0/workspace/import", "/Projects/logged/f.txt", True)
    assert upload["bytes_in"] > 0
    assert (status["mutating"], status["status"]) == (False, 400)
    assert "c2VjcmV0" not in log.read_text() and "hidden-token" not in log.read_text()


# -- the process ---------------------------------------------------------------------------------
def test_the_process_picks_a_free_port_prints_one_line_and_stops_on_sigterm(tmp_path):
    with EmulatorProcess(tmp_path / "root", token="proc-token") as emulator:
        assert emulator.url.startswith("http://127.0.0.1:") and not emulator.url.endswith(":0")
        assert get(emulator.url, token="proc-token").status_code == 200
        assert "proc-token" not in " ".join(emulator.command)  # handed over in the environment
        assert emulator.requests()[-1]["status"] == 200
        emulator.process.send_signal(signal.SIGTERM)
        assert emulator.process.wait(10) == 0
        rest = emulator.process.stdout.read()
    assert rest == ""  # the listening line was the only output


def test_the_process_stops_cleanly_on_sigint(tmp_path):
    emulator = EmulatorProcess(tmp_path / "root", token="proc-token").start()
    try:
        emulator.process.send_signal(signal.SIGINT)
        assert emulator.process.wait(10) == 0
    finally:
        emulator.stop()


def test_the_listening_line_is_exact():
    assert LISTENING == "bricktasks emulator listening on "
