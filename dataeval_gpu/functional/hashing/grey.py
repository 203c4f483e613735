"""The 8-bit grey images the near hashes read, in tensor ops (any device).

* DataEval 0.65's (``"mean"``, the plain hashes): the channel mean with numpy's dtype rules,
  then its ``rescale(x, 8)`` and ``astype(uint8)``, replayed;
* BT.601 luma (``"luma"``, the D4 hashes): of an 8-bit RGB / RGBA image Pillow's
  ``convert("L")``, ``(19595 R + 38470 G + 7471 B + 2**15) >> 16`` (what Pillow, OpenCV and
  torchvision give a grey copy, within a level), an RGBA image's alpha averaged in as the
  channel mean averages it (``floor((3 Y + A) / 4)``); a 3- or 4-channel image of another dtype
  (16-bit, float) the same weights in float64 and then 0.65's ``rescale(x, 8)``, as the mean's
  grey takes it (so a 16-bit PNG or a float tensor hashes as its 8-bit copy, within a level);
  every other image (1, 2 or more than 4 channels) the channel mean.  An image with R = G = B
  has the same grey either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import torch

from ...errors import ImageShapeError, InvalidArgumentError
from ..bitdepth import bit_depth

__all__ = ["GREYS", "LUMA_WEIGHTS", "channel_mean", "grey8", "grey_uint8", "hash_grey8", "luma8", "rescale_uint8", "size_buckets"]

#: the greys a near hash reads (:class:`~.kernels.HashSpec`'s ``grey``)
GREYS = ("mean", "luma")
#: Pillow's integer BT.601 weights (``convert("L")``, ``libImaging/Convert.c``): they sum to 2**16
LUMA_WEIGHTS = (19595, 38470, 7471)


def grey_dtype(dtype: torch.dtype) -> tuple[torch.dtype, torch.dtype]:
    """(accumulator dtype, grey dtype) of ``numpy.mean(x, axis=0)`` for an image dtype."""
    if dtype == torch.float64:
        return torch.float64, torch.float64
    if dtype == torch.float32:
        return torch.float32, torch.float32
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32, dtype  # numpy sums float16 in float32 and rounds back
    return torch.float64, torch.float64  # integers and bool


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)`` as ``numpy.mean(x, axis=0)`` per image.

    numpy reduces the outer (channel) axis by adding whole planes in order, in the
    accumulator dtype, then divides by ``C``; this does the same operations.
    """
    acc_dtype, out_dtype = grey_dtype(x.dtype)
    s = x[:, 0].to(acc_dtype)
    for c in range(1, x.shape[1]):
        s = s + x[:, c].to(acc_dtype)
    return (s / x.shape[1]).to(out_dtype)


def rescale_uint8(grey: torch.Tensor) -> torch.Tensor:
    """DataEval 0.65's ``rescale(grey, 8).astype(np.uint8)`` per image, as float64.

    Args:
        grey: ``(B, H, W)`` floating (the dtype numpy's mean would have).

    Returns:
        ``(B, H, W)`` float64 holding integers 0..255.  The bit depth ``d`` of each image is
        the smallest of (1, 8, 12, 16, 32) with ``2**d > max`` (32 when none is), 0 when the
        minimum is negative; ``d == 8`` leaves the values unchanged, otherwise they become
        ``(x + pmin) / (pmax - pmin) * 255`` in the grey dtype (``pmin, pmax = 0, 2**d - 1``
        for ``d > 0``, the image's own extremes for ``d == 0``: 0.65's formula, sign and
        all), and are then cast as numpy's float -> uint8 cast does on x86-64: truncated,
        wrapped modulo 256, 0 outside the int32 range and for NaN and infinities.
    """
    b = grey.shape[0]
    flat = grey.reshape(b, -1)
    pmin = flat.amin(dim=1)
    pmax = flat.amax(dim=1)
    depth = bit_depth(pmin, pmax)  # NaN max -> 32

    scale = (torch.exp2(depth.double()) - 1.0).to(grey.dtype)  # 2**d - 1 rounded to the grey dtype
    lo = torch.where(depth == 0, pmin, torch.zeros_like(pmin))
    hi = torch.where(depth == 0, pmax, scale)
    lo3, hi3 = lo[:, None, None], hi[:, None, None]
    scaled = (grey + lo3) / (hi3 - lo3) * 255
    v = torch.where((depth == 8)[:, None, None], grey, scaled).to(torch.float64)
    # numpy's float -> uint8 cast on x86-64 goes through a 32-bit integer conversion:
    # truncate, keep the low byte; values outside the int32 range, NaN and infinities
    # give 0 (measured with numpy 2.4 on this platform).
    v = torch.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
    v = torch.where((v > -(2.0**31) - 1.0) & (v < 2.0**31), v, torch.zeros_like(v))
    return (v.to(torch.int64) & 255).to(torch.float64)


