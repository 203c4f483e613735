"""Off-centre windows of 80 % / 70 % of each side: their pHashes on a grid of places, and whether
another image's thumbnail is such a window, compared on the source's own thumbnail grid.

Every thumbnail (:mod:`~dataeval_gpu.functional.hashing.thumbs`) is its whole image squeezed to
``32 x 32``.  A crop that keeps 70-80 % of each side of a picture, at any place, is a window of
``22-26`` thumbnail pixels of its source's thumbnail.  Its pHash lies within a few bits of the
window's only within about 2 % of the side of the true place (docs/duplicates.md, "Off-centre
crops"), so :data:`GRID` hashes windows every 4-4.3 % of the side (36 places at 80 %, 64 at
70 %) and the search allows :data:`GRID_RADIUS` bits.  A window's plain (unturned) pHash is
separable: its 8 x 8 DCT coefficients are ``A_y T A_x^T`` with ``A`` the DCT rows times the
window's bilinear sampling along one axis (:func:`axis_maps`), so every place of a scale costs
two small matrix products per image (:func:`grid_hashes`).  The crop's own plain pHash and its
mirror's (:func:`plain_hashes`) are what a window's hash is searched against: a crop that is
not turned, or mirrored.

:func:`window_matches` finds the windows' hashes near the crops' (references expanded by up to
two flipped bits in one of three blocks: the references are the small side).  :func:`crop_scores`
verifies a candidate on the source's thumbnail grid: the crop's thumbnail reduced by area
averaging to the window's size (``h`` and ``h +- 1`` pixels), against the source's windows at
every whole-pixel place within :data:`PLACE_SLACK` of the matched one, then refined by half a
pixel: the best Pearson correlation of the pixels, and at that place of their detail at half and
full size and the smaller grey spread.  Nothing is upsampled: a window of 22 px drawn up to 32
loses the detail the crop's own thumbnail holds.

Example:
    >>> rng = np.random.default_rng(0)
    >>> big = rng.normal(128, 40, (1, 64, 64)).clip(0, 255)
    >>> a, b = area_matrix(32, 64), area_matrix(32, 40)
    >>> source = a @ big @ a.T  # a 64 px picture's thumbnail, and its 40 px crop at (12, 4)'s
    >>> crop = b @ big[:, 12:52, 4:44] @ b.T
    >>> plain, detail, fine, spread = crop_scores(source, (0.625, 12 / 64, 4 / 64), crop, np.array([False]))
    >>> bool(plain[0] > 0.9), bool(spread[0] > 8)
    (True, True)
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .align import area_matrix
from .kernels import HASH_SIZE, dct_bits
from .thumbs import THUMB_SIDE

__all__ = [
    "BLOCK_PLANS",
    "EXACT_REFS",
    "GRID",
    "GRID_RADIUS",
    "HALVES_RADIUS",
    "IMAGES_PER_STEP",
    "PLACE_SLACK",
    "REFINE",
    "axis_maps",
    "block_join",
    "busy_share",
    "crop_scores",
    "cross_matches",
    "grid_hashes",
    "grid_views",
    "plain_hashes",
    "resize_area",
    "search_plan",
    "window_matches",
]

#: the windows hashed: ``(scale, places per axis)``, the places spread evenly from the edge to
#: the other edge (80 %: every 4 % of the side, 70 %: every 4.3 %)
GRID: tuple[tuple[float, int], ...] = ((0.8, 6), (0.7, 8))
#: the Hamming radius of the window search: a crop 2 % of the side from the nearest grid place
#: hashes up to ~8 bits from it (docs/duplicates.md, "Off-centre crops")
GRID_RADIUS = 8
#: whole thumbnail pixels around the matched place :func:`crop_scores` tries each way
PLACE_SLACK = 2


def grid_views() -> list[tuple[float, float, float]]:
    """``(scale, off_y, off_x)`` of every window of :data:`GRID`, in :func:`grid_hashes`' order."""
    out = []
    for scale, n in GRID:
        offs = np.linspace(0.0, 1.0 - scale, n)
        out += [(scale, float(oy), float(ox)) for oy in offs for ox in offs]
    return out


