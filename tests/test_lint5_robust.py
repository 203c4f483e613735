"""The scan's default Linter rule on heavy-tailed metrics (lint5): a flag stays when the value is far out
(modified z-score over 3.5) and rare on the metric's robust scale (log sizes, arcsine square root of
shares, ``zero`` per channel); the guide ``Linter`` and the 0.65 preset keep 0.65's flags."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.audit.lint_rules import far_mask, rare_against, rare_outliers, robust_scale
from dataeval_gpu.detectors.linter import Linter, outlier_mask
from tests.test_lint4_rare import reports_by_preset


def _zero_shares() -> tuple[np.ndarray, np.ndarray]:
    """80 photos with 0.1-8 % black values per channel, a tail of 15 at 2-30 %, two RGB images 90 and
    95 % black and one grey image 93 % black (``zero`` counts zero values over every channel)."""
    share = np.array([0.001 * k for k in range(1, 81)] + [0.02 * k for k in range(1, 16)] + [0.9, 0.95, 0.93])
    channels = np.array([3.0] * 97 + [1.0])
    return share, channels


def test_zero_keeps_the_nearly_black_images_only() -> None:
    share, channels = _zero_shares()
    zero = channels * share
    flagged = np.flatnonzero(outlier_mask(zero, "modzscore"))
    # 0.65: the tail from 18 % black on (median 0.24 over the channels, MAD 0.063)
    assert flagged.tolist() == list(range(88, 98))
    issues = {int(p): {"zero": float(zero[p])} for p in flagged}
    # an independent float64 reference: modified z-score of arcsin(sqrt(share)) ...
    t = np.arcsin(np.sqrt(share))
    med = np.median(t)
    z = 0.6745 * np.abs(t - med) / np.median(np.abs(t - med))
    assert np.round(z[flagged], 2).tolist() == [2.67, 2.98, 3.28, 3.57, 3.85, 4.13, 4.4, 12.57, 13.75, 13.23]
    # ... far (> 3.5): 91..97; rare: 91..94 have 6 or more of 98 images (limit 4.9) at least 0.9 of
    # their distance out (94: 94, 95, 96, 97 and 92, 93 within the neighbourhood), 95..97 have 3
    out = rare_outliers(issues, {"zero": zero, "channels": channels})
    assert out == {95: {"zero": 2.7}, 96: {"zero": 2.8499999999999996}, 97: {"zero": 0.93}}
    # the grey image is judged per channel: counted as RGB its 0.93 would be a 31 % share, not far
    assert sorted(rare_outliers(issues, {"zero": zero, "channels": np.full(98, 3.0)})) == [95, 96]


def test_sizes_are_judged_on_the_log_scale() -> None:
    # 86 widths 300-640, ten at 1280 (2-4x), one 5000 (12x the median 491)
    w = np.array([300.0 + 4 * k for k in range(86)] + [1280.0] * 10 + [5000.0])
    flagged = np.flatnonzero(outlier_mask(w, "modzscore"))
    assert flagged.tolist() == list(range(86, 97))  # 0.65 flags every one over 1280
    t = np.log(w)
    med = np.median(t)
    z = 0.6745 * np.abs(t - med) / np.median(np.abs(t - med))  # log median 6.198, MAD 0.197
    assert round(float(z[86]), 2) == 3.27 and round(float(z[96]), 2) == 7.94
    issues = {int(p): {"width": float(w[p])} for p in flagged}
    assert rare_outliers(issues, {"width": w}) == {96: {"width": 5000.0}}
    # a 12x smaller image is as far as a 12x larger one on this scale (0.65 never flags it: 491 - 41 < 3.5 MADs)
    assert far_mask(np.log(np.array([41.0, 5000.0])), t).tolist() == [True, True]


def test_robust_scale_values() -> None:
    assert np.allclose(robust_scale("width", np.array([1.0, np.e, 100.0])), [0.0, 1.0, np.log(100.0)])
    assert np.isnan(robust_scale("size", np.array([0.0, -1.0]))).all()  # no log: kept when rare (linear values)
    assert np.allclose(robust_scale("brightness", np.array([0.0, 0.25, 1.0])), [0.0, np.pi / 6, np.pi / 2])
    assert np.allclose(
        robust_scale("zero", np.array([3.0, 0.75]), np.array([3.0, 1.0])), [np.pi / 2, np.pi / 3]
    )
    assert robust_scale("zero", np.array([1.0])) is None  # the share needs the channels
    assert robust_scale("depth", np.array([8.0])).tolist() == [8.0]
    # far: a constant reference puts any other value out; a non-finite value is out
    assert far_mask(np.array([1.0, 2.0, np.nan]), np.ones(5)).tolist() == [False, True, True]


def test_against_a_collection_uses_its_scale() -> None:
    ref = np.array([300.0 + 4 * k for k in range(86)] + [1280.0] * 10)  # the index
    new = np.array([1300.0, 5000.0])
    issues = {0: {"width": 1300.0}, 1: {"width": 5000.0}}
    # 1300: as far as the index's ten 1280s (limit 4.8): not rare, and 3.3 on the log scale
    assert rare_against(issues, {"width": new}, {"width": ref}) == {1: {"width": 5000.0}}
    # zero without the index's channels: left as the Linter flagged it
    assert rare_against({0: {"zero": 2.0}}, {"zero": np.array([2.0])}, {"zero": np.linspace(0, 0.1, 50)}) == {
        0: {"zero": 2.0}
    }


def test_scan_default_keeps_the_nearly_black_image_and_the_preset_stays_065() -> None:
    """Real images: 60 noise images with a black band of 0-10 % of their rows, 12 with a band of 25-47 %
    (0.65 flags them), one 97 % black: the default keeps the last one's ``zero`` only."""
    rng = np.random.default_rng(5)
    imgs = []
    bands = [int(k) for k in rng.integers(0, 4, 60)] + [10 + k for k in range(12)] + [39]
    for b in bands:
        im = rng.integers(20, 236, (3, 40, 40), dtype=np.uint8)
        im[:, :b] = 0
        imgs.append(torch.from_numpy(im))
    reports = reports_by_preset(imgs)
    linter = Linter().evaluate(imgs).issues
    assert reports["dataeval-0.65"].issues == linter
    assert sorted(p for p, m in linter.items() if "zero" in m) == list(range(60, 73))
    default = reports["default"].issues
    assert sorted(p for p, m in default.items() if "zero" in m) == [72]
    # the rule only takes flags away (the half-black 70, 71 and 72 stay the flattest and darkest)
    assert all(set(m) <= set(linter[p]) for p, m in default.items())  # (the Linter rounds as 0.65 stores)
    assert {p: sorted(m) for p, m in default.items()} == {
        70: ["blurriness"],
        71: ["blurriness", "brightness"],
        72: ["blurriness", "brightness", "zero"],
    }
