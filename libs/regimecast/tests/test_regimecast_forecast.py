"""Forecasts from the latest regime: accuracy after a break, fallbacks, validation, RegimeForecaster."""
from __future__ import annotations

import numpy as np
import pytest
import regimecast as rc

HOLDOUT = 12
MAX_MAE_RATIO = 0.5  # mean forecast MAE at most half the whole-history mean's MAE


def test_forecast_beats_the_whole_history_mean_after_a_break() -> None:
    # make_panel puts every break in the first 75% of a series, so a 12-point holdout at the
    # end lies after the last break: the setting this library is for
    panel, _ = rc.make_panel(n_series=150, length=120, seed=21)
    maes, baseline_maes = [], []
    for _, series in panel.groupby("series_id"):
        values = series.sort_values("t")["y"].to_numpy()
        fitted, actual = values[:-HOLDOUT], values[-HOLDOUT:]
        forecast = rc.forecast_latest_regime(fitted, HOLDOUT)
        maes.append(np.mean(np.abs(forecast - actual)))
        baseline_maes.append(np.mean(np.abs(fitted.mean() - actual)))
    ratio = float(np.mean(maes) / np.mean(baseline_maes))
    share_better = float(np.mean(np.asarray(maes) < np.asarray(baseline_maes)))
    print(f"holdout MAE {np.mean(maes):.3f} vs whole-history mean {np.mean(baseline_maes):.3f}: "
          f"ratio {ratio:.3f}, better on {share_better:.0%} of series")
    assert ratio <= MAX_MAE_RATIO
    assert share_better >= 0.9


def test_forecast_is_close_to_the_noise_floor() -> None:
    # on level + N(0, 1) noise no forecast has an expected MAE below E|N(0,1)| = sqrt(2/pi) ~ 0.80;
    # the latest-regime forecast should come close to it, the whole-history mean far from it
    maes = []
    for seed in range(40):
        values = rc.make_series(100, [60], [0.0, 5.0], noise=1.0, seed=seed)
        forecast = rc.forecast_latest_regime(values[:-10], 10)
        maes.append(np.mean(np.abs(forecast - values[-10:])))
    assert np.mean(maes) < 1.1 * np.sqrt(2 / np.pi)


def test_only_the_latest_regime_counts() -> None:
    values = np.r_[np.full(30, 100.0), np.full(10, 1.0) + np.linspace(-0.1, 0.1, 10)]
    forecast = rc.forecast_latest_regime(values, 5, breaks=[30])
    assert forecast.shape == (5,)
    assert np.allclose(forecast, 1.0, atol=0.15)
    # without breaks given they are detected, with the same result
    assert rc.detect_breaks(values) == [30]
    assert np.allclose(rc.forecast_latest_regime(values, 5), forecast)


def test_no_break_uses_the_whole_series() -> None:
    values = rc.make_series(50, [], [7.0], noise=0.5, seed=1)
    forecast = rc.forecast_latest_regime(values, 4, breaks=[])
    assert forecast.dtype == np.float64
    assert np.allclose(forecast, 7.0, atol=0.6)


def test_short_regime_falls_back_to_its_mean() -> None:
    values = [0.0] * 10 + [4.0, 6.0]  # a latest regime of 2 points: too short to fit smoothing
    assert rc.forecast_latest_regime(values, 3, breaks=[10]).tolist() == [5.0, 5.0, 5.0]
    assert rc.forecast_latest_regime([2.5], 2).tolist() == [2.5, 2.5]  # a one-point series


def test_constant_series_forecasts_its_value() -> None:
    assert rc.forecast_latest_regime(np.full(30, -2.0), 6).tolist() == [-2.0] * 6


@pytest.mark.parametrize("horizon", [0, -3, 2.0, "5", None, True])
def test_bad_horizon_is_refused(horizon: object) -> None:
    with pytest.raises(ValueError, match="horizon"):
        rc.forecast_latest_regime(np.arange(20.0), horizon)  # type: ignore[arg-type]


def test_numpy_integer_horizon_is_accepted() -> None:
    assert rc.forecast_latest_regime(np.arange(20.0), np.int64(3)).shape == (3,)


@pytest.mark.parametrize("breaks", [[0], [20], [25], [-1], [3.5]])
def test_bad_breaks_are_refused(breaks: list) -> None:
    with pytest.raises(ValueError, match="break"):
        rc.forecast_latest_regime(np.arange(20.0), 2, breaks=breaks)


def test_missing_values_are_refused() -> None:
    with pytest.raises(ValueError, match="missing or infinite"):
        rc.forecast_latest_regime([1.0, 2.0, float("nan"), 3.0], 2)


def test_regime_forecaster() -> None:
    values = rc.make_series(80, [30, 55], [0.0, 6.0, 2.0], noise=0.5, seed=8)
    model = rc.RegimeForecaster()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.forecast(3)
    assert model.fit(values) is model
    assert model.breaks_ == rc.detect_breaks(values) == [30, 55]
    assert model.last_break_ == 55
    assert model.n_obs_ == 80
    forecast = model.forecast(5)
    assert np.array_equal(forecast, rc.forecast_latest_regime(values, 5, breaks=[30, 55]))
    assert np.allclose(forecast, 2.0, atol=0.5)
    values[:] = 1000.0  # the model keeps its own copy of the data
    assert np.array_equal(model.forecast(5), forecast)


def test_regime_forecaster_without_breaks_and_with_options() -> None:
    model = rc.RegimeForecaster(min_size=10, penalty=1e12).fit(rc.make_series(60, [30], [0.0, 5.0], 0.5, seed=2))
    assert model.breaks_ == []
    assert model.last_break_ == -1
