"""`dbutils.jobs.taskValues` for a local run: values a task sets, read by the tasks downstream of it.

Each task of a run is its own process, so the values go through files: a task's values are
one JSON object `{key: value}` in `<task_values_dir>/<quote(task_key, safe="")>.json`, written
through a temp file and `os.replace`, so a reader in another process sees the old object or
the new one, never half of one. The file name is the task key percent-escaped with nothing
kept (`/` becomes `%2F`), so no task key reaches a path as it was given.

Rules (docs.databricks.com/jobs/task-values.html, reference section 3):
- `set(key, value)`: key a non-empty str; value representable as JSON, at most 48 KiB of
  it; a later set of the same key replaces the value.
- `get(taskKey, key, default=None, debugValue=None)`: taskKey must be a task of the run
  and upstream of this one (reading any other task is unconfirmed on Databricks: we refuse
  it, so a notebook that works here works there); a key never set gives `default` when it
  is not None, else ValueError; the value comes back as its JSON round trip gives it.
- Outside a job run (no task in the context): `get` returns `debugValue` and insists on
  one, `set` stores nothing, as the SDK's local dbutils does. `set` still checks its
  arguments, so a value Databricks would refuse fails here too.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from bricktasks.runtime.context import RuntimeContext

__all__ = ["MAX_VALUE_BYTES", "TaskValues", "JobsUtils", "values_file"]

MAX_VALUE_BYTES = 48 * 1024  # of a value's JSON representation
_NO_DEBUG_VALUE = "Must pass debugValue when calling get outside of a job context. debugValue cannot be None."


def values_file(values_dir: Path, task_key: str) -> Path:
    """The file of a task's values: its key escaped whole, so `..` or `/` in it stay one plain name."""
    name = urllib.parse.quote(task_key, safe="") + ".json"  # quote leaves "." alone: "...json" is still one name
    return values_dir / name


class TaskValues:
    """dbutils.jobs.taskValues of one task run (or of a run outside any job)."""

    def __init__(
        self,
        task_key: str | None,
        values_dir: Path | None,
        upstream_task_keys: tuple[str, ...] = (),
        run_task_keys: tuple[str, ...] = (),
    ) -> None:
        self._task_key = task_key
        self._values_dir = values_dir
        self._upstream = frozenset(upstream_task_keys)
        # a context that names no tasks of the run still knows these two are in it
        self._run_tasks = tuple(run_task_keys) or tuple(sorted({*upstream_task_keys, *([task_key] if task_key else [])}))

    @classmethod
    def for_context(cls, ctx: RuntimeContext) -> TaskValues:
        return cls(ctx.task_key, ctx.task_values_dir, ctx.upstream_task_keys, ctx.run_task_keys)

    @property
    def in_job(self) -> bool:
        return self._task_key is not None and self._values_dir is not None

    def set(self, key: str, value: Any) -> None:
        """Set a value of this task; downstream tasks of the same run read it with get."""
        _check_key(key)
        text = _json_of(key, value)
        task_key, values_dir = self._task_key, self._values_dir
        if task_key is None or values_dir is None:
            return  # outside a job run: the SDK's local dbutils stores nothing either
        values = self._read(task_key)  # only this task's process writes its file: no lost update
        values[key] = json.loads(text)
        _write_atomically(values_file(values_dir, task_key), json.dumps(values))

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:  # noqa: N803  (Databricks' names)
        """A value set by an upstream task of this run; outside a job run, debugValue."""
        if not self.in_job:
            if debugValue is None:
                raise TypeError(_NO_DEBUG_VALUE)
            return debugValue
        _check_key(key)
        self._check_readable(taskKey)
        values = self._read(taskKey)
        if key in values:
            return values[key]
        if default is not None:
            return default
        raise ValueError(
            f"Task {taskKey!r} set no value for key {key!r} in this run; "
            f"pass default=... to get, or set the key in {taskKey!r} before this task runs"
        )

    # -- inside -------------------------------------------------------------------------
    def _check_readable(self, task_key: str) -> None:
        if not isinstance(task_key, str):
            raise TypeError(f"taskKey must be a str (a task_key of this run), not {type(task_key).__name__}")
        if task_key not in self._run_tasks:
            raise ValueError(f"No task {task_key!r} in this run; its tasks are {', '.join(self._run_tasks)}")
        if task_key not in self._upstream:
            raise ValueError(
                f"Task {task_key!r} must be upstream of {self._task_key!r} to read its values: "
                f"add it to {self._task_key!r}'s depends_on (directly or through other tasks)"
            )

    def _read(self, task_key: str) -> dict[str, Any]:
        if self._values_dir is None:
            return {}
        file = values_file(self._values_dir, task_key)
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}  # the task set nothing (yet)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the task values of {task_key!r} from {file}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"the task values file of {task_key!r} ({file}) does not hold a JSON object")
        return data


class JobsUtils:
    """dbutils.jobs: only taskValues exists on Databricks too."""

    def __init__(self, task_values: TaskValues) -> None:
        self.taskValues = task_values  # noqa: N815  (Databricks' name)


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"A task value's key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("A task value's key must not be empty")


def _json_of(key: str, value: Any) -> str:
    """The value's JSON (Python's default form, the one Databricks measures); TypeError if it has none."""
    try:
        text = json.dumps(value, allow_nan=False)  # NaN and Infinity are not JSON
    except (TypeError, ValueError) as exc:
        raise TypeError(f"The value of task value {key!r} cannot be represented as JSON: {exc}") from None
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise ValueError(
            f"The value of task value {key!r} is {size} bytes as JSON, over the limit of {MAX_VALUE_BYTES} bytes (48 KiB); "
            "store large data in a table or a file and pass its name instead"
        )
    return text


def _write_atomically(file: Path, text: str) -> None:
    """Readers in other processes see the old file or the new one: write a temp file, then replace."""
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=file.parent, prefix=".values-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, file)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
