"""Secret redaction for every text the tasks print or write: lines, live displays and JSON."""
from __future__ import annotations

from typing import Any, Iterable

__all__ = ["REDACTED", "redact", "redact_data"]

REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:  # a one-letter "secret" would shred every message
            text = text.replace(secret, REDACTED)
    return text


def redact_data(value: Any, secrets: list[str]) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string redacted, keys too.

    Done before serialising: in the JSON text a secret holding a quote or a backslash would be
    escaped and no longer match.
    """
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(key), secrets): redact_data(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item, secrets) for item in value]
    return value
