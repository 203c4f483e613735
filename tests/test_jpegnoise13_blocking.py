"""jpegnoise13 (2026-12-07): ``jpeg_blocking`` from ``blockiness`` > 2.2 (was 2.4), so that more photos
saved as JPEG at quality 10 at their native size are found (recall12's survey draw 1: 5 -> 10 of 14)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.datasets import sample_photos
from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, QualityIssues, issue_scores
from tests.test_jpeg9_pattern import ref_figures
from tests.test_quality4_rules import quality_rows


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.moveaxis(img, 0, -1)).save(buf, format="JPEG", quality=quality)
    return np.moveaxis(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), -1, 0).copy()


def _ref_blockiness(img: np.ndarray) -> float:
    """float64 reference of ``blockiness`` of an RGB image that fits the metric's window: the mean
    absolute step of the BT.601 grey across the 8-px border lines over the mean step elsewhere (at
    least 0.5), rows and columns of 64+ px, times ``min(1, share / 0.2) ** 2`` and the pattern
    weight (1 up to a pattern share of 0.2, 0 from 0.4; ``ref_figures``)."""
    g = np.tensordot(np.array([0.299, 0.587, 0.114]), img / 255.0, axes=1) * 255.0
    num = den = nb = no = 0.0
    for axis, size in ((1, g.shape[1]), (0, g.shape[0])):
        if size < 64:
            continue
        steps = np.abs(np.diff(g, axis=axis)).mean(axis=1 - axis)
        on = (np.arange(1, size) % 8) == 0
        num, nb, den, no = num + steps[on].sum(), nb + on.sum(), den + steps[~on].sum(), no + (~on).sum()
    share, pattern = ref_figures(g)
    weight = float(np.clip((0.4 - pattern) / 0.2, 0.0, 1.0))
    return (num / nb) / max(den / no, 0.5) * min(1.0, share / 0.2) ** 2 * weight


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    """The upper left 256 x 256 px of scikit-image's astronaut photo (a real photo, RGB)."""
    photos = dict(sample_photos())
    if "skimage_astronaut" not in photos:
        pytest.skip("scikit-image's astronaut photo is not installed")
    return np.ascontiguousarray(photos["skimage_astronaut"][:, :256, :256])


def test_threshold() -> None:
    """Hand-checked rows: 2.19 and 2.2 are not flagged, 2.21 and 2.3 are (the old threshold, 2.4,
    flagged none of them); the score is ``blockiness`` itself."""
    assert DEFAULT_THRESHOLDS["jpeg_blocking"] == 2.2
    m = quality_rows(4, blockiness=[2.19, 2.2, 2.21, 2.3])
    np.testing.assert_allclose(issue_scores(m)[0]["jpeg_blocking"], [2.19, 2.2, 2.21, 2.3], rtol=0)
    assert QualityIssues().evaluate(m).flags["jpeg_blocking"].tolist() == [False, False, True, True]
    old = QualityIssues(thresholds={"jpeg_blocking": 2.4}).evaluate(m)
    assert not old.flags["jpeg_blocking"].any()


def test_a_photo_at_quality_10_is_blocky_at_quality_90_not(astronaut: np.ndarray) -> None:
    """The astronaut crop saved at quality 10 scores 2.27 (the reference, 1e-3): flagged now, under the
    2.4 of before; at quality 90 it scores 1.04, not flagged."""
    q10, q90 = _jpeg(astronaut, 10), _jpeg(astronaut, 90)
    q = QualityIssues(issues=["jpeg_blocking"])
    out = q.evaluate([torch.from_numpy(x) for x in (q10, q90)])
    got = np.asarray(out.metrics["blockiness"], dtype=np.float64)
    ref = [_ref_blockiness(x) for x in (q10, q90)]
    np.testing.assert_allclose(got, ref, rtol=1e-3)
    assert 2.2 < ref[0] < 2.4 and ref[1] < 1.2
    np.testing.assert_allclose(out.scores["jpeg_blocking"], got, rtol=0)
    assert out.flags["jpeg_blocking"].tolist() == [True, False]
