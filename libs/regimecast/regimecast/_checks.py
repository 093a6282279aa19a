"""Argument checks shared by the public functions, so every entry point refuses bad input alike."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["as_series", "check_int"]


def as_series(values: Sequence[float] | np.ndarray, name: str = "values") -> np.ndarray:
    """`values` as a 1-D float64 array, refusing empty input and missing or infinite values.

    Missing values are refused rather than dropped: dropping would silently shift every
    position after them, and the positions are what the break indices refer to.
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ValueError(
            f"{name} has {bad} missing or infinite value(s) (NaN/inf); drop or fill them before calling regimecast"
        )
    return array


def check_int(value: object, name: str, minimum: int) -> int:
    """`value` as an int if it is an integer (not a bool) of at least `minimum`, else a ValueError."""
    # bool is an int subclass: True as a horizon is a bug in the caller, not a 1
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
