"""The rules of the ``noisy`` issue (``quality_rules.issue_scores`` reads them; ``quality_rules``
re-exports every name): the grey estimates' rule (:func:`noisy_score`: Gaussian noise on the MAD,
mean and flattest-block estimates, bounded by what the grey levels can hold,
:func:`noise_entropy_cap`; impulse noise on the mean estimate and the isolated impulses), the
check a see-through colour image's Gaussian estimate must also pass (:func:`shared_grain`: its
residual drawn per colour channel), the designed textures whose grain is their content and which both
the Gaussian and the per-channel terms leave out (:func:`tileable`: a tile that continues across its
own borders; :func:`normal_map`: a relief encoded as colour; terrain16; :func:`painted_grain`: grain
whose brightness moves with its colour, noisyterr17), and the per-channel term (:func:`chroma_noise_score`): weak
noise drawn independently per colour channel, measured by ``noise_chroma``
(:mod:`~dataeval_gpu.functional.quality_chroma`), scored where nothing but such noise explains it.
On held-out and never-seen collections the per-channel term added as many false flags as true ones
(docs/quality.md, noise14): a texture made of per-channel noise reads as added noise.

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

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = [
    "CHROMA_NOISE_MIN_FLAT",
    "CHROMA_NOISE_MIN_RATIO",
    "CHROMA_NOISE_MIN_SIDE",
    "CHROMA_NOISE_SHARE",
    "GRAIN_FREE_MIN",
    "PAINTED_GRAIN_MAX_SIDE",
    "GAUSS_ENTROPY_BITS",
    "IMPULSE_MAX_CLIPPED",
    "IMPULSE_MIN_SHARE",
    "NOISE_ENTROPY_EXCESS",
    "NOISE_ENTROPY_SLACK",
    "NOISE_FLAT_SHARE",
    "NOISE_GAUSS_RATIO",
    "NOISE_TEXTURE_FLOOR",
    "NORMAL_MAP_GREY",
    "NORMAL_MAP_MAX_RG",
    "NORMAL_MAP_MIN_BLUE",
    "SEAM_MAX_RATIO",
    "SEAM_MIN_CORR",
    "chroma_noise_score",
    "noise_entropy_cap",
    "noisy_score",
    "normal_map",
    "painted_grain",
    "shared_grain",
    "tileable",
]

#: ``noisy``: the Immerkær (mean) estimate minus this texture floor competes with the MAD one
NOISE_TEXTURE_FLOOR = 11.0
#: ``noisy``: the MAD estimate counts only while the Immerkær mean estimate is within this factor
#: of it: on Gaussian noise both estimate sigma (ratio 1.0-1.2 on the planted noise), while fine
#: texture and edges (patterned garments, denim, cardboard) raise the mean above the median
NOISE_GAUSS_RATIO = 1.3
#: ``noisy``: the MAD estimate counts at most ``noise_flat / NOISE_FLAT_SHARE``: noise is everywhere,
#: texture is not; the flattest 5 % of the 4 x 4 blocks read 0.47-0.55 of the MAD estimate on the
#: planted noise (clipped in shadows and highlights), about 0 where a picture has a smooth ground
NOISE_FLAT_SHARE = 0.5
#: ``noisy``: the Gaussian estimate counts at most the sigma whose Gaussian entropy,
#: ``log2(sigma) + 0.5 log2(2 pi e)``, is the image's ``grey_entropy`` plus this many bits: added
#: noise is independent of the picture, so the noisy picture's entropy is at least the noise's
#: (``H(X + N) >= H(N)``).  Painted pixel art and small icons keep a few dozen grey levels, an
#: entropy far under that of the sigma their pixel-scale detail reads as; the slack covers
#: clipping and alpha blending, which take entropy off the noise (-0.3 to -0.15 bit the least
#: on planted sigma 25 noise on photos and sprites)
NOISE_ENTROPY_SLACK = 0.5
#: ``noisy``: the Gaussian estimate counts only while it is at most this factor times that entropy
#: bound, not capped to it: an estimate beyond what the grey levels can hold is the picture's own
#: pixel-scale structure (painted sprites and terrain of few tones: 1.2-5.1 times the bound on the
#: false Wesnoth flags), not noise plus a little texture, so the bound itself is no noise evidence.
#: Noise keeps the estimate under the bound, since it raises the entropy with the residual (0.68
#: the most on planted sigma 25 noise on photos, sprites and icons; sigma 10-25 on those very sprites
#: all under it)
NOISE_ENTROPY_EXCESS = 1.0
#: the entropy (bits) of a unit Gaussian: ``0.5 log2(2 pi e)``; one of sigma has ``log2(sigma)`` more
GAUSS_ENTROPY_BITS = 0.5 * float(np.log2(2.0 * np.pi * np.e))
#: ``noisy``: the Immerkær estimate counts as impulse noise only while at least this share of the
#: pixels are isolated impulses (``impulse_share``; 2.0-4.0 % on the planted 5 % salt-and-pepper):
#: the edges of line art and 1-bit icons raise the mean estimate without being impulses
IMPULSE_MIN_SHARE = 0.01
#: ``noisy``: ... and only while under this share of the pixels are clipped black or white
#: (``dark_clipped + bright_clipped``): an image all at its two ends is a two-level drawing - a dot
#: screen, a stipple or dither pattern (ImageMagick's ``gray5``: 4.7 % isolated white dots on black,
#: 99.9 % clipped) - whose isolated pixels are the drawing itself, with no picture between them for
#: impulses to damage (the corpus' planted 5 % salt-and-pepper: 0.05-0.92 clipped; noisyprec15)
IMPULSE_MAX_CLIPPED = 0.99
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
#: ``noisy``: a tile (:func:`tileable`) steps across its wrap-around seams at most this factor times
#: as much as beside them (``seam_ratio``; the squared steps, so added noise cancels): terrain, sand,
#: rock and normal-map textures of the fit collections 0.2-1.5 where tileable, the corpus' and
#: the survey's noisy photos 0.8-24 (terrain16)
SEAM_MAX_RATIO = 1.5
#: ... and its border lines correlate across both seams at least this much (``seam_corr``): content
#: that continues, not a plain ground on both sides whose noise steps alike everywhere (the corpus'
#: noisy screenshots on white read ratio 1 and correlation about 0)
SEAM_MIN_CORR = 1.0 / 6.0
#: ``noisy``: a tangent-space normal map stores a surface's directions as colour - x and y in R and
#: G around 128, z in B near 255 - so its mean ``B - G`` (``chroma_bg``) is at least this (95-146 on
#: the 89 normal maps of the fit collections, every one opaque) ...
NORMAL_MAP_MIN_BLUE = 90.0
#: ... its mean ``R - G`` (``chroma_rg``) within this of 0 (-7 to 12.3) ...
NORMAL_MAP_MAX_RG = 16.0
#: ... and its median grey (``grey_p50``, ``0.299 R + 0.587 G + 0.114 B``: 0.56 for (128, 128, 255))
#: within these bounds (0.45-0.66 on those maps; the corpus' and the survey's photos: none of the
#: three conditions' images)
NORMAL_MAP_GREY = (0.45, 0.67)
#: ``noisy``: grain whose colour residual predicts its grey one - ``grain_free``
#: (:mod:`~dataeval_gpu.functional.quality_grain`) under this - is painted, not added: glob2's cut
#: sand tiles 0.40-0.64, supertuxkart's bark 0.40; the fit collections' other flags 0.78 or more,
#: planted noise per channel 0.99 or more, grey noise of sigma 8-25 on colour photos where flagged
#: 0.905 or more, Stellarium's sensor noise 0.888 or more (noisyterr17)
GRAIN_FREE_MIN = 0.75
#: ``painted_grain`` only on images at most this many pixels on their short side: a photo toned after
#: its noise (sepia, duotone: each channel a function of one noisy plane) reads ``grain_free`` near 0
#: too - 97 of 97 such flags lost on 38 photos at every size -, while the painted grain it is meant
#: for is a game's tiles and strips (glob2's 32 px sand, enigma's 32-64 px floors and stones).  Under
#: the bound a toned photo of 64 px or less still loses its flag; supertuxkart's 256 px bark,
#: enigma's 160 px slope and lugaru's 921 px grass stay flagged
PAINTED_GRAIN_MAX_SIDE = 64


def chroma_noise_score(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` the per-channel term of ``noisy`` (grey levels): ``noise_chroma /``
    :data:`CHROMA_NOISE_SHARE` where ``noise_chroma >=`` :data:`CHROMA_NOISE_MIN_RATIO` ``·
    noise_flat``, ``noise_flat >=`` :data:`CHROMA_NOISE_MIN_FLAT`, the image opaque and at least
    :data:`CHROMA_NOISE_MIN_SIDE` px a side, and the grey levels hold the noise: ``noise_chroma`` at
    most :data:`NOISE_ENTROPY_EXCESS` times :func:`noise_entropy_cap` (noise of sigma per channel
    reads 0.64 sigma there and reaches the grey as 0.67 sigma, so ``noise_chroma`` is its grey
    sigma within 5 %; a pattern of a few colours, ImageMagick's ``granite``, cannot hold it), and the
    image neither a tile (:func:`tileable`) nor a normal map (:func:`normal_map`); else 0
    (also for metrics gathered without ``noise_chroma`` or ``noise_flat``)."""
    n = len(np.asarray(m["noise"]))
    if "noise_chroma" not in m or "noise_flat" not in m:
        return np.zeros(n)
    chroma, flat = float64(m["noise_chroma"]), float64(m["noise_flat"])
    opaque = float64(m["opacity"]) >= 1.0 if "opacity" in m else np.ones(n, bool)
    side = np.minimum(float64(m["width"]), float64(m["height"]))
    judged = (chroma >= CHROMA_NOISE_MIN_RATIO * flat) & (flat >= CHROMA_NOISE_MIN_FLAT) & opaque
    judged &= (side >= CHROMA_NOISE_MIN_SIDE) & (chroma <= NOISE_ENTROPY_EXCESS * noise_entropy_cap(m))
    judged &= ~(tileable(m) | normal_map(m) | painted_grain(m))  # a tile's, a normal map's, painted grain
    return np.where(judged, chroma / CHROMA_NOISE_SHARE, 0.0)


