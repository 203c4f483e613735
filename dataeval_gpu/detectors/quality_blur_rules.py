"""Where ``blurry`` is not judged on a see-through image drawn in its alpha
(:func:`alpha_drawn`; ``quality_rules.issue_scores`` reads it, ``quality_rules`` re-exports every name).

A shadow, a glow, a flare, a puff of smoke: its picture is its alpha - one ink (a black shadow, a
white glow) or a colour that follows the alpha (white at the core, yellow where it fades) - and a
soft alpha is how it is drawn, not detail it lost.  The octave ratios read it as a blurred picture
(a kart's shadow is a blurred silhouette), so on such an image ``blurry`` is not judged, as it is
not on a flat image.  A picture with transparent parts (an icon, a cut-out) has colours of its own
where it is opaque, and its blur is judged as before.

Nor on a soft design (:func:`soft_design`, softblur17): an image whose steepest place crosses under
0.3 of its tonal range within 1/16 of its sides (``edge_span``, ``quality_occupancy``).  A blur
spreads a picture's edges over its own width, a few px, and keeps their steps: some cell of the
16 x 16 grid still holds most of the range.  A gradient, a glow, a soft blob or a glossy bar changes
slowly everywhere against its own size: it was drawn soft, it lost nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = ["ALPHA_DRAWN_MAX", "EDGE_SPAN_MIN", "alpha_drawn", "soft_design"]

#: ``blurry`` is not judged on an image with transparent parts whose ``colour_free`` (the share of the
#: visible colour's grey variance its alpha level does not set, ``quality_alpha_colour``) is under
#: this: 90 % or more of its colour follows its alpha.  Fitted on the fit collections' see-through
#: flags (shadows, glows, flares: 0-0.1) and 1,195 icons of 32 px and more of oxygen, gnome, tango
#: and Adwaita blurred as ``eval_icons.py`` plants blur (σ 2 of the premultiplied RGBA): 3 under 0.1,
#: all one-ink icons (two copies of a black logo, a one-colour spinner), the colour icons from 0.13
#: (docs/quality.md, seeblur16)
ALPHA_DRAWN_MAX = 0.1


def alpha_drawn(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images with transparent parts (``opacity`` under ``TRANSPARENT_BELOW``) whose
    ``colour_free`` is under :data:`ALPHA_DRAWN_MAX` - one ink or a colour set by the alpha, drawn
    in its alpha (``blurry`` not judged).  False for metrics gathered without the key (judged as
    before)."""
    if "colour_free" not in m or "opacity" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    return (float64(m["opacity"]) < TRANSPARENT_BELOW) & (float64(m["colour_free"]) < ALPHA_DRAWN_MAX)


#: ``blurry`` is not judged where ``edge_span`` (the widest 16 x 16 grid cell's share of the image's
#: tonal range) is under this: no place holds 0.3 of the range within 1/16 of the sides.  The recall
#: survey's flagged planted blurs (defocus, upscales, line blurs) read 0.62-1, the corpus' blur2 /
#: blur4 0.53-1 and its thumb16 copies (a 16-px thumbnail upscaled: structure only at 1/16 of the
#: image, what the measure cannot tell from a design) 0.37-1; the fit collections' gradients, soft
#: bars, particles and backgrounds 0.04-0.29 (glows and soft blobs 0.31-0.49 stay judged;
#: docs/quality.md, softblur17)
EDGE_SPAN_MIN = 0.3


def soft_design(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images whose ``edge_span`` is under :data:`EDGE_SPAN_MIN` - every change
    wider than 1/16 of the image, a designed softness (``blurry`` not judged).  False for metrics
    gathered without the key (judged as before) and for a flat image (``edge_span`` 0; ``blurry``
    does not judge it anyway)."""
    if "edge_span" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    span = float64(m["edge_span"])
    return (span > 0.0) & (span < EDGE_SPAN_MIN)
