"""The per-image figures the near-duplicate hash-pair rules read (:class:`PairFigures`) and the
rules on them alone - colour cast, grey entropy, pixel spread, a flat image's level, a
plain-background picture, a strip view's partner - which
:func:`~dataeval_gpu.detectors.hash_pairs.hash_pairs_ok` applies before it verifies a pair on
the thumbnails."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE

__all__ = [
    "CHROMA_TOLERANCE",
    "COLOUR_PATTERN_MAX",
    "ENTROPY_EPS",
    "ENTROPY_RATIO",
    "EXPOSURE_MAX",
    "FLAT_ENTROPY",
    "GREY_SPREAD",
    "LEVEL_TOLERANCE",
    "PLAIN_RADIUS",
    "PLAIN_SHARE",
    "SPREAD_EPS",
    "SPREAD_RATIO",
    "STRIP_SHAPE_TOLERANCE",
    "PairFigures",
    "chroma_close",
    "colour_pattern_rule",
    "exposure_pair",
    "figure_rules",
    "grey_side",
    "plain_and_entropy",
    "ratio_close",
    "strip_partners",
    "strip_rule",
    "transparent_pair",
]

#: share of clipped pixels (grey <= 5/255 or >= 250/255) from which an image counts as a plain
#: background picture: its hash encodes little more than where the object sits, so it only
#: matches within :data:`PLAIN_RADIUS`
PLAIN_SHARE = 0.4
#: the Hamming radius of a pair with a plain background picture in it
PLAIN_RADIUS = 0
# ... except two images with a transparent ground (mean alpha below 1: icons, sprites) whose
# thumbnails verify (VERIFY_MIN): their ground is drawn, not an empty backdrop, and a copy at
# another size keeps the drawing inside the silhouette, which the detail check reads (Oxygen's
# icons at 48-256 px: copies paired by hash 237 -> 391, docs/quality.md)

#: information check of hash pairs: two images whose grey-histogram entropies (bits, plus
#: :data:`ENTROPY_EPS`) differ by more than this factor are not kept as a hash pair.  Crops,
#: re-encodes, flips, brightness and contrast changes keep the entropy within 1.42x (the planted
#: corpus); distinct dark, centred objects (nebulae, planets on black) that hash alike do not
ENTROPY_RATIO = 1.5
#: added to both entropies before their ratio (near-constant images)
ENTROPY_EPS = 0.25
#: contrast check of hash pairs: the two images' grey standard deviations (0-1 scale, plus
#: :data:`SPREAD_EPS`) within this factor (a contrast change by 0.7 is 1.43x)
SPREAD_RATIO = 1.6
SPREAD_EPS = 0.02
#: a strip view (an image's central crop of the inverse shape,
#: :func:`~dataeval_gpu.accumulators.hash_rows.strip_view`) pairs only with the whole of an
#: image of the other orientation whose shape (long / short side) is within this factor of the
#: strip's: what a phone crop of a wallpaper is (9:16 and 1:2 crops of 16:9 pictures: 1.12x)
STRIP_SHAPE_TOLERANCE = 1.25


def strip_partners(strip_hw: np.ndarray, other_hw: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: whether the whole image of heights and widths ``other_hw`` (``(P, 2)``) may
    pair with the strip view of the image of ``strip_hw``: it lies the other way (tall against
    a wide image's strip, wide against a tall one's) and its shape is within
    :data:`STRIP_SHAPE_TOLERANCE` of the strip's, which is the image's own shape turned.

    Example:
        >>> strip_partners(np.array([[2880, 5120], [2880, 5120]]), np.array([[1440, 720], [720, 1440]])).tolist()
        [True, False]
    """
    s, o = np.asarray(strip_hw, dtype=np.float64), np.asarray(other_hw, dtype=np.float64)
    shape_s = s.max(axis=1) / np.maximum(s.min(axis=1), 1.0)
    shape_o = o.max(axis=1) / np.maximum(o.min(axis=1), 1.0)
    turned = (s[:, 0] > s[:, 1]) & (o[:, 0] < o[:, 1]) | (s[:, 0] < s[:, 1]) & (o[:, 0] > o[:, 1])
    lo, hi = np.minimum(shape_s, shape_o), np.maximum(shape_s, shape_o)
    return turned & (hi <= STRIP_SHAPE_TOLERANCE * lo)


