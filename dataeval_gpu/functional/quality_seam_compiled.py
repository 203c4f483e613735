"""The compiled CPU kernel of the seam figures (:mod:`~dataeval_gpu.functional.quality_seam`).

:func:`seam_rows_u8` reads only the border lines of an 8-bit image - its first two and last two
columns and rows - as 256-level grey values (exact integers, ties to even, as
:mod:`~dataeval_gpu.functional.quality_occupancy_compiled` computes them; the first channel
below three) and sums, per direction, the squared step across the wrap-around seam, the squared
steps next to it and the two edge lines' variance numerators: int64, the same integers as the
torch path.
"""

from __future__ import annotations

import numpy as np
import torch

from .stats_compiled import njit

__all__ = ["seam_rows_u8"]


@njit
def _grey(a, y, x):  # noqa: ANN001, ANN202 - numba kernel
    """256-level grey value of pixel ``(y, x)`` of the uint8 ``(C, H, W)`` image ``a``."""
    if a.shape[0] >= 3:
        t = 299 * np.int64(a[0, y, x]) + 587 * np.int64(a[1, y, x]) + 114 * np.int64(a[2, y, x]) + 500
        q = t // 1000
        return q - ((t - 1000 * q == 0) & ((q & 1) == 1))
    return np.int64(a[0, y, x])


@njit
def _seam(a, out):  # noqa: ANN001, ANN202 - numba kernel
    """``out`` ``(2, 3)`` int64: per direction (0: the seam between the last and the first column,
    1: between the last and the first row) the wrap sum, the edge sum and the variance numerator."""
    _, h, w = a.shape
    for d in range(2):
        n = h if d == 0 else w
        last = w - 1 if d == 0 else h - 1
        wrap = edge = sa = sa2 = sz = sz2 = np.int64(0)
        for i in range(n):
            if d == 0:
                p0, p1, q1, q0 = _grey(a, i, 0), _grey(a, i, 1), _grey(a, i, last - 1), _grey(a, i, last)
            else:
                p0, p1, q1, q0 = _grey(a, 0, i), _grey(a, 1, i), _grey(a, last - 1, i), _grey(a, last, i)
            wrap += (q0 - p0) * (q0 - p0)
            edge += (p0 - p1) * (p0 - p1) + (q1 - q0) * (q1 - q0)
            sa += p0
            sa2 += p0 * p0
            sz += q0
            sz2 += q0 * q0
        out[d, 0] = wrap
        out[d, 1] = edge
        out[d, 2] = n * sa2 - sa * sa + n * sz2 - sz * sz


def seam_rows_u8(x: torch.Tensor) -> np.ndarray:
    """``(B, 2, 3)`` int64 seam sums of a uint8 ``(B, C, H, W)`` CPU stack (C = 1 or 3; any
    strides), :func:`~dataeval_gpu.functional.quality_seam.seam_sums`'s layout; zeros under 4 px a side."""
    b, _, h, w = x.shape
    out = np.zeros((b, 2, 3), np.int64)
    if min(h, w) < 4:
        return out
    a = x.numpy()
    for i in range(b):
        _seam(a[i], out[i])
    return out
