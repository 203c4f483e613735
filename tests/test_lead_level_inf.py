"""figure_rules with a flat image's level that is infinite (a constant image fed after
``transforms.Normalize``: 0.65's rescale divides by max - min = 0): no numpy RuntimeWarning
('invalid value encountered in subtract' from inf - inf, seen in the Lightning callback), equal
levels (inf and inf) count as close, different ones do not, as for finite levels."""

from __future__ import annotations

import warnings

import numpy as np

from dataeval_gpu.detectors.hash_figures import LEVEL_TOLERANCE, PairFigures, figure_rules


def test_infinite_levels_compare_without_warning() -> None:
    level = np.array([np.inf, np.inf, 0.5, 0.5 + LEVEL_TOLERANCE / 2, -np.inf, np.nan])
    figs = PairFigures(entropy=np.zeros(6), level=level)  # every image flat (entropy 0)
    i = np.array([0, 0, 2, 0, 4])
    j = np.array([1, 2, 3, 4, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        keep = figure_rules(figs, figs, i, j)
    # inf = inf kept; inf vs 0.5 not; 0.5 vs 0.5 + tol/2 kept; inf vs -inf not; -inf vs NaN not
    np.testing.assert_array_equal(keep, [True, False, True, False, False])
