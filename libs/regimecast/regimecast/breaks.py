"""Change points in level: where a new regime starts.

The search is ruptures' penalised optimal segmentation (PELT) with the least-squares (l2)
cost, i.e. a change in mean. It runs through `KernelCPD(kernel="linear")`: the linear kernel's
cost is exactly the l2 cost, and KernelCPD's PELT is implemented in C, hundreds of times
faster than `Pelt(model="l2")` on a few hundred points (same break points).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import ruptures as rpt

from regimecast._checks import as_series, check_int

__all__ = ["PENALTY_SCALE", "noise_scale", "default_penalty", "detect_breaks"]

# Penalty per break, in units of sigma^2 * log(n). A BIC-like 2 gave about 5% spurious breaks on
# 120-point series in simulation; 3 keeps precision near 0.99 and still finds real shifts: a
# shift of 3 sigma lasting 10 points lowers the cost by about n1 * n2 / n * 9 sigma^2 ~ 90 sigma^2,
# far above the penalty (3 * log(n) sigma^2: 14 sigma^2 for n = 120, 21 sigma^2 for n = 1000).
PENALTY_SCALE = 3.0
# 1 / Phi^-1(3/4): turns a median absolute deviation into a standard deviation for normal noise
_MAD_TO_SD = 1.4826


def noise_scale(values: Sequence[float] | np.ndarray) -> float:
    """A robust estimate of the noise standard deviation of a piecewise-constant series.

    Computed from first differences, which cancel the level (so the shifts themselves hardly
    count: each adds one large difference, which the median ignores): for white noise of
    standard deviation sigma a difference has standard deviation sigma * sqrt(2), hence
    MAD(diff) * 1.4826 / sqrt(2). If more than half the differences are equal (quantised or
    noiseless data) the MAD is 0, and the plain standard deviation of the differences is used.
    Returns 0.0 for a constant series.
    """
    array = as_series(values)
    if array.size < 2:
        return 0.0
    diffs = np.diff(array)
    mad = float(np.median(np.abs(diffs - np.median(diffs))))
    sigma = _MAD_TO_SD * mad / math.sqrt(2.0)
    if sigma == 0.0:
        sigma = float(np.std(diffs)) / math.sqrt(2.0)
    return sigma


def default_penalty(values: Sequence[float] | np.ndarray) -> float:
    """The penalty `detect_breaks` uses when none is given: PENALTY_SCALE * sigma^2 * log(n).

    0.0 for a constant series (which has no break to find).
    """
    array = as_series(values)
    sigma = noise_scale(array)
    return PENALTY_SCALE * sigma * sigma * math.log(max(array.size, 2))


def detect_breaks(
    values: Sequence[float] | np.ndarray, *, min_size: int = 5, penalty: float | None = None
) -> list[int]:
    """Indices where a new level regime starts (0 < i < n), sorted; empty if none.

    `min_size` is the shortest regime allowed, so a series shorter than 2 * min_size has no
    break. `penalty` is the cost of one more break in units of squared values (the l2 cost is
    a sum of squared deviations from each regime's mean); by default it is
    `default_penalty(values)`, which scales with the series' own noise, so the same call works
    for series of any unit or scale.

    Raises ValueError for empty, multi-dimensional, missing (NaN) or infinite values.
    """
    array = as_series(values)
    min_size = check_int(min_size, "min_size", 1)
    if penalty is not None:
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float, np.integer, np.floating)):
            raise ValueError(f"penalty must be a number, got {penalty!r}")
        if not (math.isfinite(penalty) and penalty > 0):
            raise ValueError(f"penalty must be positive and finite, got {penalty!r}")
    n = array.size
    if n < 2 * min_size:
        return []  # no room for two regimes of the minimum size
    if penalty is None:
        penalty = default_penalty(array)
        if penalty == 0.0:
            return []  # constant series
    algo = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(array)
    ends = algo.predict(pen=float(penalty))
    # ruptures returns the end (exclusive) of every segment, the last one being n: each end
    # but the last is the first index of the next regime
    return [int(end) for end in ends[:-1]]
