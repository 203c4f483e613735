"""The rules a pair of near-hash matches must pass to count as near duplicates, one copy for
every search: :func:`hash_pairs_ok` on the matched views' figures (the rules on the per-image
figures alone: :mod:`.hash_figures`) and thumbnails, :func:`hash_pairs` (the
pairs within one set that :func:`~dataeval_gpu.detectors.near_duplicates.hash_groups` groups),
and the index's ``--against`` search (new images against the indexed ones:
:mod:`dataeval_gpu.index.near_matches`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..functional.hashing import HASH_SIZE, THUMB_SIDE, hamming_distance, near_pairs
from ..functional.hashing.thumbs import PAIRS_PER_STEP, ThumbViews, check_rows
from ..parallel import one_blas_thread
from ..progress import progress_bar
from .hash_figures import (  # noqa: F401  (the figures' rules, named here as before the split)
    CHROMA_TOLERANCE,
    ENTROPY_EPS,
    ENTROPY_RATIO,
    FLAT_ENTROPY,
    LEVEL_TOLERANCE,
    PLAIN_RADIUS,
    PLAIN_SHARE,
    SPREAD_EPS,
    SPREAD_RATIO,
    STRIP_SHAPE_TOLERANCE,
    PairFigures,
    chroma_close,
    colour_pattern_rule,
    figure_rules,
    plain_and_entropy,
    strip_partners,
    strip_rule,
    transparent_pair,
)
from .near_search import HashRows, NearSearch

__all__ = [
    "CHROMA_TOLERANCE",
    "ENTROPY_EPS",
    "ENTROPY_RATIO",
    "FLAT_ENTROPY",
    "LEVEL_TOLERANCE",
    "LOCAL_VERIFY_MIN",
    "PLAIN_RADIUS",
    "PLAIN_SHARE",
    "PROGRESS_MIN_PAIRS",
    "SMALL_SIDE",
    "SMALL_VERIFY_MIN",
    "thumbs_comparable",
    "SPREAD_EPS",
    "SPREAD_RATIO",
    "STRIP_SHAPE_TOLERANCE",
    "UNVERIFIED_RADIUS",
    "VERIFY_MIN",
    "FLAT_PARTNER_RMS",
    "FLAT_VIEW_EPS",
    "PairFigures",
    "chroma_close",
    "hash_pairs",
    "hash_pairs_ok",
    "plain_and_entropy",
    "search_pairs",
    "strip_partners",
]

#: verification of hash pairs on the per-image grey thumbnails (the D4 pchash's 32 x 32 square,
#: :mod:`~dataeval_gpu.functional.hashing.thumbs`): a pair is kept only when the detail
#: correlation of the two matched views reaches this (planted copies >= 0.81, distinct
#: deep-sky objects that hash alike <= 0.78: docs/quality.md)
VERIFY_MIN = 0.8
#: ... and their detail normalised by its local energy (every region counting by its area, not
#: by its contrast: :func:`~dataeval_gpu.functional.hashing.thumbs.local_detail_check`) must
#: correlate at least this much: two different planets of one render style on black space share
#: the bright rim of their lit limb, which carries the plain detail correlation (0.83-0.92),
#: while their surfaces differ (0.54-0.59 here; planted copies >= 0.70: docs/quality.md)
LOCAL_VERIFY_MIN = 0.65
#: a pair the thumbnails cannot verify is kept only within this radius, the one calibrated
#: before the verification: a uniform picture, a hash without a 32 x 32 square (dhash), index
#: rows stored before the thumbnails, an image under :data:`SMALL_SIDE` against one whose
#: thumbnail was made another way (at radius 4 such pairs were taken unverified: 10 groups of
#: distinct garments in 3,000 Fashion-MNIST images, none at 2)
UNVERIFIED_RADIUS = 2
#: an image whose short side is under this (33 px) has no 32 x 32 hash square: its thumbnail is its
#: 8, 16 or 24 px square enlarged to 32 x 32, and its pairs stay within :data:`UNVERIFIED_RADIUS`.
#: Two such images with squares of one size (:func:`thumbs_comparable`: compared on their own
#: pixels, enlarged the same way) are verified on them; a pair of thumbnails made the two ways
#: (a 32 px icon's enlarged 24 px square against its 48-128 px sizes, downscaled) is not: 82 true
#: pairs of Oxygen's icons failed such a check, and is kept unverified as before (docs/quality.md);
#: an image 1.5x larger is also compared at the small one's scale (:mod:`.scale_pairs`)
SMALL_SIDE = 33
#: ... the detail of two small images of one square size must correlate at least this much:
#: copies at such sizes (JPEG q50, a brightness shift, a flip, a 28 -> 30 px resize) keep >= 0.956,
#: distinct Fashion-MNIST garments of one silhouette (28 x 28, 2 bits apart) reach 0.92
SMALL_VERIFY_MIN = 0.95
#: a view whose thumbnail's detail (each pixel minus its 3 x 3 box mean) has a root mean square
#: under this (grey levels) is flat: the thumbnails cannot verify its pairs ...
FLAT_VIEW_EPS = 1e-6
#: ... and is kept unverified (within :data:`UNVERIFIED_RADIUS`) only with a view whose detail's
#: root mean square is at most this: a copy of a uniform picture or region is uniform up to its
#: noise (a flat grey picture with Gaussian noise of sigma 8 reads 0.45-1.07 at 128-512 px, 2.1-4.0
#: at 33-64 px, where its entropy and spread already fail the figure rules; a JPEG q20 copy 0),
#: while a frame's empty 80 % crop matched a dark box with a light border at 7.4 (qr_debs8's
#: flare-game; docs/duplicates.md, "Flat views").  The flat view must be a central crop of an image
#: whose whole thumbnail is not constant (an all-zero thumbnail may be a missing one), both sides'
#: ``side`` known; a strip view and images under :data:`SMALL_SIDE` are left as before
FLAT_PARTNER_RMS = 3.0


def thumbs_comparable(side_a: np.ndarray, side_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(comparable, small)``, ``(P,)`` bool, from two images' short sides (pixels): whether
    their thumbnails were made the same way - both from a 32 x 32 hash square, or both enlarged
    from squares of one size (the short side's 8 px band under :data:`SMALL_SIDE`) - and whether
    either image is under :data:`SMALL_SIDE` a side."""
    a, b = np.asarray(side_a, dtype=np.float64), np.asarray(side_b, dtype=np.float64)
    small_a, small_b = a < SMALL_SIDE, b < SMALL_SIDE
    band = lambda v: (np.maximum(v, 1.0) - 1.0) // HASH_SIZE  # noqa: E731 # the hash square's size
    return (small_a == small_b) & (~small_a | (band(a) == band(b))), small_a | small_b


