"""The picture inside uniform bars: its box on the thumbnail, its pHashes, and whether another
image's thumbnail is that picture.

A photo letterboxed or pillarboxed to another shape (black bars to 2.35:1), padded to a square
with white bars, or set on a plain canvas is a copy of the photo, but its whole thumbnail
(:mod:`~dataeval_gpu.functional.hashing.thumbs`) holds the bars too: it hashes 12-40 bits from
its source, and no central crop or window of :mod:`~.windows` / :mod:`~.offcentre` is the box the
picture fills.  The box is found on the thumbnail itself: from each side, the lines (rows or
columns) that are one grey level within :data:`FLAT_TOL` of the outermost line's median are a
bar when there are :data:`MIN_BAR` of them or more; the bar's edge is placed to a fraction of a
pixel by fitting the first lines past it with a step blurred by the thumbnail's resize kernel
(Lanczos-3 in thumbnail pixels: :func:`edge_position`).  The box's pHash is sampled from the
thumbnail (bilinear, as :mod:`~.offcentre`'s windows) at a few places around the fitted edges
(:data:`PROBE_OFFSETS`: the fit is good to about half a pixel), and :func:`content_scores`
compares another image's thumbnail, reduced by area averaging to the box's size, with the box
at places around it.

Example:
    >>> rng = np.random.default_rng(0)
    >>> t = np.zeros((1, 32, 32), dtype=np.uint8)
    >>> t[0, :, 6:26] = rng.integers(20, 230, (32, 20))  # a picture between two black bars
    >>> boxes, active = content_boxes(t)
    >>> [round(float(v)) for v in boxes[0]], active[0].tolist()
    ([0, 32, 6, 26], [False, False, True, True])
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import torch

from .align import area_matrix
from .kernels import HASH_SIZE, dct_bits
from .thumbs import THUMB_SIDE

__all__ = [
    "FLAT_TOL",
    "FRAME_SHAPE_TOL",
    "FRAME_TOL",
    "MIN_BAR",
    "MIN_BOX",
    "PROBE_OFFSETS",
    "SCORE_OFFSETS",
    "SHAPE_TOL",
    "box_shape",
    "content_boxes",
    "content_hashes",
    "content_scores",
    "edge_position",
]

#: grey levels (of 255) a thumbnail line may stray from the outermost line's median and still be
#: a bar: a bar is one colour, and a thumbnail averages a JPEG's noise away
FLAT_TOL = 2.0
#: flat lines from a side that make a bar (6 % of the side: a photo's own flat edge - a white sky,
#: a black night - rarely spans two whole lines of its thumbnail; one line is a frame's ringing)
MIN_BAR = 2
#: a frame: where every side's outermost line lies within this many grey levels of one level (the
#: flattest side's median), each side is a bar of at least that one line, at that level.  A frame of
#: 4-8 % of the side is 1-2.5 thumbnail lines, and the resize kernel's lobes carry a few levels of
#: the picture into the outermost line (up to 12 on a frame's narrower sides)
FRAME_TOL = 12.0
#: the box's smallest side in thumbnail pixels (a quarter of the thumbnail): a picture squeezed
#: into fewer pixels holds too little for its pHash
MIN_BOX = 8.0
#: the places (thumbnail pixels, each bar's edge moved by these) whose pHashes are searched: the
#: fitted edge is good to about half a pixel, and a pHash moves ~4-8 bits with a half-pixel shift
#: of a 20-pixel box's edge
PROBE_OFFSETS: tuple[float, ...] = (-0.5, 0.0, 0.5)
#: the places :func:`content_scores` tries around each fitted edge (whole quarter pixels)
SCORE_OFFSETS: tuple[float, ...] = (-0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75)
#: how far (natural log of the aspect) the box's shape, in the framed image's pixels, may lie
#: from the other image's: a padded copy holds its picture at the picture's shape (the box's edges
#: are fitted to ~0.15 thumbnail pixels, ~1 % of a 20-pixel box; half a pixel each way is 5 %)
SHAPE_TOL = 0.06
#: :data:`SHAPE_TOL` for a box in a frame (a bar on all four sides): a photo scaled into a frame
#: of its own size changes shape (an 8 % frame on a 16 : 9 photo: 8 %)
FRAME_SHAPE_TOL = 0.1
#: the resize kernel's support (thumbnail pixels) on either side: Lanczos-3 when shrinking
_SUPPORT = 3.0


def _box_detail(x: np.ndarray) -> np.ndarray:
    """``(..., h, w)``: each pixel minus the mean of its 3 x 3 box (edges held)."""
    p = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    h, w = x.shape[-2:]
    return x - sum(p[..., dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0


def _pearson_last(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation over the last axis (-1 where either is constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    return np.where(den > 1e-9, (a * b).sum(axis=-1) / np.maximum(den, 1e-12), -1.0)


@functools.lru_cache(maxsize=1)
def _step_table() -> tuple[np.ndarray, np.ndarray]:
    """``(u, cdf)``: the Lanczos-3 kernel's running integral (normalised to 1), sampled finely:
    the response of a resize to a step ``u`` thumbnail pixels before a pixel's centre."""
    u = np.linspace(-_SUPPORT, _SUPPORT, 6001)
    k = np.sinc(u) * np.sinc(u / _SUPPORT)
    c = np.cumsum(k)
    return u, c / c[-1]


