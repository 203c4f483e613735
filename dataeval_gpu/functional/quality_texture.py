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

On the CPU, opaque uint8 stacks of one or three channels go through a numba loop
(:func:`texture_rows`, one pass over the window), everything else through torch; both compute the
same integers and the same float64 steps (equal bit for bit, tested).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import quality_compiled
from .pixels import grey_levels, scale01
from .stats_compiled import njit

__all__ = ["FLAT_BLOCK", "FLAT_QUANTILE", "IMPULSE_STEP", "flat_noise", "impulse_share", "texture_noise", "texture_rows"]

#: ``noise_flat``: side (mask positions) of the blocks the Immerkær response is summed over
FLAT_BLOCK = 4
#: ``noise_flat``: the block at this lower quantile of the image's blocks counts (as numerator /
#: denominator, exact in integers)
FLAT_QUANTILE = (1, 20)
#: ``impulse_share``: a pixel more than this many grey levels above (below) all 8 neighbours is an impulse
IMPULSE_STEP = 48
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
        ok = a == 255 if raw.dtype == torch.uint8 else scale01(raw)[:, -1, dy : dy + wh, dx : dx + ww] >= 1.0
    return {"noise_flat": flat_noise(lev, ok), "impulse_share": impulse_share(lev, ok)}


@njit
def _texture_u8(x, dy, dx, wh, ww, fb, qnum, qden, step, out):  # noqa: ANN001, ANN202, PLR0913 - numba kernel
    """:func:`flat_noise` and :func:`impulse_share` of an opaque uint8 stack (1 or 3 channels) in
    one loop per image: the same integers (exact luma, ties to even), the same float64 steps."""
    b, c = x.shape[0], x.shape[1]
    lev = np.empty((wh, ww), np.int32)
    nh, nw = (wh - 2) // fb, (ww - 2) // fb
    sums = np.zeros(max(nh * nw, 1), np.int64)
    for i in range(b):
        for y in range(wh):
            for j in range(ww):
                if c >= 3:
                    t = 299 * np.int32(x[i, 0, dy + y, dx + j]) + 587 * np.int32(x[i, 1, dy + y, dx + j])
                    t += 114 * np.int32(x[i, 2, dy + y, dx + j])
                    q = t // 1000
                    rem = t - 1000 * q
                    lev[y, j] = q + (1 if rem > 500 or (rem == 500 and q % 2 == 1) else 0)
                else:
                    lev[y, j] = x[i, 0, dy + y, dx + j]
        sums[:] = 0
        count = 0
        for y in range(wh - 2):
            for j in range(ww - 2):
                a0, a1, a2 = lev[y, j], lev[y, j + 1], lev[y, j + 2]
                b0, b1, b2 = lev[y + 1, j], lev[y + 1, j + 1], lev[y + 1, j + 2]
                c0, c1, c2 = lev[y + 2, j], lev[y + 2, j + 1], lev[y + 2, j + 2]
                if y < nh * fb and j < nw * fb:
                    r = a0 - 2 * a1 + a2 - 2 * b0 + 4 * b1 - 2 * b2 + c0 - 2 * c1 + c2
                    sums[(y // fb) * nw + j // fb] += r if r >= 0 else -r
                hi = max(max(max(a0, a1), max(a2, b0)), max(max(b2, c0), max(c1, c2)))
                lo = min(min(min(a0, a1), min(a2, b0)), min(min(b2, c0), min(c1, c2)))
                if b1 - hi > step or lo - b1 > step:
                    count += 1
        n = nh * nw
        if n > 0:
            srt = np.sort(sums[:n])
            k = max((n * qnum + qden - 1) // qden - 1, 0)
            out[i, 0] = np.float64(srt[k]) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0)
        npos = (wh - 2) * (ww - 2)
        if npos > 0:
            out[i, 1] = np.float64(count) / npos


def texture_rows(x: torch.Tensor, box: tuple[int, int, int, int]) -> np.ndarray:
    """:func:`texture_noise` of an opaque stack as a ``(B, 2)`` float64 array (the compiled path's
    rows): a numba loop for a uint8 CPU stack of one or three channels, the same values."""
    if x.dtype == torch.uint8 and x.device.type == "cpu" and x.shape[1] in (1, 3) and quality_compiled.ready():
        out = np.zeros((x.shape[0], 2))
        if min(box[2:]) >= 3:
            _texture_u8(x.numpy(), *box, FLAT_BLOCK, *FLAT_QUANTILE, IMPULSE_STEP, out)
        return out
    t = texture_noise(x, box)
    return torch.stack([t["noise_flat"], t["impulse_share"]], dim=1).numpy()
