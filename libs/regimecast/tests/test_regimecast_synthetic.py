"""Synthetic data: the notebooks' input and the tests' ground truth must be what they claim."""
from __future__ import annotations

import json

import numpy as np
import pytest
import regimecast as rc
from regimecast.synthetic import MIN_PANEL_LENGTH


def test_make_series_levels_and_noise() -> None:
    values = rc.make_series(300, [100, 250], [1.0, -4.0, 10.0], noise=0.5, seed=7)
    assert values.shape == (300,) and values.dtype == np.float64
    assert values[:100].mean() == pytest.approx(1.0, abs=0.2)
    assert values[100:250].mean() == pytest.approx(-4.0, abs=0.2)
    assert values[250:].mean() == pytest.approx(10.0, abs=0.3)
    assert np.std(values[100:250]) == pytest.approx(0.5, rel=0.2)
    assert np.array_equal(values, rc.make_series(300, [100, 250], [1.0, -4.0, 10.0], noise=0.5, seed=7))
    assert not np.array_equal(values, rc.make_series(300, [100, 250], [1.0, -4.0, 10.0], noise=0.5, seed=8))
    assert rc.make_series(5, [2], [0.0, 1.0], noise=0.0, seed=0).tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("breaks", "levels", "noise", "message"),
    [
        ([5, 5], [0.0, 1.0, 2.0], 1.0, "strictly increasing"),
        ([7, 3], [0.0, 1.0, 2.0], 1.0, "strictly increasing"),
        ([10], [0.0, 1.0], 1.0, "strictly increasing"),
        ([0], [0.0, 1.0], 1.0, "at least 1"),
        ([3], [0.0], 1.0, "levels"),
        ([3], [0.0, 1.0], -1.0, "noise"),
        ([3], [0.0, 1.0], float("nan"), "noise"),
    ],
)
def test_make_series_refuses_inconsistent_input(breaks: list, levels: list, noise: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rc.make_series(10, breaks, levels, noise, seed=1)


def test_make_panel_shape_and_truth() -> None:
    frame, true_breaks = rc.make_panel(n_series=300, length=120, seed=4)
    assert list(frame.columns) == ["series_id", "t", "y"]
    assert {col: str(dtype) for col, dtype in frame.dtypes.items()} == {"series_id": "object", "t": "int64", "y": "float64"}
    assert len(frame) == 300 * 120
    assert frame["series_id"].nunique() == 300 and frame["series_id"].iloc[0] == "s0000"
    assert set(true_breaks) == set(frame["series_id"])
    counts = [len(b) for b in true_breaks.values()]
    assert set(counts) == {1, 2}
    for breaks in true_breaks.values():
        assert all(isinstance(b, int) for b in breaks)
        assert all(18 <= b <= 90 for b in breaks)  # 15% .. 75% of 120
        assert all(np.diff(breaks) >= 18)  # 15% apart
    assert json.loads(json.dumps(true_breaks)) == true_breaks
    assert frame.groupby("series_id")["t"].apply(lambda t: t.tolist() == list(range(120))).all()


def test_make_panel_shifts_are_several_sigmas() -> None:
    frame, true_breaks = rc.make_panel(n_series=50, length=200, seed=9)
    for series_id, series in frame.groupby("series_id"):
        values = series["y"].to_numpy()
        regimes = np.split(values, true_breaks[series_id])  # the stretches between the breaks
        means = [regime.mean() for regime in regimes]
        sigma = np.std(regimes[0] - means[0])
        shifts = np.abs(np.diff(means)) / sigma
        assert shifts.min() > 2.0 and shifts.max() < 8.0


def test_make_panel_is_reproducible() -> None:
    first, first_breaks = rc.make_panel(n_series=20, length=60, seed=1)
    again, again_breaks = rc.make_panel(n_series=20, length=60, seed=1)
    other, _ = rc.make_panel(n_series=20, length=60, seed=2)
    assert first.equals(again) and first_breaks == again_breaks
    assert not first.equals(other)


def test_make_panel_refuses_too_short_series() -> None:
    with pytest.raises(ValueError, match="length"):
        rc.make_panel(n_series=3, length=MIN_PANEL_LENGTH - 1, seed=0)
    frame, true_breaks = rc.make_panel(n_series=3, length=MIN_PANEL_LENGTH, seed=0)
    assert len(frame) == 120 and all(true_breaks.values())
