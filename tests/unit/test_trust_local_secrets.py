"""Local runs' secrets (issue 11, item 4): `BRICKTASKS_SECRET__<scope>__<key>` in `.env` counts (the
process environment wins, as for every setting), and the values reach a run without ever being written
under its folder: not while it runs, not after it ends, is cancelled, or its supervisor is killed."""
from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from bricktasks.backends.base import NotebookTask, RunSpec
from bricktasks.backends.local import LocalBackend
from bricktasks.backends.retrying import without_retries
from bricktasks.errors import ConfigError
from bricktasks.project import load_project, local_secrets, open_backend
from bricktasks.testing.projectcopy import wait_until

SECRET = "s3cr3t-" + "Zq" * 10  # distinctive: found nowhere by chance
HEADER = "# Databricks notebook source\n"
USES_THE_SECRET = HEADER + """import hashlib

value = dbutils.secrets.get("ml", "api")
print("the secret is", value)
dbutils.notebook.exit(hashlib.sha256(value.encode()).hexdigest())
"""
# holds its run open until the test lets it go (a file `go` in the run's folder, its working folder)
HOLDS_THE_SECRET = HEADER + """import os, time

value = dbutils.secrets.get("ml", "api")
open("started", "w").write("yes")
while not os.path.exists("go"):
    time.sleep(0.05)
dbutils.notebook.exit("let go")
"""


# -- .env -------------------------------------------------------------------------------------
def test_secrets_in_dotenv_count_and_the_process_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "BRICKTASKS_SECRET__ml__api=from-dotenv\n"
        "BRICKTASKS_SECRET__ml__both=dotenv-loses\n"
        "BRICKTASKS_SECRET__db__pass__word='quoted # kept'\n"
        "BRICKTASKS_ENV=dev\n"
    )
    environ = {"BRICKTASKS_SECRET__ml__both": "env-wins", "BRICKTASKS_SECRET__other__k": "only-env", "HOME": "/x"}
    assert local_secrets(environ, tmp_path) == {
        "ml": {"api": "from-dotenv", "both": "env-wins"},
        "db": {"pass__word": "quoted # kept"},
        "other": {"k": "only-env"},
    }


def test_an_empty_process_value_does_not_hide_the_dotenv_one(tmp_path: Path) -> None:
    # as for every setting: an empty variable is unset
    (tmp_path / ".env").write_text("BRICKTASKS_SECRET__ml__api=from-dotenv\n")
    assert local_secrets({"BRICKTASKS_SECRET__ml__api": ""}, tmp_path) == {"ml": {"api": "from-dotenv"}}


@pytest.mark.parametrize("name", ["BRICKTASKS_SECRET__ml", "BRICKTASKS_SECRET____api", "BRICKTASKS_SECRET__ml__", "BRICKTASKS_SECRET__"])
def test_a_secret_name_without_scope_or_key_in_dotenv_is_refused_without_its_value(tmp_path: Path, name: str) -> None:
    (tmp_path / ".env").write_text(f"{name}={SECRET}\n")
    with pytest.raises(ConfigError) as refused:
        local_secrets({}, tmp_path)
    line = refused.value.one_line()
    assert line.startswith(f"{name} in .env names no secret scope and key") and "BRICKTASKS_SECRET__<scope>__<key>" in line
    assert SECRET not in line
    assert local_secrets({name: SECRET}) == {}  # in the environment, a stray variable is ignored


def test_without_a_dotenv_only_the_environment_counts(tmp_path: Path) -> None:
    assert local_secrets({"BRICKTASKS_SECRET__ml__api": "e"}, tmp_path) == {"ml": {"api": "e"}}
    assert local_secrets({"BRICKTASKS_SECRET__ml__api": "e"}) == {"ml": {"api": "e"}}


def test_the_local_backend_of_a_project_gets_the_dotenv_secrets(tmp_path: Path) -> None:
    (tmp_path / "forecasting").mkdir()
    (tmp_path / ".env").write_text(f"BRICKTASKS_SECRET__ml__api={SECRET}\n")
    project = load_project(tmp_path, {})
    backend = without_retries(open_backend(project, {}))
    assert isinstance(backend, LocalBackend)
    assert backend.runs.secrets == {"ml": {"api": SECRET}}


# -- nothing on disk ----------------------------------------------------------------------------
def _backend(tmp_path: Path, source: str) -> LocalBackend:
    backend = LocalBackend(tmp_path / "root", secrets={"ml": {"api": SECRET}})
    backend.mkdirs("/Projects/p")
    backend.import_object("/Projects/p/Main", source.encode(), format="SOURCE", language="PYTHON")
    return backend


