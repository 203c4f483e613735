"""Near pairs of a small image and a larger copy of it: the hashes at the small image's scale.

The D4 pchash resizes an image whose short side is under 33 px (``hash_pairs.SMALL_SIDE``) to an
8, 16 or 24 px square, a larger one to 32 x 32 (:func:`~dataeval_gpu.functional.hashing.kernels.perceptual_hash_size`).
The low frequencies of the two squares of one picture differ: a theme icon of 33 x 32 px and
its 65 x 64 px ``@2x`` version hash ~14 bits apart, and the radius search never meets them.
:func:`scale_pairs` hashes each larger image again at the small images' square size, from its
32 x 32 thumbnail (the square its hash was made of, resized to the small side with the same
LANCZOS as the hash), and searches those hashes against the small images' own; a pair is then
checked by the pair rules of :func:`~.hash_pairs.hash_pairs_ok` as two small images with
squares of one size (within ``UNVERIFIED_RADIUS``, the detail at ``SMALL_VERIFY_MIN``), the
larger image's thumbnail made as the small one's was (its square at the small size, enlarged).
Only images whose short sides differ by :data:`SCALE_RATIO` or more are paired this way (closer
sizes have squares of one size or meet in the ordinary search); nothing is computed when no
image is under ``SMALL_SIDE`` a side.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..functional.hashing import HASH_SIZE, THUMB_SIDE, hamming_distance, symmetric_resize
from ..functional.hashing.block_search import cross_matches
from ..functional.hashing.kernels import phash_turns_kernel
from ..functional.hashing.thumbs import thumbnails_from_small
from .hash_pairs import SMALL_SIDE, UNVERIFIED_RADIUS, PairFigures, hash_pairs_ok

__all__ = ["SCALE_RATIO", "scale_pairs", "thumbs_at"]

#: a small image pairs with a larger one at its own scale when the larger one's short side is at
#: least this many times the small one's (a 33 x 32 icon and its 65 x 64 ``@2x``: 2x; 16 and
#: 22 px emblems against 32-256 px ones)
SCALE_RATIO = 1.5
#: larger images resized per step: a 32nd of them, within these bounds (a float64 32 x 32 square
#: is 8 KB; steps of 1,024 took 3x the CPU time of 8,192)
_STEP = (1024, 65536)


def thumbs_at(
    thumbs: np.ndarray, size: int, enlarge: bool = True, rows: np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(hashes, thumbnails)`` of ``(B, 32, 32)`` uint8 thumbnails brought to a ``size`` px square
    (8, 16 or 24) with the D4 hash's LANCZOS (:func:`~dataeval_gpu.functional.hashing.symmetric_resize`):
    the pchashes of the square's 8 flips / rotations, ``(B, 8)`` int64 (their smallest, as an
    unsigned value, is the D4 pchash of that square), and the square enlarged back to
    ``(B, 32, 32)`` uint8 as a small image's thumbnail is
    (:func:`~dataeval_gpu.functional.hashing.thumbs.thumbnails_from_small`; None with ``enlarge=False``).
    ``rows``: of ``thumbs[rows]``, taken a step at a time (no copy of them all)."""
    if size not in (8, 16, 24):
        raise ValueError(f"size: 8, 16 or 24, got {size}")
    hashes, out = [], []
    t = np.asarray(thumbs, dtype=np.uint8)
    n = t.shape[0] if rows is None else len(rows)
    step = min(max(n // 32, _STEP[0]), _STEP[1])
    for s in range(0, n, step):
        part = torch.from_numpy(np.ascontiguousarray(t[s : s + step] if rows is None else t[rows[s : s + step]]))  # fmt: skip
        square = symmetric_resize(part.to(torch.float64), size, size)
        hashes.append(phash_turns_kernel(square))
        if enlarge:
            out.append(thumbnails_from_small(square))
    if not hashes:
        return torch.zeros((0, 8), dtype=torch.int64), torch.zeros((0, THUMB_SIDE, THUMB_SIDE), dtype=torch.uint8)
    return torch.cat(hashes), torch.cat(out) if enlarge else None


def scale_pairs(full: torch.Tensor, valid: torch.Tensor, figs: PairFigures, thumbs: Any = None) -> np.ndarray:
    """``(P, 2)`` int64 ``[i, j]`` (``i < j``): pairs of an image under ``SMALL_SIDE`` a side and
    one whose short side is :data:`SCALE_RATIO` times its own or more, whose D4 pchashes agree
    at the small image's square size and which pass :func:`~.hash_pairs.hash_pairs_ok` as two
    small images of one square size (see the module).  ``full``, ``valid``: ``(N,)`` whole-image
    hashes; ``figs``: the figures of the same images (``side`` and ``thumbs`` needed: without them
    no pair; an image whose thumbnail is all zero - none was made - pairs with nothing here);
    ``thumbs``: the thumbnails (``(N, V * S * S)`` or ``(N, V, S, S)``, array or tensor) when
    ``figs`` holds none: only the candidate pairs' are then copied.  The larger images are hashed at each small square size present; the thumbnails
    enlarged from that size are made for the candidate pairs only."""
    none = np.zeros((0, 2), dtype=np.int64)
    thumbs = figs.thumbs if thumbs is None else thumbs
    if figs.side is None or thumbs is None:
        return none
    h = full.reshape(-1).cpu()
    ok = valid.reshape(-1).cpu().numpy().astype(bool)
    side = np.asarray(figs.side, dtype=np.float64)
    band = np.where(side < SMALL_SIDE, (np.maximum(side, 1.0) - 1.0) // HASH_SIZE, 0).astype(np.int64)
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs)
    whole = t.reshape(len(t), -1)[:, : THUMB_SIDE**2].reshape(-1, THUMB_SIDE, THUMB_SIDE)  # a view
    ok &= whole.reshape(len(whole), -1).any(axis=1)  # an all-zero thumbnail: none (a dhash, old rows)
    out = []
    for b in np.unique(band[ok & (band > 0)]):
        small = np.nonzero(ok & (band == b))[0]
        large = np.nonzero(ok & (side >= SMALL_SIDE) & (side >= SCALE_RATIO * side[small].min()))[0]
        if not large.size:
            continue
        size = int(b) * HASH_SIZE
        # each larger image's 8 turned hashes: the small image's D4 hash is one turn of its square,
        # and the same turn of the larger one's lies near it even where another turn is smallest
        lh = thumbs_at(whole, size, enlarge=False, rows=large)[0].reshape(-1)
        ci, cj = _cross_pairs(h[small].numpy(), lh.numpy(), UNVERIFIED_RADIUS)  # the small images' radius
        si, li = small[ci], large[cj // 8]
        dist = hamming_distance(h[si], lh[torch.from_numpy(cj)]).numpy()
        code = si * len(side) + li  # one row per pair: its nearest turn
        order = np.lexsort((dist, code))
        first = order[np.r_[True, code[order][1:] != code[order][:-1]]] if code.size else order
        si, li, dist = si[first], li[first], dist[first]
        far = side[li] >= SCALE_RATIO * side[si]
        si, li, dist = si[far], li[far], dist[far]
        if not si.size:
            continue
        lt = thumbs_at(whole[li], size)[1].numpy()  # type: ignore[union-attr] # the candidates' only
        keep = _ok_as_small(figs, whole[si], lt, float(size + HASH_SIZE), si, li, dist)
        out.append(np.stack([si[keep], li[keep]], axis=1))
    if not out:
        return none
    p = np.concatenate(out)
    return np.unique(np.sort(p, axis=1), axis=0).astype(np.int64)


def _cross_pairs(a: np.ndarray, b: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """``(i, j)`` int64 arrays: every pair of ``a[i]`` and ``b[j]`` (int64 hashes) within Hamming
    ``radius``.  The search runs on the *distinct* values of each side, the pairs of values expanded
    to the rows holding them (equal hashes of flat or symmetric images, whose 8 turns agree, and
    copies cost one value: 500 flat larger images, 4,000 turned hashes, took 19 s CPU and 2.1 GB
    when they paired among themselves), and only across the two sides: the small images' hashes
    ``a`` expanded within 2 flips in each 32-bit half and looked up among the larger images' turns
    ``b`` (:func:`~dataeval_gpu.functional.hashing.block_search.cross_matches`; a joined search of
    both sides searched the 8 turns of every larger image among themselves, ~N^2 / 20,000 candidates)."""
    c = cross_matches(b, a, radius)  # [index into b, index into a], every pair within the radius
    return c[:, 1].astype(np.int64), c[:, 0].astype(np.int64)


def _ok_as_small(
    figs: PairFigures, mine: np.ndarray, thumbs: np.ndarray, as_side: float, si: np.ndarray, li: np.ndarray,
    dist: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """``(P,)`` bool: :func:`~.hash_pairs.hash_pairs_ok` of small image ``si[p]`` (its thumbnail
    ``mine[p]``) against larger image ``li[p]`` as a small image: its figures, the thumbnail
    ``thumbs[p]`` (its square at the small size, enlarged) and the short side ``as_side`` (the
    small images' band).  Each side's figures are taken per pair (the candidates' rows only), the
    mean channel spread ``colour`` too (an opaque grey side skips the cast rule, as in one scale)."""
    pick = lambda v, r: None if v is None else np.asarray(v)[r]  # noqa: E731
    one, other = (
        PairFigures(
            pick(figs.chroma, r), pick(figs.plain, r), pick(figs.entropy, r), pick(figs.spread, r), t,
            pick(figs.opacity, r), pick(figs.level, r), sd, colour=pick(figs.colour, r),
        )
        for r, t, sd in ((si, mine, pick(figs.side, si)), (li, thumbs, np.full(li.size, as_side)))
    )  # fmt: skip
    at, zero = np.arange(si.size), np.zeros(si.size, dtype=np.int64)
    return hash_pairs_ok(one, other, at, zero, at, zero, dist, UNVERIFIED_RADIUS)
