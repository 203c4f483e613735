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

:func:`~dataeval_gpu.functional.hashing.block_search.window_matches` finds the windows' hashes
near the crops' (references expanded by up to two flipped bits in one of three blocks: the
references are the small side).  :func:`crop_scores`
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
    "GRID",
    "GRID_RADIUS",
    "IMAGES_PER_STEP",
    "PLACE_SLACK",
    "REFINE",
    "axis_maps",
    "busy_share",
    "crop_scores",
    "grid_hashes",
    "grid_views",
    "plain_hashes",
    "resize_area",
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
    """The thumbnails as float64, ``(N, S, S)``."""
    return _thumbs8(thumbs).astype(np.float64)


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
