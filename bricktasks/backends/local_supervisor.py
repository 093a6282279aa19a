"""The process behind one local run: runs each task's notebook in a runtime subprocess.

    python -m bricktasks.backends.local_supervisor <local root> <run id>

Started detached by `LocalRunStore.submit`, which sends the run's secrets on its stdin. Each task
runs as `python -m bricktasks.runtime` in a process group of its own (recorded in the task's
record, so cancel can kill it, Spark JVM included), under the run's timeout, and gets the secrets
on its stdin in turn: they are never in a file, argv or an environment.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bricktasks.backends.local_paths import LocalPaths
from bricktasks.backends.local_runs import (
    LocalRunStore,
    kill_process_group,
    now_ms,
    process_start_time,
    read_secrets,
    send_secrets,
    without_credentials,
)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: be killed if the supervisor dies, so no task outlives its run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass
    os.setsid()


def _library_paths(paths: LocalPaths, libraries: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Local files of the whl/egg libraries, and problems with the others (as a cluster would report)."""
    files, problems = [], []
    for library in libraries:
        if "whl" in library or "egg" in library:
            location = library.get("whl") or library["egg"]
            local = paths.file_path(location)
            if local.is_file():
                files.append(str(local))
            else:
                problems.append(f"library {location} does not exist")
        elif "pypi" in library:
            package = library["pypi"].get("package", "")
            name = package.split("==")[0].split(">")[0].split("<")[0].split("[")[0].strip()
            try:
                metadata.version(name)
            except metadata.PackageNotFoundError:
                problems.append(f"pypi library {package} is not installed locally and there is no network")
        elif "requirements" in library:
            problems.append("requirements.txt libraries are not supported by the local backend")
    return files, problems


def worker_environment(environ: dict[str, str] | os._Environ, paths: LocalPaths) -> dict[str, str]:
    """The notebook's environment: ours minus credentials, plus where Volumes and DBFS live locally."""
    env = without_credentials(environ)
    env["BRICKTASKS_VOLUMES_DIR"] = str(paths.volumes)
    env["BRICKTASKS_DBFS_DIR"] = str(paths.dbfs)
    env["MPLBACKEND"] = "Agg"
    return env


def run_task(
    store: LocalRunStore, task_id: int, libraries: list[str], deadline: float | None, secrets: dict[str, dict[str, str]]
) -> str:
    """Run one task to its end; returns its result state."""
    record = store.read(task_id)
    folder = store.run_dir(task_id)
    context = {  # no secrets: they go down the worker's stdin
        "local_root": str(store.paths.root),
        "run_dir": str(folder),
        "parameters": record.get("base_parameters", {}),
        "overrides": {},
        "libraries": libraries,
    }
    context_file = folder / "context.json"
    fd = os.open(context_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(context, handle)
    store.update(task_id, state={"life_cycle_state": "RUNNING", "result_state": None, "state_message": "In run"}, start_time=now_ms())
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
    try:
        code = worker.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_process_group(worker.pid)
        worker.wait()
        state = {"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT", "state_message": "Run timed out"}
        return store.update(task_id, state=state, end_time=now_ms())["state"]["result_state"]
    kill_process_group(worker.pid, grace_seconds=0.2)  # anything the notebook left behind in its group
    result = store.result(task_id)
    if result is None:
        message = f"The notebook process exited with code {code} before reporting a result"
        state = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": message}
    elif result.get("status") == "SUCCESS":
        state = {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
    else:
        state = {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": result.get("error") or "Notebook failed"}
    return store.update(task_id, state=state, end_time=now_ms())["state"]["result_state"]


def supervise(root: Path, run_id: int, secrets: dict[str, dict[str, str]] | None) -> int:
    """Run every task of the run; `secrets` None means they did not arrive, which fails the run."""
    paths = LocalPaths(root)
    store = LocalRunStore(paths)
    record = store.read(run_id)
    if secrets is None:
        failed = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "The run's secrets did not arrive"}
        for task_id in record["tasks"]:
            store.update(task_id, state=failed, end_time=now_ms())
        store.update(run_id, state=failed, end_time=now_ms())
        return 1
    spec = record["spec"]
    timeout = spec.get("timeout_seconds") or 0
    deadline = time.monotonic() + timeout if timeout > 0 else None
    store.update(run_id, state={"life_cycle_state": "RUNNING", "result_state": None, "state_message": "In run"})
    libraries, problems = _library_paths(paths, spec.get("libraries", []))
    results = []
    for task_id in record["tasks"]:
        if store.read(run_id)["state"]["life_cycle_state"] != "RUNNING":
            break  # cancelled meanwhile
        if problems:
            state = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "; ".join(problems)}
            results.append(store.update(task_id, state=state, end_time=now_ms())["state"]["result_state"])
            continue
        results.append(run_task(store, task_id, libraries, deadline, secrets))
    if problems:
        final = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "; ".join(problems)}
    elif "TIMEDOUT" in results:
        final = {"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT", "state_message": "Run timed out"}
    elif results and all(result == "SUCCESS" for result in results):
        final = {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
    else:
        final = {"life_cycle_state": "TERMINATED", "result_state": "FAILED", "state_message": "A task failed"}
    store.update(run_id, state=final, end_time=now_ms())
    return 0


def _received_secrets() -> dict[str, dict[str, str]] | None:
    try:
        return read_secrets(sys.stdin.buffer)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1]), int(sys.argv[2]), _received_secrets()))
