"""alpha15 (2026-12-07): the motion-blur term of ``blurry`` is judged only where ``occupancy`` (the share of
the 16 x 16 grid's cells spanning 64+ grey levels) is at least ``MOTION_MIN_OCCUPANCY`` - a blur along a
line keeps a picture's edges across it, while a ramp, a wave texture or a flat ground under a faint
texture, with no edge of real contrast, read as a lost direction by their smoothness alone."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.detectors.quality_rules import MOTION_MIN_OCCUPANCY, motion_blurred, motion_judged


def _rows(occupancy: list[float]) -> dict[str, np.ndarray]:
    n = len(occupancy)
    return {
        "grey_p99": np.full(n, 0.9),
        "motion_ratio": np.full(n, 0.3),
        "motion_energy": np.full(n, 200.0),
        "motion_cross": np.ones(n),
        "width": np.full(n, 300.0),
        "height": np.full(n, 200.0),
        "opacity": np.ones(n),
        "occupancy": np.array(occupancy),
    }


def test_occupancy_bound_hand_checked() -> None:
    """Rows alike but for ``occupancy``: 0 (a ramp), 0.0625 (16 of 256 cells), at the bound, above it.
    Metrics gathered without the key: not checked (judged as before)."""
    m = _rows([0.0, 16 / 256, MOTION_MIN_OCCUPANCY, 0.5])
    assert MOTION_MIN_OCCUPANCY == 0.07
    assert motion_judged(m).tolist() == [False, False, True, True]
    assert motion_blurred(m, 0.555).tolist() == [False, False, True, True]  # 1 - 0.3 - 0.025 > 0.555
    assert motion_judged({k: v for k, v in m.items() if k != "occupancy"}).all()


def _line_blur(img: np.ndarray, length: int) -> np.ndarray:
    """Box blur of ``length`` px along the rows, edges repeated (recall12's ``motion9`` plant)."""
    a = img.astype(np.float64)
    pad = np.pad(a, ((0, 0), (0, 0), (length // 2, length - 1 - length // 2)), mode="edge")
    c = np.concatenate([np.zeros_like(pad[..., :1]), np.cumsum(pad, axis=-1)], axis=-1)
    w = a.shape[-1]
    return np.clip(np.round((c[..., length : length + w] - c[..., :w]) / length), 0, 255).astype(np.uint8)


def test_a_blurred_photo_keeps_its_flag_a_ramp_under_the_bound_loses_it(photos: list[np.ndarray]) -> None:
    """Real photos of at least 128 px a side blurred 15 px along the rows: those the motion term flags
    have edges (``occupancy`` over the bound, measured on their pixels: the share of 16 x 16 grid cells
    spanning 64+ levels, recomputed here in float64 on adaptive pooling's bins), so the rule keeps every one; the same metrics with
    ``occupancy`` set to 1/16 (a soft design) lose the motion flag and its reason, nothing else."""
    src = [np.ascontiguousarray(p) for p in photos if p.shape[0] == 3 and min(p.shape[1:]) >= 128][:6]
    if len(src) < 3:
        pytest.skip("too few photos of 128 px and more")
    blurred = [_line_blur(p, 15) for p in src]
    qi = QualityIssues()
    metrics = qi.metrics(blurred)
    out = qi.evaluate(metrics)
    moved = motion_blurred(out.metrics, out.thresholds["blurry"])
    assert moved.any()
    for i, img in enumerate(blurred):
        red, green, blue = img.astype(np.int64)
        g = np.round((299 * red + 587 * green + 114 * blue) / 1000.0)
        h, w = g.shape
        # adaptive pooling's bins: [floor(i n / 16), ceil((i + 1) n / 16))
        ys = [(i * h // 16, -(-(i + 1) * h // 16)) for i in range(16)]
        xs = [(j * w // 16, -(-(j + 1) * w // 16)) for j in range(16)]
        spans = [g[y0:y1, x0:x1] for y0, y1 in ys for x0, x1 in xs]
        occ = np.mean([s.max() - s.min() >= 64 for s in spans])
        assert out.metrics["occupancy"][i] == pytest.approx(occ, abs=1e-7)
        if moved[i]:
            assert occ >= MOTION_MIN_OCCUPANCY and out.flags["blurry"][i]
            assert "motion blur along the rows" in " ".join(out.why(i))
    soft = {k: v.clone() for k, v in metrics.items()}
    soft["occupancy"][:] = 1 / 16
    out2 = qi.evaluate(soft)
    assert not motion_blurred(out2.metrics, out2.thresholds["blurry"]).any()
    assert all("motion blur" not in " ".join(out2.why(i)) for i in range(len(blurred)))
    for k in out.flags:
        if k != "blurry":
            assert out2.flags[k].tolist() == out.flags[k].tolist()
