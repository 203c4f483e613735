"""review14: the default scan's Linter rule (audit/lint_rules.py) at its edges."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.audit.lint_rules import rare_against, rare_outliers


def _sharpness(n_flat: int) -> np.ndarray:
    """80 images with a Laplacian std 30-50 and ``n_flat`` flat ones (blurriness exactly 0)."""
    return np.concatenate([np.linspace(30.0, 50.0, 80), np.zeros(n_flat)])


def test_flat_images_on_the_log_scale_must_be_rare_too() -> None:
    # 20 flat images of 100 (not rare: the limit is 5): the Linter flags them (0 is 6 MADs from 40);
    # on the log scale 0 is infinitely far, and like 0.001 it is dropped when 20 lie as far
    many = _sharpness(20)
    issues = {p: {"blurriness": 0.0} for p in range(80, 100)}
    assert rare_outliers(issues, {"blurriness": many}) == {}
    nearly = many.copy()
    nearly[80:] = 0.001  # the same images nearly flat: dropped before the fix too
    assert rare_outliers({p: {"blurriness": 0.001} for p in range(80, 100)}, {"blurriness": nearly}) == {}
    # one flat image in 81 is rare: kept
    one = _sharpness(1)
    assert rare_outliers({80: {"blurriness": 0.0}}, {"blurriness": one}) == {80: {"blurriness": 0.0}}


def test_flat_new_image_against_a_collection_with_many_flat_ones() -> None:
    ref = {"blurriness": _sharpness(20)}
    issues = {0: {"blurriness": 0.0}}
    assert rare_against(issues, {"blurriness": np.array([0.0])}, ref) == {}
    assert rare_against(issues, {"blurriness": np.array([0.0])}, {"blurriness": _sharpness(1)}) == issues


def _levels() -> list[np.ndarray]:
    """31 flat grey RGB images: levels 100-140 and one at 170 (its brightness 3.3 MADs out)."""
    levels = [int(v) for v in np.linspace(100, 140, 30).round()] + [170]
    return [np.full((3, 16, 16), v, dtype=np.uint8) for v in levels]


def test_the_rule_keeps_the_users_outlier_threshold() -> None:
    from dataeval_gpu.audit import scan

    share = np.array([float(im.mean()) / 255 for im in _levels()])
    t = np.arcsin(np.sqrt(share))  # brightness's robust scale, float64
    for v in (share, t):  # the modified z-score: between 2 and 3.5 on both scales, the others under 2
        z = 0.6745 * np.abs(v - np.median(v)) / np.median(np.abs(v - np.median(v)))
        assert 2.0 < z[30] < 3.5 and (z[:30] < 2.0).all()
    # --outlier-threshold 2: the Linter flags image 30's brightness (as the 0.65 preset shows); the
    # rule must judge "far" at the user's 2, not at 0.65's default 3.5 (it dropped the flag)
    kw = {"device": "cpu", "progress": False, "outlier_threshold": 2.0}
    assert scan(_levels(), preset="dataeval-0.65", **kw).issues == {30: {"brightness": 0.67}}
    assert scan(_levels(), **kw).issues == {30: {"brightness": 0.67}}
    assert scan(_levels(), device="cpu", progress=False).issues == {}  # 3.5: not an outlier


def test_far_threshold_and_against() -> None:
    from dataeval_gpu.audit.lint_rules import FAR, far_threshold

    assert far_threshold("modzscore", None) == FAR == 3.5
    assert far_threshold("modzscore", 2) == 2.0
    assert far_threshold("modzscore", 0) == FAR  # the Linter's 0: its default (0.65's "threshold if threshold")
    assert far_threshold("zscore", 2) == FAR and far_threshold("iqr", 1.5) == FAR  # another scale
    # against a collection: 30 values 0.10-0.20 (median 0.15, MAD 0.0259); a new 0.20 is 1.30 out,
    # 0.23 is 2.09 out (linear values: skew is not rescaled) and rare there (none as far)
    ref = {"skew": np.linspace(0.10, 0.20, 30)}
    new = {"skew": np.array([0.23])}
    issues = {0: {"skew": 0.23}}
    assert rare_against(issues, new, ref) == {}
    assert rare_against(issues, new, ref, far=2.0) == issues
