"""The compiled CPU kernel of ``fine_sharpness``: band energies of native-resolution windows.

:func:`fine_energies_u8` reads each window of
:func:`~dataeval_gpu.functional.quality.fine_windows` of an 8-bit image once: its 256-level grey
values (exact integers, ties to even) and the band energies of them and of their 2x2 means,
through :func:`~dataeval_gpu.functional.quality_band_compiled.band_sum` (the float32 blur of the torch
path, each row's float64 sum in four parts: exact for these values, see ``band_sum``) and
:func:`~dataeval_gpu.functional.quality_band_compiled.avg_pool2` - equal to the torch path bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidArgumentError
from .quality_band_compiled import avg_pool2, band_sum
from .stats_compiled import njit

__all__ = ["fine_energies_u8"]


@njit
def _fine(a, boxes, out):  # noqa: ANN001, ANN202 - numba kernel
    """For each ``(y0, x0, h, w)`` window (sides at most 384) of the uint8 ``(C, H, W)`` image
    ``a``: the 256-level grey (exact integers, ties to even, as ``quality_compiled``'s rows; the first channel
    below three) and the band energies of it and its 2x2 mean into ``out[k]`` (``out`` zeroed;
    ``quality_compiled``'s band energies, each row's sum in four parts: :func:`band_sum`)."""
    c = a.shape[0]
    for k in range(boxes.shape[0]):
        y0, x0, wh, ww = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        g = np.empty((wh, ww), np.float32)
        for i in range(wh):
            row = g[i]
            if c >= 3:
                rr, gg, bb = a[0, y0 + i], a[1, y0 + i], a[2, y0 + i]
                for j in range(ww):
                    t = 299 * np.int32(rr[x0 + j]) + 587 * np.int32(gg[x0 + j]) + 114 * np.int32(bb[x0 + j]) + 500
                    q = t // 1000
                    row[j] = np.float32(q - ((t - 1000 * q == 0) & ((q & 1) == 1)))
            else:
                r0 = a[0, y0 + i]
                for j in range(ww):
                    row[j] = np.float32(r0[x0 + j])
        out[k, 0] = band_sum(g, np.empty_like(g), True) / g.size
        if min(wh, ww) >= 2:  # the sums in any order (exact: see band_sum)
            d = np.empty((wh // 2, ww // 2), np.float32)
            avg_pool2(g, d)
            out[k, 1] = band_sum(d, np.empty_like(d), True) / d.size


def fine_energies_u8(x: torch.Tensor, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """``(len(boxes), 2)`` float64: the band energies ``E0``, ``E1`` of the 256-level grey image of
    one uint8 ``(C, H, W)`` CPU image (any strides) in each ``(y0, x0, h, w)`` window (sides >= 2)
    - the windows of ``fine_sharpness``, equal to the torch path's bit for bit.  A window may
    have at most 2^19 pixels (``fine_sharpness``'s have 384^2): the sums are exact up to there."""
    if any(int(b[2]) * int(b[3]) >= 1 << 19 for b in boxes):
        raise InvalidArgumentError(f"fine_energies_u8: windows of at most 2^19 pixels, got {list(boxes)}")
    out = np.zeros((len(boxes), 2), np.float64)
    _fine(x.numpy(), np.asarray(boxes, dtype=np.int64).reshape(-1, 4), out)
    return out
