"""Views of an image sampled from its grey thumbnail: windows at a few places and small turns.

Every thumbnail (:mod:`~dataeval_gpu.functional.hashing.thumbs`) is its whole image squeezed to
``32 x 32``, the square the D4 pchash summarised.  The pchash's 8 x 8 lowest frequencies of a
*part* of the image - a window of 90 % of each side in a corner, the box inside the image turned
by 10 degrees - are already in that square: :func:`view_samples` samples it (bilinear, the
window's own ``32 x 32`` pixel centres), and :func:`view_hashes` hashes the sample with the D4
pchash kernel.  A copy that is such a part of its source (a mirrored 90 % crop at a random
corner, a 10-15 degree turn cut to the picture: docs/duplicates.md, "Window views") hashes near
the matching view of the source, with no image read again and nothing stored per view.

A view is ``(scale, off_y, off_x, degrees)``: a ``scale`` x ``scale`` window (fractions of the
height and width) whose top-left corner is at ``(off_y, off_x)`` (fractions), or, with
``degrees`` not 0, the largest box of the image's shape inside the image turned by ``degrees``
about its centre (``scale`` and offsets unused), as ``scripts/quality_corpus.py``'s ``rot_small``
cuts it.

Example:
    >>> t = np.tile(np.arange(32, dtype=np.uint8) * 8, (1, 32, 1))  # a left-to-right ramp
    >>> s = view_samples(t, np.array([[100, 100]]), (1.0, 0.0, 0.0, 0.0))
    >>> bool(np.allclose(s[0], t[0]))
    True
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .kernels import HASH_SIZE, dct_d4_hash, dct_turns_bits
from .thumbs import THUMB_SIDE

__all__ = [
    "ASPECT_STEP",
    "SCALES",
    "SHIFTS",
    "TURNS",
    "WINDOW_VIEWS",
    "half_detail",
    "view_hashes",
    "view_map",
    "view_samples",
    "window_scores",
]

#: the views the scan hashes from each thumbnail (docs/duplicates.md, "Window views"): the image
#: turned by 10 and 15 degrees each way and cut to its shape (the standard small-rotation
#: augmentation; a turn's hash moves 20-30 bits, the matching view's 0-4), and the eight 90 %
#: windows off the centre (corners and edge middles: the central one is the scan's 90 % crop
#: view), which a mirrored or plain 90 % crop at a random place lies within 2.5 % of
WINDOW_VIEWS: tuple[tuple[float, float, float, float], ...] = (
    (1.0, 0.0, 0.0, 10.0),
    (1.0, 0.0, 0.0, -10.0),
    (1.0, 0.0, 0.0, 15.0),
    (1.0, 0.0, 0.0, -15.0),
    *(
        (0.9, oy, ox, 0.0)
        for oy in (0.0, 0.05, 0.1)
        for ox in (0.0, 0.05, 0.1)
        if (oy, ox) != (0.05, 0.05)
    ),
)


def _coords(hw: np.ndarray, view: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(N, S * S)`` float64 thumbnail row and column coordinates of a view's pixel centres for
    images of heights and widths ``hw`` (``(N, 2)``)."""
    s = THUMB_SIDE
    scale, oy, ox, deg = view
    g = (np.arange(s) + 0.5) / s
    v, u = np.repeat(g, s)[None, :], np.tile(g, s)[None, :]
    n = len(hw)
    if deg == 0.0:
        y = np.broadcast_to(oy + scale * v, (n, s * s))
        x = np.broadcast_to(ox + scale * u, (n, s * s))
    else:  # the largest box of the image's shape inside its frame turned about the centre
        h = np.maximum(hw[:, 0:1].astype(np.float64), 1.0)
        w = np.maximum(hw[:, 1:2].astype(np.float64), 1.0)
        a = np.deg2rad(deg)
        k = 1.0 / (np.cos(abs(a)) + np.maximum(w / h, h / w) * np.sin(abs(a)))
        xp, yp = (u - 0.5) * w * k, (v - 0.5) * h * k
        x = (xp * np.cos(a) - yp * np.sin(a)) / w + 0.5
        y = (xp * np.sin(a) + yp * np.cos(a)) / h + 0.5
    return y * s - 0.5, x * s - 0.5


