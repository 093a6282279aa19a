"""The emulator's request log: one JSON object per request, in memory and optionally in a file.

Entries hold `t, method, path, query, status, mutating, target, bytes_in` (and `fault` when one
was injected). Never bodies or headers: those carry notebooks and tokens.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

__all__ = ["RequestLog", "read_request_log"]


class RequestLog:
    """Thread-safe append-only log; `entries()` is a snapshot for tests."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else None
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8") if self.path else None  # noqa: SIM115 - closed in close()

    def record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self._lock:
            self._entries.append(entry)
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()  # readers (tests, benchmarks) look while the server runs

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_request_log(path: Path) -> list[dict[str, Any]]:
    """The entries a `--request-log` file holds so far."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