@functools.lru_cache(maxsize=16)
def axis_maps(scale: float, n: int) -> np.ndarray:
    """``(n * 8, S)`` float64: for each of ``n`` places of a ``scale`` window along one axis
    (offsets ``linspace(0, 1 - scale, n)``), the 8 lowest unnormalised DCT-II rows (the pchash's)
    of the window sampled bilinearly from the thumbnail's ``S`` pixels at the window's own ``S``
    pixel centres (coordinates clipped to the square, as
    :func:`~dataeval_gpu.functional.hashing.windows.view_samples`)."""
    s = THUMB_SIDE
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    dct = 2.0 * np.cos(np.pi * k * (2.0 * np.arange(s)[None, :] + 1.0) / (2.0 * s))  # (8, S)
    out = []
    for off in np.linspace(0.0, 1.0 - scale, n):
        c = np.clip((off + scale * (np.arange(s) + 0.5) / s) * s - 0.5, 0.0, s - 1.0)
        i0 = np.minimum(np.floor(c).astype(np.int64), s - 2)
        f = c - i0
        sample = np.zeros((s, s))
        sample[np.arange(s), i0] += 1.0 - f
        sample[np.arange(s), i0 + 1] += f
        out.append(dct @ sample)
    return np.concatenate(out, axis=0)


def _thumbs8(thumbs: np.ndarray | torch.Tensor) -> np.ndarray:
    """The thumbnails as they are stored (no float copy), ``(N, S, S)``."""
    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    return t.reshape(-1, THUMB_SIDE, THUMB_SIDE)


def _thumbs64(thumbs: np.ndarray | torch.Tensor) -> np.ndarray:
    t = thumbs.cpu().numpy() if isinstance(thumbs, torch.Tensor) else np.asarray(thumbs)
    return t.astype(np.float64).reshape(-1, THUMB_SIDE, THUMB_SIDE)


#: thumbnails hashed per step of :func:`grid_hashes` (memory: a step's coefficients and their
#: median bits, ~120 KB an image: 2,048 a step peaked at ~250 MB)
IMAGES_PER_STEP = 512


def _step(t: np.ndarray, rows: np.ndarray | None, s: int) -> np.ndarray:
    """Step ``s`` (:data:`IMAGES_PER_STEP` thumbnails) of ``t``, or of ``t[rows]`` (not all copied)."""
    return _thumbs64(t[s : s + IMAGES_PER_STEP] if rows is None else t[rows[s : s + IMAGES_PER_STEP]])


def grid_hashes(thumbs: np.ndarray | torch.Tensor, rows: np.ndarray | None = None) -> torch.Tensor:
    """``(N, G)`` int64: the plain pHash (the pchash's median bits of the 8 x 8 lowest DCT
    coefficients, no turn) of each window of :func:`grid_views` of each ``(S, S)`` thumbnail,
    :data:`IMAGES_PER_STEP` thumbnails at a time (``rows``: of ``thumbs[rows]``, taken a step at a time)."""
    t = _thumbs8(thumbs)  # float64 a step at a time (every thumbnail at once: 8 KB an image)
    n = len(t) if rows is None else len(rows)
    out = torch.zeros((n, sum(k * k for _, k in GRID)), dtype=torch.int64)
    for s in range(0, n, IMAGES_PER_STEP):
        part = _step(t, rows, s)
        m, col = len(part), 0
        for scale, k in GRID:
            a = axis_maps(scale, k)  # (k * 8, S)
            c = a @ part @ a.T  # (m, k*8, k*8): rows along y, columns along x
            c = c.reshape(m, k, HASH_SIZE, k, HASH_SIZE).transpose(0, 1, 3, 2, 4)
            out[s : s + m, col : col + k * k] = dct_bits(torch.from_numpy(np.ascontiguousarray(c))).reshape(
                m, k * k
            )
            col += k * k
    return out


def plain_hashes(thumbs: np.ndarray | torch.Tensor, rows: np.ndarray | None = None) -> torch.Tensor:
    """``(N, 2)`` int64: each thumbnail's plain pHash and its left-right mirror's (a mirror flips
    the sign of the odd DCT columns; ``rows``: of ``thumbs[rows]``, a step at a time)."""
    t = _thumbs8(thumbs)
    a = axis_maps(1.0, 1)  # the whole square: the DCT rows
    alt = 1.0 - 2.0 * (np.arange(HASH_SIZE) % 2)
    n = len(t) if rows is None else len(rows)
    out = torch.zeros((n, 2), dtype=torch.int64)
    for s in range(0, n, IMAGES_PER_STEP):  # float64 a step at a time
        c = a @ _step(t, rows, s) @ a.T  # (n, 8, 8)
        out[s : s + len(c)] = dct_bits(torch.from_numpy(np.stack([c, c * alt[None, None, :]], axis=1)))
    return out


