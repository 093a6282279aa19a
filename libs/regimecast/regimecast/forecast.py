"""Forecasts from the latest regime: the values after the last break.

Older regimes are ignored on purpose: after a structural break they describe a level the
series has left, and averaging them in is exactly the error a whole-history model makes.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from statsmodels.tsa.holtwinters import SimpleExpSmoothing

from regimecast._checks import as_series, check_int
from regimecast.breaks import detect_breaks

__all__ = ["MIN_SMOOTHING_POINTS", "latest_regime", "forecast_latest_regime"]

# Below this many points, fitting a smoothing parameter is meaningless: the regime's mean is used.
MIN_SMOOTHING_POINTS = 3


def latest_regime(values: Sequence[float] | np.ndarray, breaks: Sequence[int]) -> np.ndarray:
    """The values from the last break on (all of them if there is no break).

    Raises ValueError if a break is not an integer index with 0 < break < len(values).
    """
    array = as_series(values)
    for position in breaks:
        check_int(position, "a break index", 1)
        if position >= array.size:
            raise ValueError(f"break index {position} is outside the series (length {array.size})")
    start = max(breaks, default=0)
    return array[start:]


def forecast_latest_regime(
    values: Sequence[float] | np.ndarray, horizon: int, *, breaks: list[int] | None = None
) -> np.ndarray:
    """`horizon` forecasts (float64 array) from simple exponential smoothing of the latest regime.

    `breaks` are regime starts as returned by `detect_breaks`; when None they are detected
    here with its defaults. Simple (level-only) smoothing fits the model the breaks assume, a
    level plus noise, and its forecast is flat; a trend fitted on a short regime would
    mostly extrapolate noise. A regime shorter than MIN_SMOOTHING_POINTS, a constant one, or
    one the optimiser cannot fit is forecast by its mean.

    Raises ValueError for a horizon below 1, bad breaks, or empty / NaN / infinite values.
    """
    array = as_series(values)
    horizon = check_int(horizon, "horizon", 1)
    if breaks is None:
        breaks = detect_breaks(array)
    regime = latest_regime(array, breaks)
    fallback = np.full(horizon, float(regime.mean()))
    if regime.size < MIN_SMOOTHING_POINTS or float(np.ptp(regime)) == 0.0:
        return fallback
    try:
        with warnings.catch_warnings():
            # short regimes often end the optimiser with a ConvergenceWarning; the fit is still
            # usable, and a per-series warning would flood the logs of a job over thousands of series
            warnings.simplefilter("ignore")
            fitted = SimpleExpSmoothing(regime, initialization_method="estimated").fit()
            forecast = np.asarray(fitted.forecast(horizon), dtype=np.float64)
    except (ValueError, np.linalg.LinAlgError):
        return fallback
    if forecast.shape != (horizon,) or not np.all(np.isfinite(forecast)):
        return fallback
    return forecast
