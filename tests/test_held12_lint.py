"""The scan's Linter rule (default preset): the aspect ratio tested on its log scale alone, and
``zero`` not judged on images with transparent parts (held12, 2026-12-07).

The collection of the aspect tests, by hand: 94 aspect ratios, 40 square, 15 each at 5:4 and
4:5, 10 each at 8:5 and 5:8, 2 each at 4:1 and 1:4.  Linear (0.65): median 1, |a - 1| sorted
40 x 0, 15 x 0.2, 15 x 0.25, ... so the MAD (mean of the 47th and 48th) is 0.2; 4:1 scores
0.6745 * 3 / 0.2 = 10.1 (flagged), 1:4 scores 0.6745 * 0.75 / 0.2 = 2.53 (not), 8:5 2.02.
Log: |ln a| sorted 40 x 0, 30 x ln 1.25 = 0.2231, ... so the MAD is 0.2231; 4:1 and 1:4 both
score 0.6745 * ln 4 / 0.2231 = 4.19 (far), 8:5 and 5:8 0.6745 * 0.47 / 0.2231 = 1.42 (not); at
most max(2, 0.05 * 94) = 4 images lie as far on each side: 2 (rare).  So the 4 extremes, and
only they, are flagged; before, 4:1 only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.audit.lint_rules import LOG_TESTED, log_tested, opaque_only, rare_against, rare_outliers
from dataeval_gpu.detectors.linter import Linter, reference_summary
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.report.linter_ranges import against_ranges, scan_ranges

# (width, height) per kind, how many
SHAPES = [((16, 16), 40), ((20, 16), 15), ((16, 20), 15), ((16, 10), 10), ((10, 16), 10), ((64, 16), 2), ((16, 64), 2)]


def _aspects() -> np.ndarray:
    return np.concatenate([np.full(n, w / h) for (w, h), n in SHAPES])


def _extremes(a: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero((a == 4.0) | (a == 0.25))]


def test_linear_linter_flags_wide_only() -> None:
    """The premise, by hand (module docstring): 0.65's linear test flags 4:1, not 1:4."""
    a = _aspects()
    flagged = sorted(Linter().evaluate_stats({"aspect_ratio": a}).issues)
    assert flagged == [int(i) for i in np.flatnonzero(a == 4.0)]


def test_aspect_is_tested_on_the_log_scale_both_ways() -> None:
    a = _aspects()
    issues = Linter().evaluate_stats({"aspect_ratio": a}).issues
    out = rare_outliers(issues, {"aspect_ratio": a})
    assert sorted(out) == _extremes(a)
    assert {p: m["aspect_ratio"] for p, m in out.items()} == {p: float(a[p]) for p in _extremes(a)}
    # the mask alone, and its hand-computed parts
    assert np.flatnonzero(log_tested("aspect_ratio", a)).tolist() == _extremes(a)
    assert "aspect_ratio" in LOG_TESTED


def test_aspect_not_added_when_not_linted() -> None:
    """A metric the Linter did not judge (``linted`` without it) gets no flag from the rule."""
    a = _aspects()
    b = np.linspace(0.4, 0.6, len(a))
    out = rare_outliers({}, {"aspect_ratio": a, "brightness": b}, linted=["brightness"])
    assert out == {}
    # every value the same: the Linter lints nothing, nor does the rule
    assert rare_outliers({}, {"aspect_ratio": np.ones(20)}) == {}


def test_added_flag_merges_in_stats_order() -> None:
    """An image flagged for another metric gets its aspect flag in the order of the statistics;
    the images stay in order."""
    a = _aspects()
    tall = _extremes(a)[-1]
    b = np.linspace(0.4, 0.6, len(a))
    b[tall] = 0.99
    issues = Linter().evaluate_stats({"brightness": b}).issues
    assert list(issues) == [tall]
    out = rare_outliers(issues, {"brightness": b, "aspect_ratio": a})
    assert list(out) == _extremes(a)
    assert out[tall] == {"brightness": 0.99, "aspect_ratio": 0.25}
    assert list(out[tall]) == ["brightness", "aspect_ratio"]
    out = rare_outliers(issues, {"aspect_ratio": a, "brightness": b})
    assert list(out[tall]) == ["aspect_ratio", "brightness"]


