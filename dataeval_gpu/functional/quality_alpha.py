"""The quality metrics of images with alpha (grey + alpha, RGBA), measured as they are seen.

* :func:`composite_on_grey`: the image on mid grey (:data:`ALPHA_BACKDROP`), for the spatial
  metrics (sharpness, colour): black and white shapes both show (on black a black glyph vanished);
* :func:`visible_levels`: the grey histogram of the visible pixels (weight alpha) and ``opacity``;
* :func:`noise_opaque`, :func:`blockiness_opaque`: noise and JPEG blockiness over the opaque pixels.

:func:`alpha_metrics` puts them together for
:func:`~dataeval_gpu.functional.quality.quality_metrics_batch` (torch code, any device; the
compiled CPU kernel measures the composite, these replace its levels, noise and blockiness).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .pixels import block_lines, block_phases, grey_image, grey_levels, scale_stored
from .quality_torch import replica_reference, spread_factor

__all__ = [
    "ALPHA_BACKDROP",
    "BLOCK_MIN_PAIRS",
    "NOISE_MIN_OPAQUE",
    "alpha_metrics",
    "blockiness_opaque",
    "composite_on_grey",
    "noise_opaque",
    "opaque_window",
    "visible_levels",
]

TINY = 1e-12
#: the grey level (0..255) an image with alpha is composited on for the spatial metrics: a
#: mid grey, on which black and white shapes both show (alpha composited on black hid black glyphs)
ALPHA_BACKDROP = 128
#: images with alpha: ``noise`` / ``noise_robust`` are measured on the mask positions whose 3x3
#: neighbourhood is opaque; with fewer of them than this the noise is not judged (0)
NOISE_MIN_OPAQUE = 256
#: images with alpha: a border or off-border line of ``blockiness`` counts when it has at least
#: this many opaque pixel pairs
BLOCK_MIN_PAIRS = 8
#: a uint8 stack with alpha is composited and histogrammed this many pixels (whole rows, all
#: images) at a time: the integer temporaries of the whole stack at once took ~44 bytes per
#: pixel (a 169-Mpx RGBA drawing pushed a scan's worker past 7 GB); the results are the same
#: integers, block by block
BLOCK_PIXELS = 1 << 20


def _row_blocks(x: torch.Tensor) -> list[tuple[int, int]]:
    """``(first row, rows)`` of the blocks of :data:`BLOCK_PIXELS` a stack ``(B, C, H, W)`` is
    worked on in (one block for an image of up to a megapixel)."""
    h = x.shape[-2]
    rows = max(1, BLOCK_PIXELS // max(1, x.shape[0] * x.shape[-1]))
    return [(r, min(rows, h - r)) for r in range(0, h, rows)]


def composite_on_grey(x: torch.Tensor, level: int = ALPHA_BACKDROP) -> torch.Tensor:
    """A stack ``(B, C, H, W)`` whose last channel is alpha (C = 2 or 4) as it looks on the grey
    ``level`` (0..255), without the alpha channel: uint8 ``(c a + level (255 - a) + 127) // 255``
    (exact); any other dtype scaled to [0, 1] first (DataEval 0.65's bit-depth rule, alpha
    included), then ``c a + level / 255 (1 - a)`` in [0, 1].  What lies under fully transparent
    pixels is not seen; black and white shapes both show (on black a black glyph vanished)."""
    if x.dtype == torch.uint8:
        out = torch.empty((x.shape[0], x.shape[1] - 1, *x.shape[2:]), dtype=torch.uint8, device=x.device)
        for r, n in _row_blocks(x):  # in blocks of rows: int32 temporaries of a block only
            part = x.narrow(2, r, n)
            c, a = part[:, :-1].to(torch.int32), part[:, -1:].to(torch.int32)
            out.narrow(2, r, n).copy_((c * a + level * (255 - a) + 127) // 255)
        return out
    xs = scale_stored(x)
    a = xs[:, -1:]
    return xs[:, :-1] * a + (level / 255.0) * (1.0 - a)


def visible_levels(x: torch.Tensor, dtype: torch.dtype, from_hist: Callable) -> dict[str, torch.Tensor]:
    """Level metrics of a stack with alpha over what is *seen*: the 256-level grey histogram of
    the colour weighted by alpha (uint8: exact integer weights 0..255), so transparent pixels
    count for nothing and half-transparent ones half; ``opacity`` = the mean alpha (0..1).  A
    fully transparent image has nothing to see and measures as one black pixel (dark, no
    information)."""
    b = x.shape[0]
    if x.dtype == torch.uint8:
        hist = torch.zeros(b, 256, dtype=torch.int64, device=x.device)
        seen = torch.zeros(b, dtype=torch.int64, device=x.device)
        for r, n in _row_blocks(x):  # in blocks of rows (int64 levels and weights of a block only)
            part = x.narrow(2, r, n)
            q = grey_levels(part[:, :-1]).reshape(b, -1)
            w = part[:, -1].reshape(b, -1).to(torch.int64)
            hist.scatter_add_(1, q, w)
            seen += w.sum(dim=1)
        opacity = seen.to(torch.float64) / (255.0 * x.shape[-2] * x.shape[-1])
    else:
        xs = scale_stored(x)
        q = torch.round(grey_image(xs[:, :-1])[:, 0] * 255.0).clamp(0, 255).to(torch.int64).reshape(b, -1)
        w = xs[:, -1].reshape(b, -1).to(torch.float64)
        hist = torch.zeros(b, 256, dtype=torch.float64, device=x.device).scatter_add_(1, q, w)
        opacity = w.mean(dim=1)
    empty = hist.sum(dim=1) <= 0
    hist[:, 0] = torch.where(empty, torch.ones_like(hist[:, 0]), hist[:, 0])
    out = from_hist(hist, dtype)
    out["opacity"] = opacity.to(dtype)
    return out


def opaque_window(x: torch.Tensor, comp: torch.Tensor, box: tuple[int, int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The window ``box`` = ``(dy, dx, height, width)`` of the composite's grey on 0..255 and
    where the image is opaque (alpha at its maximum)."""
    dy, dx, wh, ww = box
    part = comp[..., dy : dy + wh, dx : dx + ww]
    a = x[:, -1:, dy : dy + wh, dx : dx + ww]
    if x.dtype == torch.uint8:
        opaque = a == 255
    else:
        opaque = scale_stored(x)[:, -1:, dy : dy + wh, dx : dx + ww] >= 1.0
    return grey_image(scale_stored(part)) * 255.0, opaque