def resize_area(x: np.ndarray, h: int) -> np.ndarray:
    """``(P, h, h)`` float64: ``(P, S, S)`` images reduced to ``h x h`` by area averaging."""
    a = area_matrix(h)
    return a @ np.asarray(x, dtype=np.float64) @ a.T


def _box_detail(x: np.ndarray) -> np.ndarray:
    """``(..., h, w)``: each pixel minus the mean of its 3 x 3 box (edges held)."""
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = x.shape[-2:]
    box = sum(p[..., dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return x - box


def _pearson_last(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over the last axis (-1 where either is constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    return np.where(den > 1e-9, (a * b).sum(axis=-1) / np.maximum(den, 1e-12), -1.0)


def _sample_rows(starts: np.ndarray, h: int, step: float) -> np.ndarray:
    """``(*starts.shape, h, S)``: bilinear weights sampling ``h`` pixels ``step`` apart from each
    start (thumbnail pixel coordinates of the first sample's centre), clipped to the square."""
    s = THUMB_SIDE
    c = np.clip(starts[..., None] + step * np.arange(h), 0.0, s - 1.0)[..., None]
    i0 = np.minimum(np.floor(c), s - 2)
    cols = np.arange(s, dtype=np.float64)
    return np.where(cols == i0, 1.0 - (c - i0), 0.0) + np.where(cols == i0 + 1, c - i0, 0.0)


def _half(x: np.ndarray) -> np.ndarray:
    """``(P, m, m)``: 2 x 2 means of ``(P, h, h)`` images (an odd last row and column dropped)."""
    m = x.shape[-1] // 2
    return x[:, : 2 * m, : 2 * m].reshape(len(x), m, 2, m, 2).mean(axis=(2, 4))


#: the sub-pixel steps around the best whole-pixel place :func:`crop_scores` refines over
REFINE: tuple[float, ...] = (-0.5, 0.0, 0.5)


def crop_scores(
    source: np.ndarray, view: tuple[float, float, float], crops: np.ndarray, mirrored: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(plain, detail, fine, spread)``, ``(P,)`` float64: how well each crop's thumbnail (``crops``,
    ``(P, S, S)``; left-right mirrored first where ``mirrored``) is the window ``view`` =
    ``(scale, off_y, off_x)`` of its source's thumbnail (``source``, ``(P, S, S)``), on the
    source's thumbnail grid: the crop reduced by area averaging to ``h = round(scale S)`` pixels
    and ``h +- 1``, the best whole-pixel ``h x h`` window within :data:`PLACE_SLACK` of the view's
    place, then that size and place refined by :data:`REFINE` of a pixel each way (bilinear); the
    best Pearson correlation of the pixels (``plain``), and at that place of their detail at half
    size (2 x 2 means minus their 3 x 3 box mean, ``detail``) and at full size (each pixel minus
    its 3 x 3 box mean, ``fine``), and the smaller of the two grey standard deviations (``spread``,
    levels: a nearly flat picture correlates by its noise)."""
    s = THUMB_SIDE
    src = np.asarray(source, dtype=np.float64).reshape(-1, s, s)
    crop = np.asarray(crops, dtype=np.float64).reshape(-1, s, s)
    crop = np.where(np.asarray(mirrored, dtype=bool)[:, None, None], crop[:, :, ::-1], crop)
    p, rows = len(src), np.arange(len(src))
    scale, oy, ox = view
    best = np.full(p, -np.inf)
    at_h, at_y, at_x = np.zeros(p, dtype=np.int64), np.zeros(p), np.zeros(p)
    sizes = sorted({max(3, min(s, round(scale * s) + d)) for d in (-1, 0, 1)})
    for h in sizes:  # whole-pixel places: every window by a sliding view
        small = resize_area(crop, h).reshape(p, 1, -1)
        y0, x0 = round(oy * s + (scale * s - h) / 2), round(ox * s + (scale * s - h) / 2)
        ys = np.arange(max(0, y0 - PLACE_SLACK), min(s - h, y0 + PLACE_SLACK) + 1)
        xs = np.arange(max(0, x0 - PLACE_SLACK), min(s - h, x0 + PLACE_SLACK) + 1)
        win = np.lib.stride_tricks.sliding_window_view(src, (h, h), axis=(1, 2))[:, ys][:, :, xs]
        score = _pearson_last(win.reshape(p, len(ys) * len(xs), h * h), small)
        k = score.argmax(axis=1)
        top = score[rows, k]
        better = top > best
        best = np.where(better, top, best)
        at_h = np.where(better, h, at_h)
        at_y, at_x = np.where(better, ys[k // len(xs)], at_y), np.where(better, xs[k % len(xs)], at_x)
    plain, detail, fine, spread = np.full(p, -1.0), np.full(p, -1.0), np.full(p, -1.0), np.zeros(p)
    r = np.asarray(REFINE)
    for h in sizes:  # sub-pixel places around the best, each window sampled bilinearly
        q = np.nonzero(at_h == h)[0]
        if not q.size:
            continue
        small = resize_area(crop[q], h)
        ry = _sample_rows(at_y[q, None] + r, h, 1.0)  # (Q, k, h, S)
        rx = _sample_rows(at_x[q, None] + r, h, 1.0)
        k = len(r)
        w = ry.reshape(q.size, k * h, s) @ src[q] @ rx.reshape(q.size, k * h, s).transpose(0, 2, 1)
        w = w.reshape(q.size, k, h, k, h).transpose(0, 1, 3, 2, 4).reshape(q.size, k * k, h * h)
        score = _pearson_last(w, small.reshape(q.size, 1, -1))
        j = score.argmax(axis=1)
        plain[q] = score[np.arange(q.size), j]
        win = w[np.arange(q.size), j].reshape(q.size, h, h)
        fine[q] = _pearson_last(_box_detail(win).reshape(q.size, -1), _box_detail(small).reshape(q.size, -1))
        detail[q] = _pearson_last(
            _box_detail(_half(win)).reshape(q.size, -1), _box_detail(_half(small)).reshape(q.size, -1)
        )
        spread[q] = np.minimum(win.reshape(q.size, -1).std(axis=1), small.reshape(q.size, -1).std(axis=1))
    return plain, detail, fine, spread


#: the block plans of :func:`window_matches`: ``(rotation, shift, width)`` of each block (the
#: hash rotated left by ``rotation`` bits, then ``width`` bits from ``shift``).  ``"exact"``: three
#: blocks of 21-22 bits; two hashes within 8 bits differ by at most 2 in one of them (pigeonhole),
#: so every pair within the radius is found, but a random pair passes a block by chance ~1e-4, and
#: the candidates grow as ~0.05-0.1 N^2 (N images searched: 100 windows against 2 references
#: each).  ``"rotated"``: the two 32-bit halves of the hash rotated by 0, 8, 16 and 24 bits (8
#: blocks); exact up to 5 bits, a pair 6-8 bits apart found when one of the 8 blocks holds at
#: most 2 of its differences; a random pair passes by chance ~1e-6, so the cost is the
#: references' keys (~8,500 an image, linear in N) up to ~10^7 images (docs/duplicates.md,
#: "Off-centre crops at scale")
BLOCK_PLANS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "exact": ((0, 42, 22), (0, 21, 21), (0, 0, 21)),
    "rotated": tuple((r, s, 32) for r in (0, 8, 16, 24) for s in (32, 0)),
    # the two 32-bit halves alone: every pair within 5 bits (one half differs by at most 2), a random
    # pair passing by chance ~2.5e-7: the window views' and turns' search (:func:`cross_matches`)
    "halves32": ((0, 32, 32), (0, 0, 32)),
}
#: the largest radius the ``"halves32"`` plan finds every pair within
HALVES_RADIUS = 5
#: distinct reference hashes up to which :func:`window_matches` runs the ``"exact"`` plan (about
#: 20,000 images searched, where the two plans cost about the same); above it ``"rotated"``
EXACT_REFS = 40_000
#: references expanded per step of :func:`window_matches` (memory: their flipped keys)
REFS_PER_STEP = 4096
#: candidate pairs checked per step of :func:`window_matches` (memory: ~40 bytes a candidate);
#: a single key matching more probes is checked in one step
PAIRS_PER_STEP = 1 << 21


def search_plan(n_refs: int) -> str:
    """The :data:`BLOCK_PLANS` key :func:`window_matches` uses for ``n_refs`` distinct references."""
    return "exact" if n_refs <= EXACT_REFS else "rotated"


@functools.lru_cache(maxsize=4)
def _flips(width: int) -> np.ndarray:
    """Every mask of ``width`` bits with at most two bits set (0 first)."""
    one = [1 << b for b in range(width)]
    return np.array(
        [0, *one, *((1 << a) | (1 << b) for a in range(width) for b in range(a + 1, width))], dtype=np.int64
    )


def _rotl(h: np.ndarray, rot: int) -> np.ndarray:
    """int64 hashes rotated left by ``rot`` bits."""
    if not rot:
        return h
    u = h.view(np.uint64)
    return ((u << np.uint64(rot)) | (u >> np.uint64(64 - rot))).view(np.int64)


def _presence(sorted_blocks: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """``(bitmap, drop)``: a bit for each value of a block's top ``width - drop`` bits (all of
    them up to 2^24 values, else ~16 bits a probe), set where some probe's block has it.  The
    sorted blocks (uint32) are read :data:`KEYS_PER_STEP` at a time (memory: the bitmap and a
    step, not ~40 bytes a probe of int64 copies)."""
    bits = min(width, max(24, int(np.ceil(np.log2(16 * max(sorted_blocks.size, 1))))))
    drop = np.uint32(width - bits)
    present = np.zeros((1 << bits) >> 3 or 1, dtype=np.uint8)
    for s in range(0, sorted_blocks.size, KEYS_PER_STEP):
        top = sorted_blocks[s : s + KEYS_PER_STEP].astype(np.uint32, copy=False) >> drop
        at = top >> np.uint32(3)
        first = np.flatnonzero(np.concatenate([[True], at[1:] != at[:-1]]))  # sorted: each byte's run
        bit = np.left_shift(1, top & np.uint32(7)).astype(np.uint8)
        present[at[first]] |= np.bitwise_or.reduceat(bit, first)
    return present, int(drop)


#: probes whose blocks :func:`block_join` computes, and :func:`_presence` / :func:`window_matches`
#: read, per step (memory: a step's int64 temporaries instead of ~40 bytes a probe at once)
KEYS_PER_STEP = 1 << 20


def _sorted_blocks(h: np.ndarray, rot: int, shift: int, mask: int) -> tuple[np.ndarray, np.ndarray]:
    """``(blocks, order)``, ``(N,)`` uint32 each: block ``(rot, shift, mask)`` of each int64 hash,
    sorted, and the hashes' indices in that order (equal blocks in index order: a stable argsort).
    One uint64 key ``block << 32 | index`` per hash, computed :data:`KEYS_PER_STEP` at a time and
    sorted in place: 16 bytes a hash at the peak, where the blocks' int64 copies, a stable argsort
    (int64) and the sorted copy held ~40."""
    key = np.empty(h.size, dtype=np.uint64)
    for s in range(0, h.size, KEYS_PER_STEP):
        part = (_rotl(h[s : s + KEYS_PER_STEP], rot) >> shift) & mask
        index = np.arange(s, s + part.size, dtype=np.uint64)
        key[s : s + part.size] = (part.astype(np.uint64) << np.uint64(32)) | index
    key.sort()
    blocks, order = np.empty(h.size, dtype=np.uint32), np.empty(h.size, dtype=np.uint32)
    for s in range(0, h.size, KEYS_PER_STEP):
        blocks[s : s + KEYS_PER_STEP] = key[s : s + KEYS_PER_STEP] >> np.uint64(32)
        order[s : s + KEYS_PER_STEP] = key[s : s + KEYS_PER_STEP] & np.uint64(0xFFFFFFFF)
    return blocks, order


def _steps(n: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of ``n`` (candidates per key) holding at most ``limit`` candidates
    each (a key with more alone)."""
    cs = np.cumsum(n)
    out, s = [], 0
    while s < n.size:
        e = max(s + 1, int(np.searchsorted(cs, (cs[s - 1] if s else 0) + limit, "right")))
        out.append((s, e))
        s = e
    return out


def block_join(ua: np.ndarray, ub: np.ndarray, radius: int, plan: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(va, vb, candidates)``: the distinct value pairs (indices into ``ua`` and ``ub``, int64
    hashes, sorted by ``va * ub.size + vb``) within Hamming ``radius`` that the block ``plan``
    (:data:`BLOCK_PLANS`) finds, and how many candidate pairs it checked.  Each block of the
    references is expanded by every flip of up to two bits, :data:`REFS_PER_STEP` references at a
    time, tested against a bitmap of the probes' blocks (:func:`_presence`) and the keys present
    looked up among the probes' sorted blocks; the candidates are checked
    :data:`PAIRS_PER_STEP` at a time (memory does not grow with the candidates).  ``ua`` may repeat
    values (:func:`cross_matches` passes its probes as they are): the pairs are then of indices."""
    found, cand = [], 0
    for rot, shift, width in BLOCK_PLANS[plan]:
        mask = (1 << width) - 1
        fl = _flips(width).astype(np.uint32)  # blocks of at most 32 bits: half the bytes to move
        if ua.size >= 2**32:
            raise ValueError(f"at most 2^32 - 1 probes, got {ua.size}")
        pk, po = _sorted_blocks(ua, rot, shift, mask)  # uint32 each: the probes' blocks sorted, their order
        present, drop = _presence(pk, width)
        for r in range(0, ub.size, REFS_PER_STEP):
            rb = np.arange(r, min(ub.size, r + REFS_PER_STEP))
            keys = (((_rotl(ub[rb], rot) >> shift) & mask).astype(np.uint32)[:, None] ^ fl[None, :]).ravel()
            top = keys >> np.uint32(drop)  # the bitmap first: most keys of a large plan match no probe
            hit = np.nonzero((present[top >> np.uint32(3)] >> (top & np.uint32(7)).astype(np.uint8)) & 1)[0]
            keys, owner = keys[hit], rb[hit // fl.size]
            lo = np.searchsorted(pk, keys, "left")
            n = np.searchsorted(pk, keys, "right") - lo
            hit = np.nonzero(n)[0]
            lo, n, owner = lo[hit], n[hit], owner[hit]
            cand += int(n.sum())
            for s, e in _steps(n, PAIRS_PER_STEP):
                m = n[s:e]
                t = int(m.sum())
                a = po[np.repeat(lo[s:e] - np.cumsum(m) + m, m) + np.arange(t)].astype(np.int64)
                b = np.repeat(owner[s:e], m)
                close = np.bitwise_count((ua[a] ^ ub[b]).view(np.uint64)) <= radius
                found.append(a[close] * ub.size + b[close])
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return pairs // max(ub.size, 1), pairs % max(ub.size, 1), cand


def window_matches(
    probes: np.ndarray, refs: np.ndarray, radius: int = GRID_RADIUS, plan: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: every pair of a probe hash ``probes[a]`` and a reference hash ``refs[b]`` (int64)
    within Hamming ``radius`` (at most 8) that the block ``plan`` finds (:func:`block_join`; by
    default :func:`search_plan` of the distinct references: ``"exact"``, every pair, up to
    :data:`EXACT_REFS`, then ``"rotated"``).  The references are the small side: an image's two
    whole hashes against its 100 windows' hashes."""
    if not 0 <= radius <= 8:
        raise ValueError(f"radius must be in 0..8, got {radius}")
    probes, refs = np.asarray(probes, dtype=np.int64).ravel(), np.asarray(refs, dtype=np.int64).ravel()
    ua = np.unique(probes)  # no inverse: ~30 bytes a probe more; the members are found for the matches only
    ub = np.unique(refs)
    plan = search_plan(ub.size) if plan is None else plan
    if plan not in BLOCK_PLANS:
        raise ValueError(f"plan must be one of {sorted(BLOCK_PLANS)}, got {plan!r}")
    va, vb, _ = block_join(ua, ub, radius, plan)
    if not va.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # members: every probe with value va (in index order within a value), every reference with value vb
    ma = _members(probes, ua[np.unique(va)])
    ka = np.searchsorted(ua, probes[ma])
    oa = ma[np.argsort(ka, kind="stable")]
    ka = np.sort(ka, kind="stable")
    lo_a = np.searchsorted(ka, va, "left")
    na = np.searchsorted(ka, va, "right") - lo_a
    rb = np.searchsorted(ub, refs)
    ob = np.argsort(rb, kind="stable")
    sb = np.searchsorted(rb[ob], np.arange(ub.size + 1))
    nb = sb[vb + 1] - sb[vb]
    cnt = na * nb
    pid = np.repeat(np.arange(va.size), cnt)
    off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    a = oa[lo_a[pid] + off // nb[pid]]
    b = ob[sb[vb][pid] + off % nb[pid]]
    return a, b


def _members(h: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(M,)`` int64, ascending: the indices of the hashes ``h`` whose value is one of ``values``
    (sorted, distinct), :data:`KEYS_PER_STEP` hashes at a time."""
    if not values.size:
        return np.zeros(0, dtype=np.int64)
    out = []
    for s in range(0, h.size, KEYS_PER_STEP):
        part = h[s : s + KEYS_PER_STEP]
        at = np.minimum(np.searchsorted(values, part), values.size - 1)
        out.append(np.flatnonzero(values[at] == part) + s)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def cross_matches(probes: np.ndarray, refs: np.ndarray, radius: int) -> np.ndarray:
    """``(P, 2)`` int64 ``[a, b]``, sorted lexicographically: every pair of ``probes[a]`` and
    ``refs[b]`` (int64 hashes) within Hamming ``radius``, the pairs of
    :func:`~dataeval_gpu.functional.hashing.groups.cross_pairs` (which a radius over
    :data:`HALVES_RADIUS` still runs).  Up to it by :func:`window_matches`' ``"halves32"`` plan: the references (the small side: the
    images' whole hashes) expanded by every flip of up to two bits in each 32-bit half, looked up
    among the probes' sorted halves (the window views' or the turns' hashes, ~100 or 8 an image).
    Time linear in the hashes up to ~10^7 images (random pairs pass a half by chance ~2.5e-7),
    memory the probes' sorted halves (~24 bytes a probe) plus bounded steps: no search among the probes
    themselves, which the joined search of both sets made (~2.4e-3 N^2 candidates for N images
    with ~97 probes each: docs/duplicates.md, "Window views at scale")."""
    probes, refs = np.asarray(probes, dtype=np.int64).ravel(), np.asarray(refs, dtype=np.int64).ravel()
    if radius > HALVES_RADIUS:
        from .groups import cross_pairs

        return cross_pairs(torch.from_numpy(probes), torch.from_numpy(refs), radius).numpy()
    if radius < 0:
        raise ValueError(f"radius must be in 0..64, got {radius}")
    # the probes as they are (no distinct values: their sort, inverse and order cost ~30 bytes a
    # probe more, and a value repeated among them pairs as often either way), the references' values
    ub, ib = np.unique(refs, return_inverse=True)
    a, vb, _ = block_join(probes, ub, radius, "halves32")
    ob = np.argsort(ib, kind="stable")  # every reference holding value vb
    sb = np.searchsorted(ib[ob], np.arange(ub.size + 1))
    nb = sb[vb + 1] - sb[vb]
    off = np.arange(int(nb.sum())) - np.repeat(np.cumsum(nb) - nb, nb)
    a, b = np.repeat(a, nb), ob[np.repeat(sb[vb], nb) + off]
    order = np.lexsort((b, a))
    return np.stack([a[order], b[order]], axis=1).astype(np.int64)


def busy_share(
    thumbs: np.ndarray | torch.Tensor, level: float = 1.0, rows: np.ndarray | None = None
) -> np.ndarray:
    """``(N,)``: the share of each thumbnail's pixels that differ from their 3 x 3 box mean by
    ``level`` grey levels or more (a photo's 0.4-0.97; a flag's or a striped design's, whose
    windows equal other designs, 0.1-0.35; ``rows``: of ``thumbs[rows]``, a step at a time)."""
    t = _thumbs8(thumbs)
    out = np.zeros(len(t) if rows is None else len(rows))
    for s in range(0, out.size, IMAGES_PER_STEP):  # a step at a time: all at once held ~40 KB an image
        out[s : s + IMAGES_PER_STEP] = (np.abs(_box_detail(_step(t, rows, s))) >= level).mean(axis=(1, 2))
    return out
