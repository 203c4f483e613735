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
