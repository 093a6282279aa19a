"""forecast_frame: the pandas function Spark's applyInPandas calls once per series."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import regimecast as rc

HORIZON, HOLDOUT = 6, 8


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    frame, _ = rc.make_panel(n_series=5, length=60, seed=3)
    return frame


def _spark_ddl_columns(schema: str) -> list[tuple[str, str]]:
    return [tuple(part.split()) for part in schema.split(",")]  # type: ignore[misc]


def test_schema_constants_agree() -> None:
    ddl = _spark_ddl_columns(rc.FORECAST_SCHEMA)
    assert [name for name, _ in ddl] == list(rc.FORECAST_DTYPES)
    spark_type = {"object": "string", "int64": "long", "float64": "double"}
    assert [kind for _, kind in ddl] == [spark_type[d] for d in rc.FORECAST_DTYPES.values()]


def test_one_row_per_series_with_the_output_schema(panel: pd.DataFrame) -> None:
    out = rc.forecast_frame(panel, horizon=HORIZON, holdout=HOLDOUT)
    assert list(out.columns) == list(rc.FORECAST_DTYPES)
    assert {col: str(dtype) for col, dtype in out.dtypes.items()} == rc.FORECAST_DTYPES
    assert out["series_id"].tolist() == sorted(panel["series_id"].unique())
    assert all(isinstance(v, str) for v in out["series_id"])
    assert (out["n_obs"] == 60).all()
    assert (out["n_breaks"] >= 0).all()
    assert ((out["last_break"] == -1) == (out["n_breaks"] == 0)).all()
    assert (out["last_break"] < 60 - HOLDOUT).all()
    assert np.isfinite(out[["mae", "baseline_mae"]].to_numpy()).all()
    for text in out["forecast"]:
        forecast = json.loads(text)
        assert len(forecast) == HORIZON and all(isinstance(v, float) for v in forecast)


def test_a_single_series_as_applyinpandas_passes_it(panel: pd.DataFrame) -> None:
    one = panel[panel["series_id"] == "s0002"]
    out = rc.forecast_frame(one, horizon=HORIZON, holdout=HOLDOUT)
    assert len(out) == 1
    row = out.iloc[0]
    values = one.sort_values("t")["y"].to_numpy()
    fitted, actual = values[:-HOLDOUT], values[-HOLDOUT:]
    model = rc.RegimeForecaster().fit(fitted)
    path = model.forecast(HOLDOUT + HORIZON)
    assert row["n_breaks"] == len(model.breaks_) and row["last_break"] == model.last_break_
    assert row["mae"] == pytest.approx(np.mean(np.abs(path[:HOLDOUT] - actual)))
    assert row["baseline_mae"] == pytest.approx(np.mean(np.abs(fitted.mean() - actual)))
    assert json.loads(row["forecast"]) == pytest.approx(path[HOLDOUT:].tolist())


def test_input_order_does_not_matter(panel: pd.DataFrame) -> None:
    shuffled = panel.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(
        rc.forecast_frame(shuffled, horizon=HORIZON, holdout=HOLDOUT),
        rc.forecast_frame(panel, horizon=HORIZON, holdout=HOLDOUT),
    )


def test_other_column_names_and_integer_ids() -> None:
    frame = pd.DataFrame({"store": 7, "day": np.arange(40), "sales": rc.make_series(40, [20], [1.0, 9.0], 0.3, seed=1)})
    out = rc.forecast_frame(frame, horizon=3, holdout=5, series_col="store", time_col="day", value_col="sales")
    assert out["series_id"].tolist() == ["7"]
    assert out["last_break"].tolist() == [20]
    assert np.allclose(json.loads(out["forecast"].iloc[0]), 9.0, atol=0.5)


def test_missing_values_are_dropped(panel: pd.DataFrame) -> None:
    one = panel[panel["series_id"] == "s0001"].copy()
    one.loc[one.index[[3, 10]], "y"] = np.nan
    out = rc.forecast_frame(one, horizon=HORIZON, holdout=HOLDOUT)
    assert out["n_obs"].tolist() == [58]
    assert np.isfinite(out["mae"]).all()


def test_holdout_zero_gives_no_score() -> None:
    frame = pd.DataFrame({"series_id": "a", "t": np.arange(30), "y": rc.make_series(30, [15], [0.0, 4.0], 0.2, seed=2)})
    out = rc.forecast_frame(frame, horizon=4, holdout=0)
    assert np.isnan(out["mae"].iloc[0]) and np.isnan(out["baseline_mae"].iloc[0])
    assert len(json.loads(out["forecast"].iloc[0])) == 4


def test_empty_input_gives_an_empty_frame_with_the_schema() -> None:
    out = rc.forecast_frame(pd.DataFrame({"series_id": [], "t": [], "y": []}), horizon=2, holdout=1)
    assert out.empty
    assert {col: str(dtype) for col, dtype in out.dtypes.items()} == rc.FORECAST_DTYPES


@pytest.mark.parametrize(("horizon", "holdout", "message"), [(0, 5, "horizon"), (3, -1, "holdout"), (1.5, 5, "horizon")])
def test_bad_horizon_or_holdout_is_refused(panel: pd.DataFrame, horizon: object, holdout: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rc.forecast_frame(panel, horizon=horizon, holdout=holdout)  # type: ignore[arg-type]


def test_series_without_enough_values_is_refused() -> None:
    frame = pd.DataFrame({"series_id": "tiny", "t": [0, 1, 2], "y": [1.0, 2.0, np.nan]})
    with pytest.raises(ValueError, match="'tiny' has 2 observed value"):
        rc.forecast_frame(frame, horizon=1, holdout=2)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"series_id": "a", "t": [0, 1], "value": [1.0, 2.0]}), "no column"),
        (pd.DataFrame({"series_id": ["a", None], "t": [0, 1], "y": [1.0, 2.0]}), "missing series ids"),
        (pd.DataFrame({"series_id": "a", "t": [0.0, np.nan, 2.0], "y": [1.0, 2.0, 3.0]}), "missing values in 't'"),
        (pd.DataFrame({"series_id": "a", "t": [0, 1, 1], "y": [1.0, 2.0, 3.0]}), "more than one row at t=1"),
        (pd.DataFrame({"series_id": "a", "t": [0, 1, 2], "y": [1.0, np.inf, 3.0]}), "missing or infinite"),
    ],
)
def test_bad_frames_are_refused(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rc.forecast_frame(frame, horizon=1, holdout=1)


def test_the_library_does_not_import_pyspark() -> None:
    library_root = Path(__file__).resolve().parent.parent
    code = "import sys, regimecast; print('pyspark' in sys.modules or any(m.startswith('pyspark.') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=library_root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    sources = "".join(path.read_text() for path in (library_root / "regimecast").glob("*.py"))
    assert not re.search(r"^\s*(import|from)\s+pyspark", sources, re.MULTILINE)
