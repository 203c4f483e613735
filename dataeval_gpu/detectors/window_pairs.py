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
"""

from __future__ import annotations

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE, cross_pairs
from ..functional.hashing.windows import WINDOW_VIEWS, view_hashes, window_scores
from ..parallel import one_blas_thread
from .hash_figures import PLAIN_SHARE, PairFigures, figure_rules

__all__ = ["WINDOW_DETAIL_MIN", "WINDOW_MIN_SIDE", "WINDOW_PLAIN_MIN", "window_pairs"]

#: both images at least this many pixels a side: a 90 % window of a smaller image is hashed from
#: a thumbnail that enlarged it (an icon's) and small images come in designed sets
WINDOW_MIN_SIDE = 64
#: the Pearson correlation of the other image's thumbnail with the view, at the best place around
#: the matched one (recall surveys' true pairs 0.95-0.99; docs/duplicates.md)
WINDOW_PLAIN_MIN = 0.95
#: ... and of their detail at half size (2 x 2 means minus the 3 x 3 box mean: what a view sampled
#: from a thumbnail and a thumbnail both hold; true pairs >= 0.95)
WINDOW_DETAIL_MIN = 0.95
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
) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``, sorted, unique): pairs of images of which one is a
    window view of the other (:data:`~dataeval_gpu.functional.hashing.windows.WINDOW_VIEWS`),
    not among ``known`` (``(K, 2)``, ``i < j``: the pairs the hashes as computed found).

    ``full``, ``valid``: ``(N,)`` whole-image D4 pchashes; ``thumbs``: ``(N, V * S * S)`` or
    ``(N, V, S, S)`` uint8, the whole image's thumbnail first; ``hw``: ``(N, 2)`` heights and
    widths; ``figs``: the images' :class:`~.hash_figures.PairFigures` (its ``plain`` and
    ``opacity`` limit the images searched, :func:`~.hash_figures.figure_rules` the pairs)."""
    n = int(full.numel())
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs).reshape(n, -1)
    t = t[:, : THUMB_SIDE * THUMB_SIDE].reshape(n, THUMB_SIDE, THUMB_SIDE)
    ok = valid.cpu().numpy().astype(bool) & (hw.min(axis=1) >= WINDOW_MIN_SIDE)
    if figs.plain is not None:
        ok &= np.asarray(figs.plain) < PLAIN_SHARE
    if figs.opacity is not None:
        ok &= np.asarray(figs.opacity) >= 1.0
    rows = np.nonzero(ok)[0]
    empty = np.zeros((0, 2), dtype=np.int64)
    if rows.size < 2:
        return empty
    nv = len(WINDOW_VIEWS)
    with one_blas_thread():  # small products between numpy work: a second BLAS thread only spun
        vh = view_hashes(t[rows], hw[rows], turns=True)  # (R, V, 8): a copy's D4 hash is one of its turns
    whole = full.cpu()[torch.from_numpy(rows)]
    found = cross_pairs(vh.reshape(-1), whole, radius).numpy()
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
    code = np.unique(code[passed])
    if not code.size:
        return empty
    return np.stack([code // n, code % n], axis=1).astype(np.int64)
