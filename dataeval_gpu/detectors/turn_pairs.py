"""Near pairs whose D4 hashes took different turns: a copy whose smallest turn flipped.

A D4 pchash is the smallest of the pHashes of the picture's 8 dihedral turns
(:func:`~dataeval_gpu.functional.hashing.kernels.dct_turns_bits`), and which turn is the
smallest flips with a small difference: a JPEG re-save of a photo at quality 20-60 lies 30-36 bits
from its source's D4 hash while the same turn of the two is 0-4 bits apart (docs/duplicates.md,
"The whole picture's 8 turns").  :func:`turn_pairs` hashes each image's 8 turns from its whole
thumbnail (:func:`~dataeval_gpu.functional.hashing.windows.view_hashes`: the thumbnail is the
square the hash summarised) and searches them against every other image's D4 hash within the
scan's radius.  A candidate the whole hashes did not already judge is held to the rules of a pair
of whole images (:func:`~.hash_pairs.hash_pairs_ok`: the figure rules, the cell colours, the
detail correlation of the thumbnails and in every region), its distance the closest turn's: the
same pair found by the hashes at that distance would be judged the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE
from ..functional.hashing.block_search import cross_matches
from ..functional.hashing.windows import view_hashes
from .hash_figures import PairFigures
from .hash_pairs import hash_pairs_ok

__all__ = ["TURN_MIN_SIDE", "WHOLE_VIEW", "turn_candidates", "turn_pairs"]

#: the whole picture as a view (:data:`~dataeval_gpu.functional.hashing.windows.WINDOW_VIEWS`'s form)
WHOLE_VIEW = (1.0, 0.0, 0.0, 0.0)
#: both images at least this many pixels a side (as the window views': small images come in designed
#: sets - playing cards of one rank in two suits, a sprite's expressions -, which the whole-image rules
#: tell apart least; an image under 33 px has no 32 x 32 hash square at all).  Measured at 33 (chosen
#: after looking: docs/duplicates.md): qr_debs5 54 pairs added, 10 false (9 of pokerth's 48 px cards)
#: and 10 borderline (a 40 px door opening), 47 of the 54 under 64 px; at 64: 7 added, 1 false
TURN_MIN_SIDE = 64


def turn_candidates(
    full: torch.Tensor, valid: torch.Tensor, thumbs: np.ndarray, hw: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, dist)``, ``(P,)`` each (``i < j``, unique): the pairs of images some turn of one
    of which lies within ``radius`` of the other's D4 hash while the two D4 hashes lie farther,
    ``dist`` the closest such turn's distance.  ``full``, ``valid``: ``(N,)`` D4 pchashes;
    ``thumbs``: ``(N, S, S)`` uint8 whole thumbnails; ``hw``: ``(N, 2)`` heights and widths (an
    image under :data:`TURN_MIN_SIDE` a side is left out)."""
    n = int(full.numel())
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    ok = valid.cpu().numpy().astype(bool) & (hw.min(axis=1) >= TURN_MIN_SIDE)
    rows = np.nonzero(ok)[0]
    empty = np.zeros(0, dtype=np.int64)
    if rows.size < 2:
        return empty, empty, empty
    turns = view_hashes(thumbs, hw[rows], (WHOLE_VIEW,), turns=True, rows=rows).reshape(-1)  # (R * 8,)
    whole = full.cpu()[torch.from_numpy(rows)]
    found = cross_matches(turns.numpy(), whole.numpy(), radius)  # cross_pairs' pairs, linear in N
    a, b = rows[found[:, 0] // 8], rows[found[:, 1]]
    t = torch.from_numpy(found[:, 0])
    dist = _bits(turns[t] ^ whole[torch.from_numpy(found[:, 1])])
    d4 = _bits(full.cpu()[torch.from_numpy(a)] ^ full.cpu()[torch.from_numpy(b)])
    keep = (a != b) & (d4 > radius)  # pairs within the radius were judged on their D4 hashes
    a, b, dist = a[keep], b[keep], dist[keep]
    code = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.lexsort((dist, code))  # each pair's closest turn first
    first = order[np.unique(code[order], return_index=True)[1]]
    code = code[first]
    return code // n, code % n, dist[first]


def _bits(x: torch.Tensor) -> np.ndarray:
    """``(P,)`` int64: the set bits of each int64 of ``x``."""
    return np.bitwise_count(x.numpy().view(np.uint64)).astype(np.int64)


def turn_pairs(
    full: torch.Tensor,
    valid: torch.Tensor,
    thumbs: np.ndarray | torch.Tensor,
    hw: np.ndarray,
    figs: PairFigures,
    radius: int,
    known: np.ndarray | None = None,
) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``, sorted, unique): pairs of images whose D4 hashes lie
    beyond ``radius`` but one's turn within it of the other's (:func:`turn_candidates`), not among
    ``known`` (``(K, 2)``, ``i < j``), that pass :func:`~.hash_pairs.hash_pairs_ok` as two whole
    images at that turn's distance.  ``thumbs``: ``(N, V * S * S)`` or ``(N, V, S, S)`` uint8, the
    whole image's thumbnail first; ``figs``: the images' per-image figures (its ``thumbs`` unused:
    the whole thumbnails are taken from ``thumbs`` for the candidates' images only)."""
    n = int(full.numel())
    if n < 2:  # no pair (and no rows for reshape's -1 to infer)
        return np.zeros((0, 2), dtype=np.int64)
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs).reshape(n, -1)
    t = t[:, : THUMB_SIDE * THUMB_SIDE].reshape(n, THUMB_SIDE, THUMB_SIDE)
    i, j, dist = turn_candidates(full, valid, t, hw, radius)
    if known is not None and len(known):
        k = np.asarray(known)
        new = ~np.isin(i * n + j, k[:, 0] * n + k[:, 1])
        i, j, dist = i[new], j[new], dist[new]
    if not i.size:
        return np.zeros((0, 2), dtype=np.int64)
    used = np.unique(np.concatenate([i, j]))  # the candidates' images only, renumbered 0..m-1
    sub = _figures_of(figs, used, t[used])
    a, b = np.searchsorted(used, i), np.searchsorted(used, j)
    zero = np.zeros(a.size, dtype=np.int64)  # view 0: the whole image
    ok = hash_pairs_ok(sub, sub, a, zero, b, zero, dist, radius)
    return np.stack([i[ok], j[ok]], axis=1).astype(np.int64)


def _figures_of(figs: PairFigures, rows: np.ndarray, thumbs: np.ndarray) -> PairFigures:
    """``figs`` at ``rows``, with ``thumbs`` (those rows' whole thumbnails) as their only view."""
    take = lambda v: None if v is None else np.asarray(v)[rows]  # noqa: E731
    cells: Any = figs.cells
    return PairFigures(
        take(figs.chroma), take(figs.plain), take(figs.entropy), take(figs.spread), thumbs,
        take(figs.opacity), take(figs.level), take(figs.side), take(figs.hw), None, take(figs.colour),
        None if cells is None else np.asarray(cells)[rows],
    )  # fmt: skip
