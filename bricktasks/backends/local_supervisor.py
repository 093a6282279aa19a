"""The process behind one local run: runs the run's task graph, one runtime subprocess per task.

    python -m bricktasks.backends.local_supervisor <local root> <run id>

Started detached by `LocalRunStore.submit` (and by `repair`, for the tasks a repair reruns), which
sends the run's secrets on its stdin; `local_scheduler` runs the tasks, `local_worker` each task's
process, which gets the secrets on its stdin in turn: they are never in a file, argv or an environment.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from bricktasks.backends.base import TERMINAL_STATES
from bricktasks.backends.local_paths import LocalPaths
from bricktasks.backends.local_runs import LocalRunStore, now_ms, read_secrets
from bricktasks.backends.local_scheduler import RunScheduler

__all__ = ["supervise"]

QUEUE_POLL_SECONDS = 0.1


def supervise(root: Path, run_id: int, secrets: dict[str, dict[str, str]] | None) -> int:
    """Run every task of the run not ended yet; `secrets` None means they did not arrive, which fails the run."""
    store = LocalRunStore(LocalPaths(root))
    if secrets is None:
        failed = {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED", "state_message": "The run's secrets did not arrive"}
        for task_id in store.read(run_id)["tasks"]:
            if store.read(task_id)["state"]["life_cycle_state"] not in TERMINAL_STATES:
                store.update(task_id, state=failed, end_time=now_ms())
        store.finish(run_id, failed)
        return 1
    # a SIGTERM (cancel sends one before its SIGKILL) unwinds the scheduler, which kills its tasks' groups
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    while not store.may_start(run_id):  # a queued run of a saved job waits for its turn (a cancel kills us here)
        time.sleep(QUEUE_POLL_SECONDS)
    if store.read(run_id)["state"]["life_cycle_state"] in TERMINAL_STATES:
        return 0
    RunScheduler(store, run_id, secrets).run()
    return 0


def _received_secrets() -> dict[str, dict[str, str]] | None:
    try:
        return read_secrets(sys.stdin.buffer)
    except ValueError:
        return None


if __name__ == "__main__":
    sys.exit(supervise(Path(sys.argv[1]), int(sys.argv[2]), _received_secrets()))
