"""Pixel basics shared by the quality metrics and the detectors: scaling to [0, 1] (DataEval
0.65's bit-depth rule), the BT.601 grey image, the 256-level grey image (exact integers for
8-bit images), and alpha composited on black."""

from __future__ import annotations

import torch

from .bitdepth import bit_depth

__all__ = ["LUMA", "block_lines", "block_phases", "composite_on_black", "grey_image", "grey_levels", "row_mean64", "scale01", "scale_stored"]

#: BT.601 luma weights of R, G, B
LUMA = (0.299, 0.587, 0.114)


def scale01(x: torch.Tensor, whole: torch.Tensor | None = None) -> torch.Tensor:
    """(B, C, H, W) of any dtype -> float in [0, 1] (per image, 0.65's bit-depth rule).  ``whole``:
    the ``(B, ...)`` images ``x`` was sampled from (every ``k``-th pixel): the bit depth is theirs, as
    when the whole images are scaled (a sample's maximum can lie under its image's)."""
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    if x.dtype == torch.uint8:
        return x.to(dtype) / 255.0
    if x.dtype == torch.bool:
        return x.to(dtype)
    xf = torch.nan_to_num(x.to(dtype), nan=0.0, posinf=0.0, neginf=0.0)  # NaN / inf pixels count as 0
    if whole is None:
        flat = xf.reshape(xf.shape[0], -1)
        lo, hi = flat.amin(dim=1), flat.amax(dim=1)
    else:
        lo, hi = _bounds(whole, dtype)
    depth = bit_depth(lo, hi).clamp(min=1)
    scale = (2.0 ** depth.to(torch.float64) - 1.0).to(dtype)
    return (xf / scale.view(-1, 1, 1, 1)).clamp(0.0, 1.0)


def _bounds(v: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B,)`` minimum and maximum of each ``(B, ...)`` image as :func:`scale01` reads it (in
    ``dtype``, NaN / inf pixels as 0): integers as they are; floats on the CPU without a copy where
    both come out finite (NaN and inf would reach them), else - and on a device always, with no host
    sync - over a copy with NaN / inf set to 0."""
    flat = v.reshape(v.shape[0], -1)
    if v.is_floating_point():
        flat = flat.to(dtype)
        if v.device.type == "cpu":  # (a whole image's copy cost more than both reductions)
            lo, hi = flat.amin(dim=1), flat.amax(dim=1)
            if bool((lo.isfinite() & hi.isfinite()).all()):
                return lo, hi
        flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
    return flat.amin(dim=1), flat.amax(dim=1)


def scale_stored(x: torch.Tensor, whole: torch.Tensor | None = None) -> torch.Tensor:
    """(B, C, H, W) -> float in [0, 1] as the quality metrics read it: a ``uint16`` image over its
    container's 65,535 levels (a 16-bit PNG / TIFF: a dark 16-bit photo whose maximum is under 4096
    is dark, where 0.65's rule, :func:`scale01`, read it as 12-bit and as bright as its brightest
    level allowed; and every window of it on one scale, where the rule took each window's own
    maximum), every other dtype by :func:`scale01` (``whole``: the images ``x`` was sampled from, whose
    bit depth it takes).  The statistics (``imagestats``, the Linter) keep 0.65's rule.

    Example:
        >>> x = torch.tensor([[[[0, 3000]]]], dtype=torch.uint16)
        >>> [round(v, 4) for v in scale_stored(x).flatten().tolist()], round(scale01(x).max().item(), 4)
        ([0.0, 0.0458], 0.7326)
    """
    if x.dtype == torch.uint16:
        dtype = torch.float32
        return x.to(dtype) / 65535.0
    return scale01(x, whole)


def row_mean64(v: torch.Tensor) -> torch.Tensor:
    """Row means of a ``(B, N)`` tensor accumulated in float64, in ``v``'s dtype: a float32 mean's
    rounding depends on how torch splits the sum (batch size, threads), and a stacked image (the
    device plan, a scan's main process) differed from the image measured alone (the CPU plan,
    the DataLoader workers)."""
    return v.to(torch.float64).mean(dim=1).to(v.dtype)


def grey_image(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of a ``(B, C, H, W)`` float stack in [0, 1] -> ``(B, 1, H, W)``."""
    if x.shape[1] >= 3:
        w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x[:, :3] * w).sum(dim=1, keepdim=True)
    return x[:, :1]


