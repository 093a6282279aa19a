"""Break detection: a real series with a known break, recall and precision on known breaks, edge cases."""
from __future__ import annotations

import numpy as np
import pytest
import regimecast as rc
import ruptures as rpt
from scipy.optimize import linear_sum_assignment

TOLERANCE = 3  # a detected break within ±3 points of a true one counts as found
MIN_RECALL = 0.9
MIN_PRECISION = 0.9


def matched_pairs(true: list[int], found: list[int], tolerance: int) -> int:
    """Most true/found pairs within `tolerance` of each other, each break used at most once.

    A maximum one-to-one matching (Hungarian algorithm on 0/1 costs), so one detected break
    cannot count for two true ones, nor two detected breaks for one true break.
    """
    if not true or not found:
        return 0
    far = (np.abs(np.subtract.outer(np.asarray(true), np.asarray(found))) > tolerance).astype(float)
    rows, cols = linear_sum_assignment(far)
    return int(np.count_nonzero(far[rows, cols] == 0))


def test_matching_is_one_to_one() -> None:
    assert matched_pairs([10, 12], [11], 3) == 1  # one detected break cannot match two true ones
    assert matched_pairs([10], [9, 11], 3) == 1
    assert matched_pairs([10, 20], [13, 17], 3) == 2
    assert matched_pairs([10, 20], [14], 3) == 0
    assert matched_pairs([], [5], 3) == 0


def test_nile_break_is_found_at_the_aswan_dam_years() -> None:
    # Nile flow at Aswan, 1871-1970: the flow drops from about 1100 to 850 from 1899 on
    # (the classic structural-break example, usually dated 1898/1899)
    from statsmodels.datasets import nile

    data = nile.load_pandas().data
    years = data["year"].astype(int).to_numpy()
    breaks = rc.detect_breaks(data["volume"].to_numpy())
    assert breaks, "no break found in the Nile series"
    first_break_year = int(years[breaks[0]])
    print(f"Nile: breaks at {breaks}, first break year {first_break_year}")
    assert 1896 <= first_break_year <= 1900
    assert len(breaks) == 1, f"expected the single well-known break, got years {years[breaks].tolist()}"


@pytest.mark.parametrize(("n_series", "length", "seed"), [(200, 120, 11), (100, 240, 12)])
def test_recall_and_precision_on_known_breaks(n_series: int, length: int, seed: int) -> None:
    panel, true_breaks = rc.make_panel(n_series=n_series, length=length, seed=seed)
    n_true = n_found = n_matched = 0
    for series_id, series in panel.groupby("series_id"):
        found = rc.detect_breaks(series.sort_values("t")["y"].to_numpy())
        truth = true_breaks[str(series_id)]
        n_true += len(truth)
        n_found += len(found)
        n_matched += matched_pairs(truth, found, TOLERANCE)
    recall, precision = n_matched / n_true, n_matched / n_found
    print(f"{n_series} series of {length}: recall {recall:.3f}, precision {precision:.3f} (±{TOLERANCE} points)")
    assert recall >= MIN_RECALL
    assert precision >= MIN_PRECISION


def test_same_breaks_as_ruptures_pelt_l2() -> None:
    # detect_breaks runs KernelCPD(linear) for speed; it must agree with the reference Pelt(l2)
    panel, _ = rc.make_panel(n_series=3, length=80, seed=5)
    for _, series in panel.groupby("series_id"):
        values = series["y"].to_numpy()
        penalty = rc.default_penalty(values)
        reference = rpt.Pelt(model="l2", min_size=5, jump=1).fit(values).predict(pen=penalty)[:-1]
        assert rc.detect_breaks(values) == reference


def test_penalty_scales_with_the_series() -> None:
    values = rc.make_series(100, [40, 70], [0.0, 4.0, 1.0], noise=1.0, seed=3)
    breaks = rc.detect_breaks(values)
    assert breaks == rc.detect_breaks(values * 1000.0 + 5e6)
    assert breaks == rc.detect_breaks(values / 1000.0)


def test_white_noise_has_no_break() -> None:
    rng = np.random.default_rng(0)
    assert sum(len(rc.detect_breaks(rng.normal(size=200))) for _ in range(20)) <= 1


def test_constant_series_has_no_break() -> None:
    assert rc.detect_breaks(np.full(50, 3.25)) == []
    assert rc.noise_scale(np.full(50, 3.25)) == 0.0
    assert rc.default_penalty(np.full(50, 3.25)) == 0.0


def test_noiseless_steps_are_found_exactly() -> None:
    # the MAD of the differences is 0 here: the standard-deviation fallback must still find both
    values = np.repeat([1.0, 4.0, 2.0], [20, 15, 25])
    assert rc.detect_breaks(values) == [20, 35]


def test_short_series_have_no_break() -> None:
    assert rc.detect_breaks([1.0]) == []
    assert rc.detect_breaks([1.0, 9.0]) == []
    assert rc.detect_breaks([0.0] * 4 + [9.0] * 5) == []  # 9 points < 2 * min_size
    assert rc.detect_breaks([0.0, 0.1, -0.1, 0.0, 0.1, 5.0, 5.1, 4.9, 5.0, 5.1]) == [5]


def test_min_size_bounds_every_regime() -> None:
    values = rc.make_series(60, [3, 30], [10.0, 0.0, 5.0], noise=0.2, seed=1)
    assert rc.detect_breaks(values, min_size=1)[:1] == [3]
    breaks = rc.detect_breaks(values, min_size=5)
    lengths = np.diff([0, *breaks, values.size])
    assert lengths.min() >= 5
    assert 30 in breaks


def test_explicit_penalty() -> None:
    values = rc.make_series(100, [50], [0.0, 3.0], noise=1.0, seed=2)
    assert rc.detect_breaks(values, penalty=1e9) == []
    assert 50 in rc.detect_breaks(values, penalty=rc.default_penalty(values))
    assert len(rc.detect_breaks(values, penalty=1e-6)) > 5  # a tiny penalty breaks everywhere


@pytest.mark.parametrize("penalty", [0, -1.0, float("nan"), float("inf"), "3", True])
def test_bad_penalty_is_refused(penalty: object) -> None:
    with pytest.raises(ValueError, match="penalty"):
        rc.detect_breaks(np.arange(20.0), penalty=penalty)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.0, float("nan"), 2.0] * 5, "missing or infinite"),
        ([1.0, float("inf"), 2.0] * 5, "missing or infinite"),
        ([1.0, None, 2.0] * 5, "missing or infinite"),
        ([], "empty"),
        (np.zeros((5, 2)), "one-dimensional"),
        (["a", "b"], "numbers"),
    ],
)
def test_bad_values_are_refused(values: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rc.detect_breaks(values)  # type: ignore[arg-type]


@pytest.mark.parametrize("min_size", [0, -2, 2.5, True])
def test_bad_min_size_is_refused(min_size: object) -> None:
    with pytest.raises(ValueError, match="min_size"):
        rc.detect_breaks(np.arange(20.0), min_size=min_size)  # type: ignore[arg-type]


def test_accepts_lists_arrays_and_pandas() -> None:
    import pandas as pd

    values = rc.make_series(40, [20], [0.0, 5.0], noise=0.5, seed=4)
    expected = rc.detect_breaks(values)
    assert expected == [20]
    assert rc.detect_breaks(values.tolist()) == expected
    assert rc.detect_breaks(pd.Series(values, index=range(100, 140))) == expected  # positions, not labels
    assert rc.detect_breaks(values.astype(np.float32)) == expected
