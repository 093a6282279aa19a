"""RetryingBackend: the retry policy applied around a real backend, once, where it is safe; and
the capabilities every backend answers (defaults on the base, overridden by the local backend)."""
from __future__ import annotations

from pathlib import Path

import pytest

from bricktasks.backends.base import Backend, NotebookTask, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.backends.retry import NO_RETRIES, RetryPolicy
from bricktasks.backends.retrying import RetryingBackend, with_policy, without_retries
from bricktasks.errors import NotFound, RateLimited, TransientError
from bricktasks.testing.emulator import databricks_backend, start_emulator

QUICK = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)
NOTEBOOK = b"# Databricks notebook source\nprint(1)\n"


class FlakyBackend(LocalBackend):
    """A local backend whose named operations fail with `error` their first `failures` times."""

    def __init__(self, root: Path, failures: int, error: Exception | None = None) -> None:
        super().__init__(root)
        self.failures = failures
        self.error = error or TransientError("503: try again")
        self.calls: dict[str, int] = {}

    def _maybe_fail(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if self.calls[operation] <= self.failures:
            raise self.error

    def list(self, path):
        self._maybe_fail("list")
        return super().list(path)

    def import_object(self, path, content, **options):
        self._maybe_fail("import_object")
        return super().import_object(path, content, **options)

    def submit_run(self, spec):
        self._maybe_fail("submit_run")
        return super().submit_run(spec)

    def cancel_run(self, run_id):
        self._maybe_fail("cancel_run")
        return super().cancel_run(run_id)

    def move_file(self, source, destination, *, overwrite=False):
        self._maybe_fail("move_file")
        return super().move_file(source, destination, overwrite=overwrite)


def _spec(token: str | None) -> RunSpec:
    return RunSpec(run_name="r", tasks=(NotebookTask("t", "/Projects/p/nb"),), idempotency_token=token)


def _with_notebook(flaky: FlakyBackend) -> FlakyBackend:
    LocalBackend.mkdirs(flaky, "/Projects/p")
    LocalBackend.import_object(flaky, "/Projects/p/nb.py", NOTEBOOK)
    return flaky


def test_reads_and_converging_writes_are_retried_until_they_succeed(tmp_path):
    flaky = FlakyBackend(tmp_path, failures=2)
    backend = RetryingBackend(flaky, QUICK)
    backend.mkdirs("/Projects/p")
    backend.import_object("/Projects/p/nb.py", NOTEBOOK, overwrite=True)
    assert [info.path for info in backend.list("/Projects/p")] == ["/Projects/p/nb"]
    assert flaky.calls == {"import_object": 3, "list": 3}


def test_the_last_failure_goes_up_and_other_errors_are_not_retried(tmp_path):
    flaky = FlakyBackend(tmp_path, failures=10, error=RateLimited("429", "slow down", 0.001))
    with pytest.raises(RateLimited):
        RetryingBackend(flaky, QUICK).list("/")
    assert flaky.calls["list"] == QUICK.attempts
    missing = FlakyBackend(tmp_path, failures=1, error=NotFound("gone"))
    with pytest.raises(NotFound):
        RetryingBackend(missing, QUICK).list("/")
    assert missing.calls["list"] == 1


def test_a_submit_is_retried_only_with_an_idempotency_token(tmp_path):
    flaky = _with_notebook(FlakyBackend(tmp_path, failures=1))
    backend = RetryingBackend(flaky, QUICK)
    with pytest.raises(TransientError):
        backend.submit_run(_spec(None))  # a retry could start a second run
    assert flaky.calls["submit_run"] == 1
    flaky.calls.clear()
    run_id = backend.submit_run(_spec("token-1"))
    assert flaky.calls["submit_run"] == 2
    assert backend.submit_run(_spec("token-1")) == run_id  # the token answers the same run
    LocalBackend.cancel_run(flaky, run_id)


def test_cancel_and_move_are_sent_once(tmp_path):
    flaky = FlakyBackend(tmp_path, failures=1)
    backend = RetryingBackend(flaky, QUICK)
    with pytest.raises(TransientError):
        backend.cancel_run(1)
    with pytest.raises(TransientError):
        backend.move_file("dbfs:/a", "dbfs:/b")
    assert flaky.calls == {"cancel_run": 1, "move_file": 1}


def test_wrapping_never_nests_and_a_caller_can_ask_another_policy(tmp_path):
    local = LocalBackend(tmp_path)
    wrapped = RetryingBackend(RetryingBackend(local, QUICK))
    assert wrapped.inner is local
    assert without_retries(wrapped) is local and without_retries(local) is local
    patient = with_policy(wrapped, RetryPolicy(attempts=12))
    assert isinstance(patient, RetryingBackend) and patient.inner is local and patient.policy.attempts == 12
    assert with_policy(wrapped, NO_RETRIES) is local
    assert isinstance(with_policy(local, QUICK), RetryingBackend)


def test_the_wrapper_forwards_name_capabilities_and_the_throttle_listener(tmp_path):
    local = LocalBackend(tmp_path)
    backend = RetryingBackend(local, QUICK)
    assert backend.name == "local"
    assert backend.run_log_location(7) == local.run_log_location(7) == str(tmp_path / "runs" / "7")
    assert backend.task_result(7) is None  # no such run: nothing recorded
    with backend.throttle_listener(lambda: None):
        pass
    backend.close()


# -- capabilities: the base's defaults, the local backend's answers ----------------------------
def _unsupported(self, *args, **kwargs):
    raise NotImplementedError


# a backend with the abstract operations only (none is called here): what the base defaults answer
Minimal = type("Minimal", (Backend,), {name: _unsupported for name in Backend.__abstractmethods__})


def test_the_base_defaults_say_nothing_is_known():
    backend = Minimal()
    assert backend.task_result(1) is None
    assert backend.run_log_location(1) is None


def test_the_databricks_backend_keeps_the_defaults_without_a_request(tmp_path, monkeypatch):
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "databrickscfg").write_text("")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "databrickscfg"))
    with start_emulator(tmp_path / "root") as emulator:
        backend = databricks_backend(emulator.url)
        before = len(emulator.requests)
        assert backend.task_result(1) is None and backend.run_log_location(1) is None
        assert len(emulator.requests) == before
