"""The compiled CPU kernel of ``occupancy`` (:mod:`~dataeval_gpu.functional.quality_occupancy`).

:func:`occupied_cells_u8` reads an 8-bit image once per band of grid rows: its 256-level grey
values (exact integers, ties to even, as ``quality_compiled``'s rows; the first channel below three),
each column's maximum and minimum over the band's rows, then each cell's over its columns (the
adaptive-pooling bins of the torch path, ``floor(i H / n)`` to ``ceil((i + 1) H / n)``).  Integer
maxima and minima: the same occupied cells, and the same widest cell and whole span of
``edge_span`` (:func:`cell_figures_u8`), as the torch path.
"""

from __future__ import annotations

import numpy as np
import torch

from .stats_compiled import njit

__all__ = ["cell_figures_u8", "occupied_cells_u8"]


@njit
def _occupied(a, nh, nw, step):  # noqa: ANN001, ANN202 - numba kernel
    """Cells of the ``nh x nw`` grid of the uint8 ``(C, H, W)`` image ``a`` whose grey levels
    span at least ``step``, the largest cell span and the image's least and greatest level."""
    c, h, w = a.shape
    lo = np.empty(w, np.int32)
    hi = np.empty(w, np.int32)
    count = 0
    widest, glo, ghi = 0, 255, 0
    for i in range(nh):
        lo[:] = 255
        hi[:] = 0
        for y in range((i * h) // nh, ((i + 1) * h + nh - 1) // nh):
            if c >= 3:
                rr, gg, bb = a[0, y], a[1, y], a[2, y]
                for j in range(w):
                    t = 299 * np.int32(rr[j]) + 587 * np.int32(gg[j]) + 114 * np.int32(bb[j]) + 500
                    q = t // 1000
                    v = q - ((t - 1000 * q == 0) & ((q & 1) == 1))
                    lo[j] = min(lo[j], v)
                    hi[j] = max(hi[j], v)
            else:
                r0 = a[0, y]
                for j in range(w):
                    v = np.int32(r0[j])
                    lo[j] = min(lo[j], v)
                    hi[j] = max(hi[j], v)
        for k in range(nw):
            cl, ch = 255, 0
            for j in range((k * w) // nw, ((k + 1) * w + nw - 1) // nw):
                cl = min(cl, lo[j])
                ch = max(ch, hi[j])
            if ch - cl >= step:
                count += 1
            widest = max(widest, ch - cl)
            glo = min(glo, cl)
            ghi = max(ghi, ch)
    return count, widest, glo, ghi


def occupied_cells_u8(x: torch.Tensor, grid: tuple[int, int], step: int) -> int:
    """How many cells of the ``grid`` (rows, columns; each at most the image's side) of one uint8
    ``(C, H, W)`` CPU image (any strides; C = 1 or 3) have grey levels spanning ``step`` or more."""
    return int(_occupied(x.numpy(), int(grid[0]), int(grid[1]), int(step))[0])


def cell_figures_u8(x: torch.Tensor, grid: tuple[int, int], step: int) -> tuple[int, int, int]:
    """:func:`occupied_cells_u8`'s count, the largest span (levels) of a cell and the span of the
    whole image (greatest - least level) of one uint8 ``(C, H, W)`` CPU image: ``occupancy`` and
    ``edge_span`` (:mod:`~dataeval_gpu.functional.quality_occupancy`) from the same pass."""
    count, widest, lo, hi = _occupied(x.numpy(), int(grid[0]), int(grid[1]), int(step))
    return int(count), int(widest), int(hi - lo)
