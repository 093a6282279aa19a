"""SDK errors -> the project's error types, each with a hint that says what to do next.

The error_code in the body decides first (it is more precise than the status), then the
status the SDK's exception class stands for. A retry budget that ran out (the SDK raises
TimeoutError from the last failure) is RateLimited or TransientError by what was retried.
Any token passed in is scrubbed from messages.
"""
from __future__ import annotations

import re

from bricktasks.backends.databricks_sdk import DatabricksError
from bricktasks.errors import (
    AlreadyExists,
    AuthError,
    BackendError,
    BricktasksError,
    Conflict,
    DirectoryNotEmpty,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TransientError,
)

__all__ = ["translate_error", "error_code"]

# the Jobs API answers an unknown run or job with 400 INVALID_PARAMETER_VALUE and these words (reference 1.9)
_MISSING_RUN = re.compile(r"(Run|Job) \d+ does not exist")
_RATE_CODES = ("REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED", "TOO_MANY_REQUESTS")
_AUTH_HINT = "check DATABRICKS_TOKEN (or the profile in ~/.databrickscfg): it is missing, expired or for another workspace"


def translate_error(exc: Exception, target: str, secret: str | None = None) -> BricktasksError:
    """The project's error for an SDK failure on `target`, with a hint saying what to do."""
    message = str(exc) or type(exc).__name__
    if secret:
        message = message.replace(secret, "***")
    if isinstance(exc, TimeoutError) and exc.__cause__ is not None:
        # the SDK's retry budget ran out; what it kept retrying decides the kind
        cause = exc.__cause__
        if isinstance(cause, DatabricksError) and (_status(cause) == 429 or error_code(cause) in _RATE_CODES):
            return RateLimited(f"{target}: still rate limited after retrying ({message})", "run fewer requests at once", 1.0)
        return TransientError(f"{target}: {message} ({cause})", "the workspace kept failing or was unreachable; retry later")
    if not isinstance(exc, DatabricksError):
        if isinstance(exc, (OSError, TimeoutError)) or "ConnectionError" in type(exc).__name__:
            return TransientError(f"{target}: cannot reach the workspace ({message})", "check DATABRICKS_HOST and the network")
        return BackendError(f"{target}: {message}")
    code, status = error_code(exc), _status(exc)
    if status == 401 or code in ("UNAUTHENTICATED", "401") or "invalid access token" in message.lower():
        return AuthError(f"{target}: the workspace refused the credentials ({message})", _AUTH_HINT)
    if status == 403 or code == "PERMISSION_DENIED":
        return PermissionDenied(f"{target}: {message}", f"ask a workspace admin for CAN_MANAGE on {target}")
    if status == 429 or code in _RATE_CODES:
        return RateLimited(f"{target}: {message}", "run fewer requests at once", getattr(exc, "retry_after_secs", None))
    if status in (503, 504) or code in ("TEMPORARILY_UNAVAILABLE", "DEADLINE_EXCEEDED"):
        return TransientError(f"{target}: {message}", "the workspace is busy; retry later")
    if code in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
        return AlreadyExists(f"{target}: {message}", "pass overwrite to replace it")
    if code in ("DIRECTORY_NOT_EMPTY", "FILES_API_DIRECTORY_IS_NOT_EMPTY"):
        return DirectoryNotEmpty(f"{target}: {message}", "pass recursive to delete its contents")
    if status == 404 or code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or _MISSING_RUN.search(message):
        return NotFound(f"{target}: {message}")
    if status == 409:
        return Conflict(f"{target}: {message}")
    if status == 400 or code:
        return InvalidRequest(f"{target}: {message}")
    return BackendError(f"{target}: {message}")


def error_code(exc: DatabricksError) -> str:
    return str(getattr(exc, "error_code", None) or "")


_CLASS_STATUS = {"Unauthenticated": 401, "PermissionDenied": 403, "NotFound": 404, "ResourceConflict": 409,
                 "TooManyRequests": 429, "TemporarilyUnavailable": 503, "DeadlineExceeded": 504, "BadRequest": 400}


def _status(exc: DatabricksError) -> int | None:
    for kind in type(exc).__mro__:  # the SDK's classes stand for HTTP statuses
        if kind.__name__ in _CLASS_STATUS:
            return _CLASS_STATUS[kind.__name__]
    return None
