"""Where ``blurry`` is not judged on a see-through image drawn in its alpha
(:func:`alpha_drawn`; ``quality_rules.issue_scores`` reads it, ``quality_rules`` re-exports every name).

A shadow, a glow, a flare, a puff of smoke: its picture is its alpha - one ink (a black shadow, a
white glow) or a colour that follows the alpha (white at the core, yellow where it fades) - and a
soft alpha is how it is drawn, not detail it lost.  The octave ratios read it as a blurred picture
(a kart's shadow is a blurred silhouette), so on such an image ``blurry`` is not judged, as it is
not on a flat image.  A picture with transparent parts (an icon, a cut-out) has colours of its own
where it is opaque, and its blur is judged as before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = ["ALPHA_DRAWN_MAX", "alpha_drawn"]

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