def edge_position(lines: np.ndarray, flat: int, level: float) -> float:
    """Where a bar of grey ``level`` ends (thumbnail pixels from the side), from ``lines``
    (``(S, S)``: the thumbnail's lines from that side, the first ``flat`` of them the bar's): the
    place ``e`` in ``[flat - 1, flat + 3]`` (steps of 0.05) whose blurred step ``c W(i + 0.5 - e)``
    (``W`` the kernel's running integral, ``c`` fitted by least squares) best fits the lines'
    mean difference from ``level`` over the bar's last line and four past it."""
    s = lines.shape[0]
    first = max(flat - 1, 0)
    n = min(s, flat + 5)
    d = (np.asarray(lines[first:n], dtype=np.float64) - level).mean(axis=1)
    u, cdf = _step_table()
    e = flat + np.arange(-1.0, 3.0001, 0.05)
    w = np.interp(np.arange(first, n)[None, :] + 0.5 - e[:, None], u, cdf, left=0.0, right=1.0)
    c = (w @ d) / np.maximum((w * w).sum(axis=1), 1e-12)
    err = ((d[None, :] - c[:, None] * w) ** 2).sum(axis=1)
    return float(e[int(np.argmin(err))])


def _flat_lines(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, level, framed)``: ``(N, 4)`` each, for each side (top, bottom, left, right) of each
    ``(S, S)`` thumbnail, how many lines from that side are within :data:`FLAT_TOL` of the
    outermost line's median grey, and that median; ``(N,)``: whether the thumbnail is in a frame,
    every side's outermost line within :data:`FRAME_TOL` of the flattest one's median (all
    thumbnails at once).  A framed thumbnail's side of fewer than :data:`MIN_BAR` flat lines
    counts one, at the frame's level."""
    s = t.shape[-1]
    sides = (t, t[:, ::-1], t.transpose(0, 2, 1), t.transpose(0, 2, 1)[:, ::-1])
    ks, levels, edge = [], [], []
    for lines in sides:
        level = np.median(lines[:, 0], axis=1)  # (N,)
        dev = np.abs(lines - level[:, None, None]).max(axis=2)  # (N, S): each line's farthest pixel
        off = dev > FLAT_TOL  # a line off the bar
        ks.append(np.where(off.any(axis=1), off.argmax(axis=1), s))
        levels.append(level)
        edge.append(dev[:, 0])
    k, level = np.stack(ks, axis=1), np.stack(levels, axis=1)
    common = np.take_along_axis(level, np.stack(edge, axis=1).argmin(axis=1)[:, None], axis=1)  # (N, 1)
    far = np.stack([np.abs(v[:, 0] - common).max(axis=1) for v in sides], axis=1)  # (N, 4)
    framed = (far <= FRAME_TOL).all(axis=1)
    thin = framed[:, None] & (k < MIN_BAR)  # a frame's side under a bar: one line, the frame's level
    return np.where(thin, 1, k), np.where(thin, common, level), framed