#: an image whose grey entropy (bits, the statistics' ``grey_entropy``) is below this (99 % of
#: its pixels or more at one grey level) is flat: its hash, spread and thumbnail say nothing
#: (every constant image hashes alike, whatever its grey or colour), only its level does ...
FLAT_ENTROPY = 0.1
#: ... so a pair with a flat image in it is kept only when the two mean levels (0-1 scale, the
#: statistics' ``mean`` over all channels) are within this (2 grey levels; a re-encode moves a
#: flat image's level by under 1).  Plain pictures of different greys or colours are not copies
#: (the default scan grouped constant images of every grey level as one near group)
LEVEL_TOLERANCE = 2.0 / 255.0
#: a hash pair is kept when the mean chroma of the two images differs by at most this many
#: grey levels, or by this share of the larger chroma (hashes see grey structure only: two
#: different planets on black space hash alike, their colours do not)
CHROMA_TOLERANCE = (6.0, 0.35)
#: an image whose mean channel spread (max - min over the channels, 0-1 scale: the statistics'
#: ``channel_spread``) is at most this (6 levels) and at most this share of its mean level is
#: grey: a grey copy of a colour photo (Pillow ``L``, OpenCV, torchvision, stored as RGB, RGBA or
#: JPEG, or with a tint of a few levels) has no colour cast to compare, so a pair with a grey side
#: skips the colour-cast rule (its structure is still checked by the hash, entropy, spread and
#: the thumbnails).  Colour photos have 0.044 and more (recall12's 161 sources); a dark colour
#: picture with a low spread has it large against its level
GREY_SPREAD = (0.025, 0.08)
#: two images are one picture at another exposure (every level times ``k``: a brightness x 0.3 /
#: x 0.5 copy) when the brighter one's colour cast and pixel spread are those of the darker one
#: times ``k``, the ratio of their mean levels (at most this), within :data:`CHROMA_TOLERANCE`
#: and :data:`SPREAD_RATIO`: such a pair passes the cast and spread rules, which compare
#: absolute values (an x 0.3 copy has 0.3 x its source's cast and spread)
EXPOSURE_MAX = 5.0
#: two opaque colour pictures (neither grey: :data:`GREY_SPREAD`) pair (whole, or one's central
#: crop; not a strip) only when their ``4 x 4`` cell colours are one picture's under one global colour change within this many
#: CIELAB units (:func:`~dataeval_gpu.functional.hashing.colour_cells.chroma_residual`): the hashes
#: and thumbnails read luma, so flags of one layout in other colours (their stripes' luma lined
#: up) hashed and verified as one picture.  Fitted on freeciv's flags (luma13's held-out pairs: true
#: pairs at most 6.6, 59 of 101 false pairs above 15) and the recall survey's draw 1 (copies of a
#: colour change - cast, saturation, gamma, vignette, contrast, exposure - at most 14)
COLOUR_PATTERN_MAX = 15.0


def ratio_close(x: np.ndarray, y: np.ndarray, ratio: float, eps: float) -> np.ndarray:
    hi, lo = np.maximum(x, y), np.minimum(x, y)
    return hi + eps <= ratio * (lo + eps)


