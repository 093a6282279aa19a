"""The project's error types. Foreign exceptions are translated into these at the boundary.

Every error carries a message that says what went wrong and, where we know it, a hint
that says what to do next. The task layer turns them into one-line messages and exit codes.
"""
from __future__ import annotations

__all__ = [
    "BricktasksError",
    "ConfigError",
    "UserInputError",
    "BackendError",
    "NotFound",
    "AlreadyExists",
    "Conflict",
    "DirectoryNotEmpty",
    "InvalidRequest",
    "PermissionDenied",
    "AuthError",
    "RateLimited",
    "TransientError",
]


class BricktasksError(Exception):
    """Root of every error this project raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint as the single line a user sees."""
        text = self.message.rstrip(".")
        if self.hint:
            text = f"{text}; {self.hint}"
        return " ".join(text.split())


class ConfigError(BricktasksError):
    """A setting is missing or malformed (exit 2, nothing changed)."""

    exit_code = 2


class UserInputError(BricktasksError):
    """An argument given to a task is invalid (exit 2, nothing changed)."""

    exit_code = 2


class BackendError(BricktasksError):
    """A workspace, file or jobs operation failed."""


class NotFound(BackendError):
    """The path, run or object does not exist."""


class AlreadyExists(BackendError):
    """The destination exists and overwrite was not asked for."""


class Conflict(BackendError):
    """The destination is of the wrong kind (a file where a folder is expected, or back)."""


class DirectoryNotEmpty(BackendError):
    """A non-recursive delete of a folder that still has children."""


class InvalidRequest(BackendError):
    """The backend refused the request's parameters."""


class PermissionDenied(BackendError):
    """The credentials are valid but lack the permission for this operation."""


class AuthError(BackendError):
    """The credentials were refused (missing, expired or wrong token)."""

    exit_code = 2


class RateLimited(BackendError):
    """Too many requests; retry after `retry_after` seconds."""

    def __init__(self, message: str, hint: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class TransientError(BackendError):
    """A temporary failure (503, dropped connection) that a retry may cure."""
