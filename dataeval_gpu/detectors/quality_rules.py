"""The rules of the scored quality issues (:mod:`~dataeval_gpu.detectors.quality`): the
thresholds and conditions, and the per-image scores of every issue from the quality metrics
(:func:`issue_scores`).  :class:`~dataeval_gpu.detectors.quality.QualityIssues` applies them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..functional.quality import QUALITY_KEYS, WORKING_SIDE
from .quality_blur_rules import ALPHA_DRAWN_MAX, EDGE_SPAN_MIN, alpha_drawn, soft_design
from .quality_contrast_rules import low_contrast_score, typical_range
from .quality_dark_rules import BLACK_INK_LEVEL, black_ink, tone_fill
from .quality_motion_rules import (
    MOTION_JUDGE_SIDE,
    MOTION_MAX_PEAK,
    MOTION_MIN_CROSS,
    MOTION_MIN_ENERGY,
    MOTION_MIN_OCCUPANCY,
    MOTION_MIN_RATIO,
    MOTION_OFFSET,
    motion_blurred,
    motion_judged,
)
from .quality_noise_judged import NOISE_MIN_SEEN, noise_judged
from .quality_noise_rules import (
    GAUSS_ENTROPY_BITS,
    IMPULSE_MAX_CLIPPED,
    IMPULSE_MIN_SHARE,
    NOISE_ENTROPY_EXCESS,
    NOISE_ENTROPY_SLACK,
    NOISE_FLAT_SHARE,
    NOISE_GAUSS_RATIO,
    NOISE_TEXTURE_FLOOR,
    chroma_noise_score,
    noise_entropy_cap,
    noisy_score,
    shared_grain,
)
from .quality_values import TRANSPARENT_BELOW, float64

__all__ = [
    "ALPHA_DRAWN_MAX",
    "EDGE_SPAN_MIN",
    "BLACK_INK_LEVEL",
    "COARSE_OFFSET",
    "DARK_ABSOLUTE_P99",
    "DARK_PEAK_MIN",
    "DEFAULT_THRESHOLDS",
    "FINE_OFFSET",
    "NOISE_MIN_SEEN",
    "GAUSS_ENTROPY_BITS",
    "GRAYSCALE_MAX_SHARE",
    "IMPULSE_MAX_CLIPPED",
    "IMPULSE_MIN_SHARE",
    "ISSUES",
    "JUDGE_MIN_SIDE",
    "LIGHT_MIN_CLIPPED",
    "LIGHT_TAIL_RATIO",
    "LOW_INFO_DETAIL",
    "LOW_INFO_OCCUPANCY",
    "MOTION_JUDGE_SIDE",
    "MOTION_MAX_PEAK",
    "MOTION_MIN_CROSS",
    "MOTION_MIN_ENERGY",
    "MOTION_MIN_OCCUPANCY",
    "MOTION_MIN_RATIO",
    "MOTION_OFFSET",
    "NOISE_ENTROPY_EXCESS",
    "NOISE_ENTROPY_SLACK",
    "NOISE_FLAT_SHARE",
    "NOISE_GAUSS_RATIO",
    "NOISE_TEXTURE_FLOOR",
    "OBJECT_MIN_PIXELS",
    "ODD_MAX_SHARE",
    "OPTIONAL_KEYS",
    "PIXEL_ISSUES",
    "SATURATED_HIGHLIGHTS",
    "SHAPE_KEYS",
    "SILHOUETTE_BITS",
    "SILHOUETTE_INK_MIN",
    "TRANSPARENT_BELOW",
    "UNDEREXPOSED_FILL",
    "UNDEREXPOSED_PEAK",
    "alpha_drawn",
    "soft_design",
    "black_ink",
    "chroma_noise_score",
    "drawn",
    "few_seen",
    "float64",
    "grey_judged",
    "grey_share",
    "ink_tails",
    "issue_scores",
    "lit_peaks",
    "motion_blurred",
    "motion_judged",
    "noise_entropy_cap",
    "noise_judged",
    "noisy_score",
    "object_detail",
    "octave_neighbours",
    "seen_entropy",
    "shape_detail",
    "shared_grain",
    "silhouettes",
    "tone_fill",
    "underexposed",
]

#: the issues, in output order
ISSUES = (
    "dark",
    "light",
    "low_contrast",
    "blurry",
    "noisy",
    "grayscale",
    "low_information",
    "jpeg_blocking",
    "odd_size",
    "odd_aspect_ratio",
)
#: default thresholds: an image is flagged when its score is above (``light``: at least) this
DEFAULT_THRESHOLDS: dict[str, float] = {
    "dark": 0.78,
    "light": 0.2,
    "low_contrast": 0.35,
    "blurry": 0.555,
    "noisy": 8.5,
    "grayscale": 0.9995,
    "low_information": 7.5,
    "jpeg_blocking": 2.2,
    "odd_size": 3.0,
    "odd_aspect_ratio": 2.8,
}
#: ``grayscale`` is flagged only while the share of grey images (score above the threshold, among
#: the images with three or more channels) is under this: grey must be the exception, not the rule
GRAYSCALE_MAX_SHARE = 0.5
#: absolute floor of ``dark``: highlights (of the grey image and of ``max(R, G, B)``) below this
#: are dark in any dataset
DARK_ABSOLUTE_P99 = 0.03
#: ``dark`` of an image whose highlights are a saturated colour - ``bright_p99`` (of ``max(R, G,
#: B)``) at least this many times ``grey_p99`` - needs its ``bright_p99`` dark too (the same
#: relative score against the dataset's median ``bright_p99``): a deep red (``(110, 0, 0)``, luma
#: 0.13) or navy is a colour, not an under-exposure, which darkens every channel (a picture
#: divided by 8 keeps ``max(R, G, B)`` under 32/255).  The ratio does not change with exposure; the
#: highlights of photos keep it under 1.47 (99 % of 604 photos; warm skin in dim light 1.42)
SATURATED_HIGHLIGHTS = 1.5
#: ``dark`` is not judged on an image whose peak - ``bright_p9999``, the brightest 0.01 % of
#: ``max(R, G, B)`` over what is seen - reaches this: it has highlights, so it was not
#: under-exposed; it is dark by nature (a star field, a nebula, a night scene with lights).
#: Under-exposure darkens every pixel: a picture divided by 2 keeps its peak at most 0.5, and
#: ``dark`` flags darkenings of 4.5x and more against the typical image (a picture divided by 8:
#: peak at most 31/255 = 0.12).  Measured: Stellarium's dark star fields and galaxies 0.71-1.0,
#: the planted dark copies 0.07-0.12, the 449 unmodified photos of the corpus at least 0.58
DARK_PEAK_MIN = 0.5
#: ``dark`` also flags an under-exposed picture (:func:`underexposed`): opaque, nothing in any channel
#: reaching this share of the collection's typical peak (the median ``bright_p9999``: 1.0 in every
#: collection measured but seven, 0.945-0.992) ...  A picture divided by 2 keeps its peak at most 0.5 (the
#: survey's x0.5 copies 0.47-0.502, x0.3 0.29-0.30); the unmodified photos of the survey peak at 0.90
#: or more, the corpus's 449 at 0.58 or more
UNDEREXPOSED_PEAK = 0.55
#: ... and the tones of a picture under it: its grey entropy at least this share of the bits the grey
#: levels under the peak can hold (:func:`tone_fill`).  Darkening a continuous-tone picture squeezes
#: its tones into fewer levels and keeps them filled (the survey's x0.5 / x0.3 copies 0.82-0.98); a
#: dark design - a theme piece, a flat texture, a star or nebula on black - uses few of them (gimp's
#: Dark theme at most 0.52, hedgewars' dark land textures 0.26-0.73, Stellarium's nebulae median 0.37)
UNDEREXPOSED_FILL = 0.7
#: second condition of ``light``: at least this share of pixels clipped white
LIGHT_MIN_CLIPPED = 0.15
#: third condition of ``light``: the darkest 0.01 % (``grey_p0001``) at least this share of the
#: black point.  A washed-out picture has lost its shadows everywhere: its tones end at the black
#: point (0.84-1.0 on the planted overexposed photos).  Ink on a white ground (plots, screenshots,
#: documents) keeps a sparse tail below it: thin anti-aliased strokes reach their ink's darkness in
#: few pixels, under 0.1 % of the image (0.16-0.76 on the corpus' plots and screenshots)
LIGHT_TAIL_RATIO = 0.8
#: ``low_information`` is not judged (score 0) on an image with at least this ``detail`` (RMS of the
#: finest band at the working resolution, 0-1): its information is in strokes the grey histogram
#: does not see (line diagrams on white: 0.06-0.15); blank and near-black images have under 0.03
LOW_INFO_DETAIL = 0.05
#: ... nor on an image with at least this ``occupancy`` (share of the 16 x 16 grid's cells spanning
#: 64+ grey levels, :mod:`~dataeval_gpu.functional.quality_occupancy`): a drawing whose strokes
#: cross the frame (0.074-0.33 on Stellarium's sky-culture drawings on black), while a small faint
#: object on black occupies a few cells (0.016-0.047 on its near-black nebulae) and a blank image none
LOW_INFO_OCCUPANCY = 0.06
#: ... nor on a see-through image whose visible object, of at least this many visible pixels (an
#: object of :data:`JUDGE_MIN_SIDE` px a side), has that ``detail`` where it is seen
#: (:func:`object_detail`): a sprite on a mostly transparent canvas
OBJECT_MIN_PIXELS = 81.0
#: ``blurry`` compares ``coarse_sharpness + COARSE_OFFSET`` with the same threshold as ``norm_sharpness``
COARSE_OFFSET = 0.11
#: ... and ``fine_sharpness + FINE_OFFSET`` (native resolution: blurred under 0.37), for images
#: whose short side is over the working resolution (``WORKING_SIDE``)
FINE_OFFSET = 0.075
#: metrics the issues need besides :data:`QUALITY_KEYS`
SHAPE_KEYS = ("width", "height", "channels")
#: keys that metrics gathered before they existed lack (an index, a saved table): ``opacity`` (every
#: image opaque), ``grey_p0001`` (no ink tail known), ``dark_p001`` (the grey black point instead),
#: ``noise_flat`` / ``impulse_share`` (``noisy`` without the texture checks, as before),
#: ``occupancy`` (``low_information`` without the drawing check, as before), ``bright_p99``
#: (``dark`` on the grey highlights alone, as before), the ``motion_*`` keys (``blurry`` without the
#: motion term, as before), ``noise_chroma`` (``noisy`` without its per-channel term, as before),
#: ``colour_free`` (``blurry`` judged on every see-through image, as before),
#: ``seam_ratio`` / ``seam_corr`` (``noisy`` without the tile check, as before), ``edge_span``
#: (``blurry`` judged on soft designs, as before), ``grain_free`` (``noisy`` without the painted-grain
#: check, as before)
OPTIONAL_KEYS = (
    "opacity", "grey_p0001", "dark_p001", "noise_flat", "impulse_share", "occupancy", "bright_p99", "bright_p9999",
    "motion_ratio", "motion_energy", "motion_angle", "motion_cross", "noise_chroma", "motion_peak", "colour_free",
    "seam_ratio", "seam_corr", "edge_span", "grain_free",
)  # fmt: skip
#: ``odd_size`` / ``odd_aspect_ratio`` flag an image only while fewer than this share of the dataset
#: (or than 2 images in a small set: ``max(2, share · N)``, itself included) lie within one octave
#: of its side / aspect: an icon theme's 256 and 512 px icons among its 16-48 px ones are sizes of
#: the collection, not odd ones
ODD_MAX_SHARE = 0.05
#: images with alpha: ``TRANSPARENT_BELOW`` (``quality_values``): an ``opacity`` under it has
#: transparent parts, seen on whatever background the viewer has: no black point of its own
#: (``light`` not judged), and ...
#: ... when what is seen of it has under this many bits of grey entropy it is a glyph or silhouette
#: (one ink, its information in its shape): ``dark`` not judged (a black symbolic icon is not dark)
SILHOUETTE_BITS = 1.0
#: the exposure and structure issues (``dark``, ``light``, ``blurry``, ``noisy``, ``jpeg_blocking``)
#: are judged only on images at least this many pixels a side (score 0 below; the perceptual
#: hash's least side too): the one pixel of a 1 x 1 image is a colour, not an exposure, and a
#: few pixels hold no blur, noise or 8 x 8 blocks to measure (a 1 x 1 grey-5 image was flagged
#: ``dark``).  ``low_information``, ``grayscale`` and ``odd_size`` still say what it is
JUDGE_MIN_SIDE = 9
#: :func:`shape_detail`: the least distance of a silhouette's ink from the mid-grey backdrop it is
#: divided by (one grey level; an ink on the backdrop itself composites flat: ``detail`` 0)
SILHOUETTE_INK_MIN = 1.0 / 255.0
#: the issues :data:`JUDGE_MIN_SIDE` applies to
PIXEL_ISSUES = ("dark", "light", "low_contrast", "blurry", "noisy", "jpeg_blocking")



def _median(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def issue_scores(
    metrics: Mapping[str, Any], reference: Mapping[str, float] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-image scores of every issue from quality metrics (numpy float64 ``(N,)`` each).

    ``metrics`` holds :data:`QUALITY_KEYS` plus ``width``, ``height``, ``channels``.
    ``reference`` gives the dataset values the relative issues compare with
    (``grey_p99``, ``bright_p99``, ``bright_p9999``, ``side``, ``aspect`` medians, ``contrast``: the tonal
    range's lower quartile, :func:`typical_range`); default: those of
    ``metrics`` itself.
    Returns the scores and the reference values used.
    """
    keys = (*QUALITY_KEYS, *SHAPE_KEYS)
    m = {k: float64(metrics[k]) for k in keys if k not in OPTIONAL_KEYS or k in metrics}
    if "opacity" not in m:  # metrics gathered before the key existed: every image opaque
        m["opacity"] = np.ones_like(m["grey_p99"])
    w, h = m["width"], m["height"]
    side = np.sqrt(w * h)
    aspect = w / np.maximum(h, 1)
    ref = {"grey_p99": _median(m["grey_p99"]), "side": _median(side), "aspect": _median(aspect)}
    # the value part of ``dark`` needs its own reference: a reference of the grey highlights alone
    # (an index written before the key) judges on them alone, as before
    if "bright_p99" in m and (reference is None or "grey_p99" not in reference or "bright_p99" in reference):
        ref["bright_p99"] = _median(m["bright_p99"])
    # the typical peak of ``underexposed``: as the value part, a reference without it judges as before
    if "bright_p9999" in m and (reference is None or "grey_p99" not in reference or "bright_p9999" in reference):
        ref["bright_p9999"] = _median(m["bright_p9999"])
    # the typical tonal range of ``low_contrast``: as the peak, a reference without it judges none
    if reference is None or "grey_p99" not in reference or "contrast" in reference:
        ref["contrast"] = typical_range(m)
    if reference is not None:
        ref.update({k: float(v) for k, v in reference.items() if k in ref})
    p99_ref = ref["grey_p99"] if ref["grey_p99"] > 0 else 1.0
    dark = 1.0 - m["grey_p99"] / p99_ref
    if "bright_p99" in ref:  # saturated highlights: dark only if their brightest channel is too
        value = 1.0 - m["bright_p99"] / (ref["bright_p99"] if ref["bright_p99"] > 0 else 1.0)
        saturated = m["bright_p99"] >= SATURATED_HIGHLIGHTS * m["grey_p99"]
        dark = np.where(saturated, np.minimum(dark, value), dark)
    see_through = m["opacity"] < TRANSPARENT_BELOW
    sharpness = np.minimum(
        np.minimum(m["norm_sharpness"], m["coarse_sharpness"] + COARSE_OFFSET),
        # native resolution adds what the working resolution's downscale hides; at or under
        # the working size the two see the same pixels (and smooth renders, whose rounding
        # noise is below the 8-bit model's, would read as blurred)
        np.where(np.minimum(w, h) > WORKING_SIDE, m["fine_sharpness"] + FINE_OFFSET, np.inf),
    )
    # blur along a line: the detail one direction lost against another's (quality_motion)
    sharpness = np.minimum(sharpness, np.where(motion_judged(m), m.get("motion_ratio", 1.0) + MOTION_OFFSET, np.inf))
    # a flat image (no detail at either working resolution: both ratios 0) has no blur to judge,
    # as ``fine_sharpness`` scores a flat window 1; ``low_information`` says what it is
    flat = (m["norm_sharpness"] <= 0.0) & (m["coarse_sharpness"] <= 0.0)
    scores = {
        # a shadow or black glyph on a transparent canvas is its ink (quality_dark_rules), as a silhouette is
        "dark": np.where(
            silhouettes(m) | black_ink(m) | (lit_peaks(m) & ~underexposed(m, ref.get("bright_p9999"))), 0.0, dark
        ),
        # the black point of the darkest channel (He et al.'s dark channel): a saturated colour has
        # a channel near 0 and is no washed-out tone, though its luma may be 0.3 (a red bottle)
        "light": np.where(see_through, 0.0, m["dark_p001"] if "dark_p001" in m else m["grey_p001"]),
        # tones squeezed into a narrow band, against the collection's typical range (quality_contrast_rules)
        "low_contrast": low_contrast_score(m, ref.get("contrast")),
        # nor on a see-through image drawn in its alpha (a shadow, a glow) or a soft design whose
        # every change is wider than 1/16 of it (a gradient, a soft blob; quality_blur_rules)
        "blurry": np.where(flat | alpha_drawn(m) | soft_design(m), 0.0, 1.0 - sharpness),
        # and weak noise drawn per colour channel, which no texture shares (quality_noise_rules)
        "noisy": np.maximum(noisy_score(m), chroma_noise_score(m)),
        "grayscale": np.where(grey_judged(m), 1.0 - m["channel_spread"], 0.0),
        "low_information": np.where(drawn(m), 0.0, 8.0 - seen_entropy(m)),
        "jpeg_blocking": m["blockiness"].copy(),
        "odd_size": np.abs(np.log2(np.maximum(side, 1e-9) / max(ref["side"], 1e-9))),
        "odd_aspect_ratio": np.abs(np.log2(np.maximum(aspect, 1e-9) / max(ref["aspect"], 1e-9))),
    }
    for k in PIXEL_ISSUES:  # too few pixels to judge (JUDGE_MIN_SIDE)
        scores[k] = np.where(np.minimum(w, h) < JUDGE_MIN_SIDE, 0.0, scores[k])
    for k in ("dark", "blurry"):  # too few of them seen (OBJECT_MIN_PIXELS)
        scores[k] = np.where(few_seen(m), 0.0, scores[k])
    # too few pixels to tell noise from drawing (quality_noise_judged)
    scores["noisy"] = np.where(noise_judged(m), scores["noisy"], 0.0)
    return scores, ref