def noise_opaque(g255: torch.Tensor, opaque: torch.Tensor, mad: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``noise`` / ``noise_robust`` over the mask positions whose 3x3 neighbourhood is opaque (the
    edge of the visible shape is not noise); 0 with fewer than :data:`NOISE_MIN_OPAQUE` of them
    (``mad``: the Gaussian MAD factor of the median estimate)."""
    b = g255.shape[0]
    h, w = g255.shape[-2:]
    z = torch.zeros(b, dtype=g255.dtype, device=g255.device)
    if min(h, w) < 3:
        return z, z
    mask = ((1.0, -2.0, 1.0), (-2.0, 4.0, -2.0), (1.0, -2.0, 1.0))
    acc = torch.zeros_like(g255[..., : h - 2, : w - 2])
    ok = torch.ones_like(opaque[..., : h - 2, : w - 2])
    for dy in range(3):
        for dx in range(3):
            acc = acc + mask[dy][dx] * g255[..., dy : dy + h - 2, dx : dx + w - 2]
            ok = ok & opaque[..., dy : dy + h - 2, dx : dx + w - 2]
    r = acc.abs().reshape(b, -1)
    ok = ok.reshape(b, -1)
    n = ok.sum(dim=1)
    # the sum in float64: a float32 sum's rounding depends on how torch splits it (the batch size,
    # the threads), and a stacked image then differed from the image measured alone
    total = torch.where(ok, r, torch.zeros_like(r)).to(torch.float64).sum(dim=1)
    mean_est = (total / n.clamp(min=1) * math.sqrt(math.pi / 2.0) / 6.0).to(g255.dtype)
    med = torch.nanmedian(torch.where(ok, r, torch.full_like(r, float("nan"))), dim=1).values
    enough = n >= NOISE_MIN_OPAQUE
    return torch.where(enough, mean_est, z), torch.where(enough, med / (6.0 * mad), z)


def blockiness_opaque(g255: torch.Tensor, opaque: torch.Tensor, floor: float) -> torch.Tensor:
    """``blockiness`` of an image with alpha: per line (column or row step position) the mean
    step over its opaque pixel pairs (a line with fewer than :data:`BLOCK_MIN_PAIRS` does not
    count); the *median* over the 8-px border lines divided by the median over the other lines
    (at least ``floor``).  JPEG blocking raises most border lines; the edges of flat
    shapes drawn on an 8-px grid (icons, sprites: never JPEG-compressed) raise a few, which the
    mean counted and the median does not; the edge of the visible shape is not a step at all.
    A picture enlarged by repeating its pixels divides by the median on its own grid
    (:func:`~dataeval_gpu.functional.quality_torch.replica_reference`).
    Times the spread factor of the composite window ``g255`` (:func:`~dataeval_gpu.functional.quality_torch.spread_factor`:
    the transparent part is flat, no border segment there steps)."""
    b, _, h, w = g255.shape
    border_lines, other_lines, group_lines = [], [], [[], [], [], []]
    for dim, size in ((3, w), (2, h)):
        if size < 64:
            continue
        step = (g255.narrow(dim, 1, size - 1) - g255.narrow(dim, 0, size - 1)).abs()
        pair = opaque.narrow(dim, 1, size - 1) & opaque.narrow(dim, 0, size - 1)
        red = 2 if dim == 3 else 3
        cnt = pair.sum(dim=red).reshape(b, size - 1)
        tot = torch.where(pair, step, torch.zeros_like(step)).sum(dim=red, dtype=torch.float64).reshape(b, size - 1)
        mean = (tot / cnt.clamp(min=1)).to(g255.dtype)  # float64 sums, as in noise_opaque
        mean = torch.where(cnt >= BLOCK_MIN_PAIRS, mean, torch.full_like(mean, float("nan")))
        border, other = block_lines(size, g255.device)  # index tensors: no device sync
        border_lines.append(mean.index_select(1, border))
        other_lines.append(mean.index_select(1, other))
        for k, lines in enumerate(block_phases(size, g255.device)):
            group_lines[k].append(mean.index_select(1, lines))
    ones = torch.ones(b, dtype=g255.dtype, device=g255.device)
    if not border_lines:
        return ones
    at = torch.nanmedian(torch.cat(border_lines, dim=1), dim=1).values
    off = torch.nanmedian(torch.cat(other_lines, dim=1), dim=1).values
    # a picture enlarged by repeating its pixels: the median on its own grid (replica_reference)
    off = replica_reference(*(torch.nanmedian(torch.cat(g, dim=1), dim=1).values for g in group_lines), off)
    ok = torch.isfinite(at) & torch.isfinite(off) & ((at > TINY) | (off > TINY))  # flat: 1, as opaque images
    return torch.where(ok, spread_factor(at / off.clamp(min=floor), g255), ones)


def alpha_metrics(  # noqa: PLR0913 - the definitions' parts of quality.py, passed in
    x: torch.Tensor,
    comp: torch.Tensor,
    dtype: torch.dtype,
    box: tuple[int, int, int, int],
    from_hist: Callable,
    mad: float,
    floor: float,
) -> dict[str, torch.Tensor]:
    """The metrics of a stack with alpha ``x`` that judge what is seen rather than its composite
    ``comp``: the levels (``from_hist`` of the visible histogram) and ``opacity``, noise and
    blockiness where opaque in the window ``box``."""
    out = visible_levels(x, dtype, from_hist)
    g255, opaque = opaque_window(x, comp, box)
    g255 = g255.to(dtype)
    out["noise"], out["noise_robust"] = noise_opaque(g255, opaque, mad)
    out["blockiness"] = blockiness_opaque(g255, opaque, floor)
    return out
