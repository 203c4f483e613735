"""The compiled CPU kernel of ``noise_chroma`` (:mod:`~dataeval_gpu.functional.quality_chroma`).

:func:`chroma_blocks_u8` reads the noise window of an 8-bit RGB image once: the two channel
differences ``R - G`` and ``B - G`` of each row (exact integers), Immerkær's mask on each as the
horizontal second difference of three rows combined ``d0 - 2 d1 + d2`` (each row's computed once,
as :mod:`~dataeval_gpu.functional.quality_texture_compiled` does for the grey levels), and the
sum of both absolute responses over each :data:`~dataeval_gpu.functional.quality_texture_compiled.FLAT_BLOCK`
square block of mask positions; the block at the lower quantile is selected with
:func:`~dataeval_gpu.functional.quality_median.kth_smallest_bits` (the block sums are integers
below ``2**32``: at most ``fb**2 * 2 * 4080``).  The same integers and float64 steps as the torch
code: equal bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from .quality_median import kth_smallest_bits
from .stats_compiled import njit

__all__ = ["CHROMA_PLANES_SCALE", "chroma_blocks_u8"]

#: the two differences' summed response counts as one channel's: their mean (``/ 2``), and a
#: difference of two independent channels of noise sigma has sigma ``sqrt(2)`` (``/ sqrt(2)``)
CHROMA_PLANES_SCALE = 2.0 * math.sqrt(2.0)


@njit
def _diff_rows(a, y, dx, out):  # noqa: ANN001, ANN202 - numba kernel
    """``out[p, j]`` = the horizontal second difference of row ``y``'s difference ``p`` (R - G, B - G)
    from column ``dx``."""
    n = out.shape[1] - 2
    r, g, b = a[0, y, dx : dx + n + 2], a[1, y, dx : dx + n + 2], a[2, y, dx : dx + n + 2]
    u, v = out[2], out[3]  # the row's differences, n + 2 of them
    for j in range(n + 2):
        u[j] = np.int32(r[j]) - np.int32(g[j])
        v[j] = np.int32(b[j]) - np.int32(g[j])
    for j in range(n):
        out[0, j] = u[j] - 2 * u[j + 1] + u[j + 2]
        out[1, j] = v[j] - 2 * v[j + 1] + v[j + 2]


@njit
def chroma_blocks_u8(a, dy, dx, wh, ww, fb, qnum, qden):  # noqa: ANN001, ANN201, PLR0913 - numba kernel
    """``noise_chroma`` of the uint8 ``(C >= 3, H, W)`` image ``a`` (any strides) in the window
    ``(dy, dx, wh, ww)``: 0.0 without a whole block (``fb`` x ``fb`` mask positions)."""
    nh, nw = (wh - 2) // fb, (ww - 2) // fb
    if nh < 1 or nw < 1:
        return 0.0
    n = nw * fb  # the mask positions inside whole blocks
    ring = np.empty((3, 4, n + 2), np.int32)  # per row: both second differences, both differences
    sums = np.zeros(nh * nw, np.int64)
    absr = np.empty(n, np.int32)
    _diff_rows(a, dy, dx, ring[0])
    _diff_rows(a, dy + 1, dx, ring[1])
    for y in range(nh * fb):
        _diff_rows(a, dy + y + 2, dx, ring[(y + 2) % 3])
        top, mid, bot = ring[y % 3], ring[(y + 1) % 3], ring[(y + 2) % 3]
        t0, m0, b0, t1, m1, b1 = top[0], mid[0], bot[0], top[1], mid[1], bot[1]
        for j in range(n):
            r0 = t0[j] - 2 * m0[j] + b0[j]
            r1 = t1[j] - 2 * m1[j] + b1[j]
            absr[j] = (r0 if r0 >= 0 else -r0) + (r1 if r1 >= 0 else -r1)
        base = (y // fb) * nw
        for bj in range(nw):
            s = 0
            for t in range(bj * fb, bj * fb + fb):
                s += absr[t]
            sums[base + bj] += s
    nb = nh * nw
    k = max((nb * qnum + qden - 1) // qden - 1, 0)
    bits = sums.astype(np.uint32)  # exact: 0 <= sum <= fb**2 * 2 * 4080 < 2**32
    low = kth_smallest_bits(bits, k, np.empty(4 << 12, np.int64), np.empty(nb, np.uint32))
    return np.float64(low) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0) / CHROMA_PLANES_SCALE
