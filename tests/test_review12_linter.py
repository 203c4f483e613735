"""review12: the guide API's Linter at a bound, where DataEval 0.65's float16 storage decides.

0.65's ``imagestats`` rounds each float statistic to float16 (``np.float16(...)``) and stores it
in a float64 array; its Linter then computes in float64 on those rounded values.  Linting our
float64 values instead flagged an image 0.65 does not flag: the aspect ratio 71 / 37 among nine
near-square images has a modified z-score of 3.5001 in float64 and 3.4942 on the float16-rounded
values (a pingus sprite, 64 x 20, read 3.5002 here against 3.4966 in 0.65).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dataeval_gpu.detectors import Linter
from dataeval_gpu.detectors.linter import F16_STATS, as_stored_by_065
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.metrics import imagestats

SIZES = [(15, 10), (10, 11), (13, 10), (14, 10), (10, 11), (14, 10), (15, 10), (14, 10), (10, 14), (71, 37)]


def _images() -> list[np.ndarray]:
    return [np.full((1, h, w), 7, np.uint8) for w, h in SIZES]


def _modz(v: np.ndarray) -> np.ndarray:
    dev = np.abs(v - np.median(v))
    return 0.6745 * dev / np.median(dev)


def test_the_case_sits_between_float64_and_float16() -> None:
    """The independent reference: numpy on the ratios, float64 and float16-rounded."""
    ratios = np.array([w / h for w, h in SIZES])
    assert _modz(ratios)[-1] == pytest.approx(3.500108, abs=1e-6)
    assert _modz(ratios.astype(np.float16).astype(np.float64))[-1] == pytest.approx(3.494239, abs=1e-6)


def test_evaluate_lints_the_values_as_065_stores_them() -> None:
    """Before: image 9 flagged too ({'aspect_ratio': 1.92}, the float64 values); 0.65 flags the
    10 x 14 image only (0.714: a modified z-score of 4.6 either way)."""
    assert Linter(flags=ImageStat.ASPECT_RATIO).evaluate(_images()).issues == {8: {"aspect_ratio": 0.71}}
    # the guide's calls: lint.stats = imagestats(...); lint._get_outliers()
    lint = Linter()
    lint.stats = imagestats(_images(), ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS)
    assert lint._get_outliers() == {
        8: {"aspect_ratio": 0.71},
        9: {"width": 71.0, "height": 37.0, "size": 2627.0},  # not its aspect ratio (before: 1.92 too)
    }
    # statistics given to evaluate_stats are linted as given (the scan's float64 values)
    assert Linter().evaluate_stats({"aspect_ratio": np.array([w / h for w, h in SIZES])}).issues == {
        8: {"aspect_ratio": 0.71},
        9: {"aspect_ratio": 1.92},
    }


def test_as_stored_by_065() -> None:
    stats = imagestats(_images(), ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS).dict()
    stored = as_stored_by_065(stats)
    assert set(stored) == set(stats)
    for k, v in stats.items():
        if k in F16_STATS:
            assert stored[k].dtype == np.float64
            np.testing.assert_array_equal(stored[k], np.asarray(v).astype(np.float16).astype(np.float64))
        else:
            assert stored[k] is v
    assert stored["aspect_ratio"][-1] == 1965 / 1024  # float16 steps 1 / 1024 in [1, 2): 71 / 37 = 1.91892


@pytest.mark.parity
def test_same_as_065_at_the_bound() -> None:
    pytest.importorskip("dataeval")
    from dataeval.detectors import Linter as RefLinter
    from dataeval.flags import ImageStat as RefStat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rflag, flag in ((RefStat.ASPECT_RATIO, ImageStat.ASPECT_RATIO), (None, None)):
            ref = (RefLinter(rflag) if rflag is not None else RefLinter()).evaluate(_images()).issues
            ours = (Linter(flag) if flag is not None else Linter()).evaluate(_images()).issues
            assert ours == {int(k): {m: float(x) for m, x in d.items()} for k, d in ref.items()}


def _overflow_images() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (1, 20, 20)).astype(np.uint8) for _ in range(12)]
    speck = np.zeros((1, 300, 300), np.uint8)
    speck[0, 5, 5] = 255  # kurtosis ~ 90,000: past float16's 65504, 0.65 stores inf
    return [*imgs, speck]


def test_a_statistic_past_float16_reads_inf_as_in_065() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's invalid-value warning on the inf
        issues = Linter(ImageStat.ALL_STATS).evaluate(_overflow_images()).issues
    assert issues[12]["kurtosis"] == np.inf and issues[12]["skew"] == 300.0


@pytest.mark.parity
def test_same_as_065_past_float16() -> None:
    pytest.importorskip("dataeval")
    from dataeval.detectors import Linter as RefLinter
    from dataeval.flags import ImageStat as RefStat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RefLinter(RefStat.ALL_STATS).evaluate(_overflow_images()).issues
    ours = Linter(ImageStat.ALL_STATS).evaluate(_overflow_images()).issues
    assert ours == {int(k): {m: float(x) for m, x in d.items()} for k, d in ref.items()}