def test_scan_flags_tall_and_wide_alike() -> None:
    """End to end: the default scan of images of these shapes flags the 4:1 and the 1:4 images
    for their aspect ratio (before: the 4:1 only); the 0.65 preset keeps 0.65's answer."""
    a = _aspects()
    images = [torch.full((3, h, w), 128, dtype=torch.uint8) for (w, h), n in SHAPES for _ in range(n)]
    for k, img in enumerate(images):  # some texture, so that nothing else is degenerate
        img[0, 0, 0] = k % 200
    flagged = {}
    for preset in ("default", "dataeval-0.65"):
        audit = DataAudit(device="cpu", hashes=False, quality=False, preset=preset)
        audit.update(images)
        rep = audit.compute()
        flagged[preset] = sorted(i for i, m in rep.issues.items() if "aspect_ratio" in m)
    assert flagged["default"] == _extremes(a)
    assert flagged["dataeval-0.65"] == [int(i) for i in np.flatnonzero(a == 4.0)]
    audit = DataAudit(device="cpu", hashes=False, quality=False, linter_flags=ImageStat.BRIGHTNESS)
    audit.update(images)
    assert not any("aspect_ratio" in m for m in audit.compute().issues.values())


def test_aspect_range_is_the_log_rule_alone() -> None:
    """The report's range of the aspect ratio: exactly the values flagged lie outside it, and it
    is symmetric on the log scale around the median of 1 (low * high = 1)."""
    a = _aspects()
    ranges, _ = scan_ranges({"aspect_ratio": a}, ["aspect_ratio"])
    low, high = ranges["aspect_ratio"]
    flagged = log_tested("aspect_ratio", a)
    assert np.array_equal((a < low) | (a > high), flagged)
    assert low * high == pytest.approx(1.0, rel=1e-12)
    assert 1.6 < high < 4.0 and 0.25 < low < 0.625


def test_against_judges_tall_new_images() -> None:
    """``--against``'s rule: a new 1:4 image is as far out as a new 4:1 one."""
    ref = _aspects()
    new = np.array([0.25, 4.0, 1.0])
    issues = Linter().evaluate_against({"aspect_ratio": new}, {"aspect_ratio": reference_summary(ref)}).issues
    assert sorted(issues) == [1]  # the linear test
    out = rare_against(issues, {"aspect_ratio": new}, {"aspect_ratio": ref})
    assert out == {0: {"aspect_ratio": 0.25}, 1: {"aspect_ratio": 4.0}}
    ranges, _ = against_ranges({"aspect_ratio": reference_summary(ref)}, {"aspect_ratio": ref}, None)
    low, high = ranges["aspect_ratio"]
    assert 0.25 < low < 1.0 < high < 4.0
    assert (low, high) == scan_ranges({"aspect_ratio": ref}, ["aspect_ratio"])[0]["aspect_ratio"]


def _zero_collection() -> dict[str, np.ndarray]:
    """100 opaque RGBA images with 0-2 % zero values per channel (zero = 4 x share), then image 100:
    opaque and black (zero 3.6), 101: 90 % transparent black (zero 3.6, opacity 0.1), 102 and 103:
    the same zero at opacity 0.99 and 0.989 (the bound, TRANSPARENT_BELOW = 0.99); 4 images that
    far out of 104 are rare (at most 5)."""
    zero = np.concatenate([4 * np.linspace(0.0, 0.02, 100), [3.6, 3.6, 3.6, 3.6]])
    opacity = np.concatenate([np.ones(100), [1.0, 0.1, 0.99, 0.989]])
    return {"zero": zero, "channels": np.full(104, 4.0), "opacity": opacity}


def test_zero_not_judged_on_transparent_images() -> None:
    stats = _zero_collection()
    issues = Linter().evaluate_stats({"zero": stats["zero"]}).issues
    assert sorted(issues) == [100, 101, 102, 103]  # 0.65's test flags all four
    assert sorted(rare_outliers(issues, stats)) == [100, 102]
    assert opaque_only(stats).tolist() == [True] * 101 + [False, True, False]
    # without opacity (quality metrics not measured): judged as before
    plain = {k: v for k, v in stats.items() if k != "opacity"}
    assert sorted(rare_outliers(issues, plain)) == [100, 101, 102, 103]


def test_zero_against_skips_transparent_new_images() -> None:
    stats = _zero_collection()
    ref = {k: v[:100] for k, v in stats.items()}
    new = {k: v[100:] for k, v in stats.items()}
    issues = Linter().evaluate_against({"zero": new["zero"]}, {"zero": reference_summary(ref["zero"])}).issues
    assert sorted(issues) == [0, 1, 2, 3]
    assert sorted(rare_against(issues, new, ref)) == [0, 2]