def _submit(backend: LocalBackend) -> int:
    spec = RunSpec(run_name="secrets", tasks=(NotebookTask(task_key="main", notebook_path="/Projects/p/Main"),), timeout_seconds=120)
    return backend.submit_run(spec)


def _files_holding_the_secret(root: Path) -> list[str]:
    needle = SECRET.encode()
    return [str(path.relative_to(root)) for path in sorted(root.rglob("*")) if path.is_file() and needle in path.read_bytes()]


def _processes_holding_the_secret(root: Path) -> list[str]:
    """The run's processes (supervisor and runtime: their command lines name the root) whose command
    line or environment holds the value; both are readable by any other process of the user."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if str(root).encode() not in cmdline:
                continue
            if SECRET.encode() in (proc / "environ").read_bytes() + cmdline:
                found.append(proc.name)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def _run_processes(root: Path) -> int:
    return sum(1 for proc in Path("/proc").glob("[0-9]*/cmdline") if str(root).encode() in _readable(proc))


def _readable(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return b""


def _terminal(backend: LocalBackend, run_id: int):
    return wait_until(lambda: (run := backend.get_run(run_id)).is_terminal and run, timeout=120, interval=0.1)


def test_a_finished_run_used_the_secret_redacted_it_and_left_no_copy(tmp_path: Path) -> None:
    backend = _backend(tmp_path, USES_THE_SECRET)
    run = _terminal(backend, _submit(backend))
    assert run.result_state == "SUCCESS", run.state_message
    task = run.tasks[0]
    assert backend.get_run_output(task.run_id).result == hashlib.sha256(SECRET.encode()).hexdigest()  # it had the value
    logs = (backend.runs.run_dir(task.run_id) / "stdout.txt").read_text()
    assert "the secret is [REDACTED]" in logs
    assert _files_holding_the_secret(backend.root) == []
    assert not list(backend.root.glob("runs/*/secrets.json"))


@pytest.mark.parametrize("ending", ["cancelled", "supervisor killed", "let finish"])
def test_a_run_holds_no_copy_of_the_secret_while_it_runs_nor_after_it_ends(tmp_path: Path, ending: str) -> None:
    backend = _backend(tmp_path, HOLDS_THE_SECRET)
    run_id = _submit(backend)
    try:
        _end_a_held_run(backend, run_id, ending)
    finally:
        if not backend.get_run(run_id).is_terminal:
            backend.cancel_run(run_id)  # a failed check leaves no notebook waiting for 'go'


def _end_a_held_run(backend: LocalBackend, run_id: int, ending: str) -> None:
    task_id = backend.runs.read(run_id)["tasks"][0]
    task_dir = backend.runs.run_dir(task_id)
    wait_until(lambda: (task_dir / "started").exists(), timeout=120, interval=0.1)
    assert _files_holding_the_secret(backend.root) == []  # while the notebook holds the value
    assert _run_processes(backend.root) >= 2  # the supervisor and the runtime are there to be looked at
    assert _processes_holding_the_secret(backend.root) == []
    if ending == "cancelled":
        backend.cancel_run(run_id)
    elif ending == "supervisor killed":
        os.kill(backend.runs.read(run_id)["supervisor"]["pid"], signal.SIGKILL)
    else:
        (task_dir / "go").write_text("")
    run = _terminal(backend, run_id)
    expected = {"cancelled": "CANCELED", "supervisor killed": "FAILED", "let finish": "SUCCESS"}[ending]
    assert run.result_state == expected, run.state_message
    time.sleep(0.3)  # anything a dying process would still write
    assert _files_holding_the_secret(backend.root) == []


def test_secrets_that_do_not_reach_the_supervisor_whole_fail_the_run_before_any_notebook(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root", secrets={"ml": {"api": 5}})  # type: ignore[dict-item]  # not a string: refused
    backend.mkdirs("/Projects/p")
    backend.import_object("/Projects/p/Main", b"open('ran', 'w').write('yes')\n", format="SOURCE", language="PYTHON")
    run = _terminal(backend, _submit(backend))
    assert (run.life_cycle_state, run.result_state, run.state_message) == ("INTERNAL_ERROR", "FAILED", "The run's secrets did not arrive")
    assert [task.life_cycle_state for task in run.tasks] == ["INTERNAL_ERROR"]
    assert not list(backend.root.glob("runs/*/ran")) and not list(backend.root.glob("runs/*/context.json"))