def tileable(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images that continue across their own borders both ways - ``seam_ratio`` at
    most :data:`SEAM_MAX_RATIO` and ``seam_corr`` at least :data:`SEAM_MIN_CORR`
    (:mod:`~dataeval_gpu.functional.quality_seam`): a texture made to repeat (terrain, grass, sand,
    rock, a normal map), whose fine detail is its content and reads as Gaussian noise.  A noisy
    photograph's left and right edges are different parts of a scene (none of the corpus' 449
    photos with grey noise of sigma 25 added).  False for metrics without the seam figures."""
    n = len(np.asarray(m["noise"]))
    if "seam_ratio" not in m or "seam_corr" not in m:
        return np.zeros(n, dtype=bool)
    return (float64(m["seam_ratio"]) <= SEAM_MAX_RATIO) & (float64(m["seam_corr"]) >= SEAM_MIN_CORR)


def painted_grain(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images whose grey residual their colour residual predicts - ``grain_free`` under
    :data:`GRAIN_FREE_MIN`: grain drawn with brightness moving with hue and saturation (a game's sand,
    bark, stone), not noise, which is drawn per channel or on the brightness alone and reads about 1;
    only on a tile-sized image, short side at most :data:`PAINTED_GRAIN_MAX_SIDE` (a toned photo's noise
    reads low too).  False for metrics without ``grain_free`` (and for grey images: 1)."""
    n = len(np.asarray(m["noise"]))
    if "grain_free" not in m:
        return np.zeros(n, dtype=bool)
    side = np.minimum(float64(m["width"]), float64(m["height"]))
    return (float64(m["grain_free"]) < GRAIN_FREE_MIN) & (side <= PAINTED_GRAIN_MAX_SIDE)


