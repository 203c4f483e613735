"""DataEval 0.65's bit-depth rule, the one copy every module uses.

An image's bit depth ``d`` is the smallest of :data:`BIT_DEPTHS` with ``2**d > max``, 32
when none is (and for a NaN maximum, whose comparisons are all false), and 0 when the
minimum is negative.  Scaling to [0, 1] then divides by ``2**d - 1`` (depth 1 leaves the
values as they are; depth 0 maps ``[min, max]``).
"""

from __future__ import annotations

import torch

__all__ = ["BIT_DEPTHS", "bit_depth", "depth_scale"]

BIT_DEPTHS = (1, 8, 12, 16, 32)


def bit_depth(vmin: torch.Tensor | float, vmax: torch.Tensor | float) -> torch.Tensor:
    """Bit depth of each image from its minimum and maximum.

    Shapes ``(N,)`` in (tensors of any real dtype, or Python numbers), int64 ``(N,)`` out on
    ``vmax``'s device.

    Examples
    --------
    >>> import torch
    >>> bit_depth(torch.tensor([0, 0, 0, -1, 0]), torch.tensor([1, 255, 4095, 3, 1e12])).tolist()
    [1, 8, 12, 0, 32]
    """
    vmax_t = torch.as_tensor(vmax).to(torch.float64)
    vmin_t = torch.as_tensor(vmin, device=vmax_t.device).to(torch.float64)
    depth = torch.full_like(vmax_t, 32, dtype=torch.int64)
    for d in reversed(BIT_DEPTHS):
        depth = torch.where(vmax_t < float(2**d), torch.full_like(depth, d), depth)
    return torch.where(vmin_t < 0, torch.zeros_like(depth), depth)


def depth_scale(depth: torch.Tensor) -> torch.Tensor:
    """``2**d - 1`` as float64 (the divisor of 0.65's rescale; 1 at depth 1, 0 at depth 0)."""
    return 2.0 ** depth.to(torch.float64) - 1.0
