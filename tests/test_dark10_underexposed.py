"""dark10 (2026-12-07): ``dark`` also flags an under-exposed picture - opaque, its peak (``bright_p9999``)
under 0.55 x the collection's median peak and its tones filling the grey levels under that peak
(``tone_fill`` >= 0.7) - so that a photo divided by 2 or 3 among photos is found (recall12's survey:
0 / 28 before), while a dark design of few tones, or one on a transparent canvas, is not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataeval_gpu.detectors.quality import (
    UNDEREXPOSED_FILL,
    UNDEREXPOSED_PEAK,
    QualityIssues,
    tone_fill,
    underexposed,
)
from dataeval_gpu.index.quality_ref import against_quality, quality_reference


def _scaled(photo: np.ndarray, factor: float) -> np.ndarray:
    """Every level times ``factor``, rounded (``ImageEnhance.Brightness`` / recall12's plant)."""
    return np.clip(np.round(photo.astype(np.float64) * factor), 0, 255).astype(np.uint8)


def _level(values: np.ndarray, share: float) -> float:
    """The lowest 8-bit level whose cumulative share of ``values`` reaches ``share``, / 255."""
    counts = np.bincount(values.ravel().astype(np.int64), minlength=256)
    return float(np.searchsorted(np.cumsum(counts), share * values.size - 1e-9 * values.size)) / 255.0


def _reference_figures(image: np.ndarray) -> tuple[float, float]:
    """Independent float64 figures of an opaque CHW uint8 RGB image: the peak (99.99 % level of
    ``max(R, G, B)``) and the tone fill (the entropy of the 256-level luma, ``round((299 R + 587 G +
    114 B) / 1000)`` ties to even, over ``log2`` of the levels from black to the peak)."""
    rgb = image.astype(np.int64)
    peak = _level(rgb.max(axis=0), 0.9999)
    luma = np.round((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000.0).astype(np.int64)
    p = np.bincount(luma.ravel(), minlength=256) / luma.size
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    return peak, entropy / max(math.log2(round(255 * peak) + 1), 1.0)


def _bright_photos(photos: list[np.ndarray], n: int) -> list[np.ndarray]:
    """``n`` real colour photos (at least 64 px a side) whose own peak is high (>= 0.9 by the
    reference) and whose tones fill their levels (reference fill >= 0.8): well exposed pictures."""
    out = []
    for p in photos:
        if p.shape[0] != 3 or min(p.shape[1:]) < 64:
            continue
        peak, fill = _reference_figures(p)
        if peak >= 0.9 and fill >= 0.8:
            out.append(np.ascontiguousarray(p))
    if len(out) < n:
        pytest.skip("too few bright colour photos in the bundled collection")
    return out[:n]


def test_tone_fill_hand_checked() -> None:
    """``grey_entropy / max(log2(round(255 · peak) + 1), 1)``: peak 0.5 -> 128 + 1 levels, 7.011
    bits; peak 0.298 (76/255) -> 77 levels; peak 0 -> one level, divided by 1 bit."""
    m = {"grey_entropy": np.array([6.0, 5.0, 0.0, 2.0]), "bright_p9999": np.array([0.5, 76 / 255, 0.0, 1.0])}
    expected = [6.0 / math.log2(129), 5.0 / math.log2(77), 0.0, 2.0 / 8.0]
    assert tone_fill(m) == pytest.approx(expected, rel=1e-12)


def test_underexposed_conditions_hand_checked() -> None:
    """Row by row, typical peak 1: under-exposed; peak at the bound 0.55 (not under it); fill under
    the bound; transparent parts (opacity 0.98); fill either side of the bound (6.5 bits over the
    7.011 of peak 0.5: 0.927 -> flagged, 4.9 bits: 0.699 -> not).  Typical peak 0.8: the bound is
    0.44, so the peaks of 0.5 are not under it, the 0.3 one is (but has too few tones)."""
    peak = np.array([0.5, UNDEREXPOSED_PEAK, 0.3, 0.5, 0.5, 0.5])
    entropy = np.array([6.0, 6.0, 1.5, 6.0, 6.5, 4.9])
    m = {
        "grey_p99": np.full(6, 0.45),
        "bright_p9999": peak,
        "grey_entropy": entropy,
        "opacity": np.array([1.0, 1.0, 1.0, 0.98, 1.0, 1.0]),
    }
    assert underexposed(m, 1.0).tolist() == [True, False, False, False, True, False]
    assert 4.9 / math.log2(129) < UNDEREXPOSED_FILL <= 6.5 / math.log2(129)
    assert not underexposed(m, 0.8).any()
    m2 = {**m, "grey_entropy": np.array([6.0, 6.0, 5.0, 6.0, 6.5, 4.9])}  # 5 bits of 6.27: 0.80
    assert underexposed(m2, 0.8).tolist() == [False, False, True, False, False, False]
    # no opacity (older metrics): every image opaque
    no_alpha = {k: v for k, v in m.items() if k != "opacity"}
    assert underexposed(no_alpha, 1.0).tolist() == [True, False, False, True, True, False]
    # metrics gathered before bright_p9999 existed, or no typical peak (an older index): not judged
    assert not underexposed({k: v for k, v in m.items() if k != "bright_p9999"}, 1.0).any()
    assert not underexposed(m, None).any() and not underexposed(m, float("nan")).any()


def test_darkened_photo_copies_are_dark(photos: list[np.ndarray]) -> None:
    """Nine bright real photos, copies of two of them at x0.5 and of two at x0.3 (recall12's
    plants: a minority of the set, whose median peak stays a bright photo's).  Before: none flagged - x0.5 keeps a peak of ~0.5 (>= DARK_PEAK_MIN: "highlights") and
    x0.3 scores ~0.7 against 0.78 relative to the set's median highlights.  Now every copy is
    flagged, no source is, and the flags are those of the rule on independent float64 figures (the
    typical peak: the median of the reference peaks)."""
    src = _bright_photos(photos, 9)
    images = src + [_scaled(p, 0.5) for p in src[:2]] + [_scaled(p, 0.3) for p in src[2:4]]
    out = QualityIssues().evaluate(images)
    ref = [_reference_figures(im) for im in images]
    typical = float(np.median([r[0] for r in ref]))
    expected = [peak < UNDEREXPOSED_PEAK * typical and fill >= UNDEREXPOSED_FILL for peak, fill in ref]
    assert expected == [False] * 9 + [True] * 4
    assert out.flags["dark"].tolist() == expected
    assert out.metrics["bright_p9999"] == pytest.approx([r[0] for r in ref], abs=1e-6)  # float32 metrics
    assert tone_fill(out.metrics) == pytest.approx([r[1] for r in ref], rel=1e-6)
    assert out.reference["bright_p9999"] == pytest.approx(typical, abs=1e-6)
    # the x0.5 copies are scored against the set's highlights (no longer 0 for their peak of 0.5)
    p99 = out.metrics["grey_p99"]
    assert out.scores["dark"][9:11] == pytest.approx(1.0 - p99[9:11] / np.median(p99), rel=1e-9)
    why = out.why(9)
    assert len(why) == 1 and why[0].startswith("dark: under-exposed, brightest 0.01 % at ")
    assert f"{out.metrics['bright_p9999'][9]:.3f} < 0.55 x dataset median peak {typical:.3f}" in why[0]


def test_dark_designs_are_not_underexposed(photos: list[np.ndarray]) -> None:
    """A designed dark texture of two tones (levels 40 / 60, opaque: peak 0.235, 1 bit of its 5.9)
    and a photo cut-out on a transparent canvas divided by 2 among bright photos: neither is flagged
    (the relative rule: their highlights 25-50 % of the photos'; the new branch: few tones, and
    transparent parts)."""
    src = _bright_photos(photos, 6)
    yy, xx = np.mgrid[:64, :64]
    texture = np.repeat(np.where((yy // 8 + xx // 8) % 2 == 0, 40, 60).astype(np.uint8)[None], 3, axis=0)
    alpha = ((((yy - 32) ** 2 + (xx - 32) ** 2) <= 24**2) * 255).astype(np.uint8)
    cutout = np.concatenate([_scaled(src[0][:, :64, :64], 0.5), alpha[None]], axis=0)
    out = QualityIssues().evaluate([*src, texture, cutout])
    assert out.metrics["bright_p9999"][6] == pytest.approx(60 / 255)
    assert tone_fill(out.metrics)[6] == pytest.approx(1.0 / math.log2(61))
    assert out.metrics["opacity"][7] < 0.99
    assert not out.flags["dark"].any()


def test_against_an_index_old_and_new(photos: list[np.ndarray]) -> None:
    """New images judged against an indexed collection of bright photos: the reference keeps the
    collection's median peak, and the copy at x0.5 is flagged with its reason in the index's words;
    against a reference written before the key (no ``bright_p9999``) it is judged as before: not
    flagged, no error.  A set of the dark copies alone is not flagged (dark is typical there)."""
    src = _bright_photos(photos, 6)
    collection = QualityIssues().evaluate(src)
    ref = quality_reference(collection.metrics)
    assert ref["bright_p9999"] == pytest.approx(float(np.median(collection.metrics["bright_p9999"])))
    new = QualityIssues().evaluate([src[0], _scaled(src[1], 0.5)]).metrics
    found = against_quality(new, np.array([10, 11]), ref)
    assert list(found) == [11] and found[11]["issues"] == ["dark"]
    assert found[11]["why"][0].startswith("dark: under-exposed")
    assert "x indexed collection's median peak" in found[11]["why"][0]
    old = {k: v for k, v in ref.items() if k != "bright_p9999"}
    assert against_quality(new, np.array([10, 11]), old) == {}
    dark_only = QualityIssues().evaluate([_scaled(p, 0.5) for p in src])
    assert not dark_only.flags["dark"].any()
