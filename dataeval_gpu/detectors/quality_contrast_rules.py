"""The rule of ``low_contrast`` (:mod:`~dataeval_gpu.detectors.quality`): a washed-out or
low-contrast picture - its tones squeezed into a narrow band of grey levels that reaches neither
black nor white (contrast lowered around the mean, haze, a faded print) - among pictures whose
tones span far more.

The figure is the tonal range ``grey_p99 - grey_p01`` (the middle 98 % of the 256-level grey),
relative to the collection's median range (a set of foggy pictures or of dark star fields has a
narrow typical range, and none of its images is unlike it), with an absolute ceiling.  Pictures
pale or flat by design are not judged (score 0): an image with transparent parts (a viewer's
background shows through), an image whose range ends at paper white or at black (a logo or a
document on white, a star field on black: :func:`anchored`) and a design of few tones (a flat
theme piece, a two-tone texture: :func:`range_fill`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = [
    "CONTRAST_ANCHOR_HIGH",
    "CONTRAST_ANCHOR_LOW",
    "CONTRAST_COLOURFUL",
    "CONTRAST_FILL_MIN",
    "CONTRAST_GRAIN_MAX",
    "CONTRAST_RANGE_MAX",
    "CONTRAST_REFERENCE_SHARE",
    "CONTRAST_TYPICAL_MIN",
    "anchored",
    "contrast_judged",
    "contrast_range",
    "low_contrast_score",
    "range_fill",
    "typical_range",
]

#: ``low_contrast`` needs the tonal range ``grey_p99 - grey_p01`` under this whatever the collection
CONTRAST_RANGE_MAX = 0.45
#: not judged when the brightest 1 % reach this (``grey_p99``): the picture keeps a white
CONTRAST_ANCHOR_HIGH = 0.96
#: ... or the darkest 1 % reach down to this (``grey_p01``): it keeps a black
CONTRAST_ANCHOR_LOW = 0.04
#: not judged when the tones fill under this share of the bits the levels of its range can hold
#: (:func:`range_fill`): a design of few tones, not a continuous-tone picture squeezed
CONTRAST_FILL_MIN = 0.8
#: not judged at this ``colourfulness`` or more (Hasler & Süsstrunk's "averagely colourful"): its
#: contrast is in its colours (a pastel wallpaper, a leaf); lowering the contrast or adding haze
#: takes the colour down with the tones
CONTRAST_COLOURFUL = 45.0
#: not judged at this ``fine_sharpness`` or more: the finest octave at native resolution holds far
#: more energy than the next - grain, the stochastic surface of a texture (parchment, a chalkboard,
#: paper), whose narrow tones are its design.  Lowering the contrast scales every octave alike and
#: keeps a picture's ratio (recall12's contrast and haze copies at most 1.17, their sources 1.26)
CONTRAST_GRAIN_MAX = 1.3
#: the collection's typical range is the range this share of its images stay under (the lower
#: quartile): the range three quarters of the collection reach
CONTRAST_REFERENCE_SHARE = 0.25
#: none judged in a collection whose typical range is under this: narrow tones are common there, the
#: collection's own (planet maps, game textures and skies, pastel wallpapers, dark skies)
CONTRAST_TYPICAL_MIN = 0.6


def contrast_range(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` the tonal range ``grey_p99 - grey_p01`` (0-1)."""
    return float64(m["grey_p99"]) - float64(m["grey_p01"])


def typical_range(m: Mapping[str, Any]) -> float:
    """The collection's typical tonal range: the :data:`CONTRAST_REFERENCE_SHARE` quantile (linear
    interpolation, numpy's default) of :func:`contrast_range` over the finite values; NaN without one."""
    rng = contrast_range(m)
    rng = rng[np.isfinite(rng)]
    return float(np.quantile(rng, CONTRAST_REFERENCE_SHARE)) if rng.size else float("nan")


def range_fill(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` how full the grey levels of an image's range are: ``grey_entropy / log2(L)``, ``L =
    round(255 · (grey_p99 - grey_p01)) + 1``, ``log2(L)`` at least 1 bit.  About 1 (or above: the 2 %
    outside the range add a little) for a continuous-tone picture squeezed into a narrow band,
    small for a design of few flat tones."""
    levels = np.round(255.0 * np.clip(np.nan_to_num(contrast_range(m), nan=0.0), 0.0, 1.0)) + 1.0
    return float64(m["grey_entropy"]) / np.maximum(np.log2(levels), 1.0)


def anchored(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images whose range reaches white (``grey_p99`` at least
    :data:`CONTRAST_ANCHOR_HIGH`) or black (``grey_p01`` at most :data:`CONTRAST_ANCHOR_LOW`)."""
    return (float64(m["grey_p99"]) >= CONTRAST_ANCHOR_HIGH) | (float64(m["grey_p01"]) <= CONTRAST_ANCHOR_LOW)


def contrast_judged(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: the images ``low_contrast`` judges - opaque (``opacity`` at least
    :data:`TRANSPARENT_BELOW`), not :func:`anchored`, tones filling their range
    (:func:`range_fill` at least :data:`CONTRAST_FILL_MIN`), not colourful (``colourfulness``
    under :data:`CONTRAST_COLOURFUL`) and not grain (``fine_sharpness`` under
    :data:`CONTRAST_GRAIN_MAX`)."""
    opacity = float64(m["opacity"]) if "opacity" in m else np.ones(np.shape(m["grey_p99"]))
    judged = (opacity >= TRANSPARENT_BELOW) & ~anchored(m) & (range_fill(m) >= CONTRAST_FILL_MIN)
    judged &= float64(m["colourfulness"]) < CONTRAST_COLOURFUL
    return judged & (float64(m["fine_sharpness"]) < CONTRAST_GRAIN_MAX)


def low_contrast_score(m: Mapping[str, Any], typical: float | None) -> np.ndarray:
    """``(N,)`` ``low_contrast`` scores: ``1 - range / typical`` (``typical``: the collection's typical
    range, :func:`typical_range`) where the image is judged (:func:`contrast_judged`) and its range under
    :data:`CONTRAST_RANGE_MAX`, else 0; all 0 without a typical range (a reference without it) or
    with one under :data:`CONTRAST_TYPICAL_MIN`."""
    rng = contrast_range(m)
    if typical is None or not np.isfinite(typical) or typical < CONTRAST_TYPICAL_MIN:
        return np.zeros_like(rng)
    ok = contrast_judged(m) & (rng < CONTRAST_RANGE_MAX)
    return np.where(ok, np.clip(1.0 - rng / typical, 0.0, 1.0), 0.0)