def normal_map(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images coloured as a tangent-space normal map - ``chroma_bg`` at least
    :data:`NORMAL_MAP_MIN_BLUE`, ``|chroma_rg|`` at most :data:`NORMAL_MAP_MAX_RG`, ``grey_p50`` within
    :data:`NORMAL_MAP_GREY`: a relief encoded as colour, whose fine bumps are its content (supertuxkart's
    and scorched3d's maps read as Gaussian noise of sigma 9-16).  False for metrics without ``chroma_bg``."""
    n = len(np.asarray(m["noise"]))
    if not all(k in m for k in ("chroma_bg", "chroma_rg", "grey_p50")):
        return np.zeros(n, dtype=bool)
    grey = float64(m["grey_p50"])
    ok = (float64(m["chroma_bg"]) >= NORMAL_MAP_MIN_BLUE) & (np.abs(float64(m["chroma_rg"])) <= NORMAL_MAP_MAX_RG)
    return ok & (grey >= NORMAL_MAP_GREY[0]) & (grey <= NORMAL_MAP_GREY[1])


def shared_grain(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: see-through colour images (``opacity`` under
    :data:`~dataeval_gpu.detectors.quality_values.TRANSPARENT_BELOW`, three channels or more) whose
    residual is shared by the colour channels - ``noise_chroma`` under
    :data:`CHROMA_NOISE_MIN_RATIO` times ``noise_flat``: painted grain, dither and texture, not noise
    drawn per channel (1.49 for pure noise).  A see-through image is stored losslessly with its alpha
    (no 4:2:0 chroma subsampling smooths the channel differences, as JPEG does a photo's), so noise a
    sensor or a program added to it is still independent per channel there; a drawn layer's grain
    is not (the 71 see-through fillets-ng wall layers and cut-scene frames main flagged: 0.03-1.29, 0.46
    the median; sigma 25 per channel on see-through icons and sprites: 1.02-1.67 where flagged; noisyprec15).
    False for metrics without ``noise_chroma`` / ``noise_flat`` / ``opacity`` / ``channels``."""
    n = len(np.asarray(m["noise"]))
    if not all(k in m for k in ("noise_chroma", "noise_flat", "opacity", "channels")):
        return np.zeros(n, dtype=bool)
    colour = (float64(m["opacity"]) < TRANSPARENT_BELOW) & (float64(m["channels"]) >= 3)
    return colour & (float64(m["noise_chroma"]) < CHROMA_NOISE_MIN_RATIO * float64(m["noise_flat"]))


def noisy_score(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` ``noisy`` scores (grey levels): the larger of the Gaussian estimate (the MAD one
    while the mean estimate is within :data:`NOISE_GAUSS_RATIO` of it, at most ``noise_flat /``
    :data:`NOISE_FLAT_SHARE`: noise must reach the flattest blocks; 0 where it exceeds
    :data:`NOISE_ENTROPY_EXCESS` times :func:`noise_entropy_cap`: structure; 0 on a see-through
    colour image whose grain the channels share, :func:`shared_grain`; 0 on a tile, a normal map or
    painted grain, :func:`tileable`, :func:`normal_map`, :func:`painted_grain`) and the impulse estimate
    (the mean one less :data:`NOISE_TEXTURE_FLOOR`, or less :data:`NOISE_GAUSS_RATIO` times the MAD
    one where that is more - impulses raise the mean response and barely its median, texture
    raises both - while ``impulse_share`` is at least :data:`IMPULSE_MIN_SHARE` and under
    :data:`IMPULSE_MAX_CLIPPED` of the pixels are clipped).  Metrics gathered without ``noise_flat``
    / ``impulse_share`` are scored without those checks (the clipped share is checked on every
    impulse estimate)."""
    gauss = np.where(m["noise"] <= NOISE_GAUSS_RATIO * m["noise_robust"], m["noise_robust"], 0.0)
    if "noise_flat" in m:
        gauss = np.minimum(gauss, np.asarray(m["noise_flat"]) / NOISE_FLAT_SHARE)
    gauss = np.where(gauss <= NOISE_ENTROPY_EXCESS * noise_entropy_cap(m), gauss, 0.0)
    gauss = np.where(shared_grain(m), 0.0, gauss)  # a see-through image's grain shared by R, G, B
    # a texture made to repeat, a relief encoded as colour, grain painted in colour: their grain is their content
    gauss = np.where(tileable(m) | normal_map(m) | painted_grain(m), 0.0, gauss)
    impulse = m["noise"] - NOISE_TEXTURE_FLOOR
    if "impulse_share" in m:
        # impulses raise the mean response, not its median: texture raises both, so the mean counts
        # only beyond what the median explains (NOISE_GAUSS_RATIO, as the Gaussian branch allows)
        impulse = m["noise"] - np.maximum(NOISE_TEXTURE_FLOOR, NOISE_GAUSS_RATIO * m["noise_robust"])
        impulse = np.where(np.asarray(m["impulse_share"]) >= IMPULSE_MIN_SHARE, impulse, 0.0)
    clipped = float64(m["dark_clipped"]) + float64(m["bright_clipped"])
    impulse = np.where(clipped < IMPULSE_MAX_CLIPPED, impulse, 0.0)  # a two-level drawing's dots
    return np.maximum(gauss, impulse)


def noise_entropy_cap(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` the largest Gaussian sigma (grey levels) the image's grey levels can hold: added noise
    is independent of the picture, so ``H(X + N) >= H(N) = log2(sigma) +`` :data:`GAUSS_ENTROPY_BITS`.
    Clipping takes the noise's entropy off the pixels clipped black or white (``dark_clipped`` +
    ``bright_clipped``, share ``c``), not off the others, and a mixture has at least its parts'
    weighted entropy, so ``grey_entropy / (1 - c)`` bits are the least the unclipped part holds:
    ``sigma <= 2 ** (grey_entropy / max(1 - c, 0.25) +`` :data:`NOISE_ENTROPY_SLACK` ``- 2.05)``."""
    clipped = np.clip(np.asarray(m["dark_clipped"]) + np.asarray(m["bright_clipped"]), 0.0, 0.75)
    bits = np.asarray(m["grey_entropy"]) / (1.0 - clipped)
    return np.exp2(bits + NOISE_ENTROPY_SLACK - GAUSS_ENTROPY_BITS)
