"""``grain_free``: how much of an image's grey noise residual its colour residual cannot predict.

Noise a sensor or a program adds to a colour picture is drawn per channel, or on the brightness
alone (a JPEG's, grey noise); painted grain - a game's sand, bark or stone drawn pixel by pixel -
moves brightness with hue and saturation.  With ``rR``, ``rG``, ``rB`` the channels' Immerkær
(1996) responses, ``m = rR + rG + rB`` (the channel mean's, times 3) and the channel differences'
``u = rR − rG``, ``v = rB − rG``: noise drawn per channel reaches ``m`` and ``(u, v)`` uncorrelated
(orthogonal projections of independent draws), luminance noise has no colour part, so where noise
dominates the residual the colour residual predicts none of the grey one; painted grain's does.
``grain_free = 1 − R²`` of ``m`` regressed on ``(u, v)`` without intercept:
``(Σm² − cᵀ S⁺ c) / Σm²``, ``S`` the 2 × 2 moments of ``(u, v)``, ``c = (Σmu, Σmv)``, ``S⁺`` its
(pseudo-)inverse (``|c|² / tr S`` where ``det S`` is under :data:`GRAIN_RANK_TOL` ``· (tr S)²``: one
colour direction; nothing subtracted without any).  Sums over the mask positions of the noise window
(the central window of ``noise``) whose 3 × 3 neighbourhood has no channel at 0 or 255 - clipping
couples the channels (with them grey noise of sigma 25 on colour photos read down to 0.72).  1 below
three channels, under :data:`GRAIN_MIN_POSITIONS` positions or without a grey residual (``Σm² = 0``).

Measured on the 256-level channel values (uint8 as stored, ``round(255 v)`` of the scaled values
otherwise) as seven int64 sums (:func:`grain_sums`): the same value on every device, batch size and
path.  With alpha on the composite on mid grey over the positions whose 3 × 3 neighbourhood is
opaque, like ``noise_chroma``.  On the CPU, uint8 RGB stacks go through the numba kernel
:func:`~dataeval_gpu.functional.quality_grain_compiled.grain_sums_u8` (:func:`grain_rows`), everything
else through :func:`grain_sums` (torch, no CUDA-only branch); :func:`grain_free_from_sums` finishes both.
``noisy`` reads it (:func:`~dataeval_gpu.detectors.quality_noise_rules.painted_grain`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import quality_compiled
from .pixels import scale_stored
from .quality_chroma import chroma_levels
from .quality_grain_compiled import grain_sums_u8

__all__ = ["GRAIN_MIN_POSITIONS", "GRAIN_RANK_TOL", "grain_free", "grain_free_from_sums", "grain_rows", "grain_sums"]

#: ``grain_free`` is 1 (nothing to judge) over fewer unclipped mask positions than this
GRAIN_MIN_POSITIONS = 256
#: the colour residual has one direction (``R − G`` and ``B − G`` proportional) where ``det S`` is
#: under this times ``(tr S)²``
GRAIN_RANK_TOL = 1e-12

_MASK = ((1, -2, 1), (-2, 4, -2), (1, -2, 1))


def _signed_response(v: torch.Tensor) -> torch.Tensor:
    """``v * N`` (Immerkær's mask) at every interior position of ``(..., H, W)`` int32 planes."""
    h, w = v.shape[-2:]
    acc = torch.zeros_like(v[..., : h - 2, : w - 2])
    for dy in range(3):
        for dx in range(3):
            acc = acc + _MASK[dy][dx] * v[..., dy : dy + h - 2, dx : dx + w - 2]
    return acc


def grain_sums(x: torch.Tensor, box: tuple[int, int, int, int], raw: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, 7)`` int64 ``(n, Σm², Σu², Σv², Σuv, Σmu, Σmv)`` of a stack ``x`` ``(B, C, H, W)`` in the
    window ``box`` = ``(dy, dx, height, width)``; for a stack with alpha ``x`` is its composite and
    ``raw`` the stack (a position counts where its 3 × 3 neighbourhood is opaque, too).  Zeros below
    three channels or 3 px."""
    b = x.shape[0]
    dy, dx, wh, ww = box
    out = torch.zeros((b, 7), dtype=torch.int64, device=x.device)
    if x.shape[1] < 3 or min(wh, ww) < 3:
        return out
    lev = chroma_levels(x[..., dy : dy + wh, dx : dx + ww])
    mark = (lev.amin(dim=1) == 0) | (lev.amax(dim=1) == 255)
    if raw is not None:
        a = raw[:, -1, dy : dy + wh, dx : dx + ww]
        opaque = a == 255 if raw.dtype == torch.uint8 else scale_stored(raw)[:, -1, dy : dy + wh, dx : dx + ww] >= 1.0
        mark |= ~opaque
    ok = F.max_pool2d(mark[:, None].to(torch.float32), 3, stride=1)[:, 0] == 0.0
    r = _signed_response(lev).to(torch.int64) * ok[:, None]
    m = r.sum(dim=1)
    u, v = r[:, 0] - r[:, 1], r[:, 2] - r[:, 1]
    for j, t in enumerate((m * m, u * u, v * v, u * v, m * u, m * v), start=1):
        out[:, j] = t.sum(dim=(1, 2))
    out[:, 0] = ok.sum(dim=(1, 2))
    return out


def grain_free_from_sums(sums: torch.Tensor) -> torch.Tensor:
    """``grain_free`` (float64 ``(B,)``) from :func:`grain_sums`'s ``(B, 7)`` rows."""
    s = sums.to(torch.float64)
    n, smm, suu, svv, suv, smu, smv = s.unbind(1)
    tr = suu + svv
    det = suu * svv - suv * suv
    full = det > GRAIN_RANK_TOL * tr * tr
    quad2 = (svv * smu * smu - 2.0 * suv * smu * smv + suu * smv * smv) / torch.where(full, det, torch.ones_like(det))
    quad1 = (smu * smu + smv * smv) / torch.where(tr > 0, tr, torch.ones_like(tr))
    quad = torch.where(full, quad2, torch.where(tr > 0, quad1, torch.zeros_like(tr)))
    free = ((smm - quad) / torch.where(smm > 0, smm, torch.ones_like(smm))).clamp(0.0, 1.0)
    judged = (n >= GRAIN_MIN_POSITIONS) & (smm > 0)
    return torch.where(judged, free, torch.ones_like(free))


def grain_free(x: torch.Tensor, box: tuple[int, int, int, int], raw: torch.Tensor | None = None) -> torch.Tensor:
    """``grain_free`` (float64 ``(B,)``, on ``x``'s device) of a stack in the window ``box``
    (:func:`grain_sums`' arguments)."""
    return grain_free_from_sums(grain_sums(x, box, raw))


def grain_rows(x: torch.Tensor, box: tuple[int, int, int, int]) -> np.ndarray:
    """:func:`grain_sums` of an opaque stack as a ``(B, 7)`` int64 array (the compiled path's rows):
    the numba kernel for a uint8 CPU stack of three channels, zeros for one channel, the same values."""
    if x.shape[1] < 3:
        return np.zeros((x.shape[0], 7), np.int64)
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        a, (dy, dx, wh, ww) = x.numpy(), box
        return np.stack([grain_sums_u8(a[i], dy, dx, wh, ww) for i in range(x.shape[0])])
    return grain_sums(x, box).cpu().numpy()
