"""The emulator's schedule firing (emulator.schedules): which seconds a quartz expression fires, in the
schedule's timezone; PAUSED never fires; what cannot be emulated (L, W, #) is never fired and logged once."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bricktasks.backends.base import Job
from bricktasks.emulator.schedules import ScheduleFirer, quartz_matcher

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _fires(expression: str, *moment: int, zone=AMSTERDAM) -> bool:
    matcher = quartz_matcher(expression)
    assert matcher is not None
    return matcher(datetime(*moment, tzinfo=zone))


def test_seconds_steps_lists_ranges_and_names():
    assert _fires("*/2 * * * * ?", 2026, 12, 2, 7, 0, 4) and not _fires("*/2 * * * * ?", 2026, 12, 2, 7, 0, 5)
    assert _fires("0 0 3 * * ?", 2026, 12, 2, 3, 0, 0) and not _fires("0 0 3 * * ?", 2026, 12, 2, 3, 0, 1)
    assert _fires("0 15,45 9-17 ? * MON-FRI", 2026, 12, 2, 17, 45, 0)  # a Wednesday
    assert not _fires("0 15,45 9-17 ? * MON-FRI", 2026, 12, 5, 17, 45, 0)  # a Saturday
    assert _fires("0 0 12 ? JAN,JUL 1", 2026, 7, 5, 12, 0, 0)  # quartz 1 = SUN; JUL contains an L, it is a name
    assert _fires("0 0 0 1 1 ? 2027", 2027, 1, 1, 0, 0, 0) and not _fires("0 0 0 1 1 ? 2027", 2028, 1, 1, 0, 0, 0)


def test_what_is_not_emulated_is_none():
    for expression in ("0 0 0 L * ?", "0 0 0 15W * ?", "0 0 0 ? * 6L", "0 0 0 ? * MON#2", "0 0 12 * *", "x y z a b c"):
        assert quartz_matcher(expression) is None, expression


def test_only_unpaused_schedules_are_due_in_their_timezone_and_the_unemulated_are_logged_once():
    def job(job_id: int, expression: str, pause: str = "UNPAUSED", zone: str = "Europe/Amsterdam") -> Job:
        return Job(job_id=job_id, settings={
            "name": "j", "schedule": {"quartz_cron_expression": expression, "timezone_id": zone, "pause_status": pause}})

    jobs = [job(1, "0 0 3 * * ?"), job(2, "0 0 3 * * ?", "PAUSED"), job(3, "0 0 3 * * ?", zone="UTC"),
            job(4, "0 0 0 L * ?"), job(5, "0 0 3 * * ?", zone="Mars/Olympus"), Job(job_id=6, settings={"name": "none"})]
    logged: list[str] = []
    firer = ScheduleFirer(None, log=logged.append)  # never started: due() reads only the jobs it is given
    assert firer.due(jobs, datetime(2026, 12, 2, 2, 0, 0, tzinfo=timezone.utc)) == [1]  # 03:00 CET = 02:00 UTC
    assert firer.due(jobs, datetime(2026, 12, 2, 3, 0, 0, tzinfo=timezone.utc)) == [3]
    assert [line.split("'")[0] for line in logged] == ["schedules: job 4", "schedules: job 5"], "once each"
