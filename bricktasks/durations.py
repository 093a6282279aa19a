"""Durations written as a number and a unit: 90s, 90m, 12h, 30d, 2w."""
from __future__ import annotations

import re
from datetime import timedelta

from bricktasks.errors import UserInputError

__all__ = ["parse_duration", "format_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"^(\d{1,9})([smhdw])$")


def parse_duration(text: str, *, name: str = "duration") -> timedelta:
    """Parse `30d` and friends; anything else is a UserInputError that shows the accepted forms."""
    match = _PATTERN.match((text or "").strip().lower())
    if not match:
        raise UserInputError(
            f"{name} {text!r} is not a duration", "write a whole number and a unit: 90s, 90m, 12h, 30d or 2w"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(seconds: float) -> str:
    """A short human form: 42s, 5m12s, 3h04m, 12d03h."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
