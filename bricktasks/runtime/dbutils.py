"""`dbutils` for a local run: widgets, notebook, fs, secrets, library, jobs (task values).

Each piece behaves as on Databricks where a notebook can tell the difference: widget
values come from the run's parameters, else the declared default, else
InputWidgetNotDefined; `notebook.exit` ends the run with a value; `notebook.run` runs
another notebook in a fresh namespace and returns its exit value; secrets come from the
run's context (their values are redacted from every output by the executor);
`jobs.taskValues` passes values from a task to the tasks downstream of it (taskvalues.py).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bricktasks.runtime.errors import InputWidgetNotDefined, SecretNotFound
from bricktasks.runtime.fsutils import FsUtils
from bricktasks.runtime.taskvalues import JobsUtils

__all__ = ["NotebookExit", "Widgets", "NotebookUtils", "SecretsUtils", "LibraryUtils", "DBUtils", "SecretScope", "SecretMetadata"]


class NotebookExit(BaseException):
    """Raised by `dbutils.notebook.exit`; a BaseException so `except Exception` in a notebook cannot stop it."""

    def __init__(self, value: str | None) -> None:
        super().__init__(value)
        self.value = value


class Widgets:
    """dbutils.widgets: declared defaults, overridden by the run's parameters."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self._layers: list[dict[str, str]] = [dict(parameters)]
        self._declared: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:  # noqa: N803
        self._declared[name] = str(defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._choice(name, defaultValue, choices)

    def combobox(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._declared[name] = str(defaultValue)

    def multiselect(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:  # noqa: N803
        self._choice(name, defaultValue, choices)

    def get(self, name: str) -> str:
        for layer in reversed(self._layers):
            if name in layer:
                return layer[name]
        if name in self._declared:
            return self._declared[name]
        raise InputWidgetNotDefined(
            f"No input widget named {name} is defined",
            f"declare it with dbutils.widgets.text({name!r}, <default>) or pass it as a parameter",
        )

    def getArgument(self, name: str, optional: str | None = None) -> str | None:  # noqa: N802
        """The legacy form of get: returns `optional` instead of failing when given."""
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            if optional is not None:
                return optional
            raise

    def getAll(self) -> dict[str, str]:  # noqa: N802
        values = dict(self._declared)
        for layer in self._layers:
            values.update(layer)
        return values

    def remove(self, name: str) -> None:
        self._declared.pop(name, None)

    def removeAll(self) -> None:  # noqa: N802
        self._declared.clear()

    @contextlib.contextmanager
    def overlay(self, values: dict[str, str]) -> Iterator[None]:
        """`%run ./x $name=value`: the child sees these values while it runs."""
        self._layers.append(dict(values))
        try:
            yield
        finally:
            self._layers.pop()

    def _choice(self, name: str, default: str, choices: list[str]) -> None:
        if str(default) not in [str(choice) for choice in choices]:
            raise ValueError(f"Default value {default!r} of widget {name!r} is not one of the choices {list(choices)!r}")
        self._declared[name] = str(default)


class NotebookUtils:
    """dbutils.notebook: exit, run, and the notebook path through the context entry point."""

    def __init__(self, run: Callable[[str, int, dict[str, str]], str], path: str) -> None:
        self._run = run
        self._path = path

    def exit(self, value: Any = None) -> None:
        raise NotebookExit(None if value is None else str(value))

    def run(self, path: str, timeout_seconds: int = 0, arguments: dict[str, Any] | None = None) -> str:
        """Run a notebook in a fresh namespace; its exit value (or "" without one). Raises if it fails."""
        return self._run(path, int(timeout_seconds or 0), {str(k): str(v) for k, v in (arguments or {}).items()})

    @property
    def entry_point(self) -> _EntryPoint:
        """Enough of the JVM entry point for `...getContext().notebookPath().get()`."""
        return _EntryPoint(self._path)


@dataclass(frozen=True)
class SecretScope:
    name: str


@dataclass(frozen=True)
class SecretMetadata:
    key: str


class SecretsUtils:
    """dbutils.secrets from the run's context."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        self._secrets = secrets

    def get(self, scope: str, key: str) -> str:
        try:
            return self._secrets[scope][key]
        except KeyError:
            raise SecretNotFound(
                f"Secret does not exist with scope: {scope} and key: {key}",
                "locally, secrets come from BRICKTASKS_SECRET__<SCOPE>__<KEY> variables or the emulator's secrets/put",
            ) from None

    def getBytes(self, scope: str, key: str) -> bytes:  # noqa: N802
        # surrogateescape: a secret put as bytes that are not UTF-8 comes back byte for byte
        return self.get(scope, key).encode("utf-8", "surrogateescape")

    def listScopes(self) -> list[SecretScope]:  # noqa: N802
        return [SecretScope(name) for name in sorted(self._secrets)]

    def list(self, scope: str) -> list[SecretMetadata]:
        if scope not in self._secrets:
            raise SecretNotFound(f"Scope {scope} does not exist")
        return [SecretMetadata(key) for key in sorted(self._secrets[scope])]


class LibraryUtils:
    """dbutils.library: install a wheel or egg on the run's path (as %pip does)."""

    def __init__(self, install: Callable[[str], None]) -> None:
        self._install = install

    def install(self, path: str) -> bool:
        self._install(path)
        return True

    def restartPython(self) -> None:  # noqa: N802
        print("restartPython() does nothing locally: libraries are already on the run's path")


class DBUtils:
    """The `dbutils` object of one notebook run."""

    def __init__(
        self, widgets: Widgets, notebook: NotebookUtils, fs: FsUtils, secrets: SecretsUtils, library: LibraryUtils, jobs: JobsUtils
    ) -> None:
        self.widgets = widgets
        self.notebook = notebook
        self.fs = fs
        self.secrets = secrets
        self.library = library
        self.jobs = jobs

    def __repr__(self) -> str:
        return "<local dbutils: widgets, notebook, fs, secrets, library, jobs>"


class _Value:
    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value


class _EntryPoint:
    """`entry_point.getDbutils().notebook().getContext().notebookPath().get()`, the common idiom."""

    def __init__(self, path: str) -> None:
        self._path = path

    def getDbutils(self) -> _EntryPoint:  # noqa: N802
        return self

    def notebook(self) -> _EntryPoint:
        return self

    def getContext(self) -> _EntryPoint:  # noqa: N802
        return self

    def notebookPath(self) -> _Value:  # noqa: N802
        return _Value(self._path)
