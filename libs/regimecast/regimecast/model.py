"""`RegimeForecaster`: break detection and latest-regime forecasting behind one fitted object."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from regimecast._checks import as_series
from regimecast.breaks import detect_breaks
from regimecast.forecast import forecast_latest_regime

__all__ = ["RegimeForecaster"]


@dataclass
class RegimeForecaster:
    """Finds the level regimes of a series, then forecasts from the latest one.

    >>> model = RegimeForecaster().fit([1.0] * 20 + [5.0] * 20)
    >>> model.breaks_, model.last_break_
    ([20], 20)
    >>> model.forecast(3).round(6).tolist()
    [5.0, 5.0, 5.0]

    `min_size` and `penalty` are passed to `detect_breaks`. Attributes set by `fit` end with
    an underscore, scikit-learn style: `breaks_` (regime starts), `n_obs_` (points fitted).
    """

    min_size: int = 5
    penalty: float | None = None
    breaks_: list[int] = field(default_factory=list, init=False)
    n_obs_: int = field(default=0, init=False)
    _values: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def fit(self, values: Sequence[float] | np.ndarray) -> RegimeForecaster:
        """Detect the breaks of `values` (ValueError on NaN/inf or empty input); returns self."""
        array = as_series(values)
        self.breaks_ = detect_breaks(array, min_size=self.min_size, penalty=self.penalty)
        self.n_obs_ = int(array.size)
        # keep a private copy: the caller may reuse its buffer before calling forecast()
        self._values = array.copy()
        return self

    @property
    def last_break_(self) -> int:
        """Start of the latest regime, or -1 if the series has no break."""
        self._check_fitted()
        return self.breaks_[-1] if self.breaks_ else -1

    def forecast(self, horizon: int) -> np.ndarray:
        """`horizon` forecasts after the fitted values (ValueError for a horizon below 1)."""
        self._check_fitted()
        assert self._values is not None  # for type checkers: _check_fitted guarantees it
        return forecast_latest_regime(self._values, horizon, breaks=self.breaks_)

    def _check_fitted(self) -> None:
        if self._values is None:
            raise RuntimeError("this RegimeForecaster is not fitted yet: call fit(values) first")
