"""`bricktask`: an invoke task with the flags every task shares (--quiet, --json) and one way to end.

The body is written as `def body(c, out: TaskOutput, <its own flags>)`; invoke sees the body's
own flags plus --quiet and --json (the guard builds that signature, invoke reads it). The guard
turns project errors into one line and an exit code (never a traceback for a user error) and,
with --json, prints the summary object on every ending: success, failure, refusal, signal.
"""
from __future__ import annotations

import atexit
import functools
import gc
import inspect
from collections.abc import Callable
from typing import Any

from invoke import Exit, task

from bricktasks.cli.invocation import TaskOutput
from bricktasks.errors import BricktasksError
from bricktasks.interrupts import Interrupted, deferred, handle_signals

__all__ = ["bricktask", "COMMON_HELP", "task_arguments"]

# At exit the interpreter's last collection walks every object still alive, the SDK's thousands of
# classes among them: 0.1-0.3 s after a task's last line on the 2-core CI machine, for memory the
# exit frees anyway. Frozen, they are skipped. Registered at import, before the tasks run, so it
# runs after every atexit handler registered later (atexit is last in, first out).
atexit.register(gc.freeze)

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
            # from the first line of the task to its last: a signal in any window (the build, the
            # uploads, right after a submit, the wait, the reports) ends it here, run cancelled
            with handle_signals():
                message = None
                try:
                    code = body(c, out, *args, **kwargs) or 0
                except BricktasksError as exc:
                    code, message = exc.exit_code, exc.one_line()
                except Interrupted as exc:
                    code, message = exc.exit_code, exc.one_line()
                except KeyboardInterrupt:
                    code, message = 130, "interrupted"
                except Exception as exc:
                    # a bug: the traceback follows on stderr, but a --json caller still gets its object
                    out.finish(1, f"internal error: {type(exc).__name__}: {exc}")
                    raise
                with deferred(reraise=False):  # a signal now would cut the last line (or the JSON object) in half
                    if message is not None:
                        out.fail(message)
                    out.finish(code, message)
            if code:
                raise Exit(code=code)

        # typeshed's functools._Wrapped does not declare __signature__, which inspect.signature honours
        wrapper.__signature__ = _invoke_signature(body)  # type: ignore[attr-defined]  # what invoke parses flags from
        return task(help={**help, **COMMON_HELP}, **task_options)(wrapper)

    return decorate


def task_arguments(task_object: Any) -> list[Any]:
    """The task's invoke Arguments, with their help, as often as asked.

    invoke's Task.get_arguments() pops each flag's help out of task.help as it builds the
    Argument, so a second call (the docs' task reference, a test, anything in the same process
    after invoke's own parse) finds no help at all; this keeps the task's help as it was."""
    kept = dict(task_object.help)
    try:
        return list(task_object.get_arguments())
    finally:
        task_object.help = kept
