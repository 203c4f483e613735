"""Scored quality issues: dark, light, blurry, noisy, grayscale, low information, JPEG
blocking, odd size and odd aspect ratio - beside the Linter's statistical outliers.

Every image gets one score per issue (so images can be sorted by it) and a flag from a
threshold; the output says why an image was flagged (the score, the threshold, and for the
relative issues the dataset value the threshold was derived from).  Defaults were
calibrated on real photo collections (``scripts/eval_quality.py``, ``docs/quality.md``).

=================  ====================================  =========================================
issue              score (higher = worse)                flagged when (default)
=================  ====================================  =========================================
dark               ``1 - grey_p99 / median(grey_p99)``   score > 0.78 (the brightest 1 % of the
                   relative: the image's highlights        image under 22 % of the dataset's
                   against the dataset's                   typical highlights), or grey_p99 < 0.03
light              ``dark_p001`` (the black point: the    score >= 0.2 and bright_clipped >= 0.15
                   darkest 0.1 % of min(R, G, B))          (overexposed: highlights clipped AND
                                                           no dark tones left) and grey_p0001 >=
                                                           0.8 grey_p001 (no sparse darker tail:
                                                           the stroke cores of ink on white)
blurry             ``1 - min(norm_sharpness,              score > 0.555 (norm_sharpness < 0.445, or
                   coarse_sharpness + 0.11,                coarse_sharpness < 0.335: upscaled, or
                   fine_sharpness + 0.075)``               fine_sharpness < 0.37: blurred at the
                   (fine: short side > 256 px only); 0    native resolution of a large image)
                   for a flat image (both ratios 0)
noisy              ``max(min(noise_robust, noise_flat /   score > 8.5 (MAD σ > 8.5 grey levels: Gaussian
                   0.5) if noise <= 1.3 noise_robust      noise, unless the mean estimate is over 1.3x
                   else 0, noise - 11 if impulse_share    the MAD one or the flattest blocks are
                   >= 0.01 else 0)`` (grey levels)         smooth: texture; or Immerkær σ > 19.5 with
                                                           1 % isolated impulses: impulse noise)
grayscale          ``1 - channel_spread`` (3+ channels)   score > 0.9995 (channels within ~0.1 level
                                                           on average: grey stored as RGB), and grey
                                                           images a minority of the dataset
low_information    ``8 - grey_entropy`` (bits); 0 when    score > 7.5 (entropy < 0.5 bit)
                   ``detail >= LOW_INFO_DETAIL`` or
                   ``occupancy >= LOW_INFO_OCCUPANCY``
                   (strokes: :func:`drawn`)
jpeg_blocking      ``blockiness``                         score > 2.4
odd_size           ``|log2(side / median side)|``,         score > 3 (8× smaller or larger than
                   side = sqrt(width·height)               the dataset's typical side)
odd_aspect_ratio   ``|log2(aspect / median aspect)|``     score > 2.8 (7× off the typical shape)
=================  ====================================  =========================================

``odd_size`` and ``odd_aspect_ratio`` also need the size / shape to be rare: fewer than
:data:`ODD_MAX_SHARE` of the images, or than 2 in a small set (``max(2, share · N)``, itself included), within one octave of it.

Images under :data:`JUDGE_MIN_SIDE` (9 px) a side are not judged for ``dark``, ``light``,
``blurry``, ``noisy`` or ``jpeg_blocking`` (score 0): too few pixels for an exposure or a structure.

Thresholds are overridable per issue: ``QualityIssues(thresholds={"blurry": 0.6})``.

Images with alpha are judged as they are seen (the metrics: visible pixels, composite on mid
grey, see :mod:`~dataeval_gpu.functional.quality`).  Where an image has transparent parts
(``opacity`` under :data:`TRANSPARENT_BELOW`): ``low_information`` counts the transparent
background as one more grey symbol (:func:`seen_entropy`: a black glyph on transparent carries its
shape, a fully transparent image nothing); ``dark`` is not judged on a glyph or silhouette (under
:data:`SILHOUETTE_BITS` of visible grey entropy: one ink, a design rather than an exposure;
:func:`silhouettes`); ``light`` is not judged (no black point of its own: the viewer's
background is).  A darkened picture with alpha is still dark, a blank one still low information.

``grayscale`` is relative in one respect: a grey image stored as RGB is flagged only where grey
images are a minority of the dataset's images with three channels (share under
:data:`GRAYSCALE_MAX_SHARE`, the same "unlike the typical image" rule as the median-based
issues; ``reference={"grey_share": ...}`` gives a training set's share).  In a collection of
scanned documents, X-rays or MNIST stored as RGB the grey images are the norm, and flagging
every one of them says nothing; the score is reported either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..batching import as_image
from ..errors import InvalidArgumentError
from ..functional.quality import QUALITY_KEYS, WORKING_SIDE, quality_metrics
from ..functional.quality_occupancy import occupancy

__all__ = [
    "DEFAULT_THRESHOLDS",
    "GRAYSCALE_MAX_SHARE",
    "ISSUES",
    "JUDGE_MIN_SIDE",
    "QualityIssues",
    "QualityOutput",
    "LIGHT_TAIL_RATIO",
    "drawn",
    "ink_tails",
    "issue_scores",
    "noisy_score",
    "octave_neighbours",
    "seen_entropy",
    "silhouettes",
]

#: the issues, in output order
ISSUES = (
    "dark",
    "light",
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
    "blurry": 0.555,
    "noisy": 8.5,
    "grayscale": 0.9995,
    "low_information": 7.5,
    "jpeg_blocking": 2.4,
    "odd_size": 3.0,
    "odd_aspect_ratio": 2.8,
}
#: ``grayscale`` is flagged only while the share of grey images (score above the threshold, among
#: the images with three or more channels) is under this: grey must be the exception, not the rule
GRAYSCALE_MAX_SHARE = 0.5
#: absolute floor of ``dark``: highlights below this are dark in any dataset
DARK_ABSOLUTE_P99 = 0.03
#: second condition of ``light``: at least this share of pixels clipped white
LIGHT_MIN_CLIPPED = 0.15
#: third condition of ``light``: the darkest 0.01 % (``grey_p0001``) at least this share of the
#: black point.  A washed-out picture has lost its shadows everywhere: its tones end at the black
#: point (0.84-1.0 on the planted overexposed photos).  Ink on a white ground (plots, screenshots,
#: documents) keeps a sparse tail below it: thin anti-aliased strokes reach their ink's darkness in
#: few pixels, under 0.1 % of the image (0.16-0.76 on the corpus' plots and screenshots)
LIGHT_TAIL_RATIO = 0.8
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
#: ``noisy``: the Immerkær estimate counts as impulse noise only while at least this share of the
#: pixels are isolated impulses (``impulse_share``; 2.0-4.0 % on the planted 5 % salt-and-pepper):
#: the edges of line art and 1-bit icons raise the mean estimate without being impulses
IMPULSE_MIN_SHARE = 0.01
#: ``low_information`` is not judged (score 0) on an image with at least this ``detail`` (RMS of the
#: finest band at the working resolution, 0-1): its information is in strokes the grey histogram
#: does not see (line diagrams on white: 0.06-0.15); blank and near-black images have under 0.03
LOW_INFO_DETAIL = 0.05
#: ... nor on an image with at least this ``occupancy`` (share of the 16 x 16 grid's cells spanning
#: 64+ grey levels, :mod:`~dataeval_gpu.functional.quality_occupancy`): a drawing whose strokes
#: cross the frame (0.074-0.33 on Stellarium's sky-culture drawings on black), while a small faint
#: object on black occupies a few cells (0.016-0.047 on its near-black nebulae) and a blank image none
LOW_INFO_OCCUPANCY = 0.06
#: ``blurry`` compares ``coarse_sharpness + COARSE_OFFSET`` with the same threshold as ``norm_sharpness``
COARSE_OFFSET = 0.11
#: ... and ``fine_sharpness + FINE_OFFSET`` (native resolution: blurred under 0.37), for images
#: whose short side is over the working resolution (``WORKING_SIDE``)
FINE_OFFSET = 0.075
#: metrics the issues need besides :data:`QUALITY_KEYS`
SHAPE_KEYS = ("width", "height", "channels")
#: keys that metrics gathered before they existed lack (an index, a saved table): ``opacity`` (every
#: image opaque), ``grey_p0001`` (no ink tail known), ``dark_p001`` (the grey black point instead),
#: ``noise_flat`` / ``impulse_share`` (``noisy`` without the texture checks, as before)
OPTIONAL_KEYS = ("opacity", "grey_p0001", "dark_p001", "noise_flat", "impulse_share", "occupancy")
#: metrics of :meth:`QualityIssues.metrics` besides :data:`QUALITY_KEYS` and :data:`SHAPE_KEYS`
#: (``occupancy``: ``low_information``'s drawing check; metrics gathered without it, e.g. by the
#: scan's statistics, are scored without the check)
EXTRA_KEYS = ("occupancy",)
#: ``odd_size`` / ``odd_aspect_ratio`` flag an image only while fewer than this share of the dataset
#: (or than 2 images in a small set: ``max(2, share · N)``, itself included) lie within one octave
#: of its side / aspect: an icon theme's 256 and 512 px icons among its 16-48 px ones are sizes of
#: the collection, not odd ones
ODD_MAX_SHARE = 0.05
#: images with alpha: an ``opacity`` (mean alpha) under this has transparent parts, seen on whatever
#: background the viewer has: no black point of its own (``light`` not judged), and ...
TRANSPARENT_BELOW = 0.99
#: ... when what is seen of it has under this many bits of grey entropy it is a glyph or silhouette
#: (one ink, its information in its shape): ``dark`` not judged (a black symbolic icon is not dark)
SILHOUETTE_BITS = 1.0
#: the exposure and structure issues (``dark``, ``light``, ``blurry``, ``noisy``, ``jpeg_blocking``)
#: are judged only on images at least this many pixels a side (score 0 below; the perceptual
#: hash's least side too): the one pixel of a 1 x 1 image is a colour, not an exposure, and a
#: few pixels hold no blur, noise or 8 x 8 blocks to measure (a 1 x 1 grey-5 image was flagged
#: ``dark``).  ``low_information``, ``grayscale`` and ``odd_size`` still say what it is
JUDGE_MIN_SIDE = 9
#: the issues :data:`JUDGE_MIN_SIDE` applies to
PIXEL_ISSUES = ("dark", "light", "blurry", "noisy", "jpeg_blocking")



def float64(values: Any) -> np.ndarray:
    """A metric's values (tensor on any device, numpy array, sequence) as a float64 numpy array;
    a numpy array is converted without torch (an audit's report arrays are read-only views)."""
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy().astype(np.float64)
    return np.array(values, dtype=np.float64)

def _median(v: np.ndarray) -> float:
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else float("nan")


def issue_scores(
    metrics: Mapping[str, Any], reference: Mapping[str, float] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-image scores of every issue from quality metrics (numpy float64 ``(N,)`` each).

    ``metrics`` holds :data:`QUALITY_KEYS` plus ``width``, ``height``, ``channels``.
    ``reference`` gives the dataset values the relative issues compare with
    (``grey_p99``, ``side``, ``aspect`` medians); default: the medians of ``metrics`` itself.
    Returns the scores and the reference values used.
    """
    keys = (*QUALITY_KEYS, *SHAPE_KEYS, *EXTRA_KEYS)
    m = {k: float64(metrics[k]) for k in keys if k not in OPTIONAL_KEYS or k in metrics}
    if "opacity" not in m:  # metrics gathered before the key existed: every image opaque
        m["opacity"] = np.ones_like(m["grey_p99"])
    w, h = m["width"], m["height"]
    side = np.sqrt(w * h)
    aspect = w / np.maximum(h, 1)
    ref = {"grey_p99": _median(m["grey_p99"]), "side": _median(side), "aspect": _median(aspect)}
    if reference is not None:
        ref.update({k: float(v) for k, v in reference.items() if k in ref})
    p99_ref = ref["grey_p99"] if ref["grey_p99"] > 0 else 1.0
    see_through = m["opacity"] < TRANSPARENT_BELOW
    sharpness = np.minimum(
        np.minimum(m["norm_sharpness"], m["coarse_sharpness"] + COARSE_OFFSET),
        # native resolution adds what the working resolution's downscale hides; at or under
        # the working size the two see the same pixels (and smooth renders, whose rounding
        # noise is below the 8-bit model's, would read as blurred)
        np.where(np.minimum(w, h) > WORKING_SIDE, m["fine_sharpness"] + FINE_OFFSET, np.inf),
    )
    # a flat image (no detail at either working resolution: both ratios 0) has no blur to judge,
    # as ``fine_sharpness`` scores a flat window 1; ``low_information`` says what it is
    flat = (m["norm_sharpness"] <= 0.0) & (m["coarse_sharpness"] <= 0.0)
    scores = {
        "dark": np.where(silhouettes(m), 0.0, 1.0 - m["grey_p99"] / p99_ref),
        # the black point of the darkest channel (He et al.'s dark channel): a saturated colour has
        # a channel near 0 and is no washed-out tone, though its luma may be 0.3 (a red bottle)
        "light": np.where(see_through, 0.0, m["dark_p001"] if "dark_p001" in m else m["grey_p001"]),
        "blurry": np.where(flat, 0.0, 1.0 - sharpness),
        "noisy": noisy_score(m),
        "grayscale": np.where(m["channels"] >= 3, 1.0 - m["channel_spread"], 0.0),
        "low_information": np.where(drawn(m), 0.0, 8.0 - seen_entropy(m)),
        "jpeg_blocking": m["blockiness"].copy(),
        "odd_size": np.abs(np.log2(np.maximum(side, 1e-9) / max(ref["side"], 1e-9))),
        "odd_aspect_ratio": np.abs(np.log2(np.maximum(aspect, 1e-9) / max(ref["aspect"], 1e-9))),
    }
    for k in PIXEL_ISSUES:  # too few pixels to judge (JUDGE_MIN_SIDE)
        scores[k] = np.where(np.minimum(w, h) < JUDGE_MIN_SIDE, 0.0, scores[k])
    return scores, ref


def noisy_score(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` ``noisy`` scores (grey levels): the larger of the Gaussian estimate (the MAD one
    while the mean estimate is within :data:`NOISE_GAUSS_RATIO` of it, at most ``noise_flat /``
    :data:`NOISE_FLAT_SHARE`: noise must reach the flattest blocks) and the impulse estimate
    (the mean one less :data:`NOISE_TEXTURE_FLOOR`, while ``impulse_share`` is at least
    :data:`IMPULSE_MIN_SHARE`).  Metrics gathered without ``noise_flat`` / ``impulse_share``
    are scored without those checks."""
    gauss = np.where(m["noise"] <= NOISE_GAUSS_RATIO * m["noise_robust"], m["noise_robust"], 0.0)
    if "noise_flat" in m:
        gauss = np.minimum(gauss, np.asarray(m["noise_flat"]) / NOISE_FLAT_SHARE)
    impulse = m["noise"] - NOISE_TEXTURE_FLOOR
    if "impulse_share" in m:
        impulse = np.where(np.asarray(m["impulse_share"]) >= IMPULSE_MIN_SHARE, impulse, 0.0)
    return np.maximum(gauss, impulse)


def drawn(m: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N,)`` bool: images whose information is in strokes the grey histogram does not see -
    ``detail`` at least :data:`LOW_INFO_DETAIL` (line diagrams on white) or ``occupancy`` at least
    :data:`LOW_INFO_OCCUPANCY` (a drawing crossing the frame; not checked for metrics gathered
    without the key): ``low_information`` is not judged on them."""
    out = np.asarray(m["detail"]) >= LOW_INFO_DETAIL
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


@dataclass
class QualityOutput:
    """Scores, flags and reasons of :meth:`QualityIssues.evaluate`.

    Attributes:
        scores: issue -> ``(N,)`` float64 scores (higher = worse).
        flags: issue -> ``(N,)`` bool.
        thresholds: issue -> threshold used.
        metrics: metric -> ``(N,)`` float64 (the quality metrics and width/height/channels).
        reference: the dataset values the relative issues compared with.
    """

    scores: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    thresholds: dict[str, float]
    metrics: dict[str, np.ndarray]
    reference: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.scores.values()))) if self.scores else 0

    @property
    def flagged(self) -> np.ndarray:
        """``(N,)`` bool: flagged by any issue."""
        out = np.zeros(len(self), dtype=bool)
        for f in self.flags.values():
            out |= f
        return out

    def issues(self, index: int) -> list[str]:
        """Names of the issues image ``index`` is flagged for."""
        return [k for k in self.flags if bool(self.flags[k][index])]

    def why(self, index: int) -> list[str]:
        """One sentence per issue image ``index`` is flagged for: its score against the threshold."""
        out = []
        for k in self.issues(index):
            s, t = float(self.scores[k][index]), self.thresholds[k]
            line = f"{k}: score {s:.4g} {'>=' if k == 'light' else '>'} threshold {t:.4g}"
            if k == "dark":
                p99 = float(self.metrics["grey_p99"][index])
                line += f" (grey p99 {p99:.3f} vs dataset median {self.reference.get('grey_p99', float('nan')):.3f})"
                if not s > t:  # the absolute floor (a one-image set's median is the image itself)
                    line = f"dark: grey p99 {p99:.3f} < {DARK_ABSOLUTE_P99:g}, dark in any dataset (score {s:.4g})"
            elif k == "light":
                point = "black point of min(R, G, B)" if "dark_p001" in self.metrics else "grey black point"
                line += f" ({point}) and {float(self.metrics['bright_clipped'][index]):.0%} of pixels clipped white"
                if "grey_p0001" in self.metrics:
                    line += f", no darker tail (darkest 0.01 % {float(self.metrics['grey_p0001'][index]):.3f})"
            elif k == "blurry":
                line += (
                    f" (sharpness: working resolution {float(self.metrics['norm_sharpness'][index]):.3g},"
                    f" coarse {float(self.metrics['coarse_sharpness'][index]):.3g},"
                    f" native {float(self.metrics['fine_sharpness'][index]):.3g})"
                )
            elif k == "noisy":
                line += (
                    f" (MAD σ {float(self.metrics['noise_robust'][index]):.3g},"
                    f" Immerkær σ {float(self.metrics['noise'][index]):.3g} - {NOISE_TEXTURE_FLOOR:g}"
                )
                if "noise_flat" in self.metrics and "impulse_share" in self.metrics:
                    line += (
                        f", flattest blocks σ {float(self.metrics['noise_flat'][index]):.3g},"
                        f" isolated impulses {float(self.metrics['impulse_share'][index]):.2%}"
                    )
                line += ")"
            elif k == "grayscale":
                line += f" (grey images are {self.reference.get('grey_share', float('nan')):.1%} of the dataset)"
            elif k in ("odd_size", "odd_aspect_ratio"):
                key = "side" if k == "odd_size" else "aspect"
                line += (
                    f" (octaves from the dataset median {key} {self.reference.get(key, float('nan')):.4g})"
                )
            out.append(line)
        return out

    def to_dict(self) -> dict[str, np.ndarray]:
        """Columns ``<issue>_score`` and ``is_<issue>_issue`` for every issue (CleanVision's names)."""
        cols: dict[str, np.ndarray] = {}
        for k in self.scores:
            cols[f"{k}_score"] = self.scores[k]
            cols[f"is_{k}_issue"] = self.flags[k]
        return cols

    def to_pandas(self) -> Any:
        """One row per image: every score and flag (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict())


class QualityIssues:
    """Scored quality issues of an image collection (see the module docstring for the table).

    Args:
        thresholds: per-issue overrides of :data:`DEFAULT_THRESHOLDS`.
        issues: the issues to evaluate (default: all of :data:`ISSUES`).
        reference: dataset values for the relative issues (``grey_p99``, ``side``,
            ``aspect`` medians, ``grey_share``: the share of grey images among those with three
            channels), e.g. from a training set; default: from the evaluated images.
        working_side: working resolution of the sharpness metric.
        device: where the metrics are computed.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> imgs = [rng.integers(0, 256, (3, 64, 64), dtype=np.uint8) for _ in range(3)]
        >>> imgs.append(np.zeros((3, 64, 64), np.uint8))
        >>> out = QualityIssues().evaluate(imgs)
        >>> out.issues(3)
        ['dark', 'grayscale', 'low_information']
    """

    def __init__(
        self,
        thresholds: Mapping[str, float] | None = None,
        issues: Sequence[str] | None = None,
        reference: Mapping[str, float] | None = None,
        working_side: int = WORKING_SIDE,
        device: str | torch.device | None = None,
    ) -> None:
        chosen = tuple(ISSUES if issues is None else issues)
        unknown = [k for k in (*chosen, *(thresholds or {})) if k not in ISSUES]
        if unknown:
            raise InvalidArgumentError(
                f"unknown quality issue(s) {unknown}; expected names from {list(ISSUES)}"
            )
        self.issues = chosen
        self.thresholds = {k: float(DEFAULT_THRESHOLDS[k]) for k in chosen}
        for k, v in (thresholds or {}).items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise InvalidArgumentError(f"threshold of {k!r} must be a finite number, got {v!r}")
            if k in self.thresholds:
                self.thresholds[k] = float(v)
        self.reference = dict(reference) if reference is not None else None
        self.working_side = int(working_side)
        self.device = device

    def metrics(self, images: Any) -> dict[str, torch.Tensor]:
        """The quality metrics plus ``width``, ``height``, ``channels`` and ``occupancy`` of a
        list of images."""
        if isinstance(images, torch.Tensor) and images.ndim == 4:
            images = list(images)
        tensors = [as_image(im, i) for i, im in enumerate(images)]
        if not tensors:
            raise InvalidArgumentError("cannot evaluate an empty collection of images")
        out = quality_metrics(tensors, self.working_side, self.device)
        dev = out["grey_p99"].device
        shapes = torch.tensor([tuple(t.shape) for t in tensors], dtype=torch.float64)
        out["channels"], out["height"], out["width"] = (shapes[:, j].to(dev) for j in range(3))
        out["occupancy"] = occupancy(tensors).to(dev)
        return out

    def evaluate(self, data: Any) -> QualityOutput:
        """Score and flag every image.

        ``data``: a list of images (``(C, H, W)`` / ``(H, W)`` arrays, tensors, PIL images) or
        a ``(N, C, H, W)`` tensor, or a mapping of precomputed metrics (as from
        :meth:`metrics`, e.g. gathered from several batches).
        """
        if isinstance(data, Mapping):
            missing = [k for k in (*QUALITY_KEYS, *SHAPE_KEYS) if k not in data and k not in OPTIONAL_KEYS]
            if missing:
                raise InvalidArgumentError(f"the metrics given to evaluate lack the keys {missing}")
            metrics = data
        else:
            metrics = self.metrics(data)
        scores, ref = issue_scores(metrics, self.reference)
        m = {k: float64(v) for k, v in metrics.items()}
        flags = {}
        for k in self.issues:
            s, t = scores[k], self.thresholds[k]
            if k == "light":
                f = (s >= t) & (m["bright_clipped"] >= LIGHT_MIN_CLIPPED) & ~ink_tails(m)
            elif k == "dark":
                small = np.minimum(m["width"], m["height"]) < JUDGE_MIN_SIDE
                f = ((s > t) | (m["grey_p99"] < DARK_ABSOLUTE_P99)) & ~silhouettes(m) & ~small
            elif k in ("odd_size", "odd_aspect_ratio"):
                w, h = m["width"], m["height"]
                v = np.sqrt(w * h) if k == "odd_size" else w / np.maximum(h, 1)
                f = (s > t) & (octave_neighbours(v) < max(2.0, ODD_MAX_SHARE * len(v)))
            elif k == "grayscale":
                colour = m["channels"] >= 3
                share = float(np.mean(s[colour] > t)) if colour.any() else 0.0
                if self.reference is not None and "grey_share" in self.reference:
                    share = float(self.reference["grey_share"])
                ref["grey_share"] = share
                f = (s > t) & (share < GRAYSCALE_MAX_SHARE)
            else:
                f = s > t
            flags[k] = np.asarray(f, dtype=bool)
        return QualityOutput(
            scores={k: scores[k] for k in self.issues},
            flags=flags,
            thresholds=dict(self.thresholds),
            metrics=m,
            reference=ref,
        )
