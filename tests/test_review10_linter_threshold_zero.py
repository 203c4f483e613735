"""The Linter takes ``outlier_threshold=0`` for its method's default (DataEval 0.65's rule, merged
from parity); the report's "range each metric leaves unflagged" (report/linter_ranges.py) and its
note took the 0 as given: a zero-width range around the median, with every image but the median
one outside it, beside the Linter's flags at the default threshold."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.detectors.linter import Linter, outlier_mask
from dataeval_gpu.report.linter_ranges import LINTER_DEFAULT_THRESHOLDS, linter_ranges, reference_ranges


@pytest.mark.parametrize("method", ["modzscore", "zscore", "iqr"])
def test_ranges_at_threshold_zero_are_the_linters(method: str) -> None:
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.normal(0.5, 0.05, 200), [0.99, 0.01, 0.9]])
    flagged = outlier_mask(v, method, 0)  # the Linter's own rule: 0 is the default
    assert flagged.sum() == outlier_mask(v, method, LINTER_DEFAULT_THRESHOLDS[method]).sum()
    assert 0 < flagged.sum() < 20
    low, high = linter_ranges({"m": v}, ["m"], method, 0)["m"]
    assert np.array_equal((v < low) | (v > high), flagged)  # before: every value off the median flagged
    ref = {"m": dict(zip(["median", "mad", "mean", "std", "q1", "q3"], [0.5, 0.03, 0.5, 0.05, 0.47, 0.53]))}
    assert reference_ranges(ref, method, 0.0) == reference_ranges(ref, method, None)


def test_linter_with_threshold_zero_flags_as_default() -> None:
    """The premise: Linter(outlier_threshold=0) is Linter() (0.65's ``threshold if threshold else``)."""
    rng = np.random.default_rng(4)
    imgs = rng.integers(90, 110, (30, 1, 16, 16)).astype(np.uint8)
    imgs[3] = 250
    assert Linter(outlier_threshold=0).evaluate(imgs).issues == Linter().evaluate(imgs).issues