def composite_on_black(x: torch.Tensor) -> torch.Tensor:
    """A stack ``(B, C, H, W)`` whose last channel is alpha (C = 2: grey + alpha, C = 4: RGBA)
    as it looks on black: the other channels times alpha (uint8: ``(c * a + 127) // 255``,
    exact; floats: alpha scaled by its bit depth; other integers (a 16-bit PNG's uint16):
    the image scaled to [0, 1] by its bit depth, then the product, as float), without the
    alpha channel.  What lies under fully transparent pixels (often left-over colour blocks of
    the encoder) is not seen."""
    c, a = x[:, :-1], x[:, -1:]
    if x.dtype == torch.uint8:
        return ((c.to(torch.int32) * a.to(torch.int32) + 127) // 255).to(torch.uint8)
    if not x.dtype.is_floating_point:  # alpha in [0, 1] cast back to an integer type would be 0 or 1
        xs = scale_stored(x)
        return xs[:, :-1] * xs[:, -1:]
    return c * scale_stored(a).to(c.dtype)


def grey_levels(x: torch.Tensor) -> torch.Tensor:
    """The 256-level grey image ``(B, H, W)`` int64 of a stack ``(B, C, H, W)``: exact integer
    BT.601 luma (ties to even) for uint8, ``round(255 g)`` otherwise (the level metrics' grey)."""
    if x.dtype == torch.uint8:
        return _grey_levels_u8(x).to(torch.int64)
    return torch.round(grey_image(scale_stored(x))[:, 0] * 255.0).clamp(0, 255).to(torch.int64)


def _grey_levels_u8(x: torch.Tensor) -> torch.Tensor:
    """256-level grey of a uint8 stack in exact integer arithmetic: ``round((299 R + 587 G + 114 B)
    / 1000)``, ties to even (the float64 definition ``round(255 g)`` without float rounding)."""
    if x.shape[1] < 3:
        return x[:, 0].to(torch.int64)
    s = 299 * x[:, 0].to(torch.int32) + 587 * x[:, 1].to(torch.int32) + 114 * x[:, 2].to(torch.int32)
    q = torch.div(s, 1000, rounding_mode="floor")
    rem = s - 1000 * q
    q = q + ((rem > 500) | ((rem == 500) & (q % 2 == 1))).to(torch.int32)
    return q.to(torch.int64)


def _steps_at(size: int, phases: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """``(M,)`` int64 on ``device``, ascending: the steps ``i`` of ``size - 1`` (between lines ``i``
    and ``i + 1``) with ``(i + 1) % 8`` in ``phases``, built on the device by arithmetic (block ``k``'s
    steps ``8 k + offset``; the first ``M``, counted on the host, are those inside): no host-to-device
    copy (a pageable copy waits for the device's queue) and no boolean mask (it counts its True values
    first)."""
    n = size - 1
    offsets = sorted((p - 1) % 8 for p in phases)
    count = sum(len(range(o, max(n, 0), 8)) for o in offsets)
    if count == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    at = torch.stack([torch.full((), o, dtype=torch.int64, device=device) for o in offsets])
    blocks = torch.arange(-(-n // 8), dtype=torch.int64, device=device)
    return (blocks[:, None] * 8 + at[None, :]).reshape(-1)[:count]


def block_lines(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of the ``size - 1`` steps between neighbouring lines that are on the 8-px JPEG
    block grid (step ``i`` between lines ``i`` and ``i + 1``: ``(i + 1) % 8 == 0``) and of the
    others, as index tensors on ``device``: built there by arithmetic, so neither building them nor
    selecting with them costs a device sync (a boolean mask does: it must count its True values
    first; a host tensor copied to the device waits for its queue)."""
    return _steps_at(size, (0,), device), _steps_at(size, (1, 2, 3, 4, 5, 6, 7), device)


#: :func:`block_phases`' groups: the lines 1, 3, 5, 7 / 2, 4, 6 / 2, 6 / 4 px past an 8-px border
BLOCK_PHASE_GROUPS = ((1, 3, 5, 7), (2, 4, 6), (2, 6), (4,))


def block_phases(size: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Positions of the ``size - 1`` steps (as :func:`block_lines`) 1, 3, 5, 7 / 2, 4, 6 / 2, 6 / 4
    px past an 8-px border (step ``i``: ``(i + 1) % 8``), four index tensors built on ``device`` (no
    sync: :func:`block_lines`): the lines ``blockiness`` reads to tell a picture enlarged by repeating
    its pixels (:func:`~dataeval_gpu.functional.quality_block_compiled.replica_off`)."""
    return tuple(_steps_at(size, group, device) for group in BLOCK_PHASE_GROUPS)
