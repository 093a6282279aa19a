"""One task invocation's output: human lines (or none, with --quiet) and, with --json, one JSON
object on stdout summarising the outcome.

With --json, stdout carries that object and nothing else: human lines go to stderr, so a
script can pipe stdout into a JSON parser while a person still sees progress. The object is
redacted value by value with the same secrets as the human lines.
"""
from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from bricktasks.console.console import Console
from bricktasks.console.redaction import redact_data

__all__ = ["TaskOutput"]


class TaskOutput:
    """Made by the task guard from --quiet/--json; the task body gets its Console here and
    records the fields of its JSON summary (`record`)."""

    def __init__(
        self,
        task: str,
        *,
        quiet: bool = False,
        json_summary: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.task = task
        self.quiet = quiet
        self.json_summary = json_summary
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.fields: dict[str, Any] = {}
        self.secrets: list[str] = []
        self._consoles: list[Console] = []

    def console(self, secrets: list[str] | tuple[str, ...] = ()) -> Console:
        """The console for human lines, redacting `secrets` (which also apply to the JSON summary)."""
        # longest first: a secret that contains another is redacted whole
        self.secrets = sorted({*self.secrets, *(secret for secret in secrets if secret)}, key=len, reverse=True)
        made = Console(
            secrets=self.secrets,
            quiet=self.quiet,
            stream=self.stderr if self.json_summary else self.stdout,
            error_stream=self.stderr,
        )
        self._consoles.append(made)
        return made

    def record(self, **fields: Any) -> None:
        """Add fields to the JSON summary (ignored without --json)."""
        self.fields.update(fields)

    def close(self) -> None:
        for console in self._consoles:
            console.close()

    def fail(self, message: str) -> None:
        """The one-line error a user sees, on stderr, redacted with every secret known so far."""
        (self._consoles[-1] if self._consoles else self.console()).error(message)

    def summary(self, exit_code: int, error: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"task": self.task, "ok": exit_code == 0, "exit_code": exit_code, **self.fields}
        if error is not None:
            data["error"] = error
        return redact_data(data, self.secrets)

    def finish(self, exit_code: int, error: str | None = None) -> None:
        """Stop live displays; with --json print the summary object as the only stdout line."""
        self.close()
        if self.json_summary:
            print(json.dumps(self.summary(exit_code, error), sort_keys=False, default=str), file=self.stdout, flush=True)
