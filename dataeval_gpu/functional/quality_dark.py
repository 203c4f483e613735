"""The black point of the dark channel: ``dark_p001``, the ``light`` issue's black point; the
highlights of the bright channel: ``bright_p99``, the ``dark`` issue's second measure.

The dark channel of a pixel is its darkest channel, ``min(R, G, B)`` (the grey value of a grey
image): He, Sun & Tang, "Single image haze removal using dark channel prior", CVPR 2009 - in a
clear picture most regions have some channel near 0 (shadows, saturated colours), while haze and
overexposure lift every channel.  ``dark_p001`` is the lowest level of the 256-level dark channel
(``round(255 v)``; uint8 as stored, exact) whose cumulative share reaches 0.1 %, / 255 - at most the
grey image's ``grey_p001``: a saturated red (luma 0.3) has a channel at 0.  An image with alpha
(2 or 4 channels) counts its pixels by alpha (what is seen), as the grey levels do.

On the CPU, uint8 stacks go through a compiled numba loop (one pass, integer counts, alpha as
integer weights; the quality metrics' one-pass measurement ``quality_compiled.measure_u8`` counts
them while it reads the pixels, and :func:`dark_level` turns its counts into ``dark_p001``);
everything else through torch.  Both count the same integers.

The bright channel of a pixel is its brightest channel, ``max(R, G, B)`` (HSV's value).
``bright_p99`` is the lowest level of the 256-level bright channel whose cumulative share reaches
99 %, / 255 - at least the grey image's ``grey_p99``: under-exposure darkens every channel (a
picture divided by 8 keeps every channel under 32/255), while a saturated colour keeps one high
though its luma is low (a deep blue ``(0, 0, 160)`` has luma 0.07 and ``bright_p99`` 0.63).
Counted as the dark channel is, in the same pass: ``measure_u8`` counts both while it reads the
pixels (``max`` beside the ``min`` it already takes), and :func:`channel_histograms` counts both
from one ``min`` / ``max`` of each pixel (a compiled loop for uint8 CPU stacks, alpha-weighted by
integers; one ``aminmax`` and one ``scatter_add`` in torch, what a GPU runs) - the same integers.

``bright_p9999``, the peak of the bright channel: the lowest level whose cumulative share reaches
99.99 % (the brightest 0.01 % of what is seen), / 255, from the same counts - on an image under
30,000 seen pixels the lowest level with at most :data:`PEAK_SPARE_PIXELS` seen pixels above it
(the share ``1 - 3 / pixels``, and at least :data:`BRIGHT_SHARE`: never under ``bright_p99``;
:func:`peak_level`), so that one to three hot pixels of an icon or a small crop are not its peak
(99.99 % of under 10,000 pixels was the single brightest one).  An under-exposed picture has no highlights anywhere (a
picture divided by 8 keeps it under 32/255); a picture dark by nature - a star field, a night
scene with lights - has a dark bulk and a bright peak (the ``dark`` issue's third measure).
"""

from __future__ import annotations

import numpy as np
import torch

from . import quality_compiled
from .pixels import scale_stored
from .stats_compiled import njit

__all__ = [
    "BRIGHT_PEAK_SHARE",
    "BRIGHT_SHARE",
    "DARK_SHARE",
    "PEAK_SPARE_PIXELS",
    "bright_highlights",
    "bright_histogram",
    "bright_level",
    "channel_figures",
    "channel_histograms",
    "channel_levels",
    "dark_black_point",
    "dark_histogram",
    "dark_level",
    "peak_level",
]

#: the share of the pixels at or below ``dark_p001``
DARK_SHARE = 0.001
#: the share of the pixels at or below ``bright_p99``
BRIGHT_SHARE = 0.99
#: the share of the pixels at or below ``bright_p9999``, the bright channel's peak
BRIGHT_PEAK_SHARE = 0.9999
#: ``bright_p9999`` on a small image: up to this many seen pixels may lie above its peak (99.99 % of
#: the pixels leaves none under 10,000 of them: one hot pixel was the peak); from 30,000 pixels the
#: 0.01 % is at least this many and the peak is the 99.99 % level as it was
PEAK_SPARE_PIXELS = 3

@njit
def _channel_hist_u8(x, alpha, out):  # noqa: ANN001, ANN202 - numba kernel
    """Counts of ``min`` (``out[:, 0]``) and ``max`` (``out[:, 1]``) over the colour channels (the
    value itself for one) of a uint8 stack in one pass, each pixel weighted by its alpha (the last
    channel) when ``alpha``, else 1."""
    b, c, h, w = x.shape
    nc = c - 1 if alpha else c
    for i in range(b):
        for y in range(h):
            for j in range(w):
                lo = hi = x[i, 0, y, j]
                if nc >= 3:
                    g, bb = x[i, 1, y, j], x[i, 2, y, j]
                    lo = lo if lo < g else g
                    lo = lo if lo < bb else bb
                    hi = hi if hi > g else g
                    hi = hi if hi > bb else bb
                wt = np.int64(x[i, c - 1, y, j]) if alpha else np.int64(1)
                out[i, 0, lo] += wt
                out[i, 1, hi] += wt


