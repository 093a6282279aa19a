"""One attempt of one task of a local run: its notebook in a runtime subprocess.

The process runs `python -m bricktasks.runtime` in a process group of its own (recorded in the task
run's record, so cancel can kill its whole tree, Spark JVM included), dies with the supervisor that
started it, and gets the run's secrets on its stdin: they are never in a file, argv or an environment.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from bricktasks.backends.local_libraries import TaskLibraries
from bricktasks.backends.local_paths import LocalPaths
from bricktasks.backends.local_runs import LocalRunStore, now_ms, process_start_time, send_secrets, without_credentials
from bricktasks.dag.outcomes import TASK_FAILURE_MESSAGE
from bricktasks.pipcache import pip_request_json

__all__ = ["worker_environment", "start_task", "task_outcome", "RUNNING"]

PR_SET_PDEATHSIG = 1
RUNNING = {"life_cycle_state": "RUNNING", "result_state": None, "state_message": "In run"}


def _die_with_parent() -> None:
    """In the child before exec: be killed if the supervisor dies, so no task outlives its run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    os.setsid()


def worker_environment(environ: Mapping[str, str], paths: LocalPaths) -> dict[str, str]:
    """The notebook's environment: ours minus credentials, plus where Volumes and DBFS live locally."""
    env = without_credentials(environ)
    env["BRICKTASKS_VOLUMES_DIR"] = str(paths.volumes)
    env["BRICKTASKS_DBFS_DIR"] = str(paths.dbfs)
    env["MPLBACKEND"] = "Agg"
    return env


def start_task(
    store: LocalRunStore, task_id: int, *, libraries: TaskLibraries, dag_context: dict[str, Any],
    secrets: dict[str, dict[str, str]],
) -> subprocess.Popen[bytes]:
    """Start a task run's notebook; `dag_context` is what the runtime needs of the run's graph
    (task_key, task_values_dir, upstream_task_keys, run_task_keys). The runtime installs the
    libraries' pip requests before the first cell."""
    record = store.read(task_id)
    folder = store.run_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    context = {  # no secrets: they go down the worker's stdin
        "local_root": str(store.paths.root),
        "run_dir": str(folder),
        "parameters": record.get("base_parameters", {}),
        "overrides": {},
        "libraries": libraries.files,
        "pip_requests": [pip_request_json(request) for request in libraries.pip_requests],
        **dag_context,
    }
    context_file = folder / "context.json"
    fd = os.open(context_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(context, handle)
    started = {"start_time": now_ms()} if not record.get("start_time") else {}  # a cluster wait may have started it
    store.update(task_id, state=RUNNING, **started)
    command = [
        sys.executable, "-m", "bricktasks.runtime", "--context", str(context_file), "--secrets-from-stdin",
        "--notebook", record["notebook_path"], "--result", str(folder / "result.json"),
    ]
    with open(folder / "stdout.txt", "wb") as log:
        worker = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=worker_environment(os.environ, store.paths),
            preexec_fn=_die_with_parent,
        )
    send_secrets(worker.stdin, secrets)
    store.update(task_id, worker={"pid": worker.pid, "start": process_start_time(worker.pid)})
    return worker


def task_outcome(store: LocalRunStore, task_id: int, exit_code: int) -> dict[str, Any]:
    """The state a task run ends in once its process exited: the notebook's error stays in its
    result (get_run_output's `error`); the state says what Databricks says of a failed task."""
    result = store.result(task_id)
    if result is None:
        message = f"The notebook process exited with code {exit_code} before reporting a result"
        return {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": message}
    if result.get("library_error"):  # as a cluster that could not install a library: the notebook never ran
        return {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": result["library_error"]}
    if result.get("status") == "SUCCESS":
        return {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
    return {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": TASK_FAILURE_MESSAGE}