def view_samples(
    thumbs: np.ndarray | torch.Tensor, hw: np.ndarray, view: tuple[float, float, float, float]
) -> np.ndarray:
    """``(N, S, S)`` float64: view ``view`` of each ``(S, S)`` thumbnail in ``thumbs`` (``(N, S, S)``
    or ``(N, S * S)``, 0..255) of images of heights and widths ``hw`` (``(N, 2)``), sampled
    bilinearly at the view's pixel centres (coordinates clipped to the square: edges held)."""
    s = THUMB_SIDE
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs, dtype=np.float64)
    t = t.reshape(-1, s * s)
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    ii, jj = _coords(hw[:1] if view[3] == 0.0 else hw, view)  # a window's places: the same for every shape
    ii, jj = np.clip(ii, 0.0, s - 1.0), np.clip(jj, 0.0, s - 1.0)
    i0 = np.minimum(np.floor(ii).astype(np.int64), s - 2)
    j0 = np.minimum(np.floor(jj).astype(np.int64), s - 2)
    fi, fj = ii - i0, jj - j0
    at = i0 * s + j0 + (np.arange(len(t)) * (s * s))[:, None]  # each view pixel's top-left tap, flat
    flat, gj = t.reshape(-1), 1.0 - fj
    top = flat.take(at) * gj + flat.take(at + 1) * fj
    bottom = flat.take(at + s) * gj + flat.take(at + (s + 1)) * fj
    return (top * (1.0 - fi) + bottom * fi).reshape(-1, s, s)


#: a turned view's sampling depends on the image's shape (width / height), bucketed to this step
#: (half a step, 0.25 % of the shape, moves a turned view's pixel by under 0.05 thumbnail pixel)
ASPECT_STEP = 0.005
#: a shape bucket with this many images or more has its turned views' maps built (:func:`view_map`,
#: cached); fewer are sampled one by one: in a collection of mixed sizes most shapes are one image's,
#: and building their maps cost a scan of 604 photos ~1-2 s
MAP_MIN_IMAGES = 8


@functools.lru_cache(maxsize=4096)
def view_map(view: tuple[float, float, float, float], aspect: float) -> np.ndarray:
    """``(64, S * S)`` float64: the linear map from a thumbnail (flat, row-major) to the 8 x 8
    lowest DCT-II coefficients (scipy's unnormalised ``dct(dct(x.T).T)``, as the pchash) of
    ``view`` sampled from it (:func:`view_samples`, for an image of shape ``aspect`` = width /
    height: only a turn depends on it).  Cached per view and shape bucket."""
    s = THUMB_SIDE
    hw = np.array([[1000.0, 1000.0 * aspect]])  # only the shape counts
    ii, jj = _coords(hw, view)
    ii, jj = np.clip(ii[0], 0.0, s - 1.0), np.clip(jj[0], 0.0, s - 1.0)
    i0 = np.minimum(np.floor(ii).astype(np.int64), s - 2)
    j0 = np.minimum(np.floor(jj).astype(np.int64), s - 2)
    fi, fj = ii - i0, jj - j0
    basis = _dct_basis()  # (S*S, 64): the coefficients' weight of each view pixel
    nc = HASH_SIZE * HASH_SIZE
    out = np.zeros(s * s * nc)  # the weight of each thumbnail pixel for each coefficient, (S*S, 64) flat
    for di, dj, wt in ((0, 0, (1 - fi) * (1 - fj)), (0, 1, (1 - fi) * fj), (1, 0, fi * (1 - fj)), (1, 1, fi * fj)):
        at = ((i0 + di) * s + j0 + dj).reshape(-1, 1) * nc + np.arange(nc)  # one bincount for every coefficient
        out += np.bincount(at.ravel(), weights=(basis * wt.reshape(-1, 1)).ravel(), minlength=s * s * nc)
    return np.ascontiguousarray(out.reshape(s * s, nc).T)


@functools.lru_cache(maxsize=1)
def _dct_basis() -> np.ndarray:
    """``(S*S, 64)``: the 8 x 8 lowest unnormalised DCT-II coefficients' weight of each pixel of an
    ``S x S`` image (row-major)."""
    s = THUMB_SIDE
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    d = 2.0 * np.cos(np.pi * k * (2.0 * np.arange(s, dtype=np.float64)[None, :] + 1.0) / (2.0 * s))
    return np.kron(d, d).T


