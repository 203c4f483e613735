"""Whether one picture is a crop of another of a different shape, on their grey thumbnails.

Every thumbnail (:mod:`~dataeval_gpu.functional.hashing.thumbs`) is its whole image squeezed to
``32 x 32``, so a crop of another shape - a 9:16 phone crop of a 16:9 wallpaper at any position, a
16:10 preview of a 16:9 picture, a crop of 80-100 % of the height - is a *window* of the other
image's thumbnail: of the other's height times its own shape.  :func:`aligned_correlation` scans
those windows (each scale of :data:`ALIGN_SCALES`, every whole-pixel position), brings the crop's
thumbnail to the window's size by area averaging and keeps the best Pearson correlation of the
two, trying each image as the crop of the other.  It reads only the 1 KB thumbnails every scan
keeps: no view is hashed for it.

Example:
    >>> rng = np.random.default_rng(0)
    >>> wide = rng.integers(0, 255, (1, 32, 32), dtype=np.uint8)
    >>> score, checked = aligned_correlation(wide, np.array([[90, 160]]), wide, np.array([[90, 160]]))
    >>> round(float(score[0]), 6), bool(checked[0])
    (1.0, True)
"""

from __future__ import annotations

import functools

import numpy as np

from .thumbs import THUMB_SIDE

__all__ = ["ALIGN_SCALES", "FLAT_STD", "aligned_correlation", "area_matrix"]

#: the crop's extent along the container's limiting side (1: its full height for a narrower
#: crop, its full width for a wider one; 0.8: 80 % of it), the scales searched
ALIGN_SCALES: tuple[float, ...] = (1.0, 0.9, 0.8)
#: a window or a thumbnail whose grey standard deviation is under this (levels) carries no
#: picture to align: not checked
FLAT_STD = 2.0
#: pairs scored per step (memory: a step holds ``PAIRS_PER_STEP`` x positions x window pixels)
PAIRS_PER_STEP = 512


@functools.lru_cache(maxsize=64)
def area_matrix(n: int, m: int = THUMB_SIDE) -> np.ndarray:
    """``(n, m)`` float64: area averaging of ``m`` samples to ``n <= m`` (output sample ``k``
    covers input ``[k m / n, (k + 1) m / n)``, each input sample weighted by its overlap; rows
    sum to 1).

    Example:
        >>> area_matrix(2, 4).tolist()
        [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    step = m / n
    lo = np.arange(n)[:, None] * step
    cols = np.arange(m)[None, :]
    overlap = np.clip(np.minimum(lo + step, cols + 1) - np.maximum(lo, cols), 0.0, None)
    return overlap / step


def _windows(shape_c: np.ndarray, shape_p: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(h, w)`` (thumbnail pixels) of the window of a container of shape (width / height)
    ``shape_c`` that a crop of shape ``shape_p`` fills at ``scale`` of the limiting side."""
    narrower = shape_p <= shape_c
    fh = np.where(narrower, scale, scale * shape_c / shape_p)
    fw = np.where(narrower, scale * shape_p / shape_c, scale)
    return np.maximum(np.round(fh * THUMB_SIDE), 3).astype(np.int64), np.maximum(
        np.round(fw * THUMB_SIDE), 3
    ).astype(np.int64)


def _integral(x: np.ndarray) -> np.ndarray:
    """``(P, S + 1, S + 1)`` float64 integral images of ``x`` (``(P, S, S)``)."""
    c = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2] + 1))
    c[:, 1:, 1:] = x.astype(np.float64).cumsum(axis=1).cumsum(axis=2)
    return c


def _window_sums(c: np.ndarray, h: int, w: int) -> np.ndarray:
    """``(P, S - h + 1, S - w + 1)``: the sum of every ``h x w`` window, from integral images ``c``."""
    return c[:, h:, w:] - c[:, :-h, w:] - c[:, h:, :-w] + c[:, :-h, :-w]


def _best_in_windows(
    big: np.ndarray, sums: tuple[np.ndarray, np.ndarray], crop: np.ndarray, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Best Pearson correlation of ``crop`` (``(P, S, S)``, squeezed to ``h x w``) with every
    ``h x w`` window of ``big`` (``(P, S, S)`` float64, its integral images and those of its
    squares ``sums``), and whether any window could be compared (both not flat)."""
    small = area_matrix(h) @ crop.astype(np.float64) @ area_matrix(w).T  # (P, h, w)
    small = small - small.mean(axis=(1, 2), keepdims=True)
    s_norm = np.sqrt((small**2).sum(axis=(1, 2)))
    n = float(h * w)
    w_sum = _window_sums(sums[0], h, w)
    w_var = np.maximum(_window_sums(sums[1], h, w) - w_sum**2 / n, 0.0)  # sum of squares about the mean
    # every window against the centred crop: one batched product per pair (small is centred: no mean term)
    p = big.shape[0]
    win = np.lib.stride_tricks.sliding_window_view(big, (h, w), axis=(1, 2))  # (P, Y, X, h, w), a view
    cross = np.matmul(win.reshape(p, -1, h * w), small.reshape(p, h * w, 1)).reshape(w_sum.shape)
    score = cross / np.maximum(np.sqrt(w_var) * s_norm[:, None, None], 1e-12)
    ok = (w_var >= n * FLAT_STD**2) & (s_norm[:, None, None] ** 2 >= n * FLAT_STD**2)
    score = np.where(ok, score, -np.inf).reshape(p, -1)
    return score.max(axis=1), ok.reshape(p, -1).any(axis=1)


def aligned_correlation(
    x: np.ndarray, hw_x: np.ndarray, y: np.ndarray, hw_y: np.ndarray, scales: tuple[float, ...] = ALIGN_SCALES
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, checked)``, ``(P,)`` float64 and bool: the best Pearson correlation of one
    image's whole thumbnail with a window of the other's where it would lie as a crop (either
    image the crop; each of ``scales``, every position), and whether any window was compared
    (False where every window or thumbnail is flat, :data:`FLAT_STD`; ``score`` is then -inf).

    ``x``, ``y``: ``(P, S, S)`` uint8 whole-image thumbnails (the images squeezed to the square);
    ``hw_x``, ``hw_y``: ``(P, 2)`` the images' heights and widths, which place the windows."""
    x, y = np.asarray(x), np.asarray(y)
    sx = np.asarray(hw_x, dtype=np.float64).reshape(-1, 2)
    sy = np.asarray(hw_y, dtype=np.float64).reshape(-1, 2)
    shape_x = sx[:, 1] / np.maximum(sx[:, 0], 1.0)
    shape_y = sy[:, 1] / np.maximum(sy[:, 0], 1.0)
    best = np.full(len(x), -np.inf)
    checked = np.zeros(len(x), dtype=bool)
    fx, fy = x.astype(np.float64), y.astype(np.float64)
    ix, iy = (_integral(fx), _integral(fx * fx)), (_integral(fy), _integral(fy * fy))
    for (big, sums), crop, sc, sp in (((fx, ix), y, shape_x, shape_y), ((fy, iy), x, shape_y, shape_x)):
        for scale in scales:
            h, w = _windows(sc, sp, scale)
            for hh, ww in {(int(a), int(b)) for a, b in zip(h, w, strict=True)}:
                at = np.nonzero((h == hh) & (w == ww))[0]
                for s in range(0, at.size, PAIRS_PER_STEP):
                    part = at[s : s + PAIRS_PER_STEP]
                    score, ok = _best_in_windows(big[part], (sums[0][part], sums[1][part]), crop[part], hh, ww)
                    best[part] = np.maximum(best[part], score)
                    checked[part] |= ok
    return best, checked