def hash_pairs_ok(
    first: PairFigures,
    second: PairFigures,
    i: np.ndarray,
    vi: np.ndarray,
    j: np.ndarray,
    vj: np.ndarray,
    dist: np.ndarray,
    radius: int,
    step: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``(P,)`` bool: which hash pairs of views pass the near-duplicate pair rules.  Pair ``p``
    is view ``vi[p]`` (0: the whole image, ``1 + k``: its ``k``-th central crop) of image
    ``i[p]`` of ``first`` and view ``vj[p]`` of image ``j[p]`` of ``second``, their hashes
    ``dist[p]`` apart.  A strip view (``strip_view`` of its figures) pairs only with the other
    image's whole view, of the other orientation (:func:`strip_partners`, both sides' ``hw``).
    The rules, each where both sides have its figures: a plain-background
    image (:data:`PLAIN_SHARE`) pairs only at :data:`PLAIN_RADIUS` (when ``radius > 0``), unless
    both images have a transparent ground (``opacity`` below 1) and the thumbnails verify the pair
    on the whole and inside both drawings
    (:func:`~dataeval_gpu.functional.hashing.thumbs.interior_detail_check`); the two
    views' thumbnails verify (:data:`VERIFY_MIN`, and in every region: :data:`LOCAL_VERIFY_MIN`; a pair they cannot verify, a view without a
    thumbnail or a flat one, only within :data:`UNVERIFIED_RADIUS`, a flat view only with one about as flat,
    :data:`FLAT_PARTNER_RMS`, as a pair with an image under
    :data:`SMALL_SIDE` a side, ``side``; two such images with squares of one size verify at
    :data:`SMALL_VERIFY_MIN`, one against a larger image is not verified: :func:`thumbs_comparable`);
    the colour casts agree (:data:`CHROMA_TOLERANCE`; not asked of an opaque grey side, and cast and
    spread pass for one picture at another exposure: :func:`~.hash_figures.figure_rules`), two opaque
    colour pictures' cell colours (whole or a central crop matched, not a strip) are one picture's under one global colour change
    (:func:`~.hash_figures.colour_pattern_rule`, where ``cells`` are kept), the grey entropies
    (:data:`ENTROPY_RATIO`) and the pixel spreads (:data:`SPREAD_RATIO`); a flat image
    (:data:`FLAT_ENTROPY`) pairs only at its level (:data:`LEVEL_TOLERANCE`).  :func:`hash_groups`
    (one set: ``first is second``) and the index's ``--against`` search (new images against
    indexed ones) both keep exactly these pairs.  The figure rules run first, the
    thumbnail checks only on the pairs they keep; ``step(count)``, when given, is called as
    pairs are decided (a progress bar's update).

    Example:
        >>> figs = PairFigures(plain=np.array([0.9, 0.0, 0.0]))
        >>> i, v = np.array([0, 1]), np.zeros(2, dtype=np.int64)
        >>> hash_pairs_ok(figs, figs, i, v, np.array([1, 2]), v, np.array([2, 2]), 4).tolist()
        [False, True]
    """
    dist = np.asarray(dist)
    keep = strip_rule(first, second, i, vi, j, vj)
    comparable, small = np.ones(np.shape(i), dtype=bool), np.zeros(np.shape(i), dtype=bool)
    if first.side is not None and second.side is not None:
        comparable, small = thumbs_comparable(first.side[i], second.side[j])
    keep &= ~small | (dist <= UNVERIFIED_RADIUS)  # a square under 32 px: radius 2
    keep &= figure_rules(first, second, i, j)
    # two opaque colour pictures: their cells' colours too (whole images, or one's central crop: a
    # crop of 5-10 % a side keeps its cells' colours within a cell; not a strip, another region)
    centred = keep & _not_strip(first, vi) & _not_strip(second, vj)
    at_c = np.nonzero(centred)[0]
    keep[at_c] = colour_pattern_rule(first, second, i[at_c], j[at_c])
    # a plain-background picture pairs beyond PLAIN_RADIUS only as one of two drawings on
    # transparent that the thumbnails verify: the others are decided here, before them
    plain_far = np.zeros(np.shape(i), dtype=bool)
    if first.plain is not None and second.plain is not None and radius > 0:
        is_plain = (first.plain[i] >= PLAIN_SHARE) | (second.plain[j] >= PLAIN_SHARE)
        plain_far = is_plain & (dist > PLAIN_RADIUS)
        keep &= ~plain_far | transparent_pair(first, second, i, j)
    # the thumbnail checks (the costly part) only for the pairs every other rule keeps
    at = np.nonzero(keep)[0]
    if step is not None:
        step(np.size(i) - at.size)  # decided without the thumbnails
    verified, detail_ok = _verify_on_thumbnails(
        first, second, i[at], vi[at], j[at], vj[at], dist[at], comparable[at], small[at], plain_far[at], step
    )
    keep[at] = verified & (~plain_far[at] | detail_ok)
    return keep


def _not_strip(figs: PairFigures, v: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: the views ``v`` are not ``figs``' strip view (the whole image or a central crop)."""
    return np.ones(np.shape(v), dtype=bool) if figs.strip_view is None else np.asarray(v) != figs.strip_view


#: hash pairs from which :func:`hash_pairs` shows a progress bar (~10 s of checks and more)
PROGRESS_MIN_PAIRS = 20_000
#: pairs verified on their thumbnails per progress step (:func:`hash_pairs_ok`'s ``step``)
VERIFY_CHUNK = 8 * PAIRS_PER_STEP


def _verify_on_thumbnails(
    first: PairFigures,
    second: PairFigures,
    i: np.ndarray,
    vi: np.ndarray,
    j: np.ndarray,
    vj: np.ndarray,
    dist: np.ndarray,
    comparable: np.ndarray,
    small: np.ndarray,
    inner: np.ndarray,
    step: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(verified, detail_ok)``, ``(P,)`` bool, the thumbnail rules of :func:`hash_pairs_ok`:
    whether each pair passes the detail checks (:data:`VERIFY_MIN`, :data:`LOCAL_VERIFY_MIN`,
    :data:`SMALL_VERIFY_MIN`; one it cannot verify only within :data:`UNVERIFIED_RADIUS`; all
    True without thumbnails), and, for the pairs of ``inner`` (the plain-background rule reads
    it), whether the thumbnails checked and verified the pair, two drawings on transparent also
    inside their silhouettes.  ``comparable`` and ``small``: :func:`thumbs_comparable`.  Each
    image's views are computed once (:class:`~dataeval_gpu.functional.hashing.thumbs.ThumbViews`),
    the pairs checked :data:`VERIFY_CHUNK` at a time (``step(count)`` after each)."""
    verified = np.ones(np.shape(i), dtype=bool)
    detail_ok = np.zeros(np.shape(i), dtype=bool)  # the thumbnails checked and verified the pair
    if first.thumbs is None or second.thumbs is None:
        if step is not None:
            step(int(np.size(i)))
        return verified, detail_ok
    nx, ny = first.thumbs.shape[1], second.thumbs.shape[1]  # type: ignore[union-attr]
    # what cannot be verified (a flat or missing thumbnail, a view stored without one: rows
    # stored before the crops had one) is kept only within UNVERIFIED_RADIUS
    verified = np.asarray(dist) <= UNVERIFIED_RADIUS
    at = np.nonzero((vi < nx) & (vj < ny) & comparable)[0]
    if step is not None:
        step(np.size(i) - at.size)
    if not at.size:
        return verified, detail_ok
    rx, ry = i[at] * nx + vi[at], j[at] * ny + vj[at]
    tx = ThumbViews(first.thumbs, rx if first is not second else np.concatenate([rx, ry]))  # type: ignore[arg-type]
    ty = tx if first is second else ThumbViews(second.thumbs, ry)  # type: ignore[arg-type]
    # one check at a time over all pairs, each image's view computed once and freed after it
    score, checked = np.ones(at.size), np.zeros(at.size, dtype=bool)
    for s in range(0, at.size, VERIFY_CHUNK):
        c = slice(s, s + VERIFY_CHUNK)
        score[c], checked[c] = check_rows(tx, rx[c], ty, ry[c], "detail")
        if step is not None:
            step(rx[c].size)
    # a flat view (a constant thumbnail: the empty inside of a frame) is a copy only of a flat view:
    # one whose other side carries detail is not kept unverified.  The flat side must be a central
    # crop of an image whose whole thumbnail is not constant (its thumbnails are there: an all-zero
    # one may be a missing one - an index stored without them), both sides' short sides known
    lone = np.nonzero(~checked & ~small[at] & _not_strip(first, vi[at]) & _not_strip(second, vj[at]))[0]
    if first.side is not None and second.side is not None and lone.size:
        ex, ey = _detail_rms(tx, rx[lone]), _detail_rms(ty, ry[lone])
        crop_x = _flat_crop(first, i[at[lone]], vi[at[lone]], ex)
        crop_y = _flat_crop(second, j[at[lone]], vj[at[lone]], ey)
        one_flat = (crop_x & (ey > FLAT_PARTNER_RMS)) | (crop_y & (ex > FLAT_PARTNER_RMS))
        verified[at[lone[one_flat]]] = False
    tx.drop("detail")
    ty.drop("detail")
    passed = score >= np.where(small[at], SMALL_VERIFY_MIN, VERIFY_MIN)
    strong = np.nonzero(checked & passed)[0]  # the detail agrees: in every region too?
    if strong.size:
        local, _ = check_rows(tx, rx[strong], ty, ry[strong], "local")
        passed[strong] = local >= LOCAL_VERIFY_MIN
        tx.drop("local")
        ty.drop("local")
    verified[at] = np.where(checked, passed, verified[at])
    ok = np.nonzero(checked & passed & inner[at] & transparent_pair(first, second, i[at], j[at]))[0]
    if ok.size:  # inside the silhouette too (its outline dominates the detail)
        inner_score, inner_ok = check_rows(tx, rx[ok], ty, ry[ok], "interior")
        detail_ok[at[ok]] = inner_ok & (inner_score >= VERIFY_MIN)
    return verified, detail_ok


def _flat_crop(figs: PairFigures, i: np.ndarray, v: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: view ``v`` of image ``i`` is a central crop whose thumbnail is flat (detail
    ``rms`` under :data:`FLAT_VIEW_EPS`) while the image's whole thumbnail is not constant."""
    whole = np.asarray(figs.thumbs)[np.asarray(i), 0]  # type: ignore[index]
    varies = whole.reshape(whole.shape[0], -1).max(axis=1) > whole.reshape(whole.shape[0], -1).min(axis=1)
    return (np.asarray(v) >= 1) & (rms < FLAT_VIEW_EPS) & varies


def _detail_rms(views: ThumbViews, rows: np.ndarray) -> np.ndarray:
    """``(P,)`` float64: the root mean square of the detail view (grey levels) of ``rows``."""
    out = np.empty(np.size(rows))
    for s in range(0, out.size, PAIRS_PER_STEP):
        d = views.get("detail", rows[s : s + PAIRS_PER_STEP])
        out[s : s + PAIRS_PER_STEP] = np.sqrt((d * d).mean(axis=(1, 2)))
    return out


def hash_pairs(
    full: torch.Tensor,
    valid: torch.Tensor,
    crops: Sequence[tuple[torch.Tensor, torch.Tensor]],
    radius: int,
    chroma: np.ndarray | None = None,
    plain: np.ndarray | None = None,
    entropy: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    thumbs: np.ndarray | torch.Tensor | None = None,
    opacity: np.ndarray | None = None,
    level: np.ndarray | None = None,
    side: np.ndarray | None = None,
    strip: tuple[torch.Tensor, torch.Tensor, np.ndarray | torch.Tensor | None] | None = None,
    hw: np.ndarray | None = None,
    progress: bool | None = None,
    colour: np.ndarray | None = None,
    windows: bool = False,
    cells: np.ndarray | torch.Tensor | None = None,
    facts: dict[str, Any] | None = None,
) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``, sorted, unique): the pairs of images that
    :func:`hash_groups` groups with its centre rule (same arguments).  ``strip``: ``(hashes,
    valid, thumbnails)`` of each image's inverse-shape strip (the view after the crops; its
    pairs need ``hw``, ``(N, 2)`` heights and widths: :func:`strip_partners`).  ``progress``: a
    bar over the pairs when there are :data:`PROGRESS_MIN_PAIRS` or more (None: on a terminal,
    :func:`~dataeval_gpu.progress.progress_bar`).  With ``side`` and ``thumbs``, an image under
    :data:`SMALL_SIDE` a side also pairs with a larger copy at its own scale
    (:func:`~.scale_pairs.scale_pairs`).  ``colour``: each image's mean channel spread (a grey side
    skips the colour-cast rule: :data:`~.hash_figures.GREY_SPREAD`).  ``windows`` (the hashes are
    D4 pchashes; with ``radius > 0``, ``thumbs`` and ``hw``): an image also pairs with a copy whose
    D4 hash took another of its 8 turns, judged as two whole images (:func:`~.turn_pairs.turn_pairs`),
    and with a 90 % window of it at another place or a small turn of it
    (:func:`~.window_pairs.window_pairs`).  ``cells``:
    each image's ``4 x 4`` cell colours (``(N, 48)`` uint8,
    :func:`~dataeval_gpu.functional.hashing.colour_cells.colour_cells`): two whole opaque colour
    pictures must agree in them up to one global colour change (:func:`~.hash_figures.colour_pattern_rule`).
    ``facts``: a dict that receives what the window search did (:func:`~.window_pairs.window_pairs`'s
    ``"crop_search"``: which plan the off-centre crop search ran).  The arguments are the fields
    of :class:`~.near_search.HashRows` and :class:`~.near_search.NearSearch`: :func:`search_pairs`
    takes those two objects."""
    rows = HashRows(
        full, valid, crops, chroma, plain, entropy, spread, thumbs, opacity, level, side, strip, hw, colour, cells,
    )  # fmt: skip
    return search_pairs(rows, NearSearch(radius, windows=windows, progress=progress), facts)


def search_pairs(rows: HashRows, search: NearSearch, facts: dict[str, Any] | None = None) -> np.ndarray:
    """:func:`hash_pairs` on the rows ``rows`` with the settings ``search`` (its ``radius``,
    ``windows`` and ``progress``; every image searched, whatever its ``collapse``): ``(P, 2)``
    int64 ``[i, j]`` (``i < j``, sorted, unique).  ``facts``: as :func:`hash_pairs`'."""
    radius = search.radius
    pairs = _one_scale_pairs(rows, radius, search.progress)
    if search.windows and radius > 0 and rows.thumbs is not None and rows.hw is not None:
        from .turn_pairs import turn_pairs
        from .window_pairs import window_pairs

        # a copy whose D4 hash took another turn, judged as two whole images; numpy's BLAS at one thread
        # (as for the window views below: OpenBLAS's second thread spun between its small products)
        with one_blas_thread():
            more = turn_pairs(rows.full, rows.valid, rows.thumbs, rows.hw, rows.figures(), radius, pairs)
        pairs = _with(pairs, more)
        # a 90 % window or a small turn
        figs = rows.figures(cells=False)
        more = window_pairs(rows.full, rows.valid, rows.thumbs, rows.hw, figs, radius, pairs, facts)
        pairs = _with(pairs, more)
    if rows.side is None or rows.thumbs is None or not (np.asarray(rows.side) < SMALL_SIDE).any():
        return pairs
    from .scale_pairs import scale_pairs

    # as the rules above
    return _with(pairs, scale_pairs(rows.full, rows.valid, rows.figures(cells=False), rows.thumbs))


