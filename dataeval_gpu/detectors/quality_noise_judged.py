"""Where the ``noisy`` issue is judged at all (``quality_rules.issue_scores`` reads it): images with
enough pixels for a noise estimate to be told from the picture's own pixel-scale drawing
(:func:`noise_judged`).  ``quality_rules`` re-exports every name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..functional.quality import NOISE_WINDOW
from ..functional.quality_alpha import NOISE_MIN_OPAQUE
from .quality_values import TRANSPARENT_BELOW, float64

__all__ = ["NOISE_MIN_SEEN", "NOISE_MIN_SIDE", "noise_judged"]

#: ``noisy`` is judged on an image with transparent parts only with at least this many visible
#: pixels (``opacity · width · height``, ~45 x 45): a sprite or icon is drawn, and its painted
#: detail reads as noise to every check ``noisy`` has (the MAD and mean estimates agree, it reaches
#: the flattest blocks, its many tones fill the entropy bound): 3-11 % of the fit collections'
#: clean sprites under this size scored above 8.5, and no sprite or icon flag of any surveyed
#: collection was a noisy image - noise is a defect of capture, a see-through image was drawn.
#: The cost: sigma 25 noise planted on see-through icons and sprites under it is not found
#: (docs/quality.md, sprites14)
NOISE_MIN_SEEN = 2048.0
#: ... and on any image only with at least this many pixels a side: 16 Immerkær positions across in
#: each direction, the side of the 256 positions of ``NOISE_MIN_OPAQUE``.  A strip of stacked
#: 16 px frames or tiles (minetest's 16 x 64 - 16 x 256 animation strips) is as many unjudged 16 x
#: 16 textures, not a picture large enough to tell noise from drawing (noisyprec15)
NOISE_MIN_SIDE = 18.0


def noise_judged(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: the images ``noisy`` judges - at least
    :data:`~dataeval_gpu.functional.quality_alpha.NOISE_MIN_OPAQUE` Immerkær positions in the noise
    window (``(min(W, NOISE_WINDOW) - 2) · (min(H, NOISE_WINDOW) - 2)``: the floor the estimate over
    an image's opaque part already has, now for an opaque image too - a 16 x 16 game texture has
    196) and at least :data:`NOISE_MIN_SIDE` px a side, and for an image with transparent parts (``opacity`` under :data:`TRANSPARENT_BELOW`) at
    least :data:`NOISE_MIN_SEEN` visible pixels.  Every image for metrics without ``width`` /
    ``height``; the visible-pixel floor not checked without ``opacity``."""
    if "width" not in m or "height" not in m:
        return np.ones(np.shape(m["noise"]), dtype=bool)
    w, h = float64(m["width"]), float64(m["height"])
    positions = np.maximum(np.minimum(w, NOISE_WINDOW) - 2.0, 0.0) * np.maximum(
        np.minimum(h, NOISE_WINDOW) - 2.0, 0.0
    )
    ok = (positions >= NOISE_MIN_OPAQUE) & (np.minimum(w, h) >= NOISE_MIN_SIDE)
    if "opacity" in m:
        o = float64(m["opacity"])
        ok &= (o >= TRANSPARENT_BELOW) | (o * w * h >= NOISE_MIN_SEEN)
    return ok
