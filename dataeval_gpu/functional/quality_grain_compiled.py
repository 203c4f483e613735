"""The compiled CPU kernel of ``grain_free`` (:mod:`~dataeval_gpu.functional.quality_grain`).

:func:`grain_sums_u8` reads the noise window of an 8-bit RGB image once: a clip mark per pixel
(any channel at 0 or 255), its horizontal run of three, and at every mask position whose 3 x 3
neighbourhood has no mark the three channels' Immerkær responses (exact integers), accumulating
the seven int64 sums of :func:`~dataeval_gpu.functional.quality_grain.grain_sums`.  The same
integers as the torch code; :func:`~dataeval_gpu.functional.quality_grain.grain_free_from_sums`
finishes both.
"""

from __future__ import annotations

import numpy as np

from .stats_compiled import njit

__all__ = ["grain_sums_u8"]


@njit
def _resp(p, y, x):  # noqa: ANN001, ANN202 - numba kernel
    """Immerkær's response of the plane ``p`` (int32 ``(h, w)``) at the position with top-left ``(y, x)``."""
    t = p[y, x] - 2 * p[y, x + 1] + p[y, x + 2]
    m = p[y + 1, x] - 2 * p[y + 1, x + 1] + p[y + 1, x + 2]
    b = p[y + 2, x] - 2 * p[y + 2, x + 1] + p[y + 2, x + 2]
    return t - 2 * m + b


@njit
def grain_sums_u8(a, dy, dx, wh, ww):  # noqa: ANN001, ANN201 - numba kernel
    """``(7,)`` int64 ``(n, Σm², Σu², Σv², Σuv, Σmu, Σmv)`` of the uint8 ``(C >= 3, H, W)`` image
    ``a`` (any strides) in the window ``(dy, dx, wh, ww)``; zeros below three channels or 3 px."""
    out = np.zeros(7, np.int64)
    if a.shape[0] < 3 or wh < 3 or ww < 3:
        return out
    planes = np.empty((3, wh, ww), np.int32)
    hrun = np.zeros((wh, ww - 2), np.uint8)  # a clip mark among three pixels of a row
    for y in range(wh):
        mark = np.zeros(ww, np.uint8)
        for x in range(ww):
            r, g, b = a[0, dy + y, dx + x], a[1, dy + y, dx + x], a[2, dy + y, dx + x]
            planes[0, y, x], planes[1, y, x], planes[2, y, x] = r, g, b
            lo, hi = min(r, g, b), max(r, g, b)
            mark[x] = 1 if (lo == 0 or hi == 255) else 0
        for x in range(ww - 2):
            hrun[y, x] = mark[x] | mark[x + 1] | mark[x + 2]
    n = smm = suu = svv = suv = smu = smv = 0
    for y in range(wh - 2):
        for x in range(ww - 2):
            if hrun[y, x] | hrun[y + 1, x] | hrun[y + 2, x]:
                continue
            rr, rg, rb = _resp(planes[0], y, x), _resp(planes[1], y, x), _resp(planes[2], y, x)
            m = np.int64(rr) + rg + rb
            u = np.int64(rr) - rg
            v = np.int64(rb) - rg
            n += 1
            smm += m * m
            suu += u * u
            svv += v * v
            suv += u * v
            smu += m * u
            smv += m * v
    out[0], out[1], out[2], out[3], out[4], out[5], out[6] = n, smm, suu, svv, suv, smu, smv
    return out
