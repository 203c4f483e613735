"""artprec13: ``motion_cross`` (the detail across the weakest direction) and the ``blurry`` motion
term's bound on it - a pattern on the axes (GIMP's transparency checks under a layer) is not a blur
along a line, a photo blurred along a line still is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors.quality import (
    DEFAULT_THRESHOLDS,
    MOTION_MIN_CROSS,
    QualityIssues,
    issue_scores,
    motion_blurred,
)
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_motion import MOTION_KEYS, motion_figures

from .reference import grey_levels_ref, motion_ref
from .test_motion11_motion_metric import line_blur, sample


def _checks(side: int = 256, amp: float = 20.0, seed: int = 0) -> np.ndarray:
    """GIMP's transparency checkerboard (8-px squares of grey 153 / 102) under a faint layer: a
    Gaussian-smoothed (sigma 1) texture of RMS ``amp`` grey levels, as RGB."""
    y, x = np.mgrid[:side, :side]
    checks = np.where(((x // 8) + (y // 8)) % 2 == 0, 153.0, 102.0)
    tex = ndimage.gaussian_filter(np.random.default_rng(seed).normal(0.0, 1.0, (side, side)), 1.0)
    g = np.clip(np.round(checks + tex * amp / tex.std()), 0, 255).astype(np.uint8)
    return np.stack([g, g, g])


def _with_shape(m: dict, imgs: list[np.ndarray]) -> dict:
    out = dict(m)
    out["channels"], out["height"], out["width"] = (
        torch.tensor([float(a.shape[j]) for a in imgs], dtype=torch.float64) for j in range(3)
    )
    return out


def test_hand_checked_cross() -> None:
    """From rows of hand-set energies (one position): q = sqrt(E2 / E8) per direction (rows,
    falling diagonal, columns, rising diagonal).  Rows the weakest (q 0.3), columns 0.4, diagonals
    1.0 and 0.9 - a checkerboard's shape: ``motion_cross`` = 0.4 / min(1.0, 0.9).  Columns 1.0,
    diagonals 0.7 (a blur along the rows): 1.0 / 0.7, capped at 1.  Columns under the flat bound
    (no detail at step 8): 1.  Rows 0.9, the rest 0.15-0.17 (soft but for one direction, the
    weakest the rising diagonal): its perpendicular 0.16 over min(0.9, 0.17)."""
    noise = 0.5  # each energy is less the 8-bit rounding noise: add it back

    def rows(qs: list[float], e8: list[float]) -> torch.Tensor:
        vals = []
        for q, e in zip(qs, e8):
            vals += [q * q * e + noise, e + noise]
        # the greatest 8 x 8 tile sums: a tile of the same energies (``motion_peak`` = the weakest q)
        return torch.tensor([vals + [64.0 * v for v in vals] + [1.0]], dtype=torch.float64)

    got = motion_figures(rows([0.3, 1.0, 0.4, 0.9], [100.0] * 4), torch.float64)
    assert got["motion_ratio"].item() == pytest.approx(0.3, rel=1e-12)
    assert got["motion_peak"].item() == pytest.approx(0.3, rel=1e-12)
    assert got["motion_cross"].item() == pytest.approx(0.4 / 0.9, rel=1e-12)
    got = motion_figures(rows([0.3, 0.7, 1.0, 0.7], [100.0] * 4), torch.float64)
    assert got["motion_cross"].item() == 1.0
    got = motion_figures(rows([0.3, 1.0, 0.4, 0.9], [100.0, 100.0, 0.01, 100.0]), torch.float64)
    assert got["motion_cross"].item() == 1.0  # the columns take no part: no evidence across
    got = motion_figures(rows([0.9, 0.16, 0.17, 0.15], [100.0] * 4), torch.float64)
    assert got["motion_angle"].item() == 45.0
    assert got["motion_cross"].item() == pytest.approx(0.16 / 0.17, rel=1e-12)


def test_checks_under_a_layer_are_not_motion_blur() -> None:
    """The checks lose fine detail along the rows and the columns alike (q 0.44 both) and keep the
    diagonals' (1.38, 1.40): ``motion_ratio`` 0.32, under the 0.42 bar - flagged by the motion term
    without ``motion_cross`` - but ``motion_cross`` 0.44 / 1.38 = 0.32, under ``MOTION_MIN_CROSS``:
    not flagged.  Values as the float64 reference computes them."""
    img = _checks()
    m = _with_shape(quality_metrics([img]), [img])
    ref = motion_ref(img[0])
    for k in MOTION_KEYS:
        assert float(m[k][0]) == pytest.approx(ref[k], rel=1e-6, abs=1e-6), k
    assert 0.25 < ref["motion_ratio"] < 0.42 and ref["motion_energy"] > 1e4
    assert 0.25 < ref["motion_cross"] < MOTION_MIN_CROSS
    t = DEFAULT_THRESHOLDS["blurry"]
    # metrics gathered without the key (and without motion16's ``motion_peak``, which spares the checks' sharp edges too)
    before = {k: v for k, v in m.items() if k not in ("motion_cross", "motion_peak")}
    assert bool(motion_blurred(before, t)[0])
    assert bool(QualityIssues(issues=["blurry"]).evaluate(before).flags["blurry"][0])
    assert not bool(motion_blurred(m, t)[0])
    assert not bool(QualityIssues(issues=["blurry"]).evaluate(m).flags["blurry"][0])
    assert issue_scores(m)[0]["blurry"][0] < t


@pytest.mark.parametrize(("length", "angle"), [(9, 0), (9, 90), (15, 0)])
def test_a_photo_blurred_along_a_line_keeps_its_flag(length, angle) -> None:
    """A photo blurred along a line keeps the detail across it: ``motion_cross`` near 1 (the float64
    reference's value), well over the bound, and the motion term flags it as before."""
    pic = sample("skimage_astronaut")
    imgs = [pic, line_blur(pic, length, angle)]
    m = _with_shape(quality_metrics(imgs), imgs)
    ref = motion_ref(grey_levels_ref(imgs[1].astype(np.int64)))
    for k in MOTION_KEYS:
        assert float(m[k][1]) == pytest.approx(ref[k], rel=1e-6, abs=1e-6), k
    # the blur's own direction the weakest, the one across it the strongest
    assert ref["motion_angle"] == angle and ref["motion_ratio"] < 0.42 and ref["motion_cross"] == 1.0
    flags = QualityIssues(issues=["blurry"]).evaluate(m).flags["blurry"]
    assert flags.tolist() == [False, True]
    assert bool(motion_blurred(m, DEFAULT_THRESHOLDS["blurry"])[1])
