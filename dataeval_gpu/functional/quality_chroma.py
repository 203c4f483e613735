"""``noise_chroma``: noise that is independent per colour channel, in the flattest blocks.

Noise a sensor or a program adds to an RGB picture is drawn per pixel *and per channel*; a
picture's own fine structure - painted grain, canvas, rock, gravel, denim - is mostly shared by
R, G and B (a bright speck is bright in all three).  The channel differences ``R - G`` and
``B - G`` keep the independent part and cancel the shared part, so Immerkær's (1996) mask on
them measures noise that texture does not imitate.  ``noise_chroma`` is that estimate over the
image's flattest blocks, as ``noise_flat`` is on the grey levels
(:mod:`~dataeval_gpu.functional.quality_texture`): the sum of both differences' absolute mask
responses over :data:`~dataeval_gpu.functional.quality_texture_compiled.FLAT_BLOCK` x
``FLAT_BLOCK`` blocks of mask positions, the block at the lower
:data:`~dataeval_gpu.functional.quality_texture_compiled.FLAT_QUANTILE` (the ``ceil(q n)``-th
smallest), as ``sqrt(pi / 2) / 6`` times its mean response over
:data:`~dataeval_gpu.functional.quality_chroma_compiled.CHROMA_PLANES_SCALE` (``2 sqrt(2)``: the
two differences' mean, and a difference of two channels of independent noise has ``sqrt(2)``
times their sigma): grey levels of one channel's noise, comparable with ``noise_flat``.
Independent noise of sigma ``s`` per channel reads about ``0.64 s`` here and ``0.4 s`` in
``noise_flat`` (the grey image averages it down to ``0.67 s``); noise shared by the channels
reads 0.  0 below three channels or without a whole block.

Measured on the 256-level channel values (uint8 as stored, ``round(255 v)`` of the scaled values
otherwise) of the noise window (the central window of ``noise``, offsets on the 8-px grid), in
integer arithmetic: the same value on every device and for every batch size.  With alpha (RGBA)
on the composite on mid grey over the blocks whose mask positions' 3x3 neighbourhoods are opaque,
like ``noise_flat``.  On the CPU, uint8 RGB stacks go through the numba kernel
:func:`~dataeval_gpu.functional.quality_chroma_compiled.chroma_blocks_u8` (:func:`chroma_rows`),
everything else through :func:`chroma_noise` (torch, no CUDA-only branch); the same values.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import quality_compiled
from .pixels import scale_stored
from .quality_chroma_compiled import CHROMA_PLANES_SCALE, chroma_blocks_u8
from .quality_texture import flat_block_sigma
from .quality_texture_compiled import FLAT_BLOCK, FLAT_QUANTILE

__all__ = ["chroma_levels", "chroma_noise", "chroma_rows"]

_MASK = ((1, -2, 1), (-2, 4, -2), (1, -2, 1))


def chroma_levels(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` int32: the first three channels' 256-level values of a stack of three or
    more channels (uint8 as stored, ``round(255 v)`` of :func:`~dataeval_gpu.functional.pixels.scale_stored` otherwise)."""
    if x.dtype == torch.uint8:
        return x[:, :3].to(torch.int32)
    return torch.round(scale_stored(x[:, :3]) * 255.0).clamp(0, 255).to(torch.int32)


def _response(v: torch.Tensor) -> torch.Tensor:
    """``|v * N|`` (Immerkær's mask) at every interior position of ``(B, H, W)`` int32 planes."""
    h, w = v.shape[-2:]
    acc = torch.zeros_like(v[:, : h - 2, : w - 2])
    for dy in range(3):
        for dx in range(3):
            acc = acc + _MASK[dy][dx] * v[:, dy : dy + h - 2, dx : dx + w - 2]
    return acc.abs()


def chroma_noise(
    x: torch.Tensor, box: tuple[int, int, int, int], raw: torch.Tensor | None = None
) -> torch.Tensor:
    """``noise_chroma`` (float64 ``(B,)``, grey levels) of a stack ``x`` ``(B, C, H, W)`` in the
    window ``box`` = ``(dy, dx, height, width)``; for a stack with alpha, ``x`` is its composite
    and ``raw`` the stack itself (a block counts where every position's 3x3 neighbourhood is
    opaque: alpha at its maximum).  0 below three channels or without a whole block."""
    b = x.shape[0]
    dy, dx, wh, ww = box
    fb = FLAT_BLOCK
    nh, nw = (wh - 2) // fb, (ww - 2) // fb
    zero = torch.zeros(b, dtype=torch.float64, device=x.device)
    if x.shape[1] < 3 or nh < 1 or nw < 1:
        return zero
    lev = chroma_levels(x[..., dy : dy + wh, dx : dx + ww])
    r = _response(lev[:, 0] - lev[:, 1]) + _response(lev[:, 2] - lev[:, 1])
    r = r[:, : nh * fb, : nw * fb].reshape(b, nh, fb, nw, fb)
    sums = r.sum(dim=(2, 4), dtype=torch.int64).reshape(b, -1)
    valid = torch.ones_like(sums, dtype=torch.bool)
    if raw is not None:
        a = raw[:, -1, dy : dy + wh, dx : dx + ww]
        ok = (
            a == 255
            if raw.dtype == torch.uint8
            else scale_stored(raw)[:, -1, dy : dy + wh, dx : dx + ww] >= 1.0
        )
        # a position counts where its whole 3x3 neighbourhood is opaque: the 3x3 minimum
        ok3 = -F.max_pool2d(-ok[:, None].to(torch.float32), 3, stride=1)[:, 0] >= 1.0
        valid = ok3[:, : nh * fb, : nw * fb].reshape(b, nh, fb, nw, fb).all(dim=4).all(dim=2).reshape(b, -1)
    return flat_block_sigma(sums, valid, fb) / CHROMA_PLANES_SCALE


def chroma_rows(x: torch.Tensor, box: tuple[int, int, int, int]) -> np.ndarray:
    """:func:`chroma_noise` of an opaque stack as a ``(B,)`` float64 array (the compiled path's
    rows): the numba kernel for a uint8 CPU stack of three channels, 0 for one channel, the same values."""
    if x.shape[1] < 3:
        return np.zeros(x.shape[0])
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        a, (dy, dx, wh, ww) = x.numpy(), box
        args = (dy, dx, wh, ww, FLAT_BLOCK, *FLAT_QUANTILE)
        return np.array([chroma_blocks_u8(a[i], *args) for i in range(x.shape[0])], np.float64)
    return chroma_noise(x, box).cpu().numpy()
