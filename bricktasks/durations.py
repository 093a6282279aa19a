"""Durations written as a number and a unit: 90s, 90m, 12h, 30d, 2w."""
from __future__ import annotations

import re
from datetime import timedelta

from bricktasks.errors import UserInputError

__all__ = ["MAX_DURATION", "MAX_RUN_TIMEOUT", "parse_duration", "parse_timeout", "format_duration"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# ASCII digits only: `\d` and int() also read full-width (３０) and other scripts' digits
_PATTERN = re.compile(r"^([0-9]{1,9})([smhdw])$", re.ASCII)
_FORMS = "write a whole number and a unit: 90s, 90m, 12h, 30d or 2w"

# 100 years: `now - duration` stays a valid date (timedelta itself overflows at 999999999 days,
# a date before year 1), and no build or run is kept or waited for longer than that.
MAX_DURATION = timedelta(weeks=5200)
# The longest a run may be waited for. The Jobs API reference we work from states no maximum for
# `timeout_seconds`, so we take a bound every workspace accepts and no CI job outlives: 48 hours.
MAX_RUN_TIMEOUT = timedelta(hours=48)


def parse_duration(text: str, *, name: str = "duration", maximum: timedelta = MAX_DURATION) -> timedelta:
    """Parse `30d` and friends; anything else is a UserInputError that shows the accepted forms."""
    match = _PATTERN.match((text or "").strip().lower()) if isinstance(text, str) else None
    if not match:
        raise UserInputError(f"{name} {text!r} is not a duration", _FORMS)
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > maximum.total_seconds():
        raise UserInputError(f"{name} {text!r} is too long", f"give at most {_in_hours_or_weeks(maximum)}")
    return timedelta(seconds=seconds)


def parse_timeout(text: str, *, name: str = "--timeout") -> int:
    """A run's timeout in whole seconds: at least 1 s (0 would mean "no limit" to the Jobs API but
    "already late" to our wait), at most MAX_RUN_TIMEOUT."""
    seconds = int(parse_duration(text, name=name, maximum=MAX_RUN_TIMEOUT).total_seconds())
    if seconds < 1:
        raise UserInputError(f"{name} {text!r} is too short", "give at least 1s")
    return seconds


def _in_hours_or_weeks(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    return f"{seconds // 604800}w" if seconds % 604800 == 0 else f"{seconds // 3600}h"


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
