"""New images' copies in an index at another scale: a small image (under ``SMALL_SIDE``, 33 px,
a side) and a copy :data:`~dataeval_gpu.detectors.scale_pairs.SCALE_RATIO` times larger or more,
which a scan pairs by :func:`~dataeval_gpu.detectors.scale_pairs.scale_pairs` (the larger image
hashed again at the small one's square size) and the radius search never meets.

:func:`scale_matches` runs that function, the one copy of the rule, on two sets that hold only
pairs across the new and the indexed images: the new small images with the indexed images
large enough to be their copies, and the new larger images with the indexed small ones.  A
small image never pairs with another small one here, nor a large one with a large one, so no
pair within the index is searched; a new and an indexed image pair here exactly when a scan of
both together would pair them at scale.  Only the rows that can pair are read (their sides
first, then the figures and thumbnails of those that can); nothing is read when neither side
has an image under ``SMALL_SIDE``.

Hashing every indexed image again at the small sizes on each query took 0.2 s of CPU time per
size for 604 photos; the index stores those hashes (:func:`scale_hashes`, ``scale-G.npy``) and
the query hands ``scale_pairs`` only the indexed images whose stored hashes lie within
:data:`PREFILTER_RADIUS` of a new small image's (an index written before them: every large
enough one).
"""

from __future__ import annotations

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE
from .near_matches import FIGURE_COLUMNS, figures_of
from .reader import DatasetIndex

__all__ = ["PREFILTER_RADIUS", "SCALE_SIZES", "scale_hashes", "scale_matches"]

#: the square sizes a small image's D4 hash is made at (8, 16, 24 px: short sides 9-16, 17-24, 25-32)
SCALE_SIZES = (8, 16, 24)
#: the stored hashes' search radius: ``scale_pairs``' own (``UNVERIFIED_RADIUS``) plus a margin
#: for float64 rounding of the resize in batches of another size (a bit at the median may flip)
PREFILTER_RADIUS = 6


