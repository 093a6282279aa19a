"""regimecast: structural breaks (level shifts) in a time series, and forecasts from the latest regime.

    >>> import regimecast
    >>> regimecast.detect_breaks([0.0, 0.1, -0.1, 0.0, 0.1, 5.0, 5.1, 4.9, 5.0, 5.1])
    [5]

Change points come from `ruptures` (penalised PELT, l2 cost), forecasts from `statsmodels`
simple exponential smoothing. No pyspark import: `forecast_frame` is plain pandas, shaped for
Spark's `groupBy(...).applyInPandas(..., schema=FORECAST_SCHEMA)`.
"""
from __future__ import annotations

from regimecast._version import __version__
from regimecast.breaks import PENALTY_SCALE, default_penalty, detect_breaks, noise_scale
from regimecast.forecast import MIN_SMOOTHING_POINTS, forecast_latest_regime, latest_regime
from regimecast.frame import FORECAST_DTYPES, FORECAST_SCHEMA, forecast_frame
from regimecast.model import RegimeForecaster
from regimecast.synthetic import make_panel, make_series

__all__ = [
    "__version__",
    "detect_breaks",
    "noise_scale",
    "default_penalty",
    "PENALTY_SCALE",
    "forecast_latest_regime",
    "latest_regime",
    "MIN_SMOOTHING_POINTS",
    "RegimeForecaster",
    "forecast_frame",
    "FORECAST_SCHEMA",
    "FORECAST_DTYPES",
    "make_series",
    "make_panel",
]
