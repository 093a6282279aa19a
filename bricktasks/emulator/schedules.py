"""`--run-schedules`: the emulator fires saved jobs' UNPAUSED quartz schedules at their times, in each
schedule's timezone, as a run-now with trigger PERIODIC (max_concurrent_runs applies as for any run-now).
A PAUSED schedule never fires, which makes a branch copy's pause observable.

No next-fire-time arithmetic: a thread looks at every second since its last look and fires the jobs whose
expression matches that second. Quartz fields are expanded to sets here (lists, ranges, steps, names,
`?`, `*`); L, W and # are not: such a schedule is never fired and logged once. jobdef.quartz validates
expressions before deploy; this module only decides whether a second matches.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bricktasks.backends.base import Job
from bricktasks.jobdef.quartz import MONTHS, WEEKDAYS

__all__ = ["quartz_matcher", "ScheduleFirer"]

# (low, high, names) per field: seconds minutes hours day-of-month month day-of-week [year]
_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()), (0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, MONTHS), (1, 7, WEEKDAYS), (1970, 2099, ()))
POLL_SECONDS = 0.2
CATCH_UP_SECONDS = 60  # after a stall (a suspended machine), fire at most the last minute's seconds


def _values(text: str, low: int, high: int, names: tuple[str, ...]) -> set[int] | None:
    """The field's values, or None for what is not expanded here (L, W, #)."""
    text = text.upper()
    for number, name in enumerate(names, start=low):
        text = text.replace(name, str(number))
    if any(mark in text for mark in ("L", "W", "#")):
        return None
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = int(first_text), int(last_text)
        else:
            first = int(base)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return values


def quartz_matcher(expression: str) -> Callable[[datetime], bool] | None:
    """A test of whether a (timezone-aware, whole) second fires `expression`; None if it cannot be told."""
    parts = expression.split()
    if len(parts) not in (6, 7):
        return None
    try:
        expanded = [_values(text, *spec) for text, spec in zip(parts, _FIELDS, strict=False)]
    except ValueError:
        return None
    sets = [values for values in expanded if values is not None]
    if len(sets) != len(parts):
        return None
    seconds, minutes, hours, days, months, weekdays, *year = sets
    years = year[0] if year else None

    def fires(moment: datetime) -> bool:
        weekday = moment.isoweekday() % 7 + 1  # quartz: 1 = SUN ... 7 = SAT
        return (moment.second in seconds and moment.minute in minutes and moment.hour in hours
                and moment.day in days and moment.month in months and weekday in weekdays
                and (years is None or moment.year in years))

    return fires


class ScheduleFirer:
    """A daemon thread firing `backend`'s (the emulator's LocalBackend) UNPAUSED schedules until stop()."""

    def __init__(self, backend: Any, *, log: Callable[[str], None] | None = None) -> None:
        self.backend = backend
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._stop = threading.Event()
        self._unsupported: set[tuple[int, str]] = set()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bricktasks-schedules")

    def start(self) -> ScheduleFirer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        last = int(time.time())
        while not self._stop.wait(POLL_SECONDS):
            now = int(time.time())
            for second in range(max(last + 1, now - CATCH_UP_SECONDS), now + 1):
                self.fire_due(datetime.fromtimestamp(second, timezone.utc))
            last = max(last, now)

    def fire_due(self, moment: datetime) -> list[int]:
        """Fire every UNPAUSED schedule matching the UTC second `moment`; the run ids started."""
        started = []
        for job_id in self.due(self.backend.list_jobs(), moment):
            with contextlib.suppress(Exception):  # a job deleted or broken meanwhile: its next second tries again
                started.append(self.backend.run_now(job_id, trigger="PERIODIC"))
        return started

    def due(self, jobs: Sequence[Job], moment: datetime) -> list[int]:
        """The ids of `jobs` whose UNPAUSED schedule fires at the UTC second `moment`, in its timezone."""
        due = []
        for job in jobs:
            schedule = job.settings.get("schedule") or {}
            if not schedule or schedule.get("pause_status", "UNPAUSED") != "UNPAUSED":
                continue
            expression = str(schedule.get("quartz_cron_expression", ""))
            matcher = quartz_matcher(expression)
            try:
                zone = ZoneInfo(str(schedule.get("timezone_id") or "UTC"))
            except (ZoneInfoNotFoundError, ValueError):
                matcher = None
            if matcher is None:
                if (job.job_id, expression) not in self._unsupported:
                    self._unsupported.add((job.job_id, expression))
                    self.log(f"schedules: job {job.job_id}'s {expression!r} ({schedule.get('timezone_id')}) is not fired: "
                             "L, W, # and unknown timezones are not emulated")
                continue
            if matcher(moment.astimezone(zone)):
                due.append(job.job_id)
        return due
