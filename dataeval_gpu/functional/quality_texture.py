"""Noise measures that tell noise from texture: ``noise_flat`` and ``impulse_share``.

Both are measured on the 256-level grey image (:func:`~dataeval_gpu.functional.pixels.grey_levels`:
exact integers for uint8, ``round(255 g)`` otherwise) of the noise window (the central window of
``noise``, offsets on the 8-px grid), in integer arithmetic: the values are the same on every
device and for every batch size (no float sum whose rounding depends on how it is split).

* ``noise_flat`` - the Immerkær (1996) estimate over the image's *flattest* patches: the mask
  response ``|g * N|`` summed over :data:`FLAT_BLOCK` x :data:`FLAT_BLOCK` blocks of mask
  positions, the block at the lower :data:`FLAT_QUANTILE` of the blocks (the ``ceil(q n)``-th
  smallest), as ``sqrt(pi / 2) / 6`` times its mean response.  Noise is everywhere, texture is
  not: a picture's smooth ground (the black around a garment, a sky, a plain wall) keeps the
  estimate low, while added noise raises every block.  0 with no whole block (a side under
  ``FLAT_BLOCK + 2`` px).  Cf. the patch-based estimators that measure noise where the signal
  is weakest (Lee & Hoppel, "Noise modeling and estimation of remotely-sensed images", IGARSS
  1989; Liu, Tanaka & Okutomi, "Single-image noise level estimation for blind denoising", IEEE
  TIP 22, 2013).
* ``impulse_share`` - the share of pixels (with a full 3x3 neighbourhood) that are *isolated
  impulses*: more than :data:`IMPULSE_STEP` grey levels above all 8 neighbours, or below all
  of them.  Salt-and-pepper noise consists of such pixels; a stroke, an edge or the line art of
  a 1-bit icon does not (a pixel of a line has neighbours on the line).

With alpha (grey + alpha, RGBA) both are measured on the composite on mid grey, over the mask
positions whose 3x3 neighbourhood is opaque (blocks all of whose positions are), like ``noise``.

On the CPU, opaque uint8 stacks of one or three channels go through numba loops
(:func:`texture_rows`: the window's levels, then
:func:`~dataeval_gpu.functional.quality_texture_compiled.texture_levels`; the one-pass measurement
``quality_compiled.measure_u8`` runs that kernel on the levels it keeps), everything else through
torch; both compute the same integers and the same float64 steps (equal bit for bit, tested).
The constants (:data:`FLAT_BLOCK`, :data:`FLAT_QUANTILE`, :data:`IMPULSE_STEP`) are defined with
the kernel.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import quality_compiled
from .pixels import grey_levels, scale_stored
from .quality_texture_compiled import (
    FLAT_BLOCK,
    FLAT_QUANTILE,
    IMPULSE_STEP,
    TEXTURE_ARGS,
    texture_levels,
    window_levels,
)

__all__ = [
    "FLAT_BLOCK",
    "FLAT_QUANTILE",
    "IMPULSE_STEP",
    "flat_block_sigma",
    "flat_noise",
    "impulse_share",
    "texture_noise",
    "texture_rows",
]

_MASK = ((1, -2, 1), (-2, 4, -2), (1, -2, 1))
_SHIFTS = [(dy, dx) for dy in range(3) for dx in range(3)]


def _opaque3(ok: torch.Tensor) -> torch.Tensor:
    """``(B, h - 2, w - 2)`` bool: the 3x3 neighbourhood of each interior position is all ``ok``."""
    h, w = ok.shape[-2:]
    out = ok[:, 0 : h - 2, 0 : w - 2].clone()
    for dy, dx in _SHIFTS[1:]:
        out &= ok[:, dy : dy + h - 2, dx : dx + w - 2]
    return out


def flat_noise(lev: torch.Tensor, ok: torch.Tensor | None = None) -> torch.Tensor:
    """``noise_flat`` (float64 ``(B,)``, grey levels) of the 256-level grey images ``lev``
    ``(B, H, W)`` (int); ``ok`` ``(B, H, W)`` bool: where the image is opaque (default: everywhere)."""
    b, h, w = lev.shape
    fb = FLAT_BLOCK
    nh, nw = (h - 2) // fb, (w - 2) // fb
    if nh < 1 or nw < 1:
        return torch.zeros(b, dtype=torch.float64, device=lev.device)
    v = lev.to(torch.int32)
    acc = torch.zeros_like(v[:, : h - 2, : w - 2])
    for dy, dx in _SHIFTS:
        acc = acc + _MASK[dy][dx] * v[:, dy : dy + h - 2, dx : dx + w - 2]
    r = acc.abs()[:, : nh * fb, : nw * fb].reshape(b, nh, fb, nw, fb)
    sums = r.sum(dim=(2, 4), dtype=torch.int64).reshape(b, -1)
    if ok is None:
        valid = torch.ones_like(sums, dtype=torch.bool)
    else:
        o = _opaque3(ok)[:, : nh * fb, : nw * fb].reshape(b, nh, fb, nw, fb)
        valid = o.all(dim=4).all(dim=2).reshape(b, -1)
    return flat_block_sigma(sums, valid, fb)


def flat_block_sigma(sums: torch.Tensor, valid: torch.Tensor, fb: int) -> torch.Tensor:
    """``(B,)`` float64: Immerkær's sigma of the flattest blocks - the :data:`FLAT_QUANTILE`
    (``ceil(q n)``-th smallest) of each image's ``valid`` block sums of absolute mask responses
    (``(B, nb)`` int64, ``fb x fb`` positions a block), 0 for an image without a valid block."""
    n = valid.sum(dim=1)
    big = torch.iinfo(torch.int64).max
    srt = torch.where(valid, sums, torch.full_like(sums, big)).sort(dim=1).values
    num, den = FLAT_QUANTILE
    k = ((n * num + den - 1) // den - 1).clamp(min=0)  # the ceil(q n)-th smallest, 0-based
    low = srt.gather(1, k[:, None])[:, 0]
    sigma = low.to(torch.float64) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0)
    return torch.where(n > 0, sigma, torch.zeros_like(sigma))


def impulse_share(lev: torch.Tensor, ok: torch.Tensor | None = None) -> torch.Tensor:
    """``impulse_share`` (float64 ``(B,)``, 0-1) of the 256-level grey images ``lev`` ``(B, H, W)``;
    ``ok`` as in :func:`flat_noise`."""
    b, h, w = lev.shape
    if min(h, w) < 3:
        return torch.zeros(b, dtype=torch.float64, device=lev.device)
    v = lev.to(torch.int32)
    c = v[:, 1 : h - 1, 1 : w - 1]
    hi = lo = None
    for dy, dx in _SHIFTS:
        if (dy, dx) == (1, 1):
            continue
        nb = v[:, dy : dy + h - 2, dx : dx + w - 2]
        hi = nb if hi is None else torch.maximum(hi, nb)
        lo = nb if lo is None else torch.minimum(lo, nb)
    imp = (c - hi > IMPULSE_STEP) | (lo - c > IMPULSE_STEP)
    valid = torch.ones_like(imp) if ok is None else _opaque3(ok)
    n = valid.sum(dim=(1, 2))
    count = (imp & valid).sum(dim=(1, 2))
    return torch.where(n > 0, count.to(torch.float64) / n.clamp(min=1), torch.zeros(b, dtype=torch.float64, device=lev.device))


def texture_noise(
    x: torch.Tensor, box: tuple[int, int, int, int], raw: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """``noise_flat`` and ``impulse_share`` (float64 ``(B,)``) of a stack ``x`` ``(B, C, H, W)``
    (one or three channels) in the window ``box`` = ``(dy, dx, height, width)``; for a stack with
    alpha, ``x`` is its composite and ``raw`` the stack itself (opaque: alpha at its maximum)."""
    dy, dx, wh, ww = box
    lev = grey_levels(x[..., dy : dy + wh, dx : dx + ww])
    ok = None
    if raw is not None:
        a = raw[:, -1, dy : dy + wh, dx : dx + ww]
        ok = a == 255 if raw.dtype == torch.uint8 else scale_stored(raw)[:, -1, dy : dy + wh, dx : dx + ww] >= 1.0
    return {"noise_flat": flat_noise(lev, ok), "impulse_share": impulse_share(lev, ok)}


def texture_rows(x: torch.Tensor, box: tuple[int, int, int, int]) -> np.ndarray:
    """:func:`texture_noise` of an opaque stack as a ``(B, 2)`` float64 array (the compiled path's
    rows): a numba loop for a uint8 CPU stack of one or three channels, the same values."""
    if x.dtype == torch.uint8 and x.device.type == "cpu" and x.shape[1] in (1, 3) and quality_compiled.ready():
        out = np.zeros((x.shape[0], 2))
        if min(box[2:]) >= 3:
            a, lev = x.numpy(), np.empty(box[2:], np.int32)
            for i in range(x.shape[0]):
                window_levels(a[i], box[0], box[1], lev)
                texture_levels(lev, *TEXTURE_ARGS, out[i])
        return out
    t = texture_noise(x, box)
    return torch.stack([t["noise_flat"], t["impulse_share"]], dim=1).numpy()