def size_buckets(images: Sequence[torch.Tensor], min_side: int) -> dict[tuple, list[int]]:
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, img in enumerate(images):
        if img.ndim != 3:
            raise ImageShapeError(f"image {i}: expected (C, H, W), got shape {tuple(img.shape)}")
        c, h, w = img.shape
        if min(h, w) >= min_side and c > 0:
            buckets[(int(h), int(w), int(c), img.dtype, img.device)].append(i)
    return buckets


_SMALL_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.bool) + tuple(
    t for t in (getattr(torch, "uint16", None),) if t is not None
)


def grey8(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)`` float32/float64 holding 0.65's 8-bit grey values (0..255).

    Integer images of at most 32 bits take an exact integer path: the channel sum ``s`` is
    an integer (numpy's float64 sum of these values is exact too), the bit depth follows
    from integer comparisons (``2**d > s_max / C`` iff ``2**d * C > s_max``), and an image
    of depth 8 (every ordinary 8-bit photo) is ``s // C`` (``s / C`` is never within a
    rounding error of the next integer).  Every other image (floats, other depths,
    negative values, int64) goes through :func:`channel_mean` and :func:`rescale_uint8`,
    which replay numpy's float operations.  One host sync per stack reads the depths.
    """
    b, c = x.shape[0], x.shape[1]
    if x.dtype not in _SMALL_INTS:
        return rescale_uint8(channel_mean(x))
    if x.dtype in (torch.uint8, torch.bool) and c <= 128:
        # 8-bit: one int16 reduction (255 * 128 < 2**15)
        s = x.sum(1, dtype=torch.int16)
    else:
        acc = torch.int64 if x.dtype == torch.int32 or c > 1 << 15 else torch.int32
        s = x[:, 0].to(acc)
        promotes = x.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.bool)
        for ch in range(1, c):
            s += x[:, ch] if promotes else x[:, ch].to(acc)  # torch does not promote uint16
    flat = s.reshape(b, -1)
    smin, smax = flat.amin(dim=1), flat.amax(dim=1)
    # depth 8 <=> min >= 0 and 2 <= max / C < 256, i.e. 2 C <= s_max < 256 C
    is8 = ((smin >= 0) & (smax >= 2 * c) & (smax < 256 * c)).tolist()

    def mean_floor(t: torch.Tensor) -> torch.Tensor:
        # floor(s / C) in float32 is exact here: s = qC + r < 2**24 is exact, and a
        # non-integer quotient sits >= 1/C from the next integer, far above float32's
        # rounding (q < 256, C < 65536).  Integer floor division is ~10x slower on the CPU.
        if t.device.type == "cpu" and c <= 16:
            # CPU: straight to uint8 for Pillow; floor(s / C) = (s · ceil(2**16 / C)) >> 16
            # exactly for s <= 255·C when 255·C² < 2**16 (the error stays below 1/C)
            if c == 1:
                return t.to(torch.uint8)
            return ((t.to(torch.int32) * ((65536 + c - 1) // c)) >> 16).to(torch.uint8)
        if c == 1:
            return t.to(torch.float32)
        if c >= 65536:  # pragma: no cover - absurd channel counts: exact integer division
            return torch.div(t, c, rounding_mode="floor").to(torch.float64)
        return torch.floor(t.to(torch.float32) / float(c))

    if all(is8):
        return mean_floor(s)
    out = torch.empty(s.shape, dtype=torch.float64, device=x.device)
    d8 = [i for i, f in enumerate(is8) if f]
    other = [i for i, f in enumerate(is8) if not f]
    if d8:
        i8 = torch.tensor(d8, device=x.device)
        out[i8] = mean_floor(s[i8]).to(torch.float64)  # mixed stack: float64 for all
    io = torch.tensor(other, device=x.device)
    # torch has no CUDA indexing kernel for uint16 ("index_cuda" not implemented for 'UInt16'):
    # the stack is widened to int32 first (exact; channel_mean sums integers in float64 anyway)
    wide = x.to(torch.int32) if x.dtype == getattr(torch, "uint16", None) else x
    out[io] = rescale_uint8(channel_mean(wide[io]))
    return out


def grey_uint8(image: torch.Tensor) -> torch.Tensor:
    """The 8-bit grey image DataEval 0.65's ``pchash`` resizes, for one ``(C, H, W)`` image.

    Returns:
        ``(H, W)`` uint8: channel mean (numpy's dtype rules) then 0.65's ``rescale(x, 8)``
        and ``astype(uint8)`` (see :func:`rescale_uint8`).
    """
    return grey8(image[None])[0].to(torch.uint8)


def luma8(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)``: the ``"luma"`` grey of 0..255 values (see the module).

    A uint8 stack of 3 or 4 channels: ``Y = (19595 R + 38470 G + 7471 B + 2**15) >> 16``
    (exact int32), with alpha ``floor((3 Y + A) / 4)``; an image whose grey peaks under 2 then
    takes 0.65's ``rescale(x, 8)`` of that grey as :func:`grey8` takes the mean's (float64
    for the whole stack then).  A 3- or 4-channel stack of another dtype (uint16, float, ...):
    ``Y = (19595 R + 38470 G + 7471 B) / 2**16`` and ``(3 Y + A) / 4`` in float64, then
    :func:`rescale_uint8` (0.65's bit depth of that grey: a 16-bit image over 65,535 levels, a
    float one in [0, 1] times 255), float64 - the grey of its 8-bit copy within a level (the
    channel mean there was 20-24 bits of the D4 pchash from the copy's luma on a colourful photo).
    Every other stack (1, 2 or more than 4 channels): :func:`grey8`.  Float32 otherwise (any device).
    """
    b, c = x.shape[0], x.shape[1]
    if c not in (3, 4):
        return grey8(x)
    wr, wg, wb = LUMA_WEIGHTS
    if x.dtype != torch.uint8:
        # int32 first: torch has no float cast kernel for uint16 on every device
        f = (x.to(torch.int32) if x.dtype == getattr(torch, "uint16", None) else x).to(torch.float64)
        yf = (f[:, 0] * wr + f[:, 1] * wg + f[:, 2] * wb) / 65536.0
        return rescale_uint8((3.0 * yf + f[:, 3]) / 4.0 if c == 4 else yf)
    r, g, bl = (x[:, k].to(torch.int32) for k in range(3))
    y = (r * wr + g * wg + bl * wb + (1 << 15)) >> 16
    if c == 4:
        y = (3 * y + x[:, 3].to(torch.int32)) >> 2
    low = (y.reshape(b, -1).amax(dim=1) < 2).tolist()  # depth 8 <=> peak >= 2 (one host sync)
    if not any(low):
        return y.to(torch.float32)
    out = y.to(torch.float64)
    at = torch.tensor([i for i, f in enumerate(low) if f], device=x.device)
    out[at] = rescale_uint8(out[at])
    return out


def hash_grey8(x: torch.Tensor, grey: str = "mean") -> torch.Tensor:
    """The grey image a near hash reads: :func:`grey8` (``"mean"``) or :func:`luma8` (``"luma"``)."""
    if grey == "mean":
        return grey8(x)
    if grey == "luma":
        return luma8(x)
    raise InvalidArgumentError(f"grey must be one of {GREYS}, got {grey!r}")
