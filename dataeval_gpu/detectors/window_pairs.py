"""Near pairs through window views: a copy that is a 90 % window of its source at a random place
(mirrored or not) or the source turned by 10-15 degrees and cut to its shape.

The scan's near pairs compare whole images and central crops (:func:`~.hash_pairs.hash_pairs`);
such a copy hashes 12-40 bits from every one of them.  Each image's thumbnail already holds the
views that would match (:mod:`~dataeval_gpu.functional.hashing.windows`): :func:`window_pairs`
hashes :data:`~dataeval_gpu.functional.hashing.windows.WINDOW_VIEWS` from the thumbnails,
searches them against every other image's whole-image hash within the scan's radius, and keeps a
candidate only when the pair rules on the figures pass (:func:`~.hash_figures.figure_rules`) and
the other image's thumbnail *is* the view: the plain and the half-size detail correlation around
the matched place both reach :data:`WINDOW_PLAIN_MIN` / :data:`WINDOW_DETAIL_MIN`
(:func:`~dataeval_gpu.functional.hashing.windows.window_scores`).  Opaque pictures only, at least
:data:`WINDOW_MIN_SIDE` a side, without a plain background (docs/duplicates.md, "Window views").

A crop that keeps 80 % / 70 % of each side at any place, plain or mirrored, is found the same way
through a grid of windows (:mod:`~dataeval_gpu.functional.hashing.offcentre`) and verified on the
source's thumbnail grid (:data:`CROP_PLAIN_MIN` and the other ``CROP_`` bars; docs/duplicates.md,
"Off-centre crops").

A picture set in uniform bars (letterboxed, pillarboxed, padded to a square) is found through the
box inside its bars (:mod:`~dataeval_gpu.functional.hashing.content`): the box's pHashes against
every picture's plain and mirrored pHash, a candidate kept when the other picture has the box's
shape and passes the ``CROP_`` bars on the box (docs/duplicates.md, "Pictures in bars").
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE
from ..functional.hashing.content import content_boxes, content_hashes, content_scores
from ..functional.hashing.offcentre import (
    IMAGES_PER_STEP,
    busy_share,
    crop_scores,
    cross_matches,
    grid_hashes,
    grid_views,
    plain_hashes,
    search_plan,
    window_matches,
)
from ..functional.hashing.windows import WINDOW_VIEWS, view_hashes, window_scores
from ..parallel import one_blas_thread
from .hash_figures import PLAIN_SHARE, PairFigures, figure_rules

__all__ = [
    "CROP_BUSY_MIN",
    "CROP_DETAIL_MIN",
    "CROP_FINE_MIN",
    "CROP_PLAIN_MIN",
    "CROP_PLAN_NOTES",
    "CROP_SPREAD_MIN",
    "WINDOW_DETAIL_MIN",
    "WINDOW_MIN_SIDE",
    "WINDOW_PLAIN_MIN",
    "window_pairs",
]

#: both images at least this many pixels a side: a 90 % window of a smaller image is hashed from
#: a thumbnail that enlarged it (an icon's) and small images come in designed sets
WINDOW_MIN_SIDE = 64
#: the Pearson correlation of the other image's thumbnail with the view, at the best place around
#: the matched one (recall surveys' true pairs 0.95-0.99; docs/duplicates.md)
WINDOW_PLAIN_MIN = 0.95
#: ... and of their detail at half size (2 x 2 means minus the 3 x 3 box mean: what a view sampled
#: from a thumbnail and a thumbnail both hold; true pairs >= 0.95)
WINDOW_DETAIL_MIN = 0.95
#: an off-centre 80 % / 70 % window (:mod:`~dataeval_gpu.functional.hashing.offcentre`): the
#: Pearson correlation of the crop's thumbnail, reduced to the window's size, with the source's
#: window on the source's thumbnail grid (recall survey draw 1's true pairs 0.95-0.998) ...
CROP_PLAIN_MIN = 0.95
#: ... and of their detail at half size (true pairs 0.92-0.996 on draw 1) ...
CROP_DETAIL_MIN = 0.9
#: ... and at full size, each pixel minus its 3 x 3 box mean (true pairs 0.80-0.98; two globular
#: clusters of Stellarium, one bright blob in a star field each, 0.41-0.59)
CROP_FINE_MIN = 0.8
#: the window's and the crop's grey standard deviation (levels), the smaller: a correlation of a
#: nearly flat picture is its noise's (a grey grid texture against Stellarium's framed drawings:
#: 2.7; true pairs on draw 1 27-60)
CROP_SPREAD_MIN = 8.0
#: both thumbnails' share of pixels with detail (:func:`~dataeval_gpu.functional.hashing.offcentre.busy_share`):
#: a window of a flag or a striped design equals another design (kgeography's flags: 0.12-0.34;
#: draw 1's photos 0.4-0.97)
CROP_BUSY_MIN = 0.4
#: what each plan of the off-centre crop search (:func:`~dataeval_gpu.functional.hashing.offcentre.search_plan`)
#: means for the pairs found, as a scan records it (``facts["crop_search"]["note"]``: config.json's
#: ``crop_search``, the summary's line, the report's duplicates section)
CROP_PLAN_NOTES = {
    "exact": "every crop match within 8 bits searched",
    "rotated": (
        "crop matches at 6-8 bits are partial: above ~20,000 searched images the off-centre crop search runs "
        "the rotated 32-bit block plan, exact up to 5 bits (docs/duplicates.md, 'Off-centre crops at scale')"
    ),
}
#: off-centre candidates scored per step (a step holds ~25 (P, 26 x 26) float64 windows a size)
CROP_STEP = 1024
#: candidates scored per step (memory: a step holds a few (P, 32, 32) float64 stacks)
STEP = 4096


def window_pairs(
    full: torch.Tensor,
    valid: torch.Tensor,
    thumbs: np.ndarray | torch.Tensor,
    hw: np.ndarray,
    figs: PairFigures,
    radius: int,
    known: np.ndarray | None = None,
    facts: dict[str, Any] | None = None,
) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``, sorted, unique): pairs of images of which one is a
    window view of the other (:data:`~dataeval_gpu.functional.hashing.windows.WINDOW_VIEWS`),
    not among ``known`` (``(K, 2)``, ``i < j``: the pairs the hashes as computed found).
    ``facts``: a dict, when given, that receives ``"crop_search"`` when the off-centre crop search
    ran: ``{"plan", "images", "references", "partial", "note"}`` (its :func:`search_plan`, the
    images searched, the distinct references, whether 6-8 bit matches are only partly found,
    :data:`CROP_PLAN_NOTES`), the run fact a scan records.

    ``full``, ``valid``: ``(N,)`` whole-image D4 pchashes; ``thumbs``: ``(N, V * S * S)`` or
    ``(N, V, S, S)`` uint8, the whole image's thumbnail first; ``hw``: ``(N, 2)`` heights and
    widths; ``figs``: the images' :class:`~.hash_figures.PairFigures` (its ``plain`` and
    ``opacity`` limit the images searched, :func:`~.hash_figures.figure_rules` the pairs)."""
    n = int(full.numel())
    empty = np.zeros((0, 2), dtype=np.int64)
    if n < 2:  # no pair (and no rows for reshape's -1 to infer)
        return empty
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs).reshape(n, -1)
    t = t[:, : THUMB_SIDE * THUMB_SIDE].reshape(n, THUMB_SIDE, THUMB_SIDE)
    ok = valid.cpu().numpy().astype(bool) & (hw.min(axis=1) >= WINDOW_MIN_SIDE)
    if figs.opacity is not None:
        ok &= np.asarray(figs.opacity) >= 1.0
    framed = np.nonzero(ok)[0]  # a picture in bars: its bars are plain, its box is judged alone
    if figs.plain is not None:
        ok &= np.asarray(figs.plain) < PLAIN_SHARE
    rows = np.nonzero(ok)[0]
    if rows.size < 2:
        code = _content_codes(t, framed, rows, hw, n, known)
        return np.stack([code // n, code % n], axis=1).astype(np.int64) if code.size else empty
    # the off-centre crops' search is independent of the views': in a thread alongside (numpy and
    # torch release the GIL in their loops); numpy's BLAS at one thread for both (small products
    # between numpy work: a second BLAS thread only spun), set once here for the two threads
    with one_blas_thread(), ThreadPoolExecutor(1, thread_name_prefix="dataeval-gpu-offcentre") as pool:
        offcentre = pool.submit(_offcentre_codes, t, rows, figs, n, known, facts)
        code = _view_codes(t, rows, hw, full, figs, n, radius, known)
        code = np.concatenate([code, _content_codes(t, framed, rows, hw, n, known)])
        code = np.unique(np.concatenate([code, offcentre.result()]))
    if not code.size:
        return empty
    return np.stack([code // n, code % n], axis=1).astype(np.int64)


def _view_codes(
    t: np.ndarray,
    rows: np.ndarray,
    hw: np.ndarray,
    full: torch.Tensor,
    figs: PairFigures,
    n: int,
    radius: int,
    known: np.ndarray | None,
) -> np.ndarray:
    """``min * n + max`` codes of the pairs of ``rows`` (the images searched) of which one is a
    window view of the other: each view's 8 turns' pHashes (:func:`view_hashes`) against every
    whole image's D4 pchash, a candidate verified by :func:`window_scores`."""
    nv = len(WINDOW_VIEWS)
    vh = view_hashes(t, hw[rows], turns=True, rows=rows)  # (R, V, 8): a copy's D4 hash is one of its turns
    whole = full.cpu()[torch.from_numpy(rows)]
    found = cross_matches(vh.reshape(-1).numpy(), whole.numpy(), radius)  # cross_pairs' pairs, linear in N
    i, v, j = rows[found[:, 0] // (nv * 8)], (found[:, 0] // 8) % nv, rows[found[:, 1]]
    code = np.minimum(i, j) * n + np.maximum(i, j)
    once = np.unique(code * nv + v, return_index=True)[1]  # a pair and view found in several turns: once
    i, v, j, code = i[once], v[once], j[once], code[once]
    keep = i != j
    if known is not None and len(known):
        keep &= ~np.isin(code, np.asarray(known)[:, 0] * n + np.asarray(known)[:, 1])
    keep &= figure_rules(figs, figs, i, j)
    at = np.nonzero(keep)[0]
    passed = np.zeros(i.size, dtype=bool)
    for k in np.unique(v[at]):
        q = at[v[at] == k]
        for s in range(0, q.size, STEP):
            c = q[s : s + STEP]
            plain, detail = window_scores(t[i[c]], hw[i[c]], WINDOW_VIEWS[int(k)], t[j[c]])
            passed[c] = (plain >= WINDOW_PLAIN_MIN) & (detail >= WINDOW_DETAIL_MIN)
    return code[passed]


def _offcentre_codes(
    t: np.ndarray, rows: np.ndarray, figs: PairFigures, n: int, known: np.ndarray | None,
    facts: dict[str, Any] | None = None,
) -> np.ndarray:  # fmt: skip
    """``min * n + max`` codes of the pairs of ``rows`` (the images searched) of which one is an
    off-centre 80 % / 70 % window of the other, plain or mirrored
    (:mod:`~dataeval_gpu.functional.hashing.offcentre`): each window's pHash on the grid against
    each image's plain and mirrored pHash, a candidate's best view (fewest bits) verified by
    :func:`~dataeval_gpu.functional.hashing.offcentre.crop_scores`; the plan run in ``facts``
    (:func:`window_pairs`)."""
    # the rows' thumbnails read a step at a time, not copied (t[rows]: 1 KB an image, for each figure)
    rows = rows[busy_share(t, rows=rows) >= CROP_BUSY_MIN]
    views = grid_views()
    nv, r = len(views), rows.size
    if r < 2:
        return np.zeros(0, dtype=np.int64)
    probes = grid_hashes(t, rows=rows).numpy().reshape(-1)
    refs = plain_hashes(t, rows=rows).numpy().T.reshape(-1)  # plain hashes first, then the mirrors'
    distinct = int(np.unique(refs).size)
    plan = search_plan(distinct)
    if facts is not None:
        facts["crop_search"] = {
            "plan": plan, "images": int(r), "references": distinct, "partial": plan != "exact",
            "note": CROP_PLAN_NOTES[plan],
        }  # fmt: skip
    if plan != "exact":
        warnings.warn(
            f"off-centre crop search over {r} images: 6-8 bit matches only through the rotated "
            "32-bit blocks (docs/duplicates.md, 'Off-centre crops at scale')",
            stacklevel=2,
        )
    a, b = window_matches(probes, refs, plan=plan)
    i, v, j, mirror = rows[a // nv], a % nv, rows[b % r], b >= r
    dist = np.bitwise_count((probes[a] ^ refs[b]).view(np.uint64))
    code = np.minimum(i, j) * n + np.maximum(i, j)
    keep = i != j
    if known is not None and len(known):
        keep &= ~np.isin(code, np.asarray(known)[:, 0] * n + np.asarray(known)[:, 1])
    at = np.nonzero(keep)[0]
    at = at[np.lexsort((dist[at], mirror[at], j[at], i[at]))]  # each pair's closest view first
    at = at[np.unique(i[at] * 2 * n + j[at] * 2 + mirror[at], return_index=True)[1]]
    at = at[figure_rules(figs, figs, i[at], j[at])]
    passed = np.zeros(at.size, dtype=bool)
    for k in np.unique(v[at]):
        for s in range(0, (v[at] == k).sum(), CROP_STEP):
            q = np.nonzero(v[at] == k)[0][s : s + CROP_STEP]
            c = at[q]
            plain, detail, fine, spread = crop_scores(t[i[c]], views[int(k)], t[j[c]], mirror[c])
            passed[q] = (plain >= CROP_PLAIN_MIN) & (detail >= CROP_DETAIL_MIN) & (fine >= CROP_FINE_MIN)
            passed[q] &= spread >= CROP_SPREAD_MIN
    return code[at[passed]]


def _content_codes(
    t: np.ndarray, framed: np.ndarray, rows: np.ndarray, hw: np.ndarray, n: int, known: np.ndarray | None
) -> np.ndarray:
    """``min * n + max`` codes of the pairs of an image of ``framed`` (opaque, at least
    :data:`WINDOW_MIN_SIDE` a side) whose thumbnail has bars and an image of ``rows`` (the window
    views' scope: no plain background) that is the picture inside them
    (:mod:`~dataeval_gpu.functional.hashing.content`): the box's pHashes at a few places against
    each image's plain and mirrored pHash within :data:`~dataeval_gpu.functional.hashing.offcentre.GRID_RADIUS`,
    a candidate kept when the other image has the box's shape and the box passes the ``CROP_``
    bars (plain, fine, spread, busy on both sides) and is no plain picture itself (clipped share
    under :data:`~.hash_figures.PLAIN_SHARE`).  The pair figures of the framed image are its
    bars' as much as its picture's: the figure rules are not run."""
    empty = np.zeros(0, dtype=np.int64)
    partners = rows  # the window views' scope: opaque, no plain background
    if not framed.size or not partners.size:
        return empty
    # the boxes a step at a time and the hashes of the few with a bar only (every framed thumbnail at
    # once held ~13 KB an image: float32 / float64 copies, twice mem17's whole pair stage)
    boxes, active = np.zeros((framed.size, 4)), np.zeros((framed.size, 4), dtype=bool)
    for s in range(0, framed.size, IMAGES_PER_STEP):
        part = slice(s, s + IMAGES_PER_STEP)
        boxes[part], active[part] = content_boxes(t[framed[part]])
    barred = np.nonzero(active.any(axis=1))[0]
    probes, owner = content_hashes(t[framed[barred]], boxes[barred], active[barred])
    if not probes.size:
        return empty
    owner = barred[owner]
    refs = plain_hashes(t, rows=partners).numpy().T.reshape(-1)  # plain hashes first, then the mirrors'
    a, b = window_matches(probes, refs)
    k, j, mirror = owner[a], partners[b % partners.size], b >= partners.size
    i = framed[k]
    code = np.minimum(i, j) * n + np.maximum(i, j)
    keep = i != j
    if known is not None and len(known):
        keep &= ~np.isin(code, np.asarray(known)[:, 0] * n + np.asarray(known)[:, 1])
    at = np.nonzero(keep)[0]
    at = at[np.unique(code[at] * 2 + mirror[at], return_index=True)[1]]  # each pair and side once
    passed, score = np.zeros(at.size, dtype=bool), np.zeros(at.size)
    for q, c in enumerate(at):
        other = t[j[c]][:, ::-1] if mirror[c] else t[j[c]]
        aspects = (hw[i[c], 1] / hw[i[c], 0], hw[j[c], 1] / hw[j[c], 0])
        plain, fine, spread, busy, clipped = content_scores(
            t[i[c]], boxes[k[c]], active[k[c]], other, aspects
        )
        passed[q] = plain >= CROP_PLAIN_MIN and fine >= CROP_FINE_MIN and spread >= CROP_SPREAD_MIN
        passed[q] &= busy >= CROP_BUSY_MIN and clipped < PLAIN_SHARE
        score[q] = plain
    return _best_neighbourhood(i[at[passed]], j[at[passed]], score[passed], n, known)


def _best_neighbourhood(
    i: np.ndarray, j: np.ndarray, score: np.ndarray, n: int, known: np.ndarray | None
) -> np.ndarray:
    """``min * n + max`` codes of the verified pairs of framed images ``i`` and pictures ``j``
    (``score``: the box's plain correlation) that the groups take: each framed image with its
    best picture and with those of its other pictures that are already paired with that best one
    (``known``).  The box is judged on the thumbnail alone, without the figure rules, so it
    matches a photo's every copy, a colour-cast or a low-contrast one too, which the whole
    images' rules keep apart: paired with all of them the framed image would outnumber the
    photo's own pairs and, as the groups' centre, leave out the crops, turns and squashed copies
    that pair only with the photo (recall survey draw 2: 9 copies lost)."""
    if not i.size:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((j, -score, i))
    first = np.concatenate([[True], i[order][1:] != i[order][:-1]])
    best = np.repeat(j[order][first], np.diff(np.append(np.nonzero(first)[0], i.size)))
    i, j = i[order], j[order]
    keep = j == best
    if known is not None and len(known):
        keep |= np.isin(
            np.minimum(j, best) * n + np.maximum(j, best),
            np.asarray(known)[:, 0] * n + np.asarray(known)[:, 1],
        )
    return np.unique(np.minimum(i, j)[keep] * n + np.maximum(i, j)[keep])
