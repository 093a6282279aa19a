"""`forecast_frame`: one pandas frame of series in, one row of results per series out.

Shaped for Spark's `df.groupBy("series_id").applyInPandas(forecast_frame_fn, schema=FORECAST_SCHEMA)`,
but plain pandas: this module does not import pyspark, so the library installs and tests
without it. Called on a frame holding several series it returns one row for each.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from regimecast._checks import as_series, check_int
from regimecast.model import RegimeForecaster

__all__ = ["FORECAST_SCHEMA", "FORECAST_DTYPES", "forecast_frame"]

# Spark DDL of forecast_frame's output. The forecast is a JSON string rather than an
# array<double> so the schema stays flat and every table format and viewer takes it as is.
FORECAST_SCHEMA = (
    "series_id string, n_obs long, n_breaks long, last_break long, "
    "mae double, baseline_mae double, forecast string"
)
# The same columns as pandas dtypes, in order (Arrow maps object-of-str to string, int64 to long).
FORECAST_DTYPES: dict[str, str] = {
    "series_id": "object",
    "n_obs": "int64",
    "n_breaks": "int64",
    "last_break": "int64",
    "mae": "float64",
    "baseline_mae": "float64",
    "forecast": "object",
}


def forecast_frame(
    pdf: pd.DataFrame,
    *,
    horizon: int,
    holdout: int,
    series_col: str = "series_id",
    time_col: str = "t",
    value_col: str = "y",
) -> pd.DataFrame:
    """Score and forecast every series in `pdf`: one output row per series, sorted by series id.

    For each series: sort by `time_col`, drop rows whose value is missing (a missing
    observation; positions below count observed values only), hold out the last `holdout`
    values, fit a `RegimeForecaster` on the rest and forecast `holdout + horizon` steps. The
    first `holdout` steps score the model, the last `horizon` are the forecast.

    Output columns (FORECAST_DTYPES, Spark schema FORECAST_SCHEMA), named as listed whatever
    the input column names:
      series_id     the series id as a string
      n_obs         observed (non-missing) values, holdout included
      n_breaks      breaks found in the fitted part
      last_break    position of the latest regime's start in the time-sorted observed values, -1 if none
      mae           mean absolute error of the forecast on the holdout (NaN if holdout == 0)
      baseline_mae  the same for the mean of the fitted part, i.e. a model ignoring breaks
      forecast      JSON list of the `horizon` forecasts after the last observed value

    Raises ValueError for horizon < 1, holdout < 0, missing columns, missing series ids or
    times, repeated times within a series, infinite values, or a series with no more than
    `holdout` observed values (it would have nothing to fit).
    """
    horizon = check_int(horizon, "horizon", 1)
    holdout = check_int(holdout, "holdout", 0)
    missing = [col for col in (series_col, time_col, value_col) if col not in pdf.columns]
    if missing:
        raise ValueError(f"forecast_frame: the input has no column(s) {missing}; it has {list(pdf.columns)}")
    if pdf[series_col].isna().any():
        raise ValueError(f"forecast_frame: column {series_col!r} has missing series ids")
    # observed=True: a categorical id column would otherwise yield empty groups for unused categories
    rows = [
        _forecast_series(str(series_id), group, horizon, holdout, time_col, value_col)
        for series_id, group in pdf.groupby(series_col, sort=True, observed=True)
    ]
    if not rows:
        return pd.DataFrame({col: pd.Series(dtype=dtype) for col, dtype in FORECAST_DTYPES.items()})
    return pd.DataFrame(rows, columns=list(FORECAST_DTYPES)).astype(FORECAST_DTYPES)


def _forecast_series(
    series_id: str, group: pd.DataFrame, horizon: int, holdout: int, time_col: str, value_col: str
) -> dict[str, object]:
    times = group[time_col]
    if times.isna().any():
        raise ValueError(f"forecast_frame: series {series_id!r} has missing values in {time_col!r}")
    if times.duplicated().any():
        repeated = times[times.duplicated()].iloc[0]
        raise ValueError(f"forecast_frame: series {series_id!r} has more than one row at {time_col}={repeated!r}")
    ordered = group.sort_values(time_col, kind="mergesort")
    observed = ordered[value_col].dropna()
    if len(observed) <= holdout:
        raise ValueError(
            f"forecast_frame: series {series_id!r} has {len(observed)} observed value(s), "
            f"needs more than holdout={holdout} to fit anything"
        )
    values = as_series(observed.to_numpy(), f"series {series_id!r} {value_col!r}")
    n_fit = values.size - holdout
    fitted, actual = values[:n_fit], values[n_fit:]

    model = RegimeForecaster().fit(fitted)
    path = model.forecast(holdout + horizon)
    if holdout:
        mae = float(np.mean(np.abs(path[:holdout] - actual)))
        baseline_mae = float(np.mean(np.abs(fitted.mean() - actual)))
    else:
        mae = baseline_mae = math.nan
    return {
        "series_id": series_id,
        "n_obs": int(values.size),
        "n_breaks": len(model.breaks_),
        "last_break": model.last_break_,
        "mae": mae,
        "baseline_mae": baseline_mae,
        "forecast": json.dumps([float(v) for v in path[holdout:]]),
    }