def view_hashes(
    thumbs: np.ndarray | torch.Tensor,
    hw: np.ndarray,
    views: tuple[tuple[float, float, float, float], ...] = WINDOW_VIEWS,
    turns: bool = False,
    rows: np.ndarray | None = None,
) -> torch.Tensor:
    """``(N, V)`` int64 (CPU): the D4 pchash (:func:`~.kernels.dct_d4_hash`, as the scan's
    whole-image hash) of each of ``views`` of each thumbnail (:func:`view_samples`), the
    coefficients of each view one matrix product (:func:`view_map`): no view is sampled.
    ``turns=True``: ``(N, V, 8)``, the pHash of each of the view's 8 dihedral turns
    (:func:`~.kernels.dct_turns_bits`), of which the D4 hash is the smallest: which turn is the
    smallest can change with a small difference (a copy turned by 10 degrees against its view:
    24-32 bits apart in the smallest turns, 0-4 in the same turn), so a search for a copy's D4
    hash among the views' turns does not depend on it.  ``rows``: hash only these rows of
    ``thumbs`` (``hw`` then holds theirs, one per row), taken a chunk at a time: the same hashes as
    ``thumbs[rows]``, without a copy of the rows' thumbnails (~1 KB an image)."""
    hw = np.asarray(hw, dtype=np.float64).reshape(-1, 2)
    n = len(hw)
    if n == 0:
        return torch.zeros((0, len(views), 8) if turns else (0, len(views)), dtype=torch.int64)
    src = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    src = src.reshape(n if rows is None else len(src), -1)
    take = lambda s: src[s : s + VIEW_CHUNK] if rows is None else src[rows[s : s + VIEW_CHUNK]]  # noqa: E731
    aspect = np.round(hw[:, 1] / np.maximum(hw[:, 0], 1.0) / ASPECT_STEP) * ASPECT_STEP
    _, where, counts = np.unique(aspect, return_inverse=True, return_counts=True)
    common = counts[where.reshape(-1)] >= MAP_MIN_IMAGES  # over the whole call: a chunk's rows hash alike
    out = torch.empty((n, len(views), 8) if turns else (n, len(views)), dtype=torch.int64)
    for s in range(0, n, VIEW_CHUNK):  # into one result: a list of chunks and their join held it twice
        out[s : s + VIEW_CHUNK] = _chunk_hashes(
            take(s), aspect[s : s + VIEW_CHUNK], common[s : s + VIEW_CHUNK], views, turns
        )
    return out


#: images whose views :func:`view_hashes` transforms at once (memory: their float64 thumbnails, the
#: views' coefficients and the 8 turns' working copies, ~100 KB an image: ~50 MB a chunk, 2,048 a
#: chunk peaked at ~220 MB; every image at once took ~50 GB for a million photos)
VIEW_CHUNK = 512


def _chunk_hashes(
    src: np.ndarray, aspect: np.ndarray, common: np.ndarray, views: tuple, turns: bool
) -> torch.Tensor:
    """:func:`view_hashes` of ``(n, S * S)`` thumbnails of shapes ``aspect`` (bucketed); ``common``:
    each image's shape bucket is one of at least :data:`MAP_MIN_IMAGES` (its turned views by maps)."""
    n = len(src)
    t = src.astype(np.float64)
    coeffs = np.empty((n, len(views), HASH_SIZE * HASH_SIZE))
    flat = [k for k, v in enumerate(views) if v[3] == 0.0]
    if flat:  # windows: one map for every image
        maps = np.concatenate([view_map(views[k], 1.0) for k in flat], axis=0)  # (64 F, S*S)
        coeffs[:, flat] = (t @ maps.T).reshape(n, len(flat), -1)
    turned = [k for k, v in enumerate(views) if v[3] != 0.0]
    for a in np.unique(aspect[common]) if turned else ():  # shapes many images share: maps
        at = np.nonzero(common & (aspect == a))[0]
        maps = np.concatenate([view_map(views[k], float(a)) for k in turned], axis=0)
        coeffs[np.ix_(at, turned)] = (t[at] @ maps.T).reshape(at.size, len(turned), -1)
    rare = np.nonzero(~common)[0] if turned else np.zeros(0, dtype=np.int64)
    if rare.size:  # rare shapes: every image's views sampled at once (a map costs ~2 ms, a view ~0.05 ms)
        shape = np.stack([np.full(rare.size, 1000.0), 1000.0 * aspect[rare]], axis=1)  # the buckets' shapes
        for k in turned:
            coeffs[rare, k] = view_samples(t[rare], shape, views[k]).reshape(rare.size, -1) @ _dct_basis()
    c = torch.from_numpy(coeffs.reshape(n * len(views), HASH_SIZE, HASH_SIZE))
    if turns:
        return dct_turns_bits(c).reshape(n, len(views), 8)
    return dct_d4_hash(c).reshape(n, len(views))


