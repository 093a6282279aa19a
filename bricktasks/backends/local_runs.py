"""Run records of the local backend: submit, state, cancel, output.

A run is a folder `<root>/runs/<id>/` holding `run.json`. Submitting starts a detached
supervisor process (`python -m bricktasks.backends.local_supervisor`) in its own session; the
supervisor starts one runtime process per task, each in its own process group, so cancel
can kill a task's whole tree (the Spark JVM included). Records live on disk, so a run
survives the process that submitted it. Every read-modify-write of a record holds a lock,
and a terminal state is never overwritten: a cancel racing a finishing run keeps whichever
came first.

A run's record keeps the submitted runs/submit body (`spec`), the task runs shown by runs/get
(`tasks`: each task's attempts, a retry right after the attempt it retries) and its
`repair_history`; each task run's record keeps its task's settings as submitted and its
`attempt_number`. A repair replaces a rerun task's attempts in `tasks` by one new task run and
starts a new supervisor for the tasks not ended; the older task runs stay on disk, listed in the
history. The supervisor's scheduling is in `local_scheduler`.

The run's secrets never touch the disk: they go to the supervisor through its stdin pipe and from
it to each task's runtime the same way, so no file under `runs/` holds them at any moment, and
there is nothing to clean up when a run is cancelled or its supervisor is killed (a file written
0600 and deleted at the end would survive a SIGKILL). Neither process gets them, nor the
submitter's credentials, in its environment, which any process of the user can read.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bricktasks.backends.base import TERMINAL_STATES, ExistingCluster, RepairAttempt, Run, RunOutput, RunSpec, TaskRun
from bricktasks.backends.local_jobs import JobRunRequest
from bricktasks.backends.local_paths import LocalPaths, store_lock
from bricktasks.backends.local_repair import RepairRequest, check_spec, tasks_to_rerun
from bricktasks.backends.local_secrets import LocalSecretStore
from bricktasks.backends.submit_json import submit_body, task_fields
from bricktasks.errors import InvalidRequest, NotFound

__all__ = [
    "LocalRunStore", "StoredRun", "now_ms", "process_alive", "kill_process_group", "without_credentials", "send_secrets", "read_secrets",
]

RUN_FILE = "run.json"
# credentials of whoever submits a run (a developer's shell, a CI agent, the emulator): a cluster
# never has them, so neither do a local run's processes
CREDENTIAL_VARIABLES = frozenset({
    "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_PASSWORD", "DATABRICKS_AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET",
    "BRICKTASKS_EMULATOR_TOKEN",  # bricktasks.emulator's own token (named here: backends never import the emulator)
})
CREDENTIAL_PREFIXES = ("BRICKTASKS_SECRET__",)


def without_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment minus every credential a run must not see."""
    return {
        name: value
        for name, value in environ.items()
        if name not in CREDENTIAL_VARIABLES and not name.startswith(CREDENTIAL_PREFIXES)
    }


def send_secrets(stream: IO[bytes] | None, secrets: Mapping[str, Mapping[str, str]]) -> None:
    """Write the secrets to a child's stdin and close it (a child that died first just misses them)."""
    if stream is None:
        return
    with contextlib.suppress(BrokenPipeError, OSError), stream:
        stream.write(json.dumps(secrets).encode())


def read_secrets(stream: IO[bytes]) -> dict[str, dict[str, str]]:
    """The secrets a parent sent on our stdin: {scope: {key: value}}; ValueError if they did not arrive whole.

    The same format as bricktasks.runtime.context.read_secrets, kept twice on purpose: importing the
    runtime package from here would load the whole notebook runtime into every backend user."""
    data = json.loads(stream.read() or b"null")
    if not isinstance(data, dict) or not all(
        isinstance(keys, dict) and all(isinstance(value, str) for value in keys.values()) for keys in data.values()
    ):
        raise ValueError("the run's secrets did not arrive")
    return {str(scope): {str(key): value for key, value in keys.items()} for scope, keys in data.items()}