def channel_histograms(x: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 256)`` counts (int64; float64 weights for non-uint8 images with alpha) of the dark
    channel's levels (``[:, 0]``, ``min(R, G, B)``) and the bright channel's (``[:, 1]``,
    ``max(R, G, B)``) of a stack ``(B, C, H, W)``, both in one pass over the pixels (a compiled
    loop for uint8 CPU stacks, else one ``aminmax`` and one ``scatter_add``); the last channel is
    alpha when C is 2 or 4 (each pixel weighted by it)."""
    b, c = x.shape[:2]
    alpha = c in (2, 4)
    colour = x[:, : c - 1] if alpha else x
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        out = np.zeros((b, 2, 256), np.int64)
        _channel_hist_u8(np.ascontiguousarray(x.numpy()), alpha, out)
        hist = torch.from_numpy(out)
    else:
        if x.dtype == torch.uint8:
            lo, hi = torch.aminmax(colour[:, :3], dim=1)
            w = x[:, -1].reshape(b, -1).to(torch.int64) if alpha else None
        else:
            xs = scale_stored(x)
            lo, hi = torch.aminmax(xs[:, : min(3, colour.shape[1])], dim=1)
            lo, hi = (torch.round(v * 255.0).clamp(0, 255) for v in (lo, hi))
            w = xs[:, -1].reshape(b, -1).to(torch.float64) if alpha else None
        q = torch.cat([lo.reshape(b, -1).to(torch.int64), hi.reshape(b, -1).to(torch.int64) + 256], dim=1)
        w = torch.ones_like(q, dtype=torch.float64 if x.dtype != torch.uint8 else torch.int64) if w is None else w.repeat(1, 2)
        hist = torch.zeros(b, 512, dtype=w.dtype, device=x.device).scatter_add_(1, q, w).reshape(b, 2, 256)
    empty = hist.sum(dim=2) <= 0  # fully transparent: one black pixel, as the grey levels
    hist[:, :, 0] = torch.where(empty, torch.ones_like(hist[:, :, 0]), hist[:, :, 0])
    return hist


def dark_histogram(x: torch.Tensor, bright: bool = False) -> torch.Tensor:
    """``(B, 256)`` counts of the dark channel's levels of a stack ``(B, C, H, W)`` (``bright``:
    the bright channel's, ``max(R, G, B)``): :func:`channel_histograms`' row."""
    return channel_histograms(x)[:, int(bright)].contiguous()


def channel_levels(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B,)`` ``dark_p001`` and ``bright_p99`` of a stack ``(B, C, H, W)`` (see the module
    docstring) from one :func:`channel_histograms` pass, in ``dtype`` on ``x``'s device."""
    got = channel_figures(x, dtype)
    return got["dark_p001"], got["bright_p99"]


def channel_figures(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """``{"dark_p001", "bright_p99", "bright_p9999"}``, ``(B,)`` each, of a stack ``(B, C, H, W)``
    (see the module docstring) from one :func:`channel_histograms` pass, in ``dtype`` on ``x``'s
    device."""
    hist = channel_histograms(x)
    return {
        "dark_p001": dark_level(hist[:, 0], dtype).to(x.device),
        "bright_p99": bright_level(hist[:, 1], dtype).to(x.device),
        "bright_p9999": peak_level(hist[:, 1], 255.0 if x.dtype == torch.uint8 and x.shape[1] in (2, 4) else 1.0, dtype).to(
            x.device
        ),
    }


def dark_black_point(x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``dark_p001`` of a stack ``(B, C, H, W)`` (see the module docstring), in ``dtype``."""
    return channel_levels(x, dtype)[0]


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
    return channel_levels(x, dtype)[1]


def bright_level(hist: torch.Tensor, dtype: torch.dtype = torch.float32, share: float = BRIGHT_SHARE) -> torch.Tensor:
    """``(B,)`` ``bright_p99`` from ``(B, 256)`` bright-channel counts, in ``dtype``: the lowest
    level whose cumulative share reaches ``share`` (:data:`BRIGHT_SHARE`, as the grey ``grey_p99``;
    :data:`BRIGHT_PEAK_SHARE`: ``bright_p9999``)."""
    hist = hist.to(torch.float64)
    cdf = (hist / hist.sum(dim=1, keepdim=True)).cumsum(dim=1)
    level = (cdf < share - 1e-9).sum(dim=1).clamp(max=255)
    return (level.to(torch.float64) / 255.0).to(dtype)


def peak_level(hist: torch.Tensor, unit: float = 1.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(B,)`` ``bright_p9999`` from ``(B, 256)`` bright-channel counts, in ``dtype``: the lowest level
    whose cumulative share reaches ``min(99.99 %, max(1 - PEAK_SPARE_PIXELS · unit / total, 99 %))``
    - the brightest 0.01 %, or on a small image (under 30,000 seen pixels) the level with at most
    :data:`PEAK_SPARE_PIXELS` seen pixels above it, never under ``bright_p99``'s 99 %.  ``unit``:
    one opaque pixel's count (1; 255 for a uint8 image weighted by its alpha).

    Example:
        >>> h = torch.zeros(2, 256, dtype=torch.int64)
        >>> h[:, 20], h[:, 255] = torch.tensor([997, 39990]), torch.tensor([3, 10])  # hot pixels
        >>> (peak_level(h) * 255).round().tolist()  # 1,000 px: 3 spared; 40,000 px: 10 over its 0.01 %
        [20.0, 255.0]
    """
    hist = hist.to(torch.float64)
    total = hist.sum(dim=1, keepdim=True)
    share = (1.0 - PEAK_SPARE_PIXELS * float(unit) / total).clamp(min=BRIGHT_SHARE, max=BRIGHT_PEAK_SHARE)
    cdf = (hist / total).cumsum(dim=1)
    level = (cdf < share - 1e-9).sum(dim=1).clamp(max=255)
    return (level.to(torch.float64) / 255.0).to(dtype)
