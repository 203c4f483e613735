"""Scored quality issues: dark, light, low contrast, blurry, noisy, grayscale, low information, JPEG
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
                   against the dataset's; saturated        typical highlights; saturated ones in
                   highlights (bright_p99 >= 1.5           max(R, G, B) too), or both p99 < 0.03;
                   grey_p99): at most ``1 - bright_p99 /   not with under 81 visible pixels; or
                   median(bright_p99)``                    under-exposed: opaque, peak under 0.55 x
                                                           the median peak, tones filling >= 70 %
                                                           of its levels (:func:`underexposed`)
light              ``dark_p001`` (the black point: the    score >= 0.2 and bright_clipped >= 0.15
                   darkest 0.1 % of min(R, G, B))          (overexposed: highlights clipped AND
                                                           no dark tones left) and grey_p0001 >=
                                                           0.8 grey_p001 (no sparse darker tail:
                                                           the stroke cores of ink on white)
low_contrast       ``1 - range / typical``, range =       score > 0.35 and range < 0.45 (tones
                   ``grey_p99 - grey_p01``, typical its   squeezed into a narrow band, under 65 %
                   lower quartile in the dataset; 0       of what three quarters of the dataset
                   unless opaque, reaching neither        span: contrast lowered, haze); none where
                   white nor black, filling its levels,   the typical range is under 0.6 (narrow
                   colourfulness < 45 and                 tones are the dataset's own):
                   fine_sharpness < 1.3 (not grain)       :mod:`.quality_contrast_rules`
blurry             ``1 - min(norm_sharpness,              score > 0.555 (norm_sharpness < 0.445, or
                   coarse_sharpness + 0.11,                coarse_sharpness < 0.335: upscaled, or
                   fine_sharpness + 0.075,                 fine_sharpness < 0.37: blurred at the
                   motion_ratio + 0.025)``                 native resolution of a large image, or
                   (fine: short side > 256 px only;        motion_ratio < 0.42: blurred along a
                   motion: motion_energy >= 16,            line, :func:`motion_judged`)
                   motion_ratio >= 0.1, 128² px seen); 0
                   for a flat image (both ratios 0)
noisy              ``max(min(noise_robust, noise_flat /   score > 8.5 (MAD σ > 8.5 grey levels: Gaussian
                   0.5, 2 ** (grey_entropy / (1 -         noise, unless the mean estimate is over 1.3x
                   clipped) + 0.5 - 2.05)) if noise <=    the MAD one or the flattest blocks are
                   1.3 noise_robust else 0, noise -       smooth: texture, or the grey levels too few
                   max(11, 1.3 noise_robust) if            to hold such noise: painted; or Immerkær
                   impulse_share >= 0.01 else 0)``         σ > 19.5 with 1 % isolated impulses, beyond
                   (grey levels; clipped: dark_clipped     what the median explains: impulse noise;
                   + bright_clipped, at most 0.75); and     or per-channel σ >= ~6: noise drawn per
                   noise_chroma / 0.45 where >= 1.2        colour channel, which texture shared by
                   noise_flat, noise_flat >= 1.8, opaque,  R, G, B does not make)
                   >= 64 px a side
grayscale          ``1 - channel_spread`` (3+ channels)   score > 0.9995 (channels within ~0.1 level
                                                           on average: grey stored as RGB), and grey
                                                           images a minority of the dataset
low_information    ``8 - grey_entropy`` (bits); 0 when    score > 7.5 (entropy < 0.5 bit)
                   ``detail >= LOW_INFO_DETAIL`` or
                   ``occupancy >= LOW_INFO_OCCUPANCY``
                   (strokes: :func:`drawn`; a
                   silhouette's detail at black / white
                   contrast: :func:`shape_detail`; a
                   see-through object's detail where it
                   is seen: :func:`object_detail`)
jpeg_blocking      ``blockiness``                         score > 2.2
odd_size           ``|log2(side / median side)|``,         score > 3 (8× smaller or larger than
                   side = sqrt(width·height)               the dataset's typical side)
odd_aspect_ratio   ``|log2(aspect / median aspect)|``     score > 2.8 (7× off the typical shape)
=================  ====================================  =========================================

``odd_size`` and ``odd_aspect_ratio`` also need the size / shape to be rare: fewer than
:data:`ODD_MAX_SHARE` of the images, or than 2 in a small set (``max(2, share · N)``, itself included), within one octave of it.

Images under :data:`JUDGE_MIN_SIDE` (9 px) a side are not judged for ``dark``, ``light``,
``blurry``, ``noisy`` or ``jpeg_blocking`` (score 0): too few pixels for an exposure or a structure.
``noisy`` is judged only with enough pixels to tell noise from drawing
(:func:`~dataeval_gpu.detectors.quality_noise_judged.noise_judged`: at least 256 Immerkær positions in
the noise window, at least 18 px a side - a strip of 16 px frames is not judged -, and on an image with
transparent parts at least 2,048 visible pixels).

Thresholds are overridable per issue: ``QualityIssues(thresholds={"blurry": 0.6})``.

Images with alpha are judged as they are seen (the metrics: visible pixels, composite on mid
grey, see :mod:`~dataeval_gpu.functional.quality`).  Where an image has transparent parts
(``opacity`` under :data:`TRANSPARENT_BELOW`): ``low_information`` counts the transparent
background as one more grey symbol (:func:`seen_entropy`: a black glyph on transparent carries its
shape, a fully transparent image nothing); ``dark`` is not judged on a glyph or silhouette (under
:data:`SILHOUETTE_BITS` of visible grey entropy: one ink, a design rather than an exposure;
:func:`silhouettes`) nor on black ink, half of what is seen black (:func:`black_ink`: a shadow, a
silhouette with anti-aliased edges); ``light`` is not judged (no black point of its own: the viewer's
background is); ``grayscale`` is not judged (a drawing on a transparent canvas has the palette its
artist gave it: :func:`grey_judged`).  A darkened picture with alpha is still dark, a blank one still
low information.  ``dark`` is not judged on an image with highlights (``bright_p9999``, its
brightest 0.01 %, at least :data:`DARK_PEAK_MIN`: a star field or a night scene is dark by nature,
an under-exposed picture has no highlights anywhere; :func:`lit_peaks`), unless it is under-exposed:
opaque, its peak under 0.55 x the dataset's median peak and its tones filling the levels under it
(:func:`underexposed`: a photo divided by 2 or 3 among photos).

``grayscale`` is relative in one respect: a grey image stored as RGB is flagged only where grey
images are a minority of the dataset's images with three channels (share under
:data:`GRAYSCALE_MAX_SHARE`, the same "unlike the typical image" rule as the median-based
issues, among the images it judges; ``reference={"grey_share": ...}`` gives a training set's share).  In a collection of
scanned documents, X-rays or MNIST stored as RGB the grey images are the norm, and flagging
every one of them says nothing; the score is reported either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..batching import as_image
from ..errors import InvalidArgumentError
from ..functional.quality import QUALITY_KEYS, WORKING_SIDE, quality_metrics
from ..output import set_metadata
from ..threshold_ranges import threshold_range_error
from .quality_output import QualityOutput
from .quality_rules import (
    COARSE_OFFSET,
    DARK_ABSOLUTE_P99,
    DARK_PEAK_MIN,
    DEFAULT_THRESHOLDS,
    FINE_OFFSET,
    GRAYSCALE_MAX_SHARE,
    IMPULSE_MIN_SHARE,
    ISSUES,
    JUDGE_MIN_SIDE,
    LIGHT_MIN_CLIPPED,
    LIGHT_TAIL_RATIO,
    LOW_INFO_DETAIL,
    LOW_INFO_OCCUPANCY,
    MOTION_JUDGE_SIDE,
    MOTION_MAX_PEAK,
    MOTION_MIN_CROSS,
    MOTION_MIN_ENERGY,
    MOTION_MIN_RATIO,
    MOTION_OFFSET,
    NOISE_ENTROPY_EXCESS,
    NOISE_ENTROPY_SLACK,
    NOISE_FLAT_SHARE,
    NOISE_GAUSS_RATIO,
    NOISE_TEXTURE_FLOOR,
    OBJECT_MIN_PIXELS,
    ODD_MAX_SHARE,
    OPTIONAL_KEYS,
    PIXEL_ISSUES,
    SATURATED_HIGHLIGHTS,
    SHAPE_KEYS,
    SILHOUETTE_BITS,
    SILHOUETTE_INK_MIN,
    TRANSPARENT_BELOW,
    UNDEREXPOSED_FILL,
    UNDEREXPOSED_PEAK,
    black_ink,
    drawn,
    few_seen,
    float64,
    grey_judged,
    grey_share,
    ink_tails,
    issue_scores,
    lit_peaks,
    motion_blurred,
    motion_judged,
    noisy_score,
    object_detail,
    octave_neighbours,
    seen_entropy,
    shape_detail,
    silhouettes,
    tone_fill,
    underexposed,
)

# the rules (quality_rules) are re-exported: this module is where the issues are documented;
# QualityOutput (what evaluate returns, its reasons in words) lives in quality_output
__all__ = [
    "COARSE_OFFSET",
    "DARK_ABSOLUTE_P99",
    "DARK_PEAK_MIN",
    "DEFAULT_THRESHOLDS",
    "FINE_OFFSET",
    "GRAYSCALE_MAX_SHARE",
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
    "QualityIssues",
    "QualityOutput",
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
    "noisy_score",
    "object_detail",
    "octave_neighbours",
    "seen_entropy",
    "shape_detail",
    "silhouettes",
    "tone_fill",
    "underexposed",
]


class QualityIssues:
    """Scored quality issues of an image collection (see the module docstring for the table).

    Args:
        thresholds: per-issue overrides of :data:`DEFAULT_THRESHOLDS`, each within its score's range
            (:data:`~dataeval_gpu.threshold_ranges.THRESHOLD_RANGES`; outside it: ``ValueError``).
        issues: the issues to evaluate (default: all of :data:`ISSUES`).
        reference: dataset values for the relative issues (``grey_p99``, ``bright_p99``,
            ``bright_p9999``, ``side``, ``aspect`` medians, ``contrast``: the lower quartile of the tonal
            range ``grey_p99 - grey_p01``, ``grey_share``: the share of grey images
            among those with three channels), e.g. from a training set; default: from the evaluated
            images (a reference with ``grey_p99`` but without ``bright_p9999`` judges no image
            under-exposed, as before :func:`underexposed` existed; without ``contrast`` none
            ``low_contrast``).
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
            if (why := threshold_range_error(k, float(v))) is not None:
                raise InvalidArgumentError(why)
            if k in self.thresholds:
                self.thresholds[k] = float(v)
        self.reference = dict(reference) if reference is not None else None
        self.working_side = int(working_side)
        self.device = device

    def metrics(self, images: Any) -> dict[str, torch.Tensor]:
        """The quality metrics (:data:`QUALITY_KEYS`) plus ``width``, ``height``, ``channels`` of a
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
        return out

    @set_metadata("dataeval_gpu.detectors", ["issues", "thresholds", "reference", "working_side"])
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
                small = (np.minimum(m["width"], m["height"]) < JUDGE_MIN_SIDE) | few_seen(m)
                floor = m["grey_p99"] < DARK_ABSOLUTE_P99
                if "bright_p99" in ref:
                    floor &= m["bright_p99"] < DARK_ABSOLUTE_P99
                # under-exposed pictures whatever the collection; the score is 0 on other lit peaks
                under = underexposed(m, ref.get("bright_p9999"))
                f = ((s > t) | (floor & ~lit_peaks(m)) | under) & ~(silhouettes(m) | black_ink(m)) & ~small
            elif k in ("odd_size", "odd_aspect_ratio"):
                w, h = m["width"], m["height"]
                v = np.sqrt(w * h) if k == "odd_size" else w / np.maximum(h, 1)
                f = (s > t) & (octave_neighbours(v) < max(2.0, ODD_MAX_SHARE * len(v)))
            elif k == "grayscale":
                share = grey_share(m, t)
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