def chroma_close(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: the mean colour casts ``x`` and ``y`` (``(P, 2)``: mean ``R - G``, ``B - G``,
    0-255) agree within :data:`CHROMA_TOLERANCE`."""
    d = np.linalg.norm(x - y, axis=1)
    big = np.maximum(np.linalg.norm(x, axis=1), np.linalg.norm(y, axis=1))
    return d <= np.maximum(CHROMA_TOLERANCE[0], CHROMA_TOLERANCE[1] * big)


def grey_side(colour: np.ndarray, level: np.ndarray | None) -> np.ndarray:
    """``(P,)`` bool: the images of mean channel spreads ``colour`` (0-1) and mean levels ``level``
    (0-1; None: the spread alone) are grey (:data:`GREY_SPREAD`)."""
    grey = colour <= GREY_SPREAD[0]
    return grey if level is None else grey & (colour <= GREY_SPREAD[1] * level)


def exposure_pair(
    chroma: tuple[np.ndarray, np.ndarray], spread: tuple[np.ndarray, np.ndarray], level: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """``(P,)`` bool: the two sides (``(first, second)`` of each figure) are one picture at another
    exposure: the brighter one's cast and spread are the darker one's times the ratio ``k`` of
    their mean levels (:data:`EXPOSURE_MAX`, :data:`CHROMA_TOLERANCE`, :data:`SPREAD_RATIO`).

    Example:
        >>> c, s, m = np.array([[20.0, -10.0]]), np.array([0.25]), np.array([0.45])
        >>> exposure_pair((c, 0.3 * c), (s, 0.3 * s), (m, 0.3 * m)).tolist()
        [True]
    """
    (ca, cb), (sa, sb), (la, lb) = chroma, spread, level
    a_up = la >= lb  # the first side is the brighter
    lo = np.where(a_up, lb, la)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(lo > 0, np.where(a_up, la, lb) / lo, np.inf)
    ok = np.isfinite(k) & (k <= EXPOSURE_MAX)
    k = np.where(ok, k, 1.0)
    bright_c, dark_c = np.where(a_up[:, None], ca, cb), np.where(a_up[:, None], cb, ca)
    bright_s, dark_s = np.where(a_up, sa, sb), np.where(a_up, sb, sa)
    ok &= chroma_close(bright_c, k[:, None] * dark_c)
    return ok & ratio_close(bright_s, k * dark_s, SPREAD_RATIO, SPREAD_EPS)


def plain_and_entropy(
    clipped: np.ndarray | None, grey_entropy: np.ndarray | None, opacity: np.ndarray | None = None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(plain, entropy)`` of :class:`PairFigures` from the quality metrics (``clipped``:
    ``dark_clipped + bright_clipped``; None stays None).  The metrics of an image with alpha judge
    its visible pixels only (``opacity``: the mean alpha), while the near hash reads the whole
    image, transparent background included: that background counts as plain (clipped) and as one
    more grey symbol, ``plain = (1 - o) + o clipped``, ``entropy = H_b(o) + o H``
    (:func:`~dataeval_gpu.detectors.quality.seen_entropy`): the figures of the image on a flat
    backdrop.  Without this two different icons sharing a silhouette on transparent (their
    hashes nearly equal) passed the plain-background rule as near duplicates.  Opaque images
    (``o = 1``, or ``opacity`` None): ``clipped`` and ``H`` exactly."""
    from .quality import seen_entropy

    as64 = lambda v: None if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
    clipped, grey_entropy, o = as64(clipped), as64(grey_entropy), as64(opacity)
    if o is None:
        return clipped, grey_entropy
    o = np.clip(o, 0.0, 1.0)
    plain = None if clipped is None else (1.0 - o) + o * clipped
    entropy = None if grey_entropy is None else seen_entropy({"opacity": o, "grey_entropy": grey_entropy})
    return plain, entropy


@dataclass
class PairFigures:
    """The per-image figures the hash-pair rules read (row ``r``: image ``r``); a rule runs
    only when both sides of a pair have its figures (None: skipped).

    ``chroma``: ``(N, 2)`` (:func:`~dataeval_gpu.detectors.near_duplicates.chroma_signature`, the audit's ``chroma_rg`` / ``chroma_bg``);
    ``plain``: ``(N,)`` (:func:`~dataeval_gpu.detectors.near_duplicates.plain_share`, ``dark_clipped + bright_clipped``
    with a transparent background counted in, :func:`plain_and_entropy`); ``entropy``
    (:func:`~.near_duplicates.grey_entropy`, likewise); ``spread`` (:func:`~.near_duplicates.pixel_std`, ``std``); ``thumbs``: the grey
    thumbnails of each image's views (whole, then its crops), ``(N, V, S, S)`` uint8 or those
    rows flat (``pchash_thumbs``); ``opacity``: ``(N,)`` mean alpha (1: opaque, the quality
    metrics' ``opacity``); ``level``: ``(N,)`` mean pixel value on the 0-1 scale
    (:func:`~.near_duplicates.pixel_mean`, the statistics' ``mean``); ``side``: ``(N,)`` the
    short side in pixels (``min(height, width)``: :data:`SMALL_SIDE`); ``hw``: ``(N, 2)`` heights
    and widths, and ``strip_view``: which view (index) is each image's inverse-shape strip, whose
    pairs :func:`strip_partners` restricts (without ``hw`` a strip view pairs with nothing);
    ``colour``: ``(N,)`` mean channel spread, 0-1 (the statistics' ``channel_spread``): a grey side
    (:data:`GREY_SPREAD`) skips the colour-cast rule; ``cells``: ``(N, 48)`` uint8, the ``4 x 4``
    cell colours (:func:`~dataeval_gpu.functional.hashing.colour_cells.colour_cells`, the scan's
    ``pchash_colour``) that :func:`colour_pattern_rule` compares.
    """

    chroma: np.ndarray | None = None
    plain: np.ndarray | None = None
    entropy: np.ndarray | None = None
    spread: np.ndarray | None = None
    thumbs: np.ndarray | torch.Tensor | None = None
    opacity: np.ndarray | None = None
    level: np.ndarray | None = None
    side: np.ndarray | None = None
    hw: np.ndarray | None = None
    strip_view: int | None = None
    colour: np.ndarray | None = None
    cells: np.ndarray | torch.Tensor | None = None

    def __post_init__(self) -> None:
        as64 = lambda v: None if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
        self.chroma, self.plain = as64(self.chroma), as64(self.plain)
        self.entropy, self.spread = as64(self.entropy), as64(self.spread)
        self.opacity, self.level = as64(self.opacity), as64(self.level)
        self.side, self.colour = as64(self.side), as64(self.colour)
        self.hw = None if self.hw is None else as64(self.hw).reshape(-1, 2)  # type: ignore[union-attr]
        if self.cells is not None:
            c = self.cells.cpu().numpy() if isinstance(self.cells, torch.Tensor) else np.asarray(self.cells)
            self.cells = c.reshape(c.shape[0], int(np.prod(c.shape[1:]))).astype(np.uint8)  # (0 rows too)
        if self.thumbs is not None:
            t = self.thumbs.cpu().numpy() if isinstance(self.thumbs, torch.Tensor) else np.asarray(self.thumbs)
            views = int(np.prod(t.shape[1:])) // (THUMB_SIDE * THUMB_SIDE)  # (0 rows too: no -1 to infer)
            self.thumbs = t.reshape(t.shape[0], views, THUMB_SIDE, THUMB_SIDE)


def transparent_pair(first: PairFigures, second: PairFigures, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: both images of each pair have a transparent ground (mean alpha below 1)."""
    if first.opacity is None or second.opacity is None:
        return np.zeros(np.shape(i), dtype=bool)
    return (first.opacity[i] < 1.0) & (second.opacity[j] < 1.0)


def figure_rules(first: PairFigures, second: PairFigures, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: the rules of :func:`~.hash_pairs.hash_pairs_ok` on the per-image figures, each where both
    sides have it: colour cast (not with a grey side: :data:`GREY_SPREAD`), grey entropy, a flat
    image's level, pixel spread (cast and spread pass together for one picture at another
    exposure: :func:`exposure_pair`).  The grey and exposure exceptions hold for opaque pairs
    only: icons and sprites on transparent come in recoloured states (a grey, a green and a red
    LED; planets of one render) whose grey one is drawn, not a grey copy, and their mean level
    counts the alpha channel.  An image with nothing visible (every pixel fully transparent,
    ``opacity`` 0) pairs only with another such image: its hash reads the black it is composited
    on, but it is no copy of a black square (lead, session 10)."""
    keep = np.ones(np.shape(i), dtype=bool)
    exposed = np.zeros(np.shape(i), dtype=bool)
    have = lambda name: getattr(first, name) is not None and getattr(second, name) is not None  # noqa: E731
    opaque = np.ones(np.shape(i), dtype=bool)
    if have("opacity"):
        opaque = (first.opacity[i] >= 1.0) & (second.opacity[j] >= 1.0)  # type: ignore[index]
        keep &= (first.opacity[i] > 0.0) == (second.opacity[j] > 0.0)  # type: ignore[index]
    if have("chroma") and have("spread") and have("level"):
        exposed = opaque & exposure_pair(
            (first.chroma[i], second.chroma[j]), (first.spread[i], second.spread[j]), (first.level[i], second.level[j])  # type: ignore[index]
        )
    if first.chroma is not None and second.chroma is not None:
        cast_ok = chroma_close(first.chroma[i], second.chroma[j]) | exposed
        if have("colour"):
            levels = (first.level[i], second.level[j]) if have("level") else (None, None)  # type: ignore[index]
            grey = grey_side(first.colour[i], levels[0]) | grey_side(second.colour[j], levels[1])  # type: ignore[index]
            cast_ok |= opaque & grey
        keep &= cast_ok
    if first.entropy is not None and second.entropy is not None:
        keep &= ratio_close(first.entropy[i], second.entropy[j], ENTROPY_RATIO, ENTROPY_EPS)
        if first.level is not None and second.level is not None:
            flat = (first.entropy[i] < FLAT_ENTROPY) | (second.entropy[j] < FLAT_ENTROPY)
            a, b = first.level[i], second.level[j]
            with np.errstate(invalid="ignore"):  # inf - inf (a constant image fed after Normalize): equal levels
                keep &= ~flat | (a == b) | (np.abs(a - b) <= LEVEL_TOLERANCE)
    if first.spread is not None and second.spread is not None:
        keep &= ratio_close(first.spread[i], second.spread[j], SPREAD_RATIO, SPREAD_EPS) | exposed
    return keep


def colour_pattern_rule(first: PairFigures, second: PairFigures, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: two opaque images of which neither is grey (:data:`GREY_SPREAD`) pass only when
    their cell colours are one picture's under one global colour change (:data:`COLOUR_PATTERN_MAX`);
    every other pair, and a pair where a side lacks the cells, the opacity or the channel spread,
    passes.  :func:`~.hash_pairs.hash_pairs_ok` asks it of pairs of whole images and central crops
    (a crop of 5-10 % a side keeps each cell's colour within a cell), not of a strip view's."""
    keep = np.ones(np.shape(i), dtype=bool)
    have = lambda name: getattr(first, name) is not None and getattr(second, name) is not None  # noqa: E731
    if not (have("cells") and have("opacity") and have("colour")) or not np.size(i):
        return keep
    levels = (first.level[i], second.level[j]) if have("level") else (None, None)  # type: ignore[index]
    judged = (first.opacity[i] >= 1.0) & (second.opacity[j] >= 1.0)  # type: ignore[index]
    judged &= ~(grey_side(first.colour[i], levels[0]) | grey_side(second.colour[j], levels[1]))  # type: ignore[index]
    at = np.nonzero(judged)[0]
    if at.size:
        from ..functional.hashing.colour_cells import chroma_residual

        left = chroma_residual(first.cells[np.asarray(i)[at]], second.cells[np.asarray(j)[at]])  # type: ignore[index]
        keep[at] = left <= COLOUR_PATTERN_MAX
    return keep


def strip_rule(
    first: PairFigures, second: PairFigures, i: np.ndarray, vi: np.ndarray, j: np.ndarray, vj: np.ndarray
) -> np.ndarray:
    """``(P,)`` bool: a strip view (``strip_view`` of its figures) pairs only with the other
    image's whole view, of the other orientation and a close shape (:func:`strip_partners`,
    both sides' ``hw``; without them, with nothing)."""
    keep = np.ones(np.shape(i), dtype=bool)
    for figs, other, v, v_other, me, them in ((first, second, vi, vj, i, j), (second, first, vj, vi, j, i)):
        if figs.strip_view is not None:
            at = np.asarray(v) == figs.strip_view
            if at.any():
                ok = np.asarray(v_other)[at] == 0
                if figs.hw is not None and other.hw is not None:
                    ok &= strip_partners(figs.hw[np.asarray(me)[at]], other.hw[np.asarray(them)[at]])
                else:
                    ok[:] = False
                keep[at] &= ok
    return keep
