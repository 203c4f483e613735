"""The black point of the dark channel: ``dark_p001``, the ``light`` issue's black point; the
highlights of the bright channel: ``bright_p99``, the ``dark`` issue's second measure.

The dark channel of a pixel is its darkest channel, ``min(R, G, B)`` (the grey value of a grey
image): He, Sun & Tang, "Single image haze removal using dark channel prior", CVPR 2009 - in a
clear picture most regions have some channel near 0 (shadows, saturated colours), while haze and
overexposure lift every channel.  ``dark_p001`` is the lowest level of the 256-level dark channel
(``round(255 v)``; uint8 as stored, exact) whose cumulative share reaches 0.1 %, / 255 - at most the
grey image's ``grey_p001``: a saturated red (luma 0.3) has a channel at 0.  An image with alpha
(2 or 4 channels) counts its pixels by alpha (what is seen), as the grey levels do.

On the CPU, uint8 stacks of one or three channels go through a compiled numba loop (one pass,
integer counts; the quality metrics' one-pass measurement ``quality_compiled.measure_u8`` counts
them while it reads the pixels, and :func:`dark_level` turns its counts into ``dark_p001``);
everything else through torch.  Both count the same integers.

The bright channel of a pixel is its brightest channel, ``max(R, G, B)`` (HSV's value).
``bright_p99`` is the lowest level of the 256-level bright channel whose cumulative share reaches
99 %, / 255 - at least the grey image's ``grey_p99``: under-exposure darkens every channel (a
picture divided by 8 keeps every channel under 32/255), while a saturated colour keeps one high
though its luma is low (a deep blue ``(0, 0, 160)`` has luma 0.07 and ``bright_p99`` 0.63).
Counted as the dark channel is (a compiled loop for uint8 stacks of one or three channels
without alpha, torch otherwise; alpha-weighted).
"""

from __future__ import annotations

import numpy as np
import torch

from . import quality_compiled
from .pixels import scale01
from .stats_compiled import njit

__all__ = [
    "BRIGHT_SHARE",
    "DARK_SHARE",
    "bright_highlights",
    "bright_histogram",
    "bright_level",
    "dark_black_point",
    "dark_histogram",
    "dark_level",
]

#: the share of the pixels at or below ``dark_p001``
DARK_SHARE = 0.001
#: the share of the pixels at or below ``bright_p99``
BRIGHT_SHARE = 0.99

@njit
def _dark_hist_u8(x, out):  # noqa: ANN001, ANN202 - numba kernel
    """Counts of ``min`` over the channels (the value itself for one channel) of a uint8 stack."""
    b, c, h, w = x.shape
    for i in range(b):
        for y in range(h):
            for j in range(w):
                v = x[i, 0, y, j]
                if c >= 3:
                    g, bb = x[i, 1, y, j], x[i, 2, y, j]
                    v = v if v < g else g
                    v = v if v < bb else bb
                out[i, v] += 1


@njit
def _bright_hist_u8(x, out):  # noqa: ANN001, ANN202 - numba kernel
    """Counts of ``max`` over the channels (the value itself for one channel) of a uint8 stack."""
    b, c, h, w = x.shape
    for i in range(b):
        for y in range(h):
            for j in range(w):
                v = x[i, 0, y, j]
                if c >= 3:
                    g, bb = x[i, 1, y, j], x[i, 2, y, j]
                    v = v if v > g else g
                    v = v if v > bb else bb
                out[i, v] += 1


def dark_histogram(x: torch.Tensor, bright: bool = False) -> torch.Tensor:
    """``(B, 256)`` counts (int64; float64 weights for non-uint8 images with alpha) of the dark
    channel's levels of a stack ``(B, C, H, W)`` (``bright``: the bright channel's, ``max(R, G,
    B)``); the last channel is alpha when C is 2 or 4."""
    b, c = x.shape[:2]
    alpha = c in (2, 4)
    colour = x[:, : c - 1] if alpha else x
    if x.dtype == torch.uint8 and x.device.type == "cpu" and not alpha and quality_compiled.ready():
        out = np.zeros((b, 256), np.int64)
        (_bright_hist_u8 if bright else _dark_hist_u8)(np.ascontiguousarray(colour.numpy()), out)
        return torch.from_numpy(out)
    if x.dtype == torch.uint8:
        q = (colour[:, :3].amax(dim=1) if bright else colour[:, :3].amin(dim=1)).to(torch.int64).reshape(b, -1)
        w = x[:, -1].reshape(b, -1).to(torch.int64) if alpha else torch.ones_like(q)
    else:
        xs = scale01(x)
        v = xs[:, : min(3, colour.shape[1])]
        q = torch.round((v.amax(dim=1) if bright else v.amin(dim=1)) * 255.0).clamp(0, 255).to(torch.int64).reshape(b, -1)
        w = xs[:, -1].reshape(b, -1).to(torch.float64) if alpha else torch.ones_like(q, dtype=torch.float64)
    hist = torch.zeros(b, 256, dtype=w.dtype, device=x.device).scatter_add_(1, q, w)
    empty = hist.sum(dim=1) <= 0  # fully transparent: one black pixel, as the grey levels
    hist[:, 0] = torch.where(empty, torch.ones_like(hist[:, 0]), hist[:, 0])
    return hist


def dark_black_point(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``dark_p001`` of a stack ``(B, C, H, W)`` (see the module docstring), in ``dtype``."""
    return dark_level(dark_histogram(x), dtype).to(x.device)


def dark_level(hist: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``dark_p001`` from ``(B, 256)`` dark-channel counts (:func:`dark_histogram`'s, or
    those the one-pass measurement ``quality_compiled.measure_u8`` counts), in ``dtype``."""
    hist = hist.to(torch.float64)
    cdf = (hist / hist.sum(dim=1, keepdim=True)).cumsum(dim=1)
    level = (cdf < DARK_SHARE - 1e-9).sum(dim=1).clamp(max=255)
    return (level.to(torch.float64) / 255.0).to(dtype)


def bright_histogram(x: torch.Tensor) -> torch.Tensor:
    """``(B, 256)`` counts of the bright channel's levels (``max(R, G, B)``) of a stack
    ``(B, C, H, W)``, as :func:`dark_histogram` counts the dark channel's."""
    return dark_histogram(x, bright=True)


def bright_highlights(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``bright_p99`` of a stack ``(B, C, H, W)`` (see the module docstring), in ``dtype``."""
    return bright_level(bright_histogram(x), dtype).to(x.device)


def bright_level(hist: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``bright_p99`` from ``(B, 256)`` bright-channel counts, in ``dtype``: the lowest
    level whose cumulative share reaches :data:`BRIGHT_SHARE` (as the grey ``grey_p99``)."""
    hist = hist.to(torch.float64)
    cdf = (hist / hist.sum(dim=1, keepdim=True)).cumsum(dim=1)
    level = (cdf < BRIGHT_SHARE - 1e-9).sum(dim=1).clamp(max=255)
    return (level.to(torch.float64) / 255.0).to(dtype)
