"""What the tasks print: live displays on a terminal, plain timestamped lines in CI logs, every
secret redacted.

All user-facing text goes through one `Console`, so redaction cannot be forgotten on a side
path; the live displays (bricktasks.console.progress) are made here and redact the same way.
`--quiet` keeps only warnings, errors and result lines.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from bricktasks.console.redaction import redact

if TYPE_CHECKING:  # rich is imported only when something is drawn on a terminal: CI logs skip its import cost
    from rich.console import Console as RichConsole

    from bricktasks.console.progress import RunStatusLine, UploadProgress

__all__ = ["Console", "printable", "terminal_safe"]


def printable(value: object) -> str:
    """`value` as one cell or name: what is not printable (ESC, a newline, a bidi override) as its
    Python escape, so a name from a pushed folder or manifest cannot recolour the terminal, move
    its cursor or fake a row. (--json needs nothing: json.dumps escapes every control character.)"""
    if value is None or value == "":
        return "?"
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(value))


def terminal_safe(text: str) -> str:
    """A message with every unprintable character escaped except its own line breaks and tabs: the
    last line of defence, whatever name a message quotes (names are escaped where they are shown,
    with `printable`, and this catches what a message forgot)."""
    return "".join(char if char.isprintable() or char in "\n\t" else repr(char)[1:-1] for char in text)


class Console:
    """Prints progress and results; timestamps lines when the output is not a terminal.

    `terminal` overrides the detection (tests draw "terminal" output into a StringIO);
    `width` fixes the terminal width for such tests.
    """

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        quiet: bool = False,
        stream: TextIO | None = None,
        error_stream: TextIO | None = None,
        terminal: bool | None = None,
        width: int | None = None,
    ) -> None:
        self.secrets = [secret for secret in secrets if secret]
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.error_stream = error_stream or sys.stderr
        self.is_terminal = terminal if terminal is not None else bool(getattr(self.stream, "isatty", lambda: False)())
        self.width = width
        self._rich: RichConsole | None = None
        self._displays: list[UploadProgress | RunStatusLine] = []

    def _rich_console(self) -> RichConsole:
        if self._rich is None:
            from bricktasks.console.progress import rich_console

            self._rich = rich_console(self.stream, self.secrets, width=self.width)
        return self._rich

    def _print(self, text: str, *, timestamp: bool) -> None:
        text = terminal_safe(redact(text, self.secrets))
        if self.is_terminal:
            from rich.text import Text

            # through rich: a line printed while a bar or status line is live goes above it
            self._rich_console().print(Text(text))
            return
        if timestamp:
            text = f"{time.strftime('%H:%M:%S')} {text}"
        print(text, file=self.stream, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._print(text, timestamp=True)

    def result(self, text: str) -> None:
        """A line that is the task's answer: printed even with --quiet, never timestamped."""
        self._print(text, timestamp=False)

    def warn(self, text: str) -> None:
        self.close()  # a live line would be redrawn over the warning
        line = f"warning: {terminal_safe(redact(text, self.secrets))}"
        if not self.is_terminal:
            line = f"{time.strftime('%H:%M:%S')} {line}"
        print(line, file=self.error_stream, flush=True)

    def error(self, text: str) -> None:
        self.close()
        print(terminal_safe(redact(f"error: {text}", self.secrets)), file=self.error_stream, flush=True)

    # ---- live displays ------------------------------------------------------------------------

    def upload_progress(self, *, files: int, total_bytes: int, label: str, announce: bool = True) -> UploadProgress:
        """A context manager counting uploads (`advance(size)` per file): a bar on a terminal; in a
        log one line naming the count and size (with `announce`); nothing with --quiet."""
        from bricktasks.console.progress import UploadProgress

        drawn = self.is_terminal and not self.quiet
        progress = UploadProgress(
            files=files, total_bytes=total_bytes, label=redact(label, self.secrets),
            rich=self._rich_console() if drawn else None,
            announce=self.info if announce and not drawn else None,
        )
        self._displays.append(progress)
        return progress

    def run_status(self, run_id: int) -> RunStatusLine:
        """`on_state` for a run's wait: a live line with state, elapsed time, a summary of the tasks and
        the run page URL on a terminal; in a log a timestamped line per run or task state change
        ("run 12: ModelTraining RUNNING (attempt 2)"); nothing with --quiet."""
        from bricktasks.console.progress import RunStatusLine

        drawn = self.is_terminal and not self.quiet
        status = RunStatusLine(
            run_id, secrets=self.secrets, rich=self._rich_console() if drawn else None,
            print_line=None if drawn else self.info,
        )
        self._displays.append(status)
        return status

    def close(self) -> None:
        """Stop every live display (their last frame stays on screen)."""
        displays, self._displays = self._displays, []
        for display in displays:
            display.close()
