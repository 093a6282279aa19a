"""What a run produced: per-cell records and the run's outcome, as JSON-ready dataclasses.

    {"notebook_path": "/Projects/x/ModelTraining", "status": "SUCCESS" | "FAILED",
     "exit_value": str | null, "error": "ValueError: ..." | null, "error_trace": str | null,
     "failed_cell": int | null, "duration_s": float,
     "library_error": str | null (a cluster library could not be installed: the notebook never ran),
     "cells": [{"index": 1, "kind": "python", "source": "...", "stdout": "...",
                "outputs": [{"type": "table", "columns": [...], "rows": [[...]], "truncated": false},
                            {"type": "image", "format": "png", "data_base64": "..."},
                            {"type": "html", "html": "..."}, {"type": "text", "text": "..."}],
                "error": str | null, "duration_s": float}]}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SUCCESS", "FAILED", "CellRecord", "NotebookResult", "Redactor", "REDACTED"]

SUCCESS = "SUCCESS"
FAILED = "FAILED"
REDACTED = "[REDACTED]"


@dataclass
class CellRecord:
    """One top-level cell as it ran (a %run cell holds what its child notebook printed and displayed)."""

    index: int
    kind: str
    source: str
    stdout: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellRecord:
        return cls(
            index=int(data["index"]),
            kind=data["kind"],
            source=data.get("source", ""),
            stdout=data.get("stdout", ""),
            outputs=list(data.get("outputs") or []),
            error=data.get("error"),
            duration_s=float(data.get("duration_s", 0.0)),
        )


@dataclass
class NotebookResult:
    """The outcome of one notebook run."""

    notebook_path: str
    status: str
    exit_value: str | None = None
    error: str | None = None
    error_trace: str | None = None
    failed_cell: int | None = None
    duration_s: float = 0.0
    cells: list[CellRecord] = field(default_factory=list)
    library_error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotebookResult:
        return cls(
            notebook_path=data["notebook_path"],
            status=data["status"],
            exit_value=data.get("exit_value"),
            error=data.get("error"),
            error_trace=data.get("error_trace"),
            failed_cell=data.get("failed_cell"),
            duration_s=float(data.get("duration_s", 0.0)),
            cells=[CellRecord.from_dict(cell) for cell in data.get("cells") or []],
            library_error=data.get("library_error"),
        )


class Redactor:
    """Replaces secret values in text with [REDACTED], as Databricks does in notebook output."""

    def __init__(self, secrets: dict[str, dict[str, str]]) -> None:
        values = {value for keys in secrets.values() for value in keys.values() if value}
        # longest first, so a secret that contains another is replaced whole
        self._values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text or not self._values:
            return text
        for value in self._values:
            text = text.replace(value, REDACTED)
        return text

    def output(self, output: dict[str, Any]) -> dict[str, Any]:
        """A cell output with its texts redacted (images excepted: their bytes are not text)."""
        if output.get("type") == "image":
            return output
        return {key: self._value(value) for key, value in output.items()}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        return value
