"""alpha15 (2026-12-07): ``dark`` is not judged on black ink - an image with transparent parts at least
half of whose visible pixels are black (``black_ink``: a shadow, a silhouette with an anti-aliased edge;
tux's shadow sprites were flagged) - while a picture darkened as a whole keeps its body above black and
is still dark, with or without alpha, and an alpha channel that is opaque everywhere is judged as the
photo it is."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.detectors.quality_rules import BLACK_INK_LEVEL, black_ink


def _bright(photos: list[np.ndarray], n: int) -> list[np.ndarray]:
    """``n`` colour photos of at least 64 px a side whose brightest channel reaches 0.9 (well lit)."""
    out = [
        np.ascontiguousarray(p)
        for p in photos
        if p.shape[0] == 3 and min(p.shape[1:]) >= 64 and p.max() >= 230
    ]
    if len(out) < n:
        pytest.skip("too few bright colour photos in the bundled collection")
    return out[:n]


def _disc(side: int) -> np.ndarray:
    yy, xx = np.mgrid[:side, :side]
    c = (side - 1) / 2
    return ((yy - c) ** 2 + (xx - c) ** 2) <= (0.45 * side) ** 2


def _visible_median(rgba: np.ndarray) -> float:
    """Independent figure: the lowest 256-level luma (``round((299 R + 587 G + 114 B) / 1000)``) whose
    cumulative share of the pixels with alpha 255 (the plants' alpha is 0 or 255) reaches one half."""
    seen = rgba[3] == 255
    rgb = rgba[:3].astype(np.int64)[:, seen]
    luma = np.round((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000.0).astype(np.int64)
    return float(np.searchsorted(np.cumsum(np.bincount(luma, minlength=256)), 0.5 * luma.size))


def test_black_ink_conditions_hand_checked() -> None:
    """Row by row: transparent parts and a black median (level 0; level 1 at the bound): black ink;
    the same opaque (0.99 is opaque): judged; transparent with a median of 2 levels: judged; float32
    metrics' 1/255 (a hair over float64's) still at the bound.  Metrics without ``opacity``: none."""
    m = {
        "grey_p99": np.full(5, 0.1),
        "opacity": np.array([0.5, 0.99, 0.5, 0.5, 0.98]),
        "grey_p50": np.array([0.0, 0.0, 2 / 255, 1 / 255, float(np.float32(1 / 255))]),
    }
    assert BLACK_INK_LEVEL == 1 / 255
    assert black_ink(m).tolist() == [True, False, False, True, True]
    assert not black_ink({k: v for k, v in m.items() if k != "opacity"}).any()


def test_a_shadow_sprite_is_not_dark_a_darkened_picture_is(photos: list[np.ndarray]) -> None:
    """Among six bright photos: (a) a shadow sprite - a disc of black ink (55 % of its columns) whose
    anti-aliased side holds levels 10 / 18 / 26 (1.7 bits, over the 1 bit of a silhouette) on a
    transparent canvas, which main flagged (its highlights 10 % of the photos'); (b) a photo crop
    darkened // 8 on the same canvas (its body above black); (c) that darkened crop with an alpha
    channel opaque everywhere; (d) the same without alpha.  (a) scores 0 and is not flagged; (b), (c),
    (d) are dark, and (c) has the scores and flags of (d)."""
    src = _bright(photos, 6)
    side = 64
    inside = _disc(side)
    col = np.arange(side)[None, :].repeat(side, 0)
    ink = np.where(col < 35, 0, np.choose(np.clip((col - 35) * 3 // 29, 0, 2), [10, 18, 26])).astype(np.uint8)
    shadow = np.concatenate([np.repeat(ink[None], 3, 0), (inside * 255).astype(np.uint8)[None]])
    dark = src[0][:, :side, :side] // 8
    cutout = np.concatenate([dark, (inside * 255).astype(np.uint8)[None]])
    opaque = np.concatenate([dark, np.full((1, side, side), 255, np.uint8)])
    out = QualityIssues().evaluate([*src, shadow, cutout, opaque, np.ascontiguousarray(dark)])
    seen = shadow[0][inside]
    assert out.metrics["grey_p50"][6] == float(np.median(seen)) == 0.0
    assert out.metrics["grey_p50"][7] * 255 == pytest.approx(_visible_median(cutout), abs=1e-4)
    assert out.metrics["grey_p50"][7] > BLACK_INK_LEVEL
    p = np.bincount(seen, minlength=256) / seen.size
    p = p[p > 0]
    assert out.metrics["grey_entropy"][6] == pytest.approx(float(-(p * np.log2(p)).sum()), rel=1e-5)
    assert out.metrics["grey_entropy"][6] > 1.0  # not a silhouette by the 1-bit rule
    assert out.metrics["opacity"][6] < 0.99 and out.metrics["opacity"][8] == 1.0
    assert black_ink(out.metrics).tolist() == [False] * 6 + [True, False, False, False]
    assert out.flags["dark"].tolist() == [False] * 6 + [False, True, True, True]
    assert out.scores["dark"][6] == 0.0
    # the shadow's score without the rule: its highlights against the photos' (over the threshold)
    p99 = out.metrics["grey_p99"]
    assert 1.0 - p99[6] / np.median(p99) > out.thresholds["dark"]
    assert out.scores["dark"][8] == pytest.approx(out.scores["dark"][9], rel=1e-12)
    assert out.why(8) == out.why(9)