def lit_peaks(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images whose peak, ``bright_p9999``, is at least :data:`DARK_PEAK_MIN` -
    highlights reached somewhere, so not under-exposed (``dark`` not judged).  False for metrics
    gathered without the key (judged as before)."""
    if "bright_p9999" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    return float64(m["bright_p9999"]) >= DARK_PEAK_MIN


def underexposed(m: Mapping[str, Any], typical_peak: float | None) -> np.ndarray:
    """``(N,)`` bool: under-exposed pictures, flagged ``dark``: opaque (``opacity`` at least
    :data:`TRANSPARENT_BELOW`: a sprite or shadow on a transparent canvas is a design), no channel
    reaching :data:`UNDEREXPOSED_PEAK` of the collection's ``typical_peak`` (the median
    ``bright_p9999``) in its brightest 0.01 % and its tones filling the levels under its peak
    (:func:`tone_fill` at least :data:`UNDEREXPOSED_FILL`).  Under-exposure scales every level
    down: the picture's tones stay, squeezed under a low peak; the relative rule on the highlights
    misses a copy divided by 2 or 3 among photos (its highlights 30-50 % of theirs, flagged from
    22 %).  Relative to the collection as ``dark`` is: in a set of dark pictures a dark one is
    typical.  All False without ``bright_p9999`` or a typical peak (metrics gathered before it, an
    index whose reference lacks it: judged as before)."""
    if "bright_p9999" not in m or typical_peak is None or not np.isfinite(typical_peak):
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    opacity = float64(m["opacity"]) if "opacity" in m else np.ones(np.shape(m["grey_p99"]))
    low = float64(m["bright_p9999"]) < UNDEREXPOSED_PEAK * typical_peak
    return (opacity >= TRANSPARENT_BELOW) & low & (tone_fill(m) >= UNDEREXPOSED_FILL)


def few_seen(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images with transparent parts (``opacity`` under :data:`TRANSPARENT_BELOW`)
    whose visible pixels, ``opacity · width · height``, are under :data:`OBJECT_MIN_PIXELS` (an
    object of :data:`JUDGE_MIN_SIDE` px a side): ``dark`` and ``blurry`` are not judged on them, as
    on a frame under that side - a 5 px dot in a 21 px frame (a password dot) holds its edge in the
    octave the finest one is compared with, and a few dark pixels (a moustache) are a colour, not
    an exposure."""
    if "opacity" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    o = np.asarray(m["opacity"], dtype=np.float64)
    seen = o * np.asarray(m["width"], dtype=np.float64) * np.asarray(m["height"], dtype=np.float64)
    return (o < TRANSPARENT_BELOW) & (seen < OBJECT_MIN_PIXELS)


