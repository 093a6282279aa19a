"""Synthetic series with known level shifts: input for the example notebooks and ground truth for tests."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from regimecast._checks import check_int

__all__ = ["MIN_PANEL_LENGTH", "make_series", "make_panel"]

# make_panel keeps breaks off the first 15% and the last 25% of a series, and 15% apart (at
# least 10 points each), so each regime is long enough to detect and the last regime still has
# points after a typical holdout; below this length those rules leave no room.
MIN_PANEL_LENGTH = 40
# Shift sizes in noise standard deviations: "several sigmas", clearly visible yet not trivial.
_SHIFT_SIGMAS = (3.0, 6.0)
_NOISE_RANGE = (0.5, 2.0)
_BASE_LEVEL_RANGE = (5.0, 50.0)


def make_series(n: int, breaks: list[int], levels: list[float], noise: float, seed: int) -> np.ndarray:
    """`n` values: `levels[k]` from `breaks[k-1]` (0 for k = 0) on, plus N(0, noise^2) noise.

    `breaks` are regime starts, strictly increasing with 0 < b < n; `levels` has one more entry
    than `breaks`. The same seed gives the same series. Raises ValueError on inconsistent input.
    """
    n = check_int(n, "n", 1)
    seed = check_int(seed, "seed", 0)
    starts = [check_int(b, "a break", 1) for b in breaks]
    # strictly increasing: sorted with no repeats (zip(strict=) and itertools.pairwise need 3.10, this runs on 3.9)
    if any(b >= n for b in starts) or starts != sorted(set(starts)):
        raise ValueError(f"breaks must be strictly increasing and inside (0, {n}), got {list(breaks)}")
    if len(levels) != len(starts) + 1:
        raise ValueError(f"{len(starts)} break(s) need {len(starts) + 1} levels, got {len(levels)}")
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    lengths = np.diff([0, *starts, n])
    mean = np.repeat(np.asarray(levels, dtype=np.float64), lengths)
    rng = np.random.default_rng(seed)
    return mean + rng.normal(0.0, noise, size=n)


def make_panel(n_series: int, length: int, seed: int) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """A long frame of `n_series` series (`series_id` str, `t` int64 0..length-1, `y` float64) and their true breaks.

    Each series has 1 or 2 level shifts of 3 to 6 noise standard deviations (random sign), at
    random positions in the middle of the series (see MIN_PANEL_LENGTH), on a random base level
    and noise scale. Ids are "s0000", "s0001", ...; the second value maps each id to its
    break positions (plain ints, so it can be written as JSON). Deterministic for a given seed.
    """
    n_series = check_int(n_series, "n_series", 1)
    length = check_int(length, "length", MIN_PANEL_LENGTH)
    seed = check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    width = max(4, len(str(n_series - 1)))
    frames = []
    true_breaks: dict[str, list[int]] = {}
    for index in range(n_series):
        series_id = f"s{index:0{width}d}"
        breaks = _draw_breaks(rng, length)
        noise = float(rng.uniform(*_NOISE_RANGE))
        levels = [float(rng.uniform(*_BASE_LEVEL_RANGE))]
        for _ in breaks:
            shift = float(rng.uniform(*_SHIFT_SIGMAS)) * noise * float(rng.choice([-1.0, 1.0]))
            levels.append(levels[-1] + shift)
        # each series gets its own seed from the panel's generator: series are independent,
        # and the whole panel is reproducible from `seed` alone
        values = make_series(length, breaks, levels, noise, seed=int(rng.integers(0, 2**32)))
        frames.append(pd.DataFrame({"series_id": series_id, "t": np.arange(length, dtype=np.int64), "y": values}))
        true_breaks[series_id] = breaks
    frame = pd.concat(frames, ignore_index=True)
    frame["series_id"] = frame["series_id"].astype(object)
    return frame, true_breaks


def _draw_breaks(rng: np.random.Generator, length: int) -> list[int]:
    """1 or 2 break positions in [15%, 75%] of `length`, at least 15% (and 10 points) apart."""
    low = max(10, math.ceil(0.15 * length))
    high = math.floor(0.75 * length)
    gap = max(10, math.ceil(0.15 * length))
    if rng.integers(1, 3) == 1:
        return [int(rng.integers(low, high + 1))]
    # two distinct sorted draws a < b from [low, high - gap], then b + gap: uniform over all
    # pairs in [low, high] that are more than `gap` apart
    first, second = sorted(int(v) for v in rng.choice(np.arange(low, high - gap + 1), size=2, replace=False))
    return [first, second + gap]
