"""What the tasks print: plain timestamped lines in CI logs, with every secret redacted.

All user-facing text goes through one `Console`, so redaction cannot be forgotten on a
side path. `--quiet` keeps only warnings and errors.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, TextIO

__all__ = ["Console", "redact"]

REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:  # a one-letter "secret" would shred every message
            text = text.replace(secret, REDACTED)
    return text


class Console:
    """Prints progress and results; timestamps lines when the output is not a terminal."""

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        quiet: bool = False,
        stream: TextIO | None = None,
        error_stream: TextIO | None = None,
    ) -> None:
        self.secrets = [secret for secret in secrets if secret]
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.error_stream = error_stream or sys.stderr
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())

    def _emit(self, text: str, stream: TextIO) -> None:
        text = redact(text, self.secrets)
        if not self.is_terminal:
            text = f"{time.strftime('%H:%M:%S')} {text}"
        print(text, file=stream, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._emit(text, self.stream)

    def result(self, text: str) -> None:
        """A line that is the task's answer: printed even with --quiet, never timestamped."""
        print(redact(text, self.secrets), file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        self._emit(f"warning: {text}", self.error_stream)

    def error(self, text: str) -> None:
        print(redact(f"error: {text}", self.secrets), file=self.error_stream, flush=True)