#: the places around a matched window :func:`window_scores` tries (thumbnail pixels each way, and
#: the window's scale times these): the hash matched within a few per cent of the side
SHIFTS: tuple[float, ...] = (-1.5, -0.75, 0.0, 0.75, 1.5)
SCALES: tuple[float, ...] = (0.94, 1.0, 1.06)
#: ... and the angles (degrees) around a matched turn
TURNS: tuple[float, ...] = (-2.5, -1.25, 0.0, 1.25, 2.5)


def _d4(x: np.ndarray, k: int) -> np.ndarray:
    """Turn ``k`` (0..7) of ``(..., S, S)``: ``k & 4`` transposes, ``k & 1`` mirrors the columns,
    ``k & 2`` the rows."""
    if k & 4:
        x = np.swapaxes(x, -1, -2)
    if k & 1:
        x = x[..., ::-1]
    if k & 2:
        x = x[..., ::-1, :]
    return np.ascontiguousarray(x)


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of ``(P, K)`` float64 arrays (-1 where either is constant)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > 1e-9, (a * b).sum(axis=1) / np.maximum(den, 1e-12), -1.0)


def half_detail(x: np.ndarray) -> np.ndarray:
    """``(P, S/2 * S/2)``: the detail of ``(P, S, S)`` images at half size - each 2 x 2 mean
    minus the 3 x 3 box mean around it (edges held) -, the band that a view sampled from a
    thumbnail and another image's own thumbnail both hold."""
    h = THUMB_SIDE // 2
    small = np.asarray(x, dtype=np.float64).reshape(len(x), h, 2, h, 2).mean(axis=(2, 4))
    p = np.pad(small, ((0, 0), (1, 1), (1, 1)), mode="edge")
    box = sum(p[:, dy : dy + h, dx : dx + h] for dy in range(3) for dx in range(3)) / 9.0
    return (small - box).reshape(len(x), -1)


def window_scores(
    thumbs_i: np.ndarray, hw_i: np.ndarray, view: tuple[float, float, float, float], thumbs_j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(plain, detail)``, ``(P,)`` float64: how well each thumbnail ``thumbs_j`` (``(P, S, S)``,
    0..255) is view ``view`` of image ``i`` (its thumbnail ``thumbs_i`` and heights and widths
    ``hw_i``): the best Pearson correlation of the two (``plain``) and of their half-size detail
    (:func:`half_detail`, ``detail``) over the places :data:`SHIFTS` x :data:`SCALES` around the
    window (a turn: the angles :data:`TURNS` around it), ``thumbs_j`` in the turn (of the 8) that
    matches the view best (the D4 hash matched any)."""
    ti = np.asarray(thumbs_i, dtype=np.float64).reshape(-1, THUMB_SIDE, THUMB_SIDE)
    tj = np.asarray(thumbs_j, dtype=np.float64).reshape(-1, THUMB_SIDE, THUMB_SIDE)
    p = len(tj)
    w0 = view_samples(ti, hw_i, view).reshape(p, -1)
    turns = np.stack([_d4(tj, k) for k in range(8)])  # (8, P, S, S): every turn of every thumbnail
    turn = np.stack([_pearson(w0, turns[k].reshape(p, -1)) for k in range(8)], axis=1).argmax(axis=1)
    tj = turns[turn, np.arange(p)]
    flat_j, det_j = tj.reshape(p, -1), half_detail(tj)
    scale, oy, ox, deg = view
    if deg:
        places = [(scale, oy, ox, deg + d) for d in TURNS]
    else:
        places = []
        for f in SCALES:
            s = min(scale * f, 1.0)
            c = (scale - s) / 2.0
            places += [(s, oy + c + dy / THUMB_SIDE, ox + c + dx / THUMB_SIDE, 0.0) for dy in SHIFTS for dx in SHIFTS]
    plain, detail = np.full(p, -1.0), np.full(p, -1.0)
    for place in places:
        w = view_samples(ti, hw_i, place)
        plain = np.maximum(plain, _pearson(w.reshape(p, -1), flat_j))
        detail = np.maximum(detail, _pearson(half_detail(w), det_j))
    return plain, detail
