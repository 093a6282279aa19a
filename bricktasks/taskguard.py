"""`bricktask`: an invoke task with the flags every task shares (--quiet, --json) and one way to end.

The body is written as `def body(c, out: TaskOutput, <its own flags>)`; invoke sees the body's
own flags plus --quiet and --json (the guard builds that signature, invoke reads it). The guard
turns project errors into one line and an exit code (never a traceback for a user error) and,
with --json, prints the summary object on every ending: success, failure, refusal, signal.
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from invoke import Exit, task

from bricktasks.errors import BricktasksError
from bricktasks.runs import Interrupted
from bricktasks.taskoutput import TaskOutput

__all__ = ["bricktask", "COMMON_HELP"]

COMMON_HELP = {
    "quiet": "print only warnings, errors and the result line",
    "json": "print one JSON object with the outcome on stdout (human lines go to stderr)",
}


def _invoke_signature(body: Callable[..., Any]) -> inspect.Signature:
    """The body's signature without `out`, plus quiet=False and json=False."""
    params = [param for param in inspect.signature(body).parameters.values() if param.name != "out"]
    common = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False) for name in COMMON_HELP]
    return inspect.Signature(params + common)


def bricktask(*, help: dict[str, str], **task_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Like invoke's @task(help=..., ...), for a body taking `(c, out, ...)`."""

    def decorate(body: Callable[..., int | None]) -> Any:
        aliases = task_options.get("aliases") or []
        name = aliases[0] if aliases else body.__name__.replace("_", "-")

        @functools.wraps(body)
        def wrapper(c, *args: Any, quiet: bool = False, json: bool = False, **kwargs: Any) -> None:
            out = TaskOutput(name, quiet=quiet, json_summary=json)
            try:
                code = body(c, out, *args, **kwargs) or 0
            except BricktasksError as exc:
                _end(out, exc.exit_code, exc.one_line())
            except Interrupted as exc:
                _end(out, exc.exit_code, f"interrupted by {exc}; the run was cancelled")
            except KeyboardInterrupt:
                _end(out, 130, "interrupted")
            except Exception as exc:
                # a bug: the traceback follows on stderr, but a --json caller still gets its object
                out.finish(1, f"internal error: {type(exc).__name__}: {exc}")
                raise
            out.finish(code)
            if code:
                raise Exit(code=code)

        wrapper.__signature__ = _invoke_signature(body)  # what invoke parses flags from
        return task(help={**help, **COMMON_HELP}, **task_options)(wrapper)

    return decorate


def _end(out: TaskOutput, code: int, message: str) -> None:
    out.fail(message)
    out.finish(code, message)
    raise Exit(code=code) from None