def content_boxes(thumbs: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes, active)``: ``(N, 4)`` float64 ``[y0, y1, x0, x1]`` (thumbnail pixels) of the
    picture inside each ``(S, S)`` thumbnail's bars, and ``(N, 4)`` bool: which sides (top,
    bottom, left, right) have a bar.  A thumbnail in a frame (:func:`_flat_lines`) has a bar on
    every side; one without a bar (no side with :data:`MIN_BAR` flat lines, no frame), or whose
    box would be under :data:`MIN_BOX` a side, has no active side and the whole square as its box."""
    s = THUMB_SIDE
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs).reshape(-1, s, s)
    boxes = np.tile(np.array([0.0, s, 0.0, s]), (len(t), 1))
    active = np.zeros((len(t), 4), dtype=bool)
    if not len(t):
        return boxes, active
    flat, level, framed = _flat_lines(t.astype(np.float32))
    for n in np.nonzero((flat >= MIN_BAR).any(axis=1) | framed)[0]:  # the few with a bar: each edge fitted
        x = t[n].astype(np.float64)
        sides = (x, x[::-1], x.T, x.T[::-1])
        on = np.ones(4, dtype=bool) if framed[n] else flat[n] >= MIN_BAR
        e = [
            edge_position(v, int(k), float(lv)) if a else 0.0
            for v, k, lv, a in zip(sides, flat[n], level[n], on)
        ]
        box = np.array([e[0], s - e[1], e[2], s - e[3]])
        if min(box[1] - box[0], box[3] - box[2]) >= MIN_BOX:
            boxes[n], active[n] = box, on
    return boxes, active


def box_shape(box: np.ndarray, aspect: float) -> float:
    """The natural log of the width / height of ``box`` (``[y0, y1, x0, x1]``, thumbnail pixels)
    in the pixels of an image of shape ``aspect`` (its width / height)."""
    return float(np.log(max(box[3] - box[2], 1e-9) / max(box[1] - box[0], 1e-9) * aspect))


def _sampling(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``(*a.shape, n, S)``: bilinear weights sampling ``n`` pixel centres evenly over ``[a, b)``
    (thumbnail pixel coordinates of the box's edges), clipped to the square (edges held)."""
    s = THUMB_SIDE
    a, b = np.asarray(a, dtype=np.float64)[..., None], np.asarray(b, dtype=np.float64)[..., None]
    c = np.clip(a + (b - a) * (np.arange(n) + 0.5) / n - 0.5, 0.0, s - 1.0)[..., None]
    i0 = np.minimum(np.floor(c), s - 2)
    cols = np.arange(s, dtype=np.float64)
    return np.where(cols == i0, 1.0 - (c - i0), 0.0) + np.where(cols == i0 + 1, c - i0, 0.0)


@functools.lru_cache(maxsize=1)
def _dct_rows() -> np.ndarray:
    """``(8, S)``: the 8 lowest unnormalised DCT-II rows (the pchash's)."""
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    return 2.0 * np.cos(np.pi * k * (2.0 * np.arange(THUMB_SIDE)[None, :] + 1.0) / (2.0 * THUMB_SIDE))


def _variants(box: np.ndarray, on: np.ndarray) -> list[np.ndarray]:
    """``box``, and where an axis has a bar on both sides of unequal widths (more than half a
    pixel apart) also the box centred on that axis with both bars the narrower one's width:
    padding is centred, and a bar that runs on into a picture's own edge of its colour (a black
    night, a white sky) is wider than the padding."""
    out = [np.asarray(box, dtype=np.float64)]
    c = out[0].copy()
    for lo, hi in ((0, 1), (2, 3)):
        if on[lo] and on[hi]:
            a, b = c[lo], THUMB_SIDE - c[hi]
            if abs(a - b) > 0.5:
                c[lo], c[hi] = min(a, b), THUMB_SIDE - min(a, b)
    if not np.array_equal(c, out[0]):
        out.append(c)
    return out


def _places(box: np.ndarray, on: np.ndarray, offsets: tuple[float, ...]) -> np.ndarray:
    """``(K, 4)``: each of :func:`_variants` of ``box`` with each active side's edge moved inward
    by each of ``offsets`` (every combination; an inactive side stays)."""
    steps = [offsets if a else (0.0,) for a in on]
    d = np.array(list(itertools.product(*steps)))  # (K, 4): inward moves of top, bottom, left, right
    d = d * np.array([1.0, -1.0, 1.0, -1.0])
    return np.concatenate([v[None, :] + d for v in _variants(box, on)])