def now_ms() -> int:
    return int(time.time() * 1000)


def process_start_time(pid: int) -> str | None:
    """The process's start time from /proc (guards against a reused pid), or None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie has finished; only its exit status is left to collect
        return None
    return fields[19]


def process_alive(pid: int | None, start_time: str | None) -> bool:
    if not pid:
        return False
    return process_start_time(pid) == start_time


def kill_process_group(pgid: int, grace_seconds: float = 1.0) -> None:
    """SIGTERM a process group, then SIGKILL whatever is still there after the grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not _group_exists(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _group_exists(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass(frozen=True)
class StoredRun:
    """What the store keeps of a one-time run or of one of its task runs, beyond their `Run`:
    how they hang together and what a task runs (the emulator answers the Jobs API from it)."""

    run_id: int
    run_name: str
    parent_run_id: int | None = None  # a task run's run; None for a run
    task_run_ids: tuple[int, ...] = ()  # a run's task runs, in the order of its tasks; () for a task run
    notebook_path: str | None = None  # a task run's notebook
    base_parameters: dict[str, str] = field(default_factory=dict)
    start_time: int = 0  # epoch milliseconds; 0 until it started
    end_time: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # a task run's runs/submit fields, as task_fields made them
    attempt_number: int = 0  # a task run's attempt: 0, then one more per retry

    @property
    def is_task(self) -> bool:
        return self.parent_run_id is not None


class LocalRunStore:
    """Run records under `<root>/runs`, and the processes behind them.

    `get`, `stored_run`, `result` and `output` are the typed surface; `read` and `update` are the
    raw JSON records, for the store itself and its supervisor."""

    def __init__(
        self, paths: LocalPaths, secrets: dict[str, dict[str, str]] | None = None, *, cluster_start_s: float = 0.0,
        clusters: frozenset[str] | None = None,
    ) -> None:
        self.paths = paths
        self.secrets = secrets or {}
        self.secret_store = LocalSecretStore(paths.secrets)
        self.cluster_start_s = cluster_start_s  # each run records it at submit: its supervisor reads it there
        # the all-purpose clusters an existing_cluster_id may name; None: any (local compute runs every task)
        self.clusters = clusters

    def run_secrets(self) -> dict[str, dict[str, str]]:
        """What a run's dbutils.secrets reads, as its supervisor starts: the stored scopes (the
        emulator's Secrets API), with the secrets given to the backend (local variables) over them."""
        merged = self.secret_store.values()
        for scope, keys in self.secrets.items():
            merged[scope] = {**merged.get(scope, {}), **keys}
        return merged

    def _missing_cluster(self, spec: RunSpec) -> str | None:
        """The first existing_cluster_id of the spec that names no cluster here, or None."""
        if self.clusters is None:
            return None
        for task in spec.tasks:
            compute = task.compute or spec.compute  # a task naming none runs on the run's compute
            if isinstance(compute, ExistingCluster) and compute.cluster_id not in self.clusters:
                return compute.cluster_id
        return None

    # -- records ----------------------------------------------------------------
    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return store_lock(self.paths.runs)

    def run_dir(self, run_id: int) -> Path:
        return self.paths.runs / str(int(run_id))

    def read(self, run_id: int) -> dict[str, Any]:
        """The raw record (the store's own format); NotFound if there is none."""
        try:
            return json.loads((self.run_dir(run_id) / RUN_FILE).read_text())
        except (FileNotFoundError, ValueError):
            raise NotFound(f"Run {run_id} does not exist.") from None

    def _write(self, record: dict[str, Any]) -> None:
        folder = self.run_dir(record["run_id"])
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{RUN_FILE}.tmp"
        temp.write_text(json.dumps(record, indent=1))
        os.replace(temp, folder / RUN_FILE)

    def update(self, run_id: int, **changes: Any) -> dict[str, Any]:
        """Change a record under the lock; state changes to a terminal record are ignored."""
        with self._locked():
            record = self.read(run_id)
            if "state" in changes and record["state"]["life_cycle_state"] in TERMINAL_STATES:
                changes.pop("state")
                changes.pop("end_time", None)
            record.update(changes)
            self._write(record)
            return record

    def _next_id(self) -> int:
        counter = self.paths.runs / ".next-id"
        value = int(counter.read_text()) if counter.exists() else 1
        counter.write_text(str(value + 1))
        return value

    # -- submit -------------------------------------------------------------------
    def submit(self, spec: RunSpec, job: JobRunRequest | None = None) -> int:
        """Start a one-time run, or with `job` a run of that saved job (run-now): beyond the job's
        max_concurrent_runs it waits QUEUED when queueing is on, else it is SKIPPED at once."""
        check_spec(spec)  # InvalidRequest before anything is written
        if job is not None:
            self.list(job_id=job.job_id)  # ends the runs whose supervisor died, so they do not count as active
        with self._locked():
            token_file = None
            if spec.idempotency_token:
                digest = hashlib.sha256(spec.idempotency_token.encode()).hexdigest()
                token_file = self.paths.runs / "tokens" / digest
                if token_file.exists():
                    return int(token_file.read_text())  # a retried submit: same run, nothing started
            run_id = self._next_id()
            admission = self._admission(job) if job is not None else "start"
            missing_cluster = self._missing_cluster(spec) if admission != "skip" else None
            if missing_cluster is not None:  # the run exists and fails at once, as Databricks answers it
                admission = "no-cluster"
            task_ids = []
            for task in spec.tasks:
                task_id = self._next_id()
                task_ids.append(task_id)
                self._write(_task_record(task_id, run_id, spec.run_name, task_fields(spec, task), attempt_number=0))
            started = now_ms()
            record: dict[str, Any] = {
                "run_id": run_id,
                "run_name": spec.run_name,
                "spec": {**submit_body(spec), "tags": dict(spec.tags)},
                "tasks": task_ids,
                "cluster_start_s": self.cluster_start_s,
                "repair_history": [{"type": "ORIGINAL", "start_time": started, "end_time": 0, "task_run_ids": task_ids}],
                "state": {"life_cycle_state": "PENDING", "result_state": None, "state_message": "Waiting to start"},
                "start_time": started,
                "end_time": 0,
            }
            if job is not None:
                record.update(_job_fields(job, admission, started))
            if missing_cluster is not None:
                record.update(state=_no_cluster_state(missing_cluster), end_time=started)
            if admission in ("skip", "no-cluster"):
                record["repair_history"][0]["end_time"] = started
            self._write(record)
            if token_file is not None:
                token_file.parent.mkdir(exist_ok=True)
                token_file.write_text(str(run_id))
        if admission in ("skip", "no-cluster"):
            for task_id in task_ids:
                self.update(task_id, state=dict(record["state"]), end_time=started)
        else:
            self._start_supervisor(run_id)
        return run_id

    def _admission(self, job: JobRunRequest) -> str:
        """'start', 'queue' or 'skip' for a new run of `job`, from its runs still going (under the lock)."""
        active = sum(1 for record in self._job_records(job.job_id) if record["state"]["life_cycle_state"] not in TERMINAL_STATES)
        if active < job.max_concurrent_runs:
            return "start"
        return "queue" if job.queue_enabled and job.max_concurrent_runs > 0 else "skip"

    def _job_records(self, job_id: int) -> Iterator[dict[str, Any]]:
        """The raw records of a saved job's runs (task runs are not theirs: they carry no job_id)."""
        for folder in self.paths.runs.iterdir() if self.paths.runs.is_dir() else []:
            if folder.name.isdigit() and (folder / RUN_FILE).exists():
                with contextlib.suppress(ValueError):
                    record = json.loads((folder / RUN_FILE).read_text())
                    if record.get("job_id") == job_id and "tasks" in record:
                        yield record

    def may_start(self, run_id: int) -> bool:
        """Whether a queued run of a job may leave the queue: it is the oldest queued one and the
        job's running runs are below its limit (a run that is not queued may always go on)."""
        record = self.read(run_id)
        if record["state"]["life_cycle_state"] != "QUEUED":
            return True
        others = [other for other in self._job_records(record["job_id"]) if other["run_id"] != run_id]
        running = sum(1 for other in others if other["state"]["life_cycle_state"] not in TERMINAL_STATES | {"QUEUED"})
        older_queued = any(other["state"]["life_cycle_state"] == "QUEUED" and other["run_id"] < run_id for other in others)
        return not older_queued and running < int(record.get("max_concurrent_runs") or 1)

    def add_attempt(self, previous_id: int, state: dict[str, Any]) -> int:
        """A retry of a task run: a new task run of the same task, one attempt on, listed right after it."""
        with self._locked():
            previous = self.read(previous_id)
            parent = self.read(previous["parent_run_id"])
            task_id = self._next_id()
            record = _task_record(
                task_id, parent["run_id"], previous["run_name"], previous["settings"], attempt_number=previous["attempt_number"] + 1
            )
            record["state"] = state
            self._write(record)
            tasks = parent["tasks"]
            tasks.insert(tasks.index(previous_id) + 1, task_id)
            parent["repair_history"][-1]["task_run_ids"].append(task_id)
            self._write(parent)
            return task_id

    def finish(self, run_id: int, state: dict[str, Any]) -> None:
        """End a run (unless it already ended) and the newest entry of its repair history."""
        with self._locked():
            record = self.read(run_id)
            if record["state"]["life_cycle_state"] in TERMINAL_STATES:
                return
            ended = now_ms()
            record.update(state=state, end_time=ended)
            record["repair_history"][-1]["end_time"] = ended
            self._write(record)

    # -- repair -------------------------------------------------------------------
    def repair(self, run_id: int, request: RepairRequest) -> int:
        """Rerun some tasks of an ended run as new task runs of the same run; returns the repair id."""
        self.get(run_id)  # a run whose supervisor died is ended first, its tasks too (outside the lock: that takes it)
        with self._locked():
            record = self.read(run_id)
            if "tasks" not in record:
                raise InvalidRequest(f"Run {run_id} is a task run; repair its parent run", "pass the run id that runs submit returned")
            newest = {task.task_key: task for task in self._task_runs(record)}
            keys = tasks_to_rerun(run_id, _run_from_record(record, tuple(newest.values())), record["spec"], request)
            repair_id = self._next_id()
            new_ids = {}
            for key in keys:
                previous = self.read(newest[key].run_id)
                new_ids[key] = self._next_id()
                self._write(_task_record(new_ids[key], run_id, previous["run_name"], previous["settings"], attempt_number=0))
            record["tasks"] = _replace_chains(record["tasks"], self._keys_of(record["tasks"]), new_ids)
            started = now_ms()
            record["repair_history"].append(
                {"type": "REPAIR", "id": repair_id, "start_time": started, "end_time": 0, "task_run_ids": list(new_ids.values())}
            )
            record.update(state={"life_cycle_state": "PENDING", "result_state": None, "state_message": "Waiting to start"}, end_time=0)
            record.pop("supervisor", None)
            self._write(record)
        self._start_supervisor(run_id)
        return repair_id

    def _keys_of(self, task_ids: list[int]) -> dict[int, str]:
        return {task_id: self.read(task_id)["task_key"] for task_id in task_ids}

    def _task_runs(self, record: dict[str, Any]) -> list[TaskRun]:
        """The newest attempt of each task, in the order of the run's tasks."""
        newest: dict[str, TaskRun] = {}
        for task_id in record.get("tasks", []):
            task = self._task_run(self.read(task_id))
            known = newest.get(task.task_key)
            if known is None or (task.attempt_number, task.run_id) > (known.attempt_number, known.run_id):
                newest[task.task_key] = task
        return list(newest.values())

    def _start_supervisor(self, run_id: int) -> None:
        folder = self.run_dir(run_id)
        with open(folder / "supervisor.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bricktasks.backends.local_supervisor", str(self.paths.root), str(run_id)],
                stdin=subprocess.PIPE,  # the secrets, never a file, argv or the environment
                stdout=log,
                stderr=subprocess.STDOUT,
                env=without_credentials(os.environ),
                start_new_session=True,  # its own process group: the caller's Ctrl-C must not kill it directly
                close_fds=True,
            )
        send_secrets(process.stdin, self.run_secrets())
        self.update(run_id, supervisor={"pid": process.pid, "start": process_start_time(process.pid)})

    # -- state --------------------------------------------------------------------
    def get(self, run_id: int) -> Run:
        record = self._checked(self.read(run_id))
        tasks = tuple(self._task_run(self._checked(self.read(task_id))) for task_id in record.get("tasks", []))
        return _run_from_record(record, tasks)

    def newest_task_runs(self, run_id: int) -> dict[str, TaskRun]:
        """task_key -> the newest attempt of that task, in the order of the run's tasks."""
        return {task.task_key: task for task in self._task_runs(self.read(run_id))}

    def stored_run(self, run_id: int) -> StoredRun:
        """A run's or a task run's place and notebook, as recorded; NotFound if there is none."""
        record = self.read(run_id)
        parent = record.get("parent_run_id") if "tasks" not in record else None
        return StoredRun(
            run_id=int(record["run_id"]),
            run_name=str(record.get("run_name", "")),
            parent_run_id=int(parent) if parent is not None else None,
            task_run_ids=tuple(int(task_id) for task_id in record.get("tasks", [])),
            notebook_path=record.get("notebook_path"),
            base_parameters={str(key): str(value) for key, value in (record.get("base_parameters") or {}).items()},
            start_time=int(record.get("start_time", 0) or 0),
            end_time=int(record.get("end_time", 0) or 0),
            settings=dict(record.get("settings") or {}),
            attempt_number=int(record.get("attempt_number", 0) or 0),
        )

    def _task_run(self, record: dict[str, Any]) -> TaskRun:
        state = record["state"]
        return TaskRun(
            task_key=record["task_key"],
            run_id=record["run_id"],
            life_cycle_state=state["life_cycle_state"],
            result_state=state["result_state"],
            state_message=state["state_message"],
            attempt_number=int(record.get("attempt_number", 0)),
            start_time=int(record.get("start_time", 0) or 0),
            end_time=int(record.get("end_time", 0) or 0),
            depends_on=tuple(record.get("depends_on", ())),
            run_if=record.get("run_if", "ALL_SUCCESS"),
            notebook_path=record.get("notebook_path", ""),
        )

    def _checked(self, record: dict[str, Any]) -> dict[str, Any]:
        """Mark a run whose supervisor died without finishing it, and its unfinished tasks, as INTERNAL_ERROR
        (a task of a cancelled run as CANCELED: its canceller, which killed the supervisor, is ending it)."""
        if record["state"]["life_cycle_state"] in TERMINAL_STATES:
            return record
        parent = record if "tasks" in record else self.read(record["parent_run_id"])
        supervisor = parent.get("supervisor")
        if supervisor is None or process_alive(supervisor["pid"], supervisor["start"]):
            return record
        dead = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "The run's process ended unexpectedly"}
        if parent is record:
            self.finish(record["run_id"], dead)
            return self.read(record["run_id"])
        if parent["state"]["result_state"] == "CANCELED":
            dead = dict(parent["state"])
        return self.update(record["run_id"], state=dead, end_time=now_ms())

    def list(self, *, active_only: bool = False, job_id: int | None = None, every: bool = False) -> list[Run]:
        """One-time runs, or with `job_id` that saved job's runs (a deleted job's too), or with `every`
        all runs of both kinds (what runs/list answers without a job_id); newest first."""
        runs = []
        for folder in self.paths.runs.iterdir() if self.paths.runs.is_dir() else []:
            if not folder.name.isdigit() or not (folder / RUN_FILE).exists():
                continue
            record = json.loads((folder / RUN_FILE).read_text())
            if "tasks" not in record or not every and record.get("job_id") != job_id:
                continue
            run = self.get(record["run_id"])
            if not (active_only and run.is_terminal):
                runs.append(run)
        return sorted(runs, key=lambda run: run.run_id, reverse=True)

    # -- cancel -------------------------------------------------------------------
    def cancel(self, run_id: int) -> None:
        """Cancel the whole run (a task run's id cancels its run): stop the supervisor first, so it
        starts nothing more, then kill every running task's process group and end what did not end."""
        record = self.read(run_id)
        if "tasks" not in record:
            record = self.read(record["parent_run_id"])
        if record["state"]["life_cycle_state"] in TERMINAL_STATES:
            return
        run_id = record["run_id"]
        cancelled = {"life_cycle_state": "TERMINATED", "result_state": "CANCELED", "state_message": "Run cancelled by user"}
        self.finish(run_id, cancelled)  # a supervisor between two steps sees it and stops
        supervisor = record.get("supervisor") or {}
        if process_alive(supervisor.get("pid"), supervisor.get("start")):
            kill_process_group(supervisor["pid"])
        for task_id in self.read(run_id).get("tasks", []):  # read again: a retry may have been added meanwhile
            task = self.read(task_id)
            if task["state"]["life_cycle_state"] in TERMINAL_STATES:
                continue
            worker = task.get("worker") or {}
            if worker.get("pid"):
                kill_process_group(worker["pid"])
            self.update(task_id, state=cancelled, end_time=now_ms())

    # -- delete -------------------------------------------------------------------
    def delete(self, run_id: int) -> None:
        """runs/delete: a finished run and its task runs leave the store. An active run is refused (its
        processes would write into a removed folder), and so is a task run's id: the API deletes runs."""
        self._checked(self.read(run_id))  # a run whose supervisor died is ended first (it takes the lock itself)
        with self._locked():
            record = self.read(run_id)
            if "tasks" not in record:
                raise InvalidRequest(f"Run {run_id} is a task run: delete its run {record.get('parent_run_id')} instead.")
            if record["state"]["life_cycle_state"] not in TERMINAL_STATES:
                raise InvalidRequest(f"Run {run_id} is active: cancel it, wait for it to end, then delete it.")
            for task_id in record.get("tasks", []):
                shutil.rmtree(self.run_dir(task_id), ignore_errors=True)
            shutil.rmtree(self.run_dir(run_id))

    # -- output -------------------------------------------------------------------
    def result(self, task_run_id: int) -> dict[str, Any] | None:
        path = self.run_dir(task_run_id) / "result.json"
        return json.loads(path.read_text()) if path.exists() else None

    def output(self, task_run_id: int) -> RunOutput:
        record = self.read(task_run_id)
        if "tasks" in record:
            raise InvalidRequest(
                "Retrieving the output of runs with multiple tasks is not supported.",
                "ask for the output of each task's run_id",
            )
        result = self.result(task_run_id) or {}
        logs_path = self.run_dir(task_run_id) / "stdout.txt"
        logs = logs_path.read_text(errors="replace")[-20000:] if logs_path.exists() else None
        failed = record["state"]["result_state"] not in (None, "SUCCESS")
        error = result.get("error") or (record["state"]["state_message"] if failed else None)
        return RunOutput(result=result.get("exit_value"), error=error, error_trace=result.get("error_trace"), logs=logs)

    def export_html(self, run_id: int) -> str:
        from bricktasks.backends.notebook_html import render_run_html  # import late: only exports need it (markdown)

        record = self.read(run_id)
        task_ids = record.get("tasks", [run_id])
        results = [self.result(task_id) for task_id in task_ids]
        return render_run_html(record.get("run_name", f"run {run_id}"), [r for r in results if r])