def scale_hashes(thumbs: np.ndarray, side: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``(N, 3, 8)`` int64: each image's whole thumbnail (``thumbs``, ``(N, V * 32 * 32)`` uint8)
    brought to each of :data:`SCALE_SIZES` and hashed in its 8 flips / rotations
    (:func:`~dataeval_gpu.detectors.scale_pairs.thumbs_at`, what ``scale_pairs`` computes of a
    larger image); zeros where ``ok`` is False or the short side ``side`` is under ``SMALL_SIDE``
    (such an image is never the larger of a pair) or the thumbnail is all zero (none made)."""
    from ..detectors.hash_pairs import SMALL_SIDE
    from ..detectors.scale_pairs import thumbs_at

    t = np.asarray(thumbs).reshape(len(thumbs), -1)[:, : THUMB_SIDE * THUMB_SIDE]
    out = np.zeros((len(t), len(SCALE_SIZES), 8), dtype=np.int64)
    rows = np.flatnonzero(np.asarray(ok, bool) & (np.asarray(side) >= SMALL_SIDE) & t.any(axis=1))
    for k, size in enumerate(SCALE_SIZES):
        for s in range(0, rows.size, 65536):
            at = rows[s : s + 65536]
            out[at, k] = thumbs_at(t[at].reshape(-1, THUMB_SIDE, THUMB_SIDE), size, enlarge=False)[0].numpy()
    return out


def scale_matches(index: DatasetIndex, rows: dict[str, np.ndarray]) -> np.ndarray:
    """``(P, 2)`` int64 ``[new image's row, indexed row]`` (sorted, unique): the pairs a scan of
    both sets finds at scale (:func:`~dataeval_gpu.detectors.scale_pairs.scale_pairs`).
    ``rows``: the new images' rows (``pchash``, ``pchash_valid``, ``pchash_thumbs`` and the
    statistics of :data:`~dataeval_gpu.index.near_matches.FIGURE_COLUMNS`, as
    :meth:`DataAudit.measured_rows <dataeval_gpu.audit.DataAudit.measured_rows>` gives them with
    the quality metrics on).  Empty without thumbnails or sides on either side (a scan without
    them pairs nothing at scale)."""
    from ..detectors.hash_pairs import SMALL_SIDE
    from ..detectors.scale_pairs import SCALE_RATIO

    none = np.zeros((0, 2), dtype=np.int64)
    need = ("pchash", "pchash_valid", "pchash_thumbs", "height", "width")
    if index.hashes is None or any(rows.get(k) is None for k in need) or not len(rows["pchash"]):
        return none
    hw = index.rows(["height", "width"]) if {"height", "width"} <= set(index.columns) else {}
    if "pchash_thumbs" not in index.columns or len(hw) < 2:
        return none
    q_side = np.minimum(np.asarray(rows["height"], np.float64), np.asarray(rows["width"], np.float64))
    q_ok = np.asarray(rows["pchash_valid"], dtype=bool).reshape(-1)
    r_side = np.minimum(np.asarray(hw["height"], np.float64), np.asarray(hw["width"], np.float64))
    r_ok = index.measured & index.near_valid
    out = [none]
    small = np.flatnonzero(q_ok & (q_side < SMALL_SIDE))
    if small.size:  # new small images against the indexed ones large enough to be their copies
        larger = np.flatnonzero(r_ok & (r_side >= SMALL_SIDE) & (r_side >= SCALE_RATIO * q_side[small].min()))
        out.append(_across(index, rows, small, _near_at_scale(index, rows, small, q_side[small], larger)))
    large = np.flatnonzero(q_ok & (q_side >= SMALL_SIDE))
    if large.size:  # new larger images against the indexed small ones
        smaller = r_ok & (r_side < SMALL_SIDE) & (SCALE_RATIO * r_side <= q_side[large].max())
        out.append(_across(index, rows, large, np.flatnonzero(smaller)))
    p = np.concatenate(out)
    return np.unique(p, axis=0).astype(np.int64) if len(p) else none


def _near_at_scale(
    index: DatasetIndex, rows: dict[str, np.ndarray], small: np.ndarray, side: np.ndarray, larger: np.ndarray
) -> np.ndarray:
    """The indexed rows ``larger`` whose stored hashes at a new small image's size (``scale-G.npy``)
    lie within :data:`PREFILTER_RADIUS` of its hash in some turn (all of them without the file)."""
    from ..detectors.hash_pairs import SMALL_SIDE
    from ..functional.hashing import HASH_SIZE
    from ..functional.hashing.groups import cross_pairs

    stored = index.scale
    if stored is None or not larger.size:
        return larger
    band = ((np.maximum(side, 1.0) - 1.0) // HASH_SIZE).astype(np.int64)  # scale_pairs' bands
    q = np.asarray(rows["pchash"], dtype=np.int64).reshape(-1)
    keep = np.zeros(larger.size, dtype=bool)
    for b in np.unique(band[(band > 0) & (side < SMALL_SIDE)]):
        ref = np.ascontiguousarray(stored[larger, int(b) - 1]).view(np.int64).reshape(-1)  # 8 turns a row
        p = cross_pairs(torch.from_numpy(q[small[band == b]]), torch.from_numpy(ref), PREFILTER_RADIUS).numpy()
        keep[p[:, 1] // 8] = True
    return larger[keep]


def _across(index: DatasetIndex, rows: dict[str, np.ndarray], mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """``(P, 2)`` ``[new row, indexed row]``: :func:`~dataeval_gpu.detectors.scale_pairs.scale_pairs`
    of the new images ``mine`` and the indexed rows ``theirs`` as one set (whole images' hashes,
    whole thumbnails, the pair rules' figures), its pairs across the two."""
    from ..detectors.scale_pairs import scale_pairs

    if not mine.size or not theirs.size:
        return np.zeros((0, 2), dtype=np.int64)
    whole = THUMB_SIDE * THUMB_SIDE
    n = len(rows["pchash"])
    ref_thumbs = np.asarray(index.take("pchash_thumbs", theirs)).reshape(theirs.size, -1)[:, :whole]
    thumbs = np.concatenate([np.asarray(rows["pchash_thumbs"]).reshape(n, -1)[mine, :whole], ref_thumbs])
    cols: dict[str, np.ndarray | None] = {}
    for k in FIGURE_COLUMNS:  # a figure either side lacks: its rule is skipped, as in near_matches
        ref = index.take(k, theirs) if k in index.columns and rows.get(k) is not None else None
        cols[k] = None if ref is None else np.concatenate([np.asarray(rows[k], np.float64)[mine], ref.astype(np.float64)])
    full = np.concatenate(
        [np.asarray(rows["pchash"], dtype=np.int64).reshape(-1)[mine], index.hashes[theirs, 1].view(np.int64)]  # type: ignore[index]
    )
    valid = np.ones(full.size, dtype=bool)  # both sides were chosen among the valid hashes
    p = scale_pairs(torch.from_numpy(full), torch.from_numpy(valid), figures_of(cols), thumbs)
    p = p[(p[:, 0] < mine.size) & (p[:, 1] >= mine.size)]
    return np.stack([mine[p[:, 0]], theirs[p[:, 1] - mine.size]], axis=1).astype(np.int64)