def content_hashes(
    thumbs: np.ndarray | torch.Tensor, boxes: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, owner)``: the plain pHash (no turn, the pchash's median bits) of the box of each
    thumbnail with an active side, at every place of :data:`PROBE_OFFSETS` around its edges
    (sampled bilinearly at ``S x S`` pixel centres), ``(K,)`` int64, and the row each belongs to."""
    s = THUMB_SIDE
    t = np.asarray(thumbs.cpu() if isinstance(thumbs, torch.Tensor) else thumbs, dtype=np.float64)
    t = t.reshape(-1, s, s)
    dct = _dct_rows()
    coeffs, owner = [], []
    for n in np.nonzero(np.asarray(active).any(axis=1))[0]:
        p = _places(np.asarray(boxes[n], dtype=np.float64), active[n], PROBE_OFFSETS)
        ay = dct @ _sampling(p[:, 0], p[:, 1], s)  # (K, 8, S)
        ax = dct @ _sampling(p[:, 2], p[:, 3], s)
        coeffs.append(ay @ t[n] @ ax.transpose(0, 2, 1))
        owner.append(np.full(len(p), n, dtype=np.int64))
    if not coeffs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    c = torch.from_numpy(np.ascontiguousarray(np.concatenate(coeffs)))
    return dct_bits(c).numpy().astype(np.int64), np.concatenate(owner)


def content_scores(
    framed: np.ndarray,
    box: np.ndarray,
    on: np.ndarray,
    other: np.ndarray,
    aspects: tuple[float, float] | None = None,
) -> tuple[float, float, float, float, float]:
    """``(plain, fine, spread, busy, clipped)`` of one candidate: how well ``other`` (an ``(S, S)``
    thumbnail, mirrored first by the caller where the match was its mirror) is the picture in
    ``box`` (``[y0, y1, x0, x1]``, active sides ``on``; and its centred variant) of ``framed``
    (``(S, S)``): ``other`` reduced by area averaging to the box's size in whole pixels, against
    the box sampled bilinearly at that size with each active edge moved by :data:`SCORE_OFFSETS`;
    the best Pearson correlation of the pixels (``plain``), at that place the correlation of their
    detail (each pixel minus its 3 x 3 box mean, ``fine``), the smaller grey standard deviation
    (``spread``), the smaller share of the box's and of ``other``'s pixels 1 level or more from
    their 3 x 3 box mean (``busy``, as :func:`~.offcentre.busy_share`: a flat design's box
    correlates by its few edges) and the share of them at most 5
    or at least 250 grey levels (``clipped``: a plain picture, as the pair rules'
    ``plain``, where a mask's black or white ground is the box's).  ``aspects``: the framed and
    the other image's width / height; where given, only a box whose shape in the framed image's
    pixels (:func:`box_shape`) is within :data:`SHAPE_TOL` of the other's is scored (a picture
    padded keeps its shape); ``(-1, -1, 0, 0, 1)`` when none is."""
    f = np.asarray(framed, dtype=np.float64)
    o = np.asarray(other, dtype=np.float64)
    tol = FRAME_SHAPE_TOL if np.all(on) else SHAPE_TOL
    found = [
        _scores_at(f, v, on, o)
        for v in _variants(box, on)
        if aspects is None or abs(box_shape(v, aspects[0]) - np.log(aspects[1])) <= tol
    ]
    return max(found, key=lambda r: r[0]) if found else (-1.0, -1.0, 0.0, 0.0, 1.0)


def _windows(f: np.ndarray, p: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(K, h, w)``: the thumbnail ``f`` sampled bilinearly at ``h x w`` pixel centres over each
    of the boxes ``p`` (``(K, 4)``; the distinct row and column spans sampled once each)."""
    ys, yi = np.unique(p[:, :2], axis=0, return_inverse=True)
    xs, xi = np.unique(p[:, 2:], axis=0, return_inverse=True)
    rows = _sampling(ys[:, 0], ys[:, 1], h)  # (Y, h, S)
    cols = _sampling(xs[:, 0], xs[:, 1], w)  # (X, w, S)
    win = np.tensordot(rows @ f, cols, axes=([2], [2])).transpose(0, 2, 1, 3)  # (Y, X, h, w)
    return win[yi.ravel(), xi.ravel()]


def _scores_at(
    f: np.ndarray, box: np.ndarray, on: np.ndarray, o: np.ndarray
) -> tuple[float, float, float, float, float]:
    """:func:`content_scores` of one box (no variants).  A box with a bar on every side (a frame)
    moves its top and bottom edges, then its left and right, then its top and bottom again, each
    pair over the :data:`SCORE_OFFSETS` grid at the best place so far (3 x 49 places, not 7 ** 4)."""
    h = max(3, round(box[1] - box[0]))
    w = max(3, round(box[3] - box[2]))
    small = (area_matrix(h) @ o @ area_matrix(w).T).reshape(1, -1)
    if np.all(on):
        grid = np.array(list(itertools.product(SCORE_OFFSETS, SCORE_OFFSETS))) * np.array([1.0, -1.0])
        at = np.asarray(box, dtype=np.float64)
        for lo in (0, 2, 0):
            p = np.repeat(at[None, :], len(grid), axis=0)
            p[:, lo : lo + 2] += grid
            win = _windows(f, p, h, w)
            score = _pearson_last(win.reshape(len(win), -1), small)
            at = p[int(np.argmax(score))]
    else:
        steps = [SCORE_OFFSETS if a else (0.0,) for a in on]
        p = box[None, :] + np.array(list(itertools.product(*steps))) * np.array([1.0, -1.0, 1.0, -1.0])
        win = _windows(f, p, h, w)
        score = _pearson_last(win.reshape(len(win), -1), small)
    best = win[int(np.argmax(score))]
    fine = float(
        _pearson_last(_box_detail(best).reshape(1, -1), _box_detail(small.reshape(h, w)).reshape(1, -1))[0]
    )
    spread = float(min(best.std(), small.std()))
    busy = float(min((np.abs(_box_detail(best)) >= 1.0).mean(), (np.abs(_box_detail(o)) >= 1.0).mean()))
    clipped = float(((best <= 5.0) | (best >= 250.0)).mean())
    return float(score.max()), fine, spread, busy, clipped
