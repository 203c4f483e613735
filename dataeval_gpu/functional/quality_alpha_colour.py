"""``colour_free``: how much of a see-through image's colour its alpha does not set.

A shadow, a glow, a flare or a puff of smoke is drawn in its alpha: one ink (a black shadow, a
white glow) or a colour that follows the alpha (white at the opaque core, yellow where it fades),
soft by design.  A picture with transparent parts - an icon, a cut-out, a sprite - has colours of
its own where it is opaque, whatever its alpha.  ``colour_free`` is the share of the visible
colour's grey variance that the alpha level does not explain: the 256-level grey of the colour
(exact integer luma for uint8, ``round(255 g)`` otherwise; the first channel of grey + alpha),
weighted by alpha, grouped by alpha level into :data:`ALPHA_BINS` bins (``alpha >> 4`` for 8-bit
alpha), the within-bin variance over the total (Fisher's correlation ratio, ``1 - eta^2``), the
total counted at least :data:`COLOUR_FLOOR` grey levels² (a colour spread under 4 levels is one ink):
0 for one ink or a colour set by the alpha, 1 for a colour that varies as much at every alpha level;
1 without alpha, 0 for a fully transparent image.

Exact integer sums per bin (uint8: alpha-weighted count, grey sum, grey square sum), by the
compiled kernel :func:`~dataeval_gpu.functional.quality_alpha_colour_compiled.alpha_colour_sums_u8`
for 8-bit CPU images, by :func:`alpha_colour_sums` (torch, no CUDA-only branch) otherwise; one
float64 finishing step (:func:`colour_free_from_sums`) for both: the same value on every path.
"""

from __future__ import annotations

import torch

from . import quality_compiled
from .pixels import grey_image, grey_levels, scale_stored
from .quality_alpha_colour_compiled import ALPHA_BINS, alpha_colour_sums_u8

__all__ = ["ALPHA_BINS", "COLOUR_FLOOR", "alpha_colour_sums", "colour_free", "colour_free_from_sums"]

#: the least total variance (grey levels², per unit of alpha weight) ``colour_free`` divides by: a
#: visible colour spread under 4 grey levels is one ink, its picture is its alpha
COLOUR_FLOOR = 16.0
#: pixels per block of rows of the torch path (int64 temporaries of a block only)
_BLOCK_PIXELS = 1 << 20


def alpha_colour_sums(x: torch.Tensor) -> torch.Tensor:
    """``(B, ALPHA_BINS, 3)`` sums of a stack ``(B, C, H, W)`` with alpha (C = 2 or 4): per alpha bin
    the alpha-weighted count, grey sum and grey square sum (int64 for uint8, float64 otherwise, the
    alpha on 0..255)."""
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    u8 = x.dtype == torch.uint8
    if u8 and x.device.type == "cpu" and quality_compiled.ready():
        return torch.stack([alpha_colour_sums_u8(x[i]) for i in range(b)])
    if not u8:  # the whole stack at once: the bit-depth scale is the stack's (as ``visible_levels``)
        xs = scale_stored(x)
        q = torch.round(grey_image(xs[:, :-1])[:, 0] * 255.0).clamp(0, 255).reshape(b, -1).to(torch.float64)
        a = xs[:, -1].reshape(b, -1).to(torch.float64) * 255.0
        return _binned(
            a, q, torch.clamp(torch.floor(a / 16.0), 0, ALPHA_BINS - 1).to(torch.int64), torch.float64
        )
    out = torch.zeros(b, ALPHA_BINS, 3, dtype=torch.int64, device=x.device)
    rows = max(1, _BLOCK_PIXELS // max(1, b * w))
    for r in range(0, h, rows):  # in blocks of rows: int64 temporaries of a block only
        part = x.narrow(2, r, min(rows, h - r))
        a = part[:, -1].reshape(b, -1).to(torch.int64)
        out += _binned(a, grey_levels(part[:, :-1]).reshape(b, -1), a >> 4, torch.int64)
    return out


def _binned(a: torch.Tensor, q: torch.Tensor, k: torch.Tensor, kind: torch.dtype) -> torch.Tensor:
    """``(B, ALPHA_BINS, 3)``: the weights ``a``, ``a q`` and ``a q²`` ``(B, P)`` summed per bin ``k``."""
    zero = torch.zeros(a.shape[0], ALPHA_BINS, dtype=kind, device=a.device)
    return torch.stack([zero.scatter_add(1, k, v.to(kind)) for v in (a, a * q, a * q * q)], dim=2)


def colour_free_from_sums(sums: torch.Tensor) -> torch.Tensor:
    """``colour_free`` (float64 ``(B,)``) from :func:`alpha_colour_sums`'s ``(B, ALPHA_BINS, 3)``."""
    s = sums.to(torch.float64)
    wt, sm, sq = s[..., 0], s[..., 1], s[..., 2]
    tw = wt.sum(dim=1)
    has = wt > 0
    within = torch.where(
        has, sq - sm * sm / torch.where(has, wt, torch.ones_like(wt)), torch.zeros_like(wt)
    ).sum(dim=1)
    safe = torch.where(tw > 0, tw, torch.ones_like(tw))
    total = sq.sum(dim=1) - sm.sum(dim=1) ** 2 / safe
    share = within.clamp(min=0.0) / torch.maximum(total, COLOUR_FLOOR * safe)
    return torch.where(tw > 0, share.clamp(0.0, 1.0), torch.zeros_like(tw))


def colour_free(x: torch.Tensor) -> torch.Tensor:
    """``colour_free`` (float64 ``(B,)``, on ``x``'s device) of a stack ``(B, C, H, W)``: with alpha
    (C = 2 or 4) from its sums, 1 without."""
    if x.shape[1] not in (2, 4):
        return torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    return colour_free_from_sums(alpha_colour_sums(x)).to(x.device)
