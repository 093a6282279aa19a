"""Quartz cron expressions as the Jobs API's schedule takes them, checked before anything is sent.

Quartz, not standard cron: 6 or 7 fields (seconds minutes hours day-of-month month day-of-week
[year]), and `?` ("no specific value") in exactly one of day-of-month and day-of-week. croniter (the
usual Python parser) reads 5-field standard cron and would accept "0 12 * * *", which Databricks
refuses, so the rules of the Quartz CronTrigger tutorial are written out here instead:
lists `a,b`, ranges `a-b`, steps `*/n` `a/n` `a-b/n`, month and weekday names (JAN-DEC, SUN-SAT),
day-of-month `L`, `L-n`, `nW`, `LW`; day-of-week `L`, `nL`, `n#k`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["quartz_problem", "DATABRICKS_CRON_HINT"]

# the real refusal's text after the expression (reference 1.9, "Invalid cron")
DATABRICKS_CRON_HINT = (
    "Databricks uses Quartz cron syntax, which is different from the standard cron syntax. See "
    "http://www.quartz-scheduler.org/documentation/quartz-2.1.x/tutorials/crontrigger.html for more details."
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Quartz: 1 = SUN ... 7 = SAT


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[0] means `low`


SECONDS = _Field("seconds", 0, 59)
MINUTES = _Field("minutes", 0, 59)
HOURS = _Field("hours", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31)
MONTH = _Field("month", 1, 12, MONTHS)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, WEEKDAYS)
YEAR = _Field("year", 1970, 2099)
FIELDS = (SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR)


def quartz_problem(expression: str) -> str | None:
    """What is wrong with a Quartz cron expression, or None when Quartz (and so Databricks) takes it."""
    parts = expression.split()
    if len(parts) == 5:
        return "5 fields is standard cron; Quartz wants 6 or 7: seconds minutes hours day-of-month month day-of-week [year]"
    if len(parts) not in (6, 7):
        return f"{len(parts)} fields; Quartz wants 6 or 7: seconds minutes hours day-of-month month day-of-week [year]"
    for spec, text in zip(FIELDS, parts, strict=False):
        problem = _field_problem(spec, text)
        if problem:
            return f"{spec.name} {text!r}: {problem}"
    day_of_month, day_of_week = parts[3], parts[5]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "use '?' in exactly one of day-of-month and day-of-week (e.g. '0 0 12 * * ?')"
    return None


def _field_problem(spec: _Field, text: str) -> str | None:
    if text == "?":
        return None if spec in (DAY_OF_MONTH, DAY_OF_WEEK) else "'?' is only for day-of-month or day-of-week"
    if spec is DAY_OF_MONTH and re.fullmatch(r"L(-\d{1,2})?|LW", text):
        offset = text[2:]
        return None if not offset or int(offset) <= 30 else "L-n takes n from 0 to 30"
    for item in text.split(","):
        problem = _item_problem(spec, item)
        if problem:
            return problem
    return None


def _item_problem(spec: _Field, item: str) -> str | None:
    if not item:
        return "an empty list item"
    if spec is DAY_OF_MONTH and item.endswith("W") and len(item) > 1:
        return _value_problem(spec, item[:-1])
    if spec is DAY_OF_WEEK:
        if item == "L":
            return None
        if item.endswith("L") and len(item) > 1:
            return _value_problem(spec, item[:-1])
        if "#" in item:
            day, _, nth = item.partition("#")
            if not nth.isdigit() or not 1 <= int(nth) <= 5:
                return "n#k takes k from 1 to 5"
            return _value_problem(spec, day)
    base, slash, step = item.partition("/")
    if slash and (not step.isdigit() or not 1 <= int(step) <= spec.high):
        return f"the step after '/' must be a number from 1 to {spec.high}"
    if base == "*":
        return None
    low, dash, high = base.partition("-")
    problem = _value_problem(spec, low) or (_value_problem(spec, high) if dash else None)
    return problem


def _value_problem(spec: _Field, text: str) -> str | None:
    if text.upper() in spec.names:
        return None
    if not text.isdigit():
        names = f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else ""
        return f"{text!r} is not a number from {spec.low} to {spec.high}{names}"
    if not spec.low <= int(text) <= spec.high:
        return f"{text} is out of range {spec.low}-{spec.high}"
    return None