def _task_record(task_id: int, run_id: int, run_name: str, settings: dict[str, Any], *, attempt_number: int) -> dict[str, Any]:
    """A new task run's record: its settings as submitted (what runs/get echoes) and its state."""
    notebook = settings["notebook_task"]
    return {
        "run_id": task_id,
        "parent_run_id": run_id,
        "task_key": settings["task_key"],
        "run_name": run_name,
        "notebook_path": notebook["notebook_path"],
        "base_parameters": dict(notebook.get("base_parameters") or {}),
        "settings": settings,
        "attempt_number": attempt_number,
        "depends_on": [dependency["task_key"] for dependency in settings.get("depends_on", [])],
        "run_if": settings.get("run_if", "ALL_SUCCESS"),
        "state": {"life_cycle_state": "PENDING", "result_state": None, "state_message": ""},
        "start_time": 0,
        "end_time": 0,
    }


# a run beyond max_concurrent_runs without a queue (result and run_type: reference 1.6; messages unconfirmed)
def _no_cluster_state(cluster_id: str) -> dict[str, Any]:
    """A run whose existing_cluster_id names no cluster: it ends at once with Databricks' message
    (a real runs/get-output of a job run whose cluster was deleted, polar-rams/databricks-sdk-golang#6)."""
    return {
        "life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED",
        "state_message": f"Run executed on existing cluster ID {cluster_id} failed since the cluster does not exist.",
    }


