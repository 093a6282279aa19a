"""Errors of the local notebook runtime.

They share the project's error root, and the ones a caller could reasonably catch as a
built-in kind (a bad argument, a missing file) also subclass that built-in.
"""
from __future__ import annotations

from bricktasks.errors import BricktasksError

__all__ = [
    "NotebookRuntimeError",
    "NotebookSourceError",
    "RuntimePathError",
    "NotebookNotFound",
    "InputWidgetNotDefined",
    "SecretNotFound",
    "LibraryInstallError",
    "MagicCommandError",
    "NotebookRunFailed",
]


class NotebookRuntimeError(BricktasksError):
    """Root of the errors the notebook runtime raises on purpose."""


class NotebookSourceError(NotebookRuntimeError, ValueError):
    """The text is not a Databricks source-format notebook."""


class RuntimePathError(NotebookRuntimeError, ValueError):
    """A path cannot be mapped into the local root (wrong scheme, '..' parts)."""


class NotebookNotFound(NotebookRuntimeError, FileNotFoundError):
    """No notebook (and no override) exists at a workspace path."""


class InputWidgetNotDefined(NotebookRuntimeError):
    """A widget was read that was neither declared nor passed as a parameter."""


class SecretNotFound(NotebookRuntimeError):
    """The secret scope or key is not in the run's secrets."""


class LibraryInstallError(NotebookRuntimeError):
    """A %pip install or library.install cannot be done offline."""


class MagicCommandError(NotebookRuntimeError):
    """A magic command is malformed, unsupported or failed (%sh exit code, %fs usage)."""


class NotebookRunFailed(NotebookRuntimeError):
    """dbutils.notebook.run: the child notebook failed (or timed out)."""
