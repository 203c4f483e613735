"""The scan's Linter keeps a size that stands apart: in a collection of very mixed sizes the log sizes
spread so wide that no size is far out by the modified z-score (pingus: a 1920 x 1200 background
among sprites of 1 to 1,963 px, 2.46x the pixels of the next largest, was not flagged); a size
beyond every other image by a factor 2 or more, alone or in a group of at most the rare count, is
kept (``lint_rules.isolated_mask``).  Expected values by hand (float64 numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.audit.lint_rules import GAP_TIE, isolated_bounds, isolated_mask, rare_against, rare_outliers
from dataeval_gpu.detectors.linter import Linter
from dataeval_gpu.report.linter_ranges import scan_ranges


def _widths(*extra: float) -> np.ndarray:
    """30 widths evenly spread on the log scale from 16 to 1024 px (a factor 64**(1/29) = 1.154
    between neighbours), then ``extra``."""
    return np.array([*(16.0 * 64.0 ** (np.arange(30) / 29)), *extra])


def _scan(w: np.ndarray) -> dict[int, dict[str, float]]:
    stats = {"width": w}
    return rare_outliers(Linter().evaluate_stats(stats).issues, stats)


def test_a_width_twice_any_other_is_kept() -> None:
    w = _widths(4096.0)
    issues = Linter().evaluate_stats({"width": w}).issues
    assert sorted(issues) == [27, 28, 29, 30]  # 0.65's linear rule: the largest four
    # on the log scale (by hand) the spread is wide: 4096 px is not far out by the modified z-score
    t = np.log(w)
    med = np.median(t)
    assert 0.6745 * (t[30] - med) / np.median(np.abs(t - med)) < 3.5
    assert _scan(w) == {30: {"width": 4096.0}}  # before: {} (4096 / 1024 = 4: isolated; 1024 not)


def test_a_group_of_at_most_the_rare_count() -> None:
    # 32 images: at most max(2, 5 % of 32) = 2 may lie beyond the gap
    assert sorted(_scan(_widths(3000.0, 4096.0))) == [30, 31]
    # 33 images, three beyond the gap: a kind of image, not an outlier (max(2, 1.65) = 2)
    assert _scan(_widths(2500.0, 3000.0, 4096.0)) == {}
    # 1.8x beyond the largest other: not isolated
    assert _scan(_widths(1843.0)) == {}


def test_isolated_bounds_by_hand() -> None:
    t = np.log(_widths(4096.0))
    med = np.median(t)  # the 16th value of 31
    low, high = isolated_bounds(t)
    assert med == pytest.approx(np.log(16.0 * 64.0 ** (15 / 29)), rel=1e-15)
    # twice the next one nearer the median, 1024 px (review15: before, 1024 px itself), less GAP_TIE
    assert high == pytest.approx(np.log(2048.0) - GAP_TIE, rel=1e-15)
    # below: no gap of a factor 2 -> ln 2 beyond the smallest (16 px): nothing here lies there
    assert low == pytest.approx(np.log(16.0) - np.log(2.0) + GAP_TIE, rel=1e-15)
    assert isolated_mask(t).tolist() == [False] * 30 + [True]
    # the images on the median count as the nearest: one value twice the constant rest is isolated
    assert isolated_mask(np.log([10.0] * 9 + [25.0])).tolist() == [False] * 9 + [True]
    assert isolated_mask(np.array([np.nan, 1.0])).tolist() == [False, False]


def test_against_a_collection_the_same_bound() -> None:
    ref = {"width": _widths(4096.0)}
    new = {"width": np.array([4096.0, 2100.0, 1900.0, 1024.0])}
    issues = Linter().evaluate_against(new, {"width": _ref_summary(ref["width"])}).issues
    assert sorted(issues) == [0, 1, 2, 3]
    # twice beyond 1024 px (the last before the collection's gap) and rare there: 4096, 2100 (review15:
    # not 1900, which a scan of the collection with it does not flag either)
    assert sorted(rare_against(issues, new, ref)) == [0, 1]
    # against a collection without a gap: a factor 2 beyond its largest (1024 -> 2048 px)
    plain = {"width": _widths()}
    issues = Linter().evaluate_against(new, {"width": _ref_summary(plain["width"])}).issues
    assert sorted(rare_against(issues, new, plain)) == [0, 1]


def _ref_summary(v: np.ndarray) -> dict[str, float]:
    from dataeval_gpu.detectors.linter import reference_summary

    return reference_summary(v)


def test_shown_range_is_the_flags() -> None:
    for w in (_widths(4096.0), _widths(3000.0, 4096.0), _widths(2500.0, 3000.0, 4096.0), _widths(1843.0)):
        stats = {"width": w}
        flagged = _scan(w)
        ranges, _ = scan_ranges(stats, ["width"])
        low, high = ranges["width"]
        assert [bool(x < low or x > high) for x in w] == [i in flagged for i in range(len(w))]
    # shown: the outer of the isolated bound (twice 1024 px, less GAP_TIE; review15: before 1024 px) and
    # the rare one (the third furthest, 887 px, over 0.9 on the log scale: at most 2 as far out within
    # 10 %: 1091 px), by hand
    t = np.log(_widths(4096.0))
    med = np.median(t)
    ranges, _ = scan_ranges({"width": np.exp(t)}, ["width"])
    third = np.log(16.0 * 64.0 ** (28 / 29))
    assert np.exp(med + (third - med) / 0.9) == pytest.approx(1091.39, rel=1e-5)
    assert ranges["width"][1] == pytest.approx(np.exp(np.log(2048.0) - GAP_TIE), rel=1e-12)


def test_a_kind_of_image_is_not_isolated() -> None:
    """A group beyond the gap holding more than max(2, 1 % of the images) is a kind of image (a
    game's 68 maps of 2048 x 1024 px among 1,737 sprites), not an outlier, however rare (5 %)."""
    base = 16.0 * 64.0 ** (np.arange(300) / 299)  # 300 widths from 16 to 1024 px, even on the log scale
    three = np.array([*base, 4096.0, 4096.0, 4096.0])  # 303 images: at most 3 (1 % is 3.03)
    four = np.array([*base, 4096.0, 4096.0, 4096.0, 4096.0])  # 304 images: 4 > 3.04
    assert sorted(_scan(three)) == [300, 301, 302]
    assert _scan(four) == {}
    # the rare part alone (5 %, at most 15 as far out) would keep them: the group limit decides
    t = np.log(four)
    assert np.sum(t >= t[-1] * 0.9 + np.median(t) * 0.1) <= max(2, 0.05 * four.size)