def grey_judged(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: the images ``grayscale`` judges - three or more channels and no transparent
    parts (``opacity`` at least :data:`TRANSPARENT_BELOW`; every image without the key).  A grey
    picture stored as RGB is a full frame that lost its colour (a colour pipeline fed a grey scan);
    a drawing on a transparent canvas - a symbolic icon, a UI panel, a smoke or spark sprite, an
    engraving cut out - has the palette its artist gave it: 227 of kstars-data's 242 and 127 of
    endless-sky-data's 132 ``grayscale`` flags were such drawings, none a lost colour."""
    colour = float64(m["channels"]) >= 3
    if "opacity" not in m:
        return colour
    return colour & (float64(m["opacity"]) >= TRANSPARENT_BELOW)


def grey_share(m: Mapping[str, Any], threshold: float) -> float:
    """The share of grey images (``1 - channel_spread`` above ``threshold``) among the images
    ``grayscale`` judges (:func:`grey_judged`); 0 without any."""
    judged = grey_judged(m)
    if not judged.any():
        return 0.0
    return float(np.mean(1.0 - float64(m["channel_spread"])[judged] > threshold))


def shape_detail(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` ``detail`` of what is seen, with a silhouette's ink (:func:`silhouettes`: one ink on
    transparent) at the contrast of black or white ink on the mid-grey backdrop the metrics
    composite it on: ``detail · 0.5 / max(|grey_p50 - 0.5|, 1/255)``.  The composite of one ink is
    ``0.5 + alpha · (ink - 0.5)``, so its finest band is the alpha's scaled by the ink's distance
    from the backdrop: a sheet of grey glyphs (``#454545``: 0.27, 59 levels from the backdrop) drew
    a quarter of the detail black glyphs draw, though a viewer sees the shapes on any background.
    ``detail`` itself for every other image, and for black or white ink (ratio 1)."""
    detail = np.asarray(m["detail"], dtype=np.float64)
    if "opacity" not in m:
        return detail
    ink = np.abs(np.asarray(m["grey_p50"], dtype=np.float64) - 0.5)
    scale = np.maximum(0.5 / np.maximum(ink, SILHOUETTE_INK_MIN), 1.0)
    return np.where(silhouettes(m), detail * scale, detail)


def object_detail(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` ``detail`` of a see-through image's visible object where it is seen: the RMS of the
    finest band over the visible share of the frame, ``detail / sqrt(opacity)`` (the transparent
    part composites flat and adds no band energy), for images with transparent parts (``opacity``
    under :data:`TRANSPARENT_BELOW`) of more than one ink (not :func:`silhouettes`) and at least
    :data:`OBJECT_MIN_PIXELS` visible pixels (``opacity · width · height``); 0 for every other
    image.  A sprite frame, an overlay or an animation frame holds a detailed object on a mostly
    transparent canvas: its ``detail`` over the whole frame is diluted by the empty canvas
    (0.02 for a 180-pixel hat in a 90 x 80 frame), not its information."""
    detail = np.asarray(m["detail"], dtype=np.float64)
    if "opacity" not in m or "width" not in m or "height" not in m:
        return np.zeros_like(detail)
    o = np.asarray(m["opacity"], dtype=np.float64)
    seen = o * np.asarray(m["width"], dtype=np.float64) * np.asarray(m["height"], dtype=np.float64)
    ok = (o < TRANSPARENT_BELOW) & ~silhouettes(m) & (seen >= OBJECT_MIN_PIXELS)
    return np.where(ok, detail / np.sqrt(np.maximum(o, 1e-12)), 0.0)


def drawn(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images whose information is in strokes the grey histogram does not see -
    ``detail`` (of a silhouette: :func:`shape_detail`; of a see-through object where it is seen:
    :func:`object_detail`) at least :data:`LOW_INFO_DETAIL` (line diagrams on white, sheets of
    glyphs, sprites on a transparent canvas) or ``occupancy`` at least :data:`LOW_INFO_OCCUPANCY` (a
    drawing crossing the frame; not checked for metrics gathered without the key):
    ``low_information`` is not judged on them."""
    out = (shape_detail(m) >= LOW_INFO_DETAIL) | (object_detail(m) >= LOW_INFO_DETAIL)
    if "occupancy" in m:
        out = out | (np.asarray(m["occupancy"]) >= LOW_INFO_OCCUPANCY)
    return out


def octave_neighbours(values: np.ndarray) -> np.ndarray:
    """``(N,)`` int: for each value, how many of ``values`` (itself included) lie within one
    octave of it (``|log2(v / value)| <= 1``)."""
    lv = np.log2(np.maximum(np.asarray(values, dtype=np.float64), 1e-9))
    srt = np.sort(lv)
    return np.searchsorted(srt, lv + 1.0, side="right") - np.searchsorted(srt, lv - 1.0, side="left")


def silhouettes(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images with transparent parts (``opacity`` under :data:`TRANSPARENT_BELOW`)
    whose visible pixels have under :data:`SILHOUETTE_BITS` of grey entropy - glyphs, symbolic
    icons, silhouettes: one ink whose brightness is a design, not an exposure."""
    opacity = m["opacity"] if "opacity" in m else np.ones_like(m["grey_p99"])
    return (opacity < TRANSPARENT_BELOW) & (m["grey_entropy"] < SILHOUETTE_BITS)


def ink_tails(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images whose darkest 0.01 % (``grey_p0001``) lie well below the black point
    ``grey_p001`` (under :data:`LIGHT_TAIL_RATIO` of it): a sparse tail of dark stroke cores (ink
    on a white ground), not a washed-out picture.  False for metrics gathered without the key."""
    if "grey_p0001" not in m:
        return np.zeros(np.shape(m["grey_p001"]), dtype=bool)
    return np.asarray(m["grey_p0001"]) < LIGHT_TAIL_RATIO * np.asarray(m["grey_p001"])


def seen_entropy(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """Grey entropy (bits) of what is seen: for an image with alpha, the visible grey levels
    (weight alpha) and the background (weight 1 - alpha) as one more symbol, i.e. with opacity
    ``o`` and the visible pixels' entropy ``H``: ``H_b(o) + o H`` (``H_b`` the binary entropy) -
    a black glyph on transparent carries its shape's information, a fully transparent image none.
    ``grey_entropy`` itself for opaque images."""
    o = np.clip(m["opacity"] if "opacity" in m else np.ones_like(m["grey_entropy"]), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hb = -np.where(o > 0, o * np.log2(o), 0.0) - np.where(o < 1, (1 - o) * np.log2(1 - o), 0.0)
    return hb + o * m["grey_entropy"]
