"""What one notebook run gets from its caller: folders, parameters, overrides, libraries, secrets,
and for a task of a job run, which task it is and where the run's task values live.

The local backend's supervisor writes it as JSON next to the run and starts
`python -m bricktasks.runtime --context FILE --secrets-from-stdin`. The file never holds the
run's secrets: they come down the runtime's stdin (`read_secrets`), so nothing under the run's
folder keeps them once the run ends, however it ends. It is still written owner-only (0600):
parameters may be sensitive too.

A run without `task_key` (a notebook executed directly, in-process tests) is outside a job:
`dbutils.jobs.taskValues` then behaves as the SDK's local dbutils (see taskvalues.py).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bricktasks.pipcache import PipRequest, pip_request_from_json, pip_request_json
from bricktasks.runtime.paths import normal_workspace_path, to_local_path, workspace_file

__all__ = ["RuntimeContext", "read_secrets"]


def read_secrets(stream: IO[bytes]) -> dict[str, dict[str, str]]:
    """Secrets sent down a pipe as JSON {scope: {key: value}}; ValueError unless they arrived whole."""
    data = json.loads(stream.read() or b"null")
    if not isinstance(data, dict) or not all(
        isinstance(keys, dict) and all(isinstance(value, str) for value in keys.values()) for keys in data.values()
    ):
        raise ValueError("the run's secrets did not arrive")
    return {str(scope): {str(key): value for key, value in keys.items()} for scope, keys in data.items()}


@dataclass(frozen=True)
class RuntimeContext:
    """Inputs of one run. Secrets never appear in its repr."""

    local_root: Path
    run_dir: Path
    parameters: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    libraries: tuple[str, ...] = ()
    pip_requests: tuple[PipRequest, ...] = ()  # cluster pypi/requirements libraries, installed before the first cell
    secrets: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    spark_master: str = "local[2]"
    # the task of a job run this is (None: outside a job run); the supervisor fills these in
    task_key: str | None = None
    task_values_dir: Path | None = None
    upstream_task_keys: tuple[str, ...] = ()  # transitive, as the supervisor computes them
    run_task_keys: tuple[str, ...] = ()  # every task of the run

    def __post_init__(self) -> None:
        # accept str paths and lists from callers; normalise once so every user sees one form
        object.__setattr__(self, "local_root", Path(self.local_root))
        object.__setattr__(self, "run_dir", Path(self.run_dir))
        object.__setattr__(self, "libraries", tuple(str(library) for library in self.libraries))
        object.__setattr__(self, "parameters", {str(k): str(v) for k, v in self.parameters.items()})
        object.__setattr__(self, "overrides", {normal_workspace_path(k): v for k, v in self.overrides.items()})
        if self.task_values_dir is not None:
            object.__setattr__(self, "task_values_dir", Path(self.task_values_dir))
        object.__setattr__(self, "upstream_task_keys", tuple(str(key) for key in self.upstream_task_keys))
        object.__setattr__(self, "run_task_keys", tuple(str(key) for key in self.run_task_keys))

    # -- paths ------------------------------------------------------------------
    def to_local_path(self, path: str) -> Path:
        """The local file behind a `dbfs:/`, `/dbfs/` or `/Volumes/` path (anything else is refused)."""
        return to_local_path(self.local_root, path)

    def workspace_file(self, path: str) -> Path:
        """The local file of a workspace path (`/Projects/x` or `/Workspace/Projects/x`)."""
        return workspace_file(self.local_root, path)

    def notebook_source(self, notebook_path: str) -> str | None:
        """The source of the notebook at a workspace path: an override, else `<path>.py`, else None."""
        plain = normal_workspace_path(notebook_path)
        if plain in self.overrides:
            return self.overrides[plain]
        file = self.workspace_file(plain + ".py") if not plain.endswith(".py") else None
        if file is not None and file.is_file():
            return file.read_text(encoding="utf-8")
        return None

    # -- JSON -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything but the secrets, which are never written down (see read_secrets)."""
        return {
            "local_root": str(self.local_root),
            "run_dir": str(self.run_dir),
            "parameters": dict(self.parameters),
            "overrides": dict(self.overrides),
            "libraries": list(self.libraries),
            "pip_requests": [pip_request_json(request) for request in self.pip_requests],
            "spark_master": self.spark_master,
            "task_key": self.task_key,
            "task_values_dir": None if self.task_values_dir is None else str(self.task_values_dir),
            "upstream_task_keys": list(self.upstream_task_keys),
            "run_task_keys": list(self.run_task_keys),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeContext:
        """Read a context; only the two folders are required (a context without the task fields is
        outside a job run). Secrets in it are ignored: they never belong there."""
        return cls(
            local_root=Path(data["local_root"]),
            run_dir=Path(data["run_dir"]),
            parameters=dict(data.get("parameters") or {}),
            overrides=dict(data.get("overrides") or {}),
            libraries=tuple(data.get("libraries") or ()),
            pip_requests=tuple(pip_request_from_json(request) for request in data.get("pip_requests") or ()),
            spark_master=data.get("spark_master") or "local[2]",
            task_key=data.get("task_key") or None,
            task_values_dir=Path(data["task_values_dir"]) if data.get("task_values_dir") else None,
            upstream_task_keys=tuple(data.get("upstream_task_keys") or ()),
            run_task_keys=tuple(data.get("run_task_keys") or ()),
        )

    def to_json(self, path: Path) -> None:
        """Write the context file owner-only, without the secrets."""
        path = Path(path)
        temp = path.with_name(f".{path.name}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=1)
        os.chmod(temp, 0o600)  # in case the temp file existed with wider rights
        os.replace(temp, path)

    @classmethod
    def from_json(cls, path: Path) -> RuntimeContext:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