SKIPPED_STATE = {
    "life_cycle_state": "SKIPPED", "result_state": "MAXIMUM_CONCURRENT_RUNS_REACHED",
    "state_message": "Skipped: the job's max_concurrent_runs is reached and queueing is disabled",
}
QUEUED_STATE = {"life_cycle_state": "QUEUED", "result_state": None, "state_message": "Queued: the job's max_concurrent_runs is reached"}


def _job_fields(job: JobRunRequest, admission: str, started: int) -> dict[str, Any]:
    """What a run of a saved job records beyond a one-time run's: whose it is, how it started, its state."""
    fields: dict[str, Any] = {
        "job_id": job.job_id, "run_type": "JOB_RUN", "trigger": job.trigger,
        "max_concurrent_runs": job.max_concurrent_runs, "job_parameters": [dict(p) for p in job.job_parameters],
    }
    if job.notebook_params:
        fields["overriding_parameters"] = {"notebook_params": dict(job.notebook_params)}
    if admission == "skip":
        fields.update(state=dict(SKIPPED_STATE), end_time=started)
    elif admission == "queue":
        fields["state"] = dict(QUEUED_STATE)
    return fields


def _replace_chains(task_ids: list[int], keys: dict[int, str], new_ids: dict[str, int]) -> list[int]:
    """The run's task list with every attempt of a rerun task replaced by its one new task run, in place."""
    replaced: list[int] = []
    for task_id in task_ids:
        key = keys[task_id]
        if key not in new_ids:
            replaced.append(task_id)
        elif new_ids[key] not in replaced:
            replaced.append(new_ids[key])
    return replaced


def _repair_attempt(entry: dict[str, Any]) -> RepairAttempt:
    return RepairAttempt(
        repair_id=int(entry["id"]) if entry.get("type") == "REPAIR" else None,
        start_time=int(entry.get("start_time", 0) or 0),
        end_time=int(entry.get("end_time", 0) or 0),
        task_run_ids=tuple(int(task_id) for task_id in entry.get("task_run_ids", [])),
    )


def _run_from_record(record: dict[str, Any], tasks: tuple[TaskRun, ...]) -> Run:
    state = record["state"]
    return Run(
        run_id=record["run_id"],
        run_name=record.get("run_name", ""),
        life_cycle_state=state["life_cycle_state"],
        result_state=state["result_state"],
        state_message=state["state_message"],
        run_page_url=None,
        start_time=record.get("start_time", 0),
        end_time=record.get("end_time", 0),
        tasks=tasks,
        repair_history=tuple(_repair_attempt(entry) for entry in record.get("repair_history", [])),
        job_id=int(record["job_id"]) if record.get("job_id") is not None else None,
    )
