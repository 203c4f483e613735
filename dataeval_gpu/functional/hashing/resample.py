"""Pillow's 8-bit LANCZOS resize, bit for bit, as tensor ops (the CUDA path; any device).

The fixed-point coefficients come from one builder, ``compiled.lanczos_coeffs``
(Pillow's ``precompute_coeffs`` + ``normalize_coeffs_8bpc``), shared with the compiled CPU
kernels; here they are laid out as dense ``(out, in)`` resampling matrices so that each
pass is one float64 matmul.  Every product and partial sum is an integer below 2**53, so
the matmul is exact whatever its summation order.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ...errors import InvalidArgumentError
from . import compiled as rcpu

__all__ = [
    "PRECISION_BITS",
    "lanczos_resize",
    "pillow_resize",
    "resample_matrix",
    "resample_matrix_host",
    "symmetric_resize",
    "vertical_first",
]

PRECISION_BITS = 22  # Pillow's fixed point for 8-bit resampling: 32 - 8 - 2
MATRIX_CACHE_SIZE = 256  # device matrices kept (each at most 32 x in_size float64)


def resample_matrix_host(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's 8-bit fixed-point LANCZOS coefficients as an ``(out, in)`` float64 matrix
    of integers (|k| < 2**23), from the taps the compiled kernels use."""
    start, count, _, kk = rcpu.lanczos_coeffs(in_size, out_size)
    m = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.repeat(np.arange(out_size), count)
    offs = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
    m[rows, start[rows] + offs] = kk[rows, offs]
    return m


@functools.lru_cache(maxsize=MATRIX_CACHE_SIZE)
def _cached_matrix(in_size: int, out_size: int, device: str) -> torch.Tensor:
    # functools.lru_cache keeps its structure consistent under threads (bug (b) of issue 11:
    # the hand-written OrderedDict LRU raised KeyError when pool threads evicted concurrently)
    return torch.from_numpy(resample_matrix_host(in_size, out_size)).to(device)


def resample_matrix(in_size: int, out_size: int, device: torch.device | str) -> torch.Tensor:
    """The cached ``(out, in)`` resampling matrix on ``device`` (thread-safe cache)."""
    return _cached_matrix(int(in_size), int(out_size), str(torch.device(device)))


def fixed_point_round(x: torch.Tensor) -> torch.Tensor:
    """Pillow's ``clip8((sum + 2**21) >> 22)`` on exact float64 integer sums."""
    return torch.floor((x + float(1 << (PRECISION_BITS - 1))) * (1.0 / (1 << PRECISION_BITS))).clamp_(0, 255)


@functools.lru_cache(maxsize=1)
def installed_pillow_order() -> str:
    """``"pillow13"`` when the installed Pillow is 13 or newer, else ``"horizontal"``."""
    try:
        import PIL

        major = int(str(PIL.__version__).split(".")[0])
    except (ImportError, ValueError):  # pragma: no cover - Pillow is a dependency
        major = 0
    return "pillow13" if major >= 13 else "horizontal"


def vertical_first(h: int, w: int, out_h: int, out_w: int, order: str) -> bool:
    """Which pass Pillow runs first.  Up to Pillow 12 always the horizontal one; Pillow 13
    runs the vertical pass first when ``max(H - out_h, 0) > 2 * max(W - out_w, 0)``
    (measured: that rule reproduces Pillow 13.0's choice on 600 random size pairs)."""
    if order == "auto":
        order = installed_pillow_order()
    if order == "horizontal":
        return False
    if order == "vertical":
        return True
    if order == "pillow13":
        return max(h - out_h, 0) > 2 * max(w - out_w, 0)
    raise InvalidArgumentError(f"order must be 'auto', 'horizontal', 'vertical' or 'pillow13', got {order!r}")


def lanczos_resize(grey: torch.Tensor, out_h: int, out_w: int, order: str = "auto") -> torch.Tensor:
    """Pillow's ``Image.resize((out_w, out_h), LANCZOS)`` of 8-bit 'L' images, bit for bit.

    Args:
        grey: ``(B, H, W)`` holding integers 0..255 (any device).
        out_h, out_w: output size.
        order: which pass runs first: ``"auto"`` follows the installed Pillow (see
            :func:`vertical_first`), or ``"horizontal"`` (Pillow <= 12), ``"pillow13"``,
            ``"vertical"``.  An explicit order always runs the matmul path.

    Returns:
        ``(B, out_h, out_w)`` float64 holding integers 0..255.  Each pass is rounded to 8
        bits before the next, as in Pillow; a pass whose size does not change is skipped.
        On the CPU with ``order="auto"`` Pillow itself runs (its integer loops touch only
        the taps); elsewhere each pass is one float64 matmul with the cached matrix.
    """
    _, h, w = grey.shape
    if grey.device.type == "cpu" and order == "auto" and (out_h, out_w) != (h, w):
        return pillow_resize(grey, out_h, out_w)
    x = grey.to(torch.float64)

    def horizontal(t: torch.Tensor) -> torch.Tensor:
        if out_w == t.shape[-1]:
            return t
        return _resample_last(t, out_w)

    def vertical(t: torch.Tensor) -> torch.Tensor:
        if out_h == t.shape[-2]:
            return t
        return _resample_last(t.transpose(-1, -2), out_h).transpose(-1, -2)

    if vertical_first(h, w, out_h, out_w, order):
        return horizontal(vertical(x))
    return vertical(horizontal(x))


def pillow_resize(grey: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """Pillow's own 8-bit LANCZOS on CPU images: exact by construction, whatever Pillow's
    pass order.  ``(B, H, W)`` 0..255 in, ``(B, out_h, out_w)`` float64 out."""
    from PIL import Image

    u8 = (grey if grey.dtype == torch.uint8 else grey.to(torch.uint8)).numpy()
    out = np.stack(
        [np.asarray(Image.fromarray(g).resize((out_w, out_h), Image.Resampling.LANCZOS)) for g in u8]
    )
    return torch.from_numpy(out).to(torch.float64)


def _resample_last(t: torch.Tensor, out_size: int) -> torch.Tensor:
    """One Pillow pass along the last axis: ``clip8((t @ M.T + 2**21) >> 22)``, one exact
    float64 matmul."""
    m = resample_matrix(t.shape[-1], out_size, t.device)
    return fixed_point_round(torch.matmul(t, m.T))


def symmetric_resize(grey: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """LANCZOS resize that commutes with transposes and flips (for the D4 hashes).

    The same coefficients as :func:`lanczos_resize`, but both passes in float64 with no
    8-bit rounding between them, and the result rounded to a 1/65536 grid: a transposed
    input then gives the transposed output (Pillow's two 8-bit passes in a fixed order do
    not, which changes a few pixels by one level, enough to move a dHash bit), while float
    noise does not split values that are equal (flat regions keep exact ties).

    Args:
        grey: ``(B, H, W)`` float64.

    Returns:
        ``(B, out_h, out_w)`` float64, pixel values on the 0..255 scale.
    """
    grey = grey.to(torch.float64)
    _, h, w = grey.shape
    x = torch.matmul(resample_matrix(h, out_h, grey.device), grey)
    x = torch.matmul(x, resample_matrix(w, out_w, grey.device).T)
    return grid_round(x)


def grid_round(sums: torch.Tensor) -> torch.Tensor:
    """Fixed-point sums (scale ``2**44``) of the unrounded resize to the 1/65536 grid."""
    return torch.round(sums * (65536.0 / float(1 << (2 * PRECISION_BITS)))) / 65536.0


def clear_cache() -> None:
    """Forget the cached device matrices."""
    _cached_matrix.cache_clear()
