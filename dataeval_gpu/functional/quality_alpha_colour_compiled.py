"""The compiled CPU kernel of ``colour_free`` (:mod:`~dataeval_gpu.functional.quality_alpha_colour`).

:func:`alpha_colour_sums_u8` reads an 8-bit image with alpha once: per alpha bin (``alpha >> 4``,
16 bins) the alpha-weighted count, sum and sum of squares of the 256-level grey of the colour
(exact integers, ties to even, as ``quality_compiled``'s rows; the first channel of grey + alpha).
Integer sums: the same as the torch path's.
"""

from __future__ import annotations

import numpy as np
import torch

from .stats_compiled import njit

__all__ = ["ALPHA_BINS", "alpha_colour_sums_u8"]

#: alpha bins of ``colour_free`` (``alpha >> 4`` for 8-bit alpha)
ALPHA_BINS = 16


@njit
def _sums(a, wt, sm, sq):  # noqa: ANN001, ANN202 - numba kernel
    """Add to ``wt``, ``sm``, ``sq`` (``ALPHA_BINS`` int64 each) the alpha-weighted count, grey sum and
    grey square sum per alpha bin of the uint8 ``(C, H, W)`` image ``a`` whose last channel is alpha."""
    c, h, w = a.shape
    for y in range(h):
        al = a[c - 1, y]
        if c >= 4:
            rr, gg, bb = a[0, y], a[1, y], a[2, y]
            for j in range(w):
                t = 299 * np.int32(rr[j]) + 587 * np.int32(gg[j]) + 114 * np.int32(bb[j]) + 500
                q = t // 1000
                v = np.int64(q - ((t - 1000 * q == 0) & ((q & 1) == 1)))
                u = np.int64(al[j])
                k = u >> 4
                wt[k] += u
                sm[k] += u * v
                sq[k] += u * v * v
        else:
            r0 = a[0, y]
            for j in range(w):
                v = np.int64(r0[j])
                u = np.int64(al[j])
                k = u >> 4
                wt[k] += u
                sm[k] += u * v
                sq[k] += u * v * v


def alpha_colour_sums_u8(x: torch.Tensor) -> torch.Tensor:
    """``(ALPHA_BINS, 3)`` int64 sums of :func:`_sums` of one uint8 ``(C, H, W)`` CPU image with alpha
    (C = 2 or 4; any strides)."""
    out = np.zeros((3, ALPHA_BINS), np.int64)
    _sums(x.numpy(), out[0], out[1], out[2])
    return torch.from_numpy(np.ascontiguousarray(out.T))
