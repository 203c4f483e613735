"""Linter against a numpy reference (always) and DataEval 0.65 (when installed)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dataeval_gpu.detectors import Linter
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.metrics import imagestats


def _numpy_reference(stats: dict, method: str, threshold: float | None) -> dict:
    """Written from the definitions: z, modified z (MAD→mean fallback), midpoint IQR fences."""
    out: dict = {}
    for name, v in stats.items():
        if not isinstance(v, np.ndarray) or v.ndim != 1:
            continue
        v = v.astype(np.float64)
        if np.std(v) == 0:
            continue
        if method == "zscore":
            t = threshold or 3.0
            mask = np.abs(v - v.mean()) / v.std() > t
        elif method == "modzscore":
            t = threshold or 3.5
            d = np.abs(v - np.median(v))
            mad = np.median(d) or np.mean(d)
            mask = 0.6745 * d / mad > t
        else:
            t = threshold or 1.5
            s = np.sort(v)
            n = len(s)

            def mid(q, s=s, n=n):
                pos = q * (n - 1)
                return (s[int(np.floor(pos))] + s[int(np.ceil(pos))]) / 2

            q1, q3 = mid(0.25), mid(0.75)
            if np.isnan(v).any():  # a NaN quartile flags nothing (as np.percentile does)
                q1 = q3 = np.nan
            mask = (v < q1 - t * (q3 - q1)) | (v > q3 + t * (q3 - q1))
        for i in np.flatnonzero(mask):
            out.setdefault(int(i), {})[name] = round(float(v[i]), 2)
    return dict(sorted(out.items()))


@pytest.fixture(scope="module")
def lint_images(photos, synthetic):
    rng = np.random.default_rng(5)
    extra = [np.full((3, 64, 64), 250, np.uint8), np.zeros((3, 64, 64), np.uint8), rng.integers(0, 256, (3, 8, 200)).astype(np.uint8)]
    return photos + [s for s in synthetic if s.ndim == 3 and s.dtype == np.uint8] + extra


#: the statistics DataEval 0.65 stores rounded to float16 (its imagestats' ``np.float16(...)``)
F16_065 = ("aspect_ratio", "brightness", "blurriness", "missing", "zero", "mean", "std", "var", "skew", "kurtosis", "entropy")


@pytest.mark.parametrize("method", ["zscore", "modzscore", "iqr"])
@pytest.mark.parametrize("threshold", [None, 2.0])
def test_matches_numpy_reference(lint_images, method, threshold):
    """``evaluate`` lints the float statistics as 0.65 stores them: rounded to float16."""
    lint = Linter(ImageStat.ALL_STATS, outlier_method=method, outlier_threshold=threshold)
    got = lint.evaluate(lint_images).issues
    stored = {k: np.float16(v).astype(np.float64) if k in F16_065 else v for k, v in lint.stats.dict().items()}
    want = _numpy_reference(stored, method, threshold)
    assert got == want
    assert len(got) > 0  # the planted extremes are found


def test_guide_style_assignment(lint_images):
    lint = Linter()
    lint.stats = imagestats(lint_images, ImageStat.ALL_STATS)
    issues = lint._get_outliers()
    n = len(lint_images)
    assert {n - 3, n - 2, n - 1} <= set(issues)  # white, black and 8x200 images
    assert issues[n - 1]["aspect_ratio"] == 25.0


def test_adaptive_never_flags_more_than_fixed(lint_images):
    fixed = Linter(ImageStat.ALL_STATS).evaluate(lint_images).issues
    adaptive = Linter(ImageStat.ALL_STATS, adaptive=True, adaptive_max_fraction=0.02).evaluate(lint_images).issues
    n_fixed = sum(len(v) for v in fixed.values())
    n_adapt = sum(len(v) for v in adaptive.values())
    assert n_adapt <= n_fixed
    for i, metrics in adaptive.items():  # adaptive flags are a subset of fixed flags
        assert set(metrics) <= set(fixed[i])


def test_class_wise_lints_within_class():
    # class 0 is dark, class 1 bright: globally nothing is extreme; within class 1 one image is
    imgs = [np.full((1, 16, 16), 20 + i % 3, np.uint8) for i in range(12)]
    imgs += [np.full((1, 16, 16), 200 + i % 3, np.uint8) for i in range(11)] + [np.full((1, 16, 16), 120, np.uint8)]
    labels = [0] * 12 + [1] * 12
    glob = Linter(ImageStat.BRIGHTNESS, outlier_method="zscore").evaluate(imgs).issues
    per_class = Linter(ImageStat.BRIGHTNESS, outlier_method="zscore", class_wise=True).evaluate(imgs, labels=labels).issues
    assert 23 not in glob
    assert list(per_class) == [23]
    with pytest.raises(InvalidArgumentError, match="labels"):
        Linter(class_wise=True).evaluate(imgs)


def test_bad_method():
    with pytest.raises(ValueError, match="outlier_method"):
        Linter(outlier_method="nope")  # type: ignore[arg-type]


@pytest.mark.parity
@pytest.mark.parametrize("method", ["zscore", "modzscore", "iqr"])
def test_parity_with_dataeval_065_on_same_stats(lint_images, method):
    pytest.importorskip("dataeval")
    from dataeval.detectors import Linter as RefLinter
    from dataeval.flags import ImageStat as RefStat
    from dataeval.metrics import imagestats as ref_imagestats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_stats = ref_imagestats(lint_images, RefStat.ALL_STATS)
    ref_lint = RefLinter(RefStat.ALL_STATS, outlier_method=method)
    ref_lint.stats = ref_stats
    want = ref_lint._get_outliers()
    ours = Linter(ImageStat.ALL_STATS, outlier_method=method)
    ours.stats = ref_stats  # same stats in, same flags out
    got = ours._get_outliers()
    assert got == {int(k): {m: float(x) for m, x in v.items()} for k, v in want.items()}
    # and on our own stats: same flagged images as 0.65's full run
    full = Linter(ImageStat.ALL_STATS, outlier_method=method).evaluate(lint_images).issues
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_full = RefLinter(RefStat.ALL_STATS, outlier_method=method).evaluate(lint_images).issues
    assert set(full) == set(int(k) for k in ref_full)


def test_evaluate_stats_lints_given_statistics(lint_images):
    stats = imagestats(lint_images, ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS)
    want = _numpy_reference(stats.dict(), "modzscore", None)
    assert want  # the fixture has outliers
    assert Linter().evaluate_stats(stats).issues == want
    # a plain mapping of arrays works too, and _get_outliers (0.65's name) is the same call
    lint = Linter()
    assert lint.evaluate_stats(dict(stats.dict())).issues == want
    lint.stats = stats
    assert lint._get_outliers() == want
    assert Linter().evaluate(lint_images).issues == want


def test_evaluate_stats_checks_label_count():
    stats = {"brightness": np.array([0.1, 0.2, 0.3])}
    with pytest.raises(InvalidArgumentError, match="2 labels for 3 images"):
        Linter(class_wise=True).evaluate_stats(stats, labels=[0, 1])
    out = Linter(class_wise=True).evaluate_stats({"brightness": np.array([0.5] * 9 + [0.9] + [0.9] * 9 + [0.1])}, labels=[0] * 10 + [1] * 10)
    assert out.issues == {9: {"brightness": 0.9}, 19: {"brightness": 0.1}}


def test_class_wise_labels_must_be_one_class_per_image() -> None:
    """``class_wise=True`` with a (5, 3, 3) label array (masks) raised IndexError ("index 5 is
    out of bounds for axis 0 with size 5"); a clear error now says what the labels must be."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (3, 10 + k, 12), dtype=np.uint8) for k in range(5)]
    with pytest.raises(InvalidArgumentError, match=r"class_wise=True needs one class label per image .*\(5, 3, 3\)"):
        Linter(class_wise=True).evaluate(images, labels=np.zeros((5, 3, 3)))
    with pytest.raises(InvalidArgumentError, match=r"one class label per image"):
        Linter(class_wise=True).evaluate(images, labels=[[0, 1], [1, 2], [0], [1], [2]])
    got = Linter(class_wise=True).evaluate(images, labels=[0, 1, 0, 1, 0]).issues
    assert isinstance(got, dict)