def _with(pairs: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``pairs`` and ``more`` (``(P, 2)`` int64 each), sorted and unique; ``pairs`` itself when
    ``more`` is empty."""
    return np.unique(np.concatenate([pairs, more]), axis=0).astype(np.int64) if more.size else pairs


def _one_scale_pairs(rows: HashRows, radius: int, progress: bool | None) -> np.ndarray:
    """The pairs of :func:`hash_pairs` the hashes as computed find (each image at its own scale)."""
    full, valid, crops, strip, thumbs = rows.full, rows.valid, rows.crops, rows.strip, rows.thumbs
    n = full.numel()
    strip_view = None
    if strip is not None:
        strip_view = 1 + len(crops)
        crops = [*crops, (strip[0], strip[1])]
    parts = [full.reshape(-1), *(c.reshape(-1) for c, _ in crops)]
    oks = [valid.reshape(-1), *(v.reshape(-1) for _, v in crops)]
    h = torch.cat([p.cpu() for p in parts])
    ok = torch.cat([v.cpu() for v in oks])
    live = torch.nonzero(ok).reshape(-1)
    if live.numel() < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = live[near_pairs(h[live], radius)]
    keep = ((pairs[:, 0] < n) | (pairs[:, 1] < n)) & (pairs[:, 0] % n != pairs[:, 1] % n)
    pairs = pairs[keep]
    a, b = pairs[:, 0].numpy(), pairs[:, 1].numpy()
    if not a.size:
        return np.zeros((0, 2), dtype=np.int64)
    dist = hamming_distance(h[pairs[:, 0]], h[pairs[:, 1]]).numpy()
    # the figures and thumbnails of the images in a candidate pair only, renumbered 0..m-1 in
    # order (the thumbnails with the strip's joined to them were a 4 KB copy of every image)
    used = np.unique(np.concatenate([a % n, b % n]))
    taken = [_rows_of(getattr(rows, k), used) for k in ("chroma", "plain", "entropy", "spread", "opacity", "level")]
    taken += [_rows_of(rows.side, used), _rows_of(rows.hw, used)]
    thumbs = _view_thumbs(thumbs, used, n, strip_view, None if strip is None else strip[2])
    a = (a // n) * used.size + np.searchsorted(used, a % n)  # view v of image i: v * m + i
    b = (b // n) * used.size + np.searchsorted(used, b % n)
    n = used.size
    more = (strip_view, _rows_of(rows.colour, used), _rows_of(rows.cells, used))
    figs = PairFigures(*taken[:4], thumbs, *taken[4:], *more)  # type: ignore[misc]
    code = np.minimum(a % n, b % n) * n + np.maximum(a % n, b % n)
    enable = progress if a.size >= PROGRESS_MIN_PAIRS else False
    with progress_bar(total=int(a.size), desc="near pairs", enable=enable, unit="pair") as bar:
        # whole against whole first: a pair of images kept there needs none of its crop views
        ok_p = np.zeros(a.size, dtype=bool)
        at = np.nonzero((a < n) & (b < n))[0]
        for stage in range(2):
            ok_p[at] = hash_pairs_ok(
                figs, figs, a[at] % n, a[at] // n, b[at] % n, b[at] // n, dist[at], radius, bar.update
            )
            if stage == 0:
                rest = ~((a < n) & (b < n))
                at = np.nonzero(rest & ~np.isin(code, code[ok_p]))[0]
                bar.update(int(np.count_nonzero(rest)) - at.size)  # decided by the whole views
    code = np.unique(code[ok_p])
    return np.stack([used[code // n], used[code % n]], axis=1).astype(np.int64)


def _rows_of(v: Any, rows: np.ndarray) -> np.ndarray | None:
    """Rows ``rows`` of a per-image figure (array or tensor; None stays None)."""
    if v is None:
        return None
    return np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)[rows]


def _view_thumbs(
    thumbs: Any, rows: np.ndarray, n: int, strip_view: int | None, strip_thumbs: Any
) -> np.ndarray | None:
    """``(len(rows), V * S * S)`` uint8: the view thumbnails of images ``rows`` (of ``n``), with
    the strip's thumbnail at view ``strip_view`` when there is a strip (all zero where it has
    none: unverified)."""
    if thumbs is None:
        return None
    as_np = lambda v: np.asarray(v.cpu() if isinstance(v, torch.Tensor) else v)  # noqa: E731
    tv = as_np(thumbs).reshape(n, -1)[rows]
    if strip_view is None:
        return tv
    width = strip_view * THUMB_SIDE**2
    out = np.zeros((rows.size, width + THUMB_SIDE**2), dtype=tv.dtype)
    out[:, : min(width, tv.shape[1])] = tv[:, :width]
    if strip_thumbs is not None:
        out[:, width:] = as_np(strip_thumbs).reshape(n, -1)[rows]
    return out
