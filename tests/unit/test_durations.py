from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bricktasks.durations import format_duration, parse_duration
from bricktasks.errors import UserInputError


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90), ("90m", 5400), ("12h", 43200), ("30d", 2592000), ("2w", 1209600), ("0d", 0), (" 5M ", 300)]
)
def test_parse(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["30x", "-1d", "d", "", "1.5h", "30", "1d2h", "abc", None])
def test_malformed_durations_say_what_is_accepted(text):
    with pytest.raises(UserInputError) as caught:
        parse_duration(text, name="--older-than")
    assert "--older-than" in caught.value.one_line() and "30d" in caught.value.one_line()


@given(st.integers(min_value=0, max_value=5200), st.sampled_from("smhdw"))  # 5200w: the longest duration
def test_parse_round_trips_any_number_and_unit(number, unit):
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{number}{unit}").total_seconds() == number * factor


def test_format():
    assert [format_duration(s) for s in (5, 75, 3700, 90000)] == ["5s", "1m15s", "1h01m", "1d01h"]


# ---- issue 11: overflow, non-ASCII digits, and the run timeout's limits ------------------------

@pytest.mark.parametrize("text", ["999999999w", "999999999d", "5201w", "36501d"])
def test_a_duration_too_long_for_a_date_is_refused_not_an_overflow(text):
    with pytest.raises(UserInputError) as caught:
        parse_duration(text, name="--older-than")
    assert "--older-than" in caught.value.one_line() and "too long" in caught.value.one_line()


def test_the_longest_duration_still_fits_a_date_calculation():
    from datetime import datetime, timezone

    from bricktasks.durations import MAX_DURATION

    assert parse_duration("5200w") <= MAX_DURATION
    assert datetime.now(timezone.utc) - MAX_DURATION > datetime.min.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["３０d", "٣٠d", "3０m", "30ｄ", "¹2h", "30\u200bd"])
def test_non_ascii_digits_or_units_are_not_a_duration(text):
    """int() reads full-width and Arabic-Indic digits; a duration is written in ASCII."""
    with pytest.raises(UserInputError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("text, seconds", [("1s", 1), ("25m", 1500), ("48h", 172800), ("2d", 172800)])
def test_a_run_timeout_up_to_48_hours(text, seconds):
    from bricktasks.durations import parse_timeout

    assert parse_timeout(text) == seconds


@pytest.mark.parametrize("text, message", [("49h", "at most 48h"), ("3d", "at most 48h"), ("999999999w", "at most 48h"),
                                           ("0s", "at least 1s"), ("0m", "at least 1s"), ("soon", "not a duration")])
def test_a_run_timeout_outside_its_limits_is_refused(text, message):
    from bricktasks.durations import parse_timeout

    with pytest.raises(UserInputError) as caught:
        parse_timeout(text)
    assert "--timeout" in caught.value.one_line() and message in caught.value.one_line()
