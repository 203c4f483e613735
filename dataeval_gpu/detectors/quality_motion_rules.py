"""The motion-blur term of the ``blurry`` issue (``quality_rules.issue_scores`` reads it): where the
``quality_motion`` metrics are judged (:func:`motion_judged`) and which images the term flags
(:func:`motion_blurred`).  ``quality_rules`` re-exports every name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = [
    "MOTION_JUDGE_SIDE",
    "MOTION_MAX_PEAK",
    "MOTION_MIN_CROSS",
    "MOTION_MIN_ENERGY",
    "MOTION_MIN_OCCUPANCY",
    "MOTION_MIN_RATIO",
    "MOTION_OFFSET",
    "motion_blurred",
    "motion_judged",
]

#: ``blurry`` reads ``motion_ratio + MOTION_OFFSET`` (blur along a line: the weakest direction's fine-to-coarse
#: detail under 0.42 of the strongest's, ``quality_motion``) where :func:`motion_judged`.  Fitted on every
#: 4th of 604 photos (640 px, 0 of them flagged) and the fit collections (docs/quality.md)
MOTION_OFFSET = 0.025
#: ``motion_ratio`` counts only where the weakest direction's step-8 energy, ``motion_energy``, is at
#: least this (grey levels²): something to judge along it.  A smooth gradient, a stripe or a flat fill has
#: no detail at step 2 along it (ratio 0) and none at step 8 either
MOTION_MIN_ENERGY = 16.0
#: ... and where ``motion_ratio`` is at least this: a box blur of 5-15 px keeps some detail at step 2
#: along its line (its side lobes, the picture's noise: 0.14 the least on the fit photos' blurred
#: copies), while a design whose one direction holds no fine detail at all above the 8-bit rounding
#: - evenly spaced bars, a flag's stripes, a smooth ramp under a texture - reads 0 (23 of the fit
#: collections' flags it would add)
MOTION_MIN_RATIO = 0.1
#: ... and on images at least this many pixels a side (with transparent parts: at least its square
#: visible, ``opacity · width · height``): a small icon or sprite is its strokes, whose directions
#: are a design (the metric measures from 64 px; on the fit collections every flag it added under
#: this side - 2 of 64-px icons; 105 of 32-63 px ones when it measured from 32 px - was false)
MOTION_JUDGE_SIDE = 128
#: ... and where ``motion_cross`` is at least this: a blur along a line keeps the most detail across it
#: (the directions between lose part of theirs: 0.70 the least of the fit photos' 681 flagged blurred
#: copies, 0.99 at their 5th percentile), while a pattern on the axes - a checkerboard, a grid of
#: tiles, GIMP's transparency checks under a layer - loses the fine detail of its rows and its columns
#: alike and keeps its diagonals' (0.3-0.4).  Fitted on the fit photos' planted blurs and collections
#: (docs/quality.md, artprec13)
MOTION_MIN_CROSS = 0.5
#: ... and where ``occupancy`` (the share of the 16 x 16 grid's cells spanning 64+ grey levels) is at
#: least this: a blur along a line keeps the picture's edges across it (0.0703 the least of the fit
#: photos' planted 5-15 px line blurs the term flags, but for the five copies of one smooth render at
#: 0-0.004), while a design with no edge of real contrast - a ramp, a wave or ripple texture, a flat
#: ground under faint texture - reads as a lost direction by its smoothness alone (the fit
#: collections' flags under it, all false: Stellarium's corrugated-metal ramp texture 0, hedgewars' wave
#: ``LandTex`` 0, supertux's ocean 0.0625, fillets' two coral backgrounds 0.0625 and 0.066; alpha15)
MOTION_MIN_OCCUPANCY = 0.07
#: ... and where ``motion_peak`` (the weakest direction's fine-to-coarse ratio at its sharpest 8 x 8
#: tile) is under this: a box blur of L px along a line turns every step along it into a ramp of L
#: px, whose step-2 second difference is at most 2 / L of its step-8 one at any place (0.4 at 5 px,
#: less beyond: 0.365 the most of the fit photos' 571 flagged 5-15 px line blurs), while a design
#: drawn one way - planks, corrugated metal, fabric streaks, bars, a flag's bands - still has sharp
#: steps where something crosses its streaks (a seam, a plank's end, a bar's end: 0.4-1.2; motion16)
MOTION_MAX_PEAK = 0.4


def motion_judged(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images whose ``motion_ratio`` ``blurry`` reads - ``motion_energy`` at least
    :data:`MOTION_MIN_ENERGY` (detail at 8 px along the weakest direction), ``motion_ratio`` at least
    :data:`MOTION_MIN_RATIO` (some fine detail left along it), ``motion_cross`` at least
    :data:`MOTION_MIN_CROSS` (the detail across it kept; metrics gathered without the key: not
    checked), ``occupancy`` at least :data:`MOTION_MIN_OCCUPANCY` (edges of real contrast: not a
    ramp or a soft texture; without the key: not checked), ``motion_peak`` under
    :data:`MOTION_MAX_PEAK` (no sharp step along it anywhere, as a blur leaves none; without the key:
    not checked), a side of at least
    :data:`MOTION_JUDGE_SIDE` and, for an image with transparent parts, at least its square of
    visible pixels (``opacity · width · height``: a sprite's outline on the backdrop is a design).
    False for metrics gathered without the keys (``blurry`` as before)."""
    if "motion_ratio" not in m or "motion_energy" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    ok = (float64(m["motion_energy"]) >= MOTION_MIN_ENERGY) & (float64(m["motion_ratio"]) >= MOTION_MIN_RATIO)
    if "motion_cross" in m:
        ok &= float64(m["motion_cross"]) >= MOTION_MIN_CROSS
    if "occupancy" in m:
        ok &= float64(m["occupancy"]) >= MOTION_MIN_OCCUPANCY
    if "motion_peak" in m:
        ok &= float64(m["motion_peak"]) < MOTION_MAX_PEAK
    if "width" in m and "height" in m:
        w, h = float64(m["width"]), float64(m["height"])
        ok &= np.minimum(w, h) >= MOTION_JUDGE_SIDE
        if "opacity" in m:
            o = float64(m["opacity"])
            ok &= (o >= TRANSPARENT_BELOW) | (o * w * h >= MOTION_JUDGE_SIDE**2)
    return ok


def motion_blurred(m: Mapping[str, Any], threshold: float) -> np.ndarray:
    """``(N,)`` bool: images whose ``blurry`` score above ``threshold`` comes from the motion term
    (:func:`motion_judged` and ``1 - motion_ratio - MOTION_OFFSET > threshold``): blurred along the
    direction ``motion_angle``."""
    judged = motion_judged(m)
    if not judged.any():
        return judged
    return judged & (1.0 - (float64(m["motion_ratio"]) + MOTION_OFFSET) > threshold)
