"""The per-channel term of the ``noisy`` issue (``quality_rules.issue_scores`` reads it): weak noise
drawn independently per colour channel, measured by ``noise_chroma``
(:mod:`~dataeval_gpu.functional.quality_chroma`), scored where nothing but such noise explains it
(:func:`chroma_noise_score`, which ``quality_rules`` re-exports).  On held-out and never-seen
collections it added as many false flags as true ones (docs/quality.md, noise14): a texture made of
per-channel noise reads as added noise.

The grey estimates of ``noisy`` read sigma 8 noise added to a photo as sigma 5.4-8.2 (MAD) and
its flattest blocks as 2.9-4.2: under the threshold, and a threshold low enough for them flags
painted grain, canvas, rock and paper textures as well (jpegnoise13, docs/quality.md).  Those
textures are shared by R, G and B; noise added per channel is not: in the flattest blocks of the
channel differences it reads 0.64 sigma (5.0-5.3 for sigma 8) and 1.26-1.74 times the grey
flattest blocks (1.49 for pure noise: the grey image averages the channels' noise to 0.67 sigma),
while the fit collections' textures read 0.1-1.12 times theirs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .quality_values import float64

__all__ = [
    "CHROMA_NOISE_MIN_FLAT",
    "CHROMA_NOISE_MIN_RATIO",
    "CHROMA_NOISE_MIN_SIDE",
    "CHROMA_NOISE_SHARE",
    "chroma_noise_score",
]

#: ``noisy``'s per-channel term scores ``noise_chroma / CHROMA_NOISE_SHARE``: independent noise of
#: sigma 6 per channel or more (``noise_chroma`` about 0.64 sigma, 3.8) scores over the threshold 8.5.
#: Noise no texture shares is a finding at a lower sigma than the grey estimates can flag without
#: flagging texture
CHROMA_NOISE_SHARE = 0.45
#: ... only while ``noise_chroma`` is at least this factor times ``noise_flat``: the channels' noise
#: is independent (1.26-1.74 on the survey's planted sigma 8 and sigma 14 noise, 1.49 for pure noise;
#: texture and painted grain shared by the channels read under it: 1.12 the most on the fit
#: collections' images of 64 px or more, Wesnoth's lava tiles)
CHROMA_NOISE_MIN_RATIO = 1.2
#: ... and ``noise_flat`` is at least this (grey levels): the noise reaches the grey image too (2.9-4.2
#: for sigma 8 per channel, about 2.2 for sigma 6); a colour pattern of even brightness has none
CHROMA_NOISE_MIN_FLAT = 1.8
#: ... on opaque images at least this many pixels a side: 15 x 15 blocks or more for the flattest 5 %;
#: a flag or a tile of 15-48 px is its few coloured strokes (hedgewars' and freeciv's flags read
#: 1.3-1.9 times their grey blocks)
CHROMA_NOISE_MIN_SIDE = 64


def chroma_noise_score(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` the per-channel term of ``noisy`` (grey levels): ``noise_chroma /``
    :data:`CHROMA_NOISE_SHARE` where ``noise_chroma >=`` :data:`CHROMA_NOISE_MIN_RATIO` ``·
    noise_flat``, ``noise_flat >=`` :data:`CHROMA_NOISE_MIN_FLAT`, the image opaque and at least
    :data:`CHROMA_NOISE_MIN_SIDE` px a side; else 0 (also for metrics gathered without ``noise_chroma``
    or ``noise_flat``)."""
    n = len(np.asarray(m["noise"]))
    if "noise_chroma" not in m or "noise_flat" not in m:
        return np.zeros(n)
    chroma, flat = float64(m["noise_chroma"]), float64(m["noise_flat"])
    opaque = float64(m["opacity"]) >= 1.0 if "opacity" in m else np.ones(n, bool)
    side = np.minimum(float64(m["width"]), float64(m["height"]))
    judged = (chroma >= CHROMA_NOISE_MIN_RATIO * flat) & (flat >= CHROMA_NOISE_MIN_FLAT) & opaque
    judged &= side >= CHROMA_NOISE_MIN_SIDE
    return np.where(judged, chroma / CHROMA_NOISE_SHARE, 0.0)
