"""The lines a running process prints, read as they come (a thread per stream), for tests and
benchmarks that act on a long-running task's output (`invoke checkout BI-1 --watch`)."""
from __future__ import annotations

import threading
import time
from typing import IO

__all__ = ["Lines"]


class Lines:
    """Every line `stream` gives, kept in order; `wait_for` blocks until one holds a text."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, text: str, *, start: int = 0, timeout: float = 30.0) -> int:
        """The index of the first line from `start` on that holds `text`; TimeoutError after `timeout` s
        (or when the stream ends without one), naming what was printed."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(start, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._ended:
                    raise TimeoutError(f"no line with {text!r} within {timeout:g} s; printed: {self.text()[-3000:]}")
                self._changed.wait(remaining)

    def text(self) -> str:
        return "\n".join(self.lines)

    def join(self, timeout: float = 10.0) -> str:
        """Wait for the stream's end (the process exited); everything it printed."""
        self._reader.join(timeout)
        return self.text()
