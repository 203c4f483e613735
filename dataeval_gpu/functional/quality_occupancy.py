"""``occupancy``: the share of the frame where something is drawn.

The grey image is cut into a :data:`OCCUPANCY_GRID` x :data:`OCCUPANCY_GRID` grid of cells (the
bins of adaptive pooling: cell ``i`` of ``n`` over a side of ``H`` px spans rows
``floor(i H / n)`` to ``ceil((i + 1) H / n)``; ``max(1, H // 2)`` cells on a side under ``2 n`` px,
so that a cell spans at least 2 px); a
cell is *occupied* when its 256-level grey values span at least :data:`OCCUPANCY_STEP` levels
(``max - min``: an edge of real contrast inside it).  ``occupancy`` is the share of occupied
cells, 0-1.

The grey histogram's entropy (``low_information``) does not see where the pixels are: a line
drawing on black (a sky-culture figure, a constellation) and a small faint object on black have
the same few bits.  The drawing's strokes cross much of the frame (0.07-0.33 of the cells on
Stellarium's sky-culture drawings), the small object occupies a few cells (0.016-0.047 on its
near-black nebulae), a blank or constant image none.

``edge_span`` (softblur17, ``blurry``) is the same grid's widest cell span over the span of the
whole image (``max - min`` of its levels; 0 for a flat image): the share of the tonal range that
its steepest place crosses within a cell, 1/16 of its sides.  A blurred picture keeps its edges'
steps, only spread over the blur's width, a few px: some cell still holds most of the range
(0.62-1 on the flagged planted blurs of the recall survey, 0.53-1 on the corpus' Gaussian blurs,
0.37-1 on its 16-px thumbnails upscaled).  A soft design - a gradient, a soft bar or particle, a
smooth background - changes everywhere slowly against its own size: 0.04-0.29 on such flags (glows
and soft blobs 0.31-0.49).

Measured on the 256-level grey image (:func:`~dataeval_gpu.functional.pixels.grey_levels`: exact
integers for uint8, ``round(255 g)`` otherwise); with alpha (grey + alpha, RGBA) on the composite
on mid grey (:func:`~dataeval_gpu.functional.quality_alpha.composite_on_grey`: a black and a white
glyph both show).  Exact (maxima and minima of integers) and the same on every device and path:
a registry quality metric (``QUALITY_KEYS``), computed with the others - by the compiled kernel
:func:`~dataeval_gpu.functional.quality_occupancy_compiled.occupied_cells_u8` for 8-bit CPU
stacks, by :func:`occupancy_levels` (torch, no CUDA-only branch) otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .pixels import grey_levels
from .quality_alpha import composite_on_grey

__all__ = [
    "OCCUPANCY_GRID", "OCCUPANCY_STEP", "cell_levels", "occupancy", "occupancy_grid", "occupancy_levels",
]  # fmt: skip

#: cells per side of the grid
OCCUPANCY_GRID = 16
#: a cell is occupied when its grey values span at least this many levels (a quarter of the range)
OCCUPANCY_STEP = 64


def occupancy_grid(h: int, w: int) -> tuple[int, int]:
    """Cells (rows, columns) of the grid of an ``h x w`` image: :data:`OCCUPANCY_GRID` a side, fewer
    under ``2 OCCUPANCY_GRID`` px (cells of 2+ px), at least 1."""
    return max(1, min(OCCUPANCY_GRID, h // 2)), max(1, min(OCCUPANCY_GRID, w // 2))


def occupancy_levels(lev: torch.Tensor) -> torch.Tensor:
    """``occupancy`` (float64 ``(B,)``) of 256-level grey images ``lev`` ``(B, H, W)`` (int)."""
    b, h, w = lev.shape
    if h < 1 or w < 1:
        return torch.zeros(b, dtype=torch.float64, device=lev.device)
    v = lev.to(torch.float32)[:, None]  # exact: integers 0..255
    grid = occupancy_grid(h, w)
    span = F.adaptive_max_pool2d(v, grid) + F.adaptive_max_pool2d(-v, grid)
    return (span >= OCCUPANCY_STEP).to(torch.float64).mean(dim=(1, 2, 3))


def cell_levels(lev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``occupancy`` and ``edge_span`` (float64 ``(B,)`` each) of 256-level grey images ``lev``
    ``(B, H, W)`` (int): the widest cell span of :func:`occupancy_grid`'s grid over the whole
    image's span, 0 where that is 0 (exact integer maxima and minima, one division)."""
    b, h, w = lev.shape
    if h < 1 or w < 1:
        z = torch.zeros(b, dtype=torch.float64, device=lev.device)
        return z, z
    v = lev.to(torch.float32)[:, None]  # exact: integers 0..255
    grid = occupancy_grid(h, w)
    span = F.adaptive_max_pool2d(v, grid) + F.adaptive_max_pool2d(-v, grid)
    occ = (span >= OCCUPANCY_STEP).to(torch.float64).mean(dim=(1, 2, 3))
    whole = (v.amax(dim=(1, 2, 3)) - v.amin(dim=(1, 2, 3))).to(torch.float64)
    widest = span.amax(dim=(1, 2, 3)).to(torch.float64)
    return occ, torch.where(whole > 0, widest / whole.clamp(min=1.0), torch.zeros_like(whole))


def occupancy(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """``occupancy`` (float64 ``(N,)``, on the first image's device) of ``(C, H, W)`` images
    (C = 1 or 3, or 2 / 4 with alpha as the last channel; any dtype, DataEval 0.65's scaling)."""
    out = []
    for x in images:
        stack = x[None]
        if stack.shape[1] in (2, 4):
            stack = composite_on_grey(stack)
        out.append(occupancy_levels(grey_levels(stack)))
    if not out:
        return torch.zeros(0, dtype=torch.float64)
    dev = out[0].device
    return torch.cat([v.to(dev) for v in out])
