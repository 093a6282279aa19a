from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

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


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from("smhdw"))
def test_parse_round_trips_any_number_and_unit(number, unit):
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{number}{unit}").total_seconds() == number * factor


def test_format():
    assert [format_duration(s) for s in (5, 75, 3700, 90000)] == ["5s", "1m15s", "1h01m", "1d01h"]
