"""Whether one picture is a crop of another of a different shape, on their grey thumbnails.

Every thumbnail (:mod:`~dataeval_gpu.functional.hashing.thumbs`) is its whole image squeezed to
``32 x 32``, so a crop of another shape - a 9:16 phone crop of a 16:9 wallpaper at any position, a
16:10 preview of a 16:9 picture, a crop of 80-100 % of the height - is a *window* of the other
image's thumbnail: of the other's height times its own shape.  :func:`aligned_correlation` scans
those windows (each scale of :data:`ALIGN_SCALES`, every whole-pixel position), brings the crop's
thumbnail to the window's size by area averaging and keeps the best Pearson correlation of the
two, trying each image as the crop of the other.  :func:`rotated_correlation` does the same for a
picture turned by a few degrees and cut inside its turned frame.  Both read only the 1 KB
thumbnails every scan keeps: no view is hashed for them.

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

__all__ = ["ALIGN_SCALES", "FLAT_STD", "ROTATE_ANGLES", "aligned_correlation", "area_matrix", "rotated_correlation"]

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


#: the angles (degrees, each both ways) :func:`rotated_correlation` tries: a photo or a scan turned
#: by a few degrees and cropped inside its rotated-in border
ROTATE_ANGLES: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)


def _bilinear(t: np.ndarray, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
    """``(P, K)``: ``t`` (``(P, S, S)`` float64) sampled at rows ``ii`` and columns ``jj`` (``(P, K)``
    thumbnail pixel coordinates, clipped to the square) by bilinear interpolation."""
    s = t.shape[-1]
    ii, jj = np.clip(ii, 0.0, s - 1.0), np.clip(jj, 0.0, s - 1.0)
    i0, j0 = np.minimum(np.floor(ii).astype(np.int64), s - 2), np.minimum(np.floor(jj).astype(np.int64), s - 2)
    fi, fj = ii - i0, jj - j0
    flat = t.reshape(t.shape[0], -1)
    at = lambda i, j: np.take_along_axis(flat, i * s + j, axis=1)  # noqa: E731
    top = at(i0, j0) * (1.0 - fj) + at(i0, j0 + 1) * fj
    bottom = at(i0 + 1, j0) * (1.0 - fj) + at(i0 + 1, j0 + 1) * fj
    return top * (1.0 - fi) + bottom * fi


def _turned_window(big: np.ndarray, hw_big: np.ndarray, hw_crop: np.ndarray, deg: float) -> np.ndarray:
    """``(P, S * S)``: the thumbnail ``big`` (``(P, S, S)`` float64 of images of heights and widths
    ``hw_big``) sampled where the pixels of a crop's thumbnail lie when the crop is the largest box
    of the crop's shape (``hw_crop``) inside the big image turned by ``deg`` degrees about its centre."""
    s = big.shape[-1]
    a = np.deg2rad(deg)
    c, n = np.cos(a), np.sin(abs(a))
    hb, wb = hw_big[:, 0:1], hw_big[:, 1:2]
    r = hw_crop[:, 1:2] / np.maximum(hw_crop[:, 0:1], 1.0)  # the crop's width / height
    hc = np.minimum(wb / (r * c + n), hb / (r * n + c))  # the box inside the turned frame
    grid = (np.arange(s) + 0.5) / s - 0.5
    v = np.repeat(grid, s)[None, :] * hc  # crop pixel centres about the centre, big-image pixels
    u = np.tile(grid, s)[None, :] * hc * r
    x, y = u * c - v * np.sin(a), u * np.sin(a) + v * c
    return _bilinear(big, (y / hb + 0.5) * s - 0.5, (x / wb + 0.5) * s - 0.5)


def rotated_correlation(
    x: np.ndarray, hw_x: np.ndarray, y: np.ndarray, hw_y: np.ndarray, angles: tuple[float, ...] = ROTATE_ANGLES
) -> tuple[np.ndarray, np.ndarray]:
    """``(score, checked)``, ``(P,)`` float64 and bool: the best Pearson correlation of one image's
    whole thumbnail with the other's thumbnail turned by a few degrees (each of ``angles``, both
    ways) and cut to the largest box of the first one's shape inside its turned frame (either image
    the turned one), and whether any such pair of pictures could be compared (False where a
    thumbnail or a window is flat, :data:`FLAT_STD`; ``score`` is then -inf).

    ``x``, ``y``: ``(P, S, S)`` whole-image thumbnails; ``hw_x``, ``hw_y``: ``(P, 2)`` the images'
    heights and widths (the thumbnails squeeze each image to the square: a turn in the image is
    not one in the thumbnail)."""
    fx, fy = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx = np.asarray(hw_x, dtype=np.float64).reshape(-1, 2)
    sy = np.asarray(hw_y, dtype=np.float64).reshape(-1, 2)
    p = fx.shape[0]
    best = np.full(p, -np.inf)
    checked = np.zeros(p, dtype=bool)
    for big, hb, crop, hc in ((fx, sx, fy, sy), (fy, sy, fx, sx)):
        c = crop.reshape(p, -1) - crop.reshape(p, -1).mean(axis=1, keepdims=True)
        cn = np.sqrt((c * c).sum(axis=1))
        for deg in (d * sign for d in angles for sign in (1.0, -1.0)):
            w = _turned_window(big, hb, hc, deg)
            w = w - w.mean(axis=1, keepdims=True)
            wn = np.sqrt((w * w).sum(axis=1))
            ok = (wn**2 >= c.shape[1] * FLAT_STD**2) & (cn**2 >= c.shape[1] * FLAT_STD**2)
            score = (w * c).sum(axis=1) / np.maximum(wn * cn, 1e-12)
            best = np.where(ok, np.maximum(best, score), best)
            checked |= ok
    return best, checked
