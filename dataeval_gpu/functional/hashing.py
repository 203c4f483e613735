"""Batched image hashes and Hamming-radius search on packed 64-bit hashes.

Every hash is one 64-bit value per image, stored as ``int64`` (the unsigned value
bit-cast: bit 63, the first bit of a perceptual hash, is the sign bit).  Functions take a
list of ``(C, H, W)`` tensors of any size, dtype and device; the perceptual hashes group
the images by size so that each size bucket is one batched matmul, and results stay on
the images' device.

* :func:`xxhash64` -- xxh3_64 of the raw bytes (exact duplicates; DataEval's ``xxhash``).
* :func:`perceptual_hash` -- DataEval 0.65's ``pchash`` reproduced in tensor ops: channel
  mean, 0.65's 8-bit rescale, Pillow's 8-bit LANCZOS resize emulated exactly with
  fixed-point resampling matrices, 2-D DCT-II, top-left 8x8 against its median.
* :func:`difference_hash` -- DataEval 1.x's ``dhash`` on the same grey image.
* :func:`perceptual_hash_d4`, :func:`difference_hash_d4` -- rotation/flip invariant
  versions (the smallest of the 8 dihedral variants).
* :func:`popcount64`, :func:`hamming_distance`, :func:`near_pairs`, :func:`radius_groups`,
  :func:`equal_groups` -- XOR + popcount and an all-pairs-within-radius search that uses a
  multi-index (pigeonhole) block join instead of N^2 comparisons when that is cheaper.
"""

from __future__ import annotations

import math
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import ImageShapeError, InvalidArgumentError
from . import _resample_cpu as _rcpu
from .bitdepth import bit_depth

__all__ = [
    "HASH_SIZE",
    "MIN_SIDE",
    "difference_hash",
    "difference_hash_d4",
    "equal_groups",
    "grey_uint8",
    "hamming_distance",
    "hash_hex",
    "hex_to_hash",
    "lanczos_resize",
    "near_pairs",
    "pack_bits",
    "perceptual_hash",
    "perceptual_hash_d4",
    "perceptual_hash_size",
    "popcount64",
    "radius_groups",
    "symmetric_resize",
    "xxhash64",
]

HASH_SIZE = 8
"""Side of the bit grid: every perceptual hash has ``HASH_SIZE ** 2 = 64`` bits."""
MAX_FACTOR = 4
MIN_SIDE = HASH_SIZE + 1
"""Smallest ``min(H, W)`` that has a perceptual hash (DataEval 0.65 raises below it)."""

_PRECISION_BITS = 22  # Pillow's fixed point for 8-bit resampling: 32 - 8 - 2
_LANCZOS_SUPPORT = 3.0
_U64 = (1 << 64) - 1
_SIGN = -(1 << 63)
# the most elements one float64 stack of grey images may hold (128 MiB)
_MAX_STACK_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------- xxhash


def _raw_bytes(image: Any) -> memoryview:
    """C-order bytes of one image (numpy array or tensor), original dtype, no copy if contiguous."""
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        if t.dtype == torch.bool:
            t = t.view(torch.uint8)
        elif t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        arr = t.numpy()
    else:
        arr = np.asarray(image)
        if arr.dtype == object:
            raise InvalidArgumentError(f"xxhash64: cannot hash an object array of shape {arr.shape}")
    arr = np.ascontiguousarray(arr).reshape(-1)
    return memoryview(arr.view(np.uint8))


def _to_signed(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


def xxhash64(images: Sequence[Any], device: str | torch.device | None = None) -> torch.Tensor:
    """xxh3_64 of the raw bytes of each image.

    Args:
        images: ``N`` images, each a tensor (any device) or numpy array; its C-contiguous
            bytes in the original dtype are hashed (``bool`` as one byte per element,
            ``bfloat16`` through an ``int16`` view, numpy arrays keep their byte order),
            exactly ``xxhash.xxh3_64(array.ravel().tobytes())`` as DataEval does.
        device: where the result goes (default: the first tensor's device, else the CPU).

    Returns:
        ``(N,)`` int64: the unsigned 64-bit digests bit-cast to int64 (format them with
        :func:`hash_hex`).  Hashing runs on the host; GPU tensors are copied to the CPU.
    """
    import xxhash

    values = [_to_signed(xxhash.xxh3_64_intdigest(_raw_bytes(img))) for img in images]
    if device is None:
        device = next((i.device for i in images if isinstance(i, torch.Tensor)), torch.device("cpu"))
    return torch.tensor(values, dtype=torch.int64, device=device)


def hash_hex(values: torch.Tensor, strip: bool = False, valid: torch.Tensor | None = None) -> list[str]:
    """Hex strings of packed 64-bit hashes.

    Args:
        values: ``(N,)`` int64 (bit-cast unsigned 64-bit hashes).
        strip: ``False`` gives 16 zero-padded characters (``xxhash.xxh3_64_hexdigest``);
            ``True`` gives DataEval 0.65's ``pchash`` format: leading zeros stripped,
            ``"0"`` for the all-zero hash (``format(value, "x")``).
        valid: optional ``(N,)`` bool; invalid entries become ``""``.

    Returns:
        ``N`` strings.
    """
    vals = values.detach().reshape(-1).cpu().tolist()
    ok = [True] * len(vals) if valid is None else valid.detach().reshape(-1).cpu().tolist()
    fmt = "x" if strip else "016x"
    return [format(v & _U64, fmt) if k else "" for v, k in zip(vals, ok, strict=True)]


def hex_to_hash(
    hexes: Sequence[str | None], device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse hex hashes (any of the formats of :func:`hash_hex`) back into packed int64.

    Returns:
        ``(values, valid)``: ``(N,)`` int64 and ``(N,)`` bool; empty strings or ``None``
        (an image without a hash) are invalid with value 0.
    """
    vals, ok = [], []
    for i, h in enumerate(hexes):
        if h is None or h == "":
            vals.append(0)
            ok.append(False)
            continue
        try:
            v = int(h, 16)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"hash {i}: expected a hex string, got {h!r}") from exc
        if v < 0 or v > _U64:
            raise InvalidArgumentError(f"hash {i}: {h!r} does not fit in 64 bits")
        vals.append(_to_signed(v))
        ok.append(True)
    dev = torch.device("cpu") if device is None else torch.device(device)
    return torch.tensor(vals, dtype=torch.int64, device=dev), torch.tensor(ok, dtype=torch.bool, device=dev)


# --------------------------------------------------------------- grey image (0.65 rules)


def _grey_dtype(dtype: torch.dtype) -> tuple[torch.dtype, torch.dtype]:
    """(accumulator dtype, grey dtype) of ``numpy.mean(x, axis=0)`` for an image dtype."""
    if dtype == torch.float64:
        return torch.float64, torch.float64
    if dtype == torch.float32:
        return torch.float32, torch.float32
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32, dtype  # numpy sums float16 in float32 and rounds back
    return torch.float64, torch.float64  # integers and bool


def _channel_mean(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)`` as ``numpy.mean(x, axis=0)`` per image.

    numpy reduces the outer (channel) axis by adding whole planes in order, in the
    accumulator dtype, then divides by ``C``; this does the same operations.
    """
    acc_dtype, out_dtype = _grey_dtype(x.dtype)
    s = x[:, 0].to(acc_dtype)
    for c in range(1, x.shape[1]):
        s = s + x[:, c].to(acc_dtype)
    return (s / x.shape[1]).to(out_dtype)


def _rescale_uint8(grey: torch.Tensor) -> torch.Tensor:
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


def _size_buckets(images: Sequence[torch.Tensor], min_side: int) -> dict[tuple, list[int]]:
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


def _grey8(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)`` float32/float64 holding 0.65's 8-bit grey values (0..255).

    Integer images of at most 32 bits take an exact integer path: the channel sum ``s`` is
    an integer (numpy's float64 sum of these values is exact too), the bit depth follows
    from integer comparisons (``2**d > s_max / C`` iff ``2**d * C > s_max``), and an image
    of depth 8 (every ordinary 8-bit photo) is ``s // C`` (``s / C`` is never within a
    rounding error of the next integer).  Every other image (floats, other depths,
    negative values, int64) goes through :func:`_channel_mean` and :func:`_rescale_uint8`,
    which replay numpy's float operations.  One host sync per stack reads the depths.
    """
    b, c = x.shape[0], x.shape[1]
    if x.dtype not in _SMALL_INTS:
        return _rescale_uint8(_channel_mean(x))
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
    out[io] = _rescale_uint8(_channel_mean(x[io]))
    return out


def grey_uint8(image: torch.Tensor) -> torch.Tensor:
    """The 8-bit grey image DataEval 0.65's ``pchash`` resizes, for one ``(C, H, W)`` image.

    Returns:
        ``(H, W)`` uint8: channel mean (numpy's dtype rules) then 0.65's ``rescale(x, 8)``
        and ``astype(uint8)`` (see :func:`_rescale_uint8`).
    """
    return _grey8(image[None])[0].to(torch.uint8)


# ------------------------------------------------------------- Pillow LANCZOS, exactly


_MATRIX_CACHE_HOST: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
_MATRIX_CACHE_DEV: OrderedDict[tuple[str, int, int], torch.Tensor] = OrderedDict()
_CACHE_SIZE = 2048


def _sin_libm(x: np.ndarray) -> np.ndarray:
    """``sin`` from the C library (``math.sin``), elementwise: numpy's own vectorised sin
    may differ in the last bit, Pillow calls the C library's."""
    return np.fromiter(map(math.sin, x.ravel().tolist()), dtype=np.float64, count=x.size).reshape(x.shape)


def _resample_matrix_host(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's 8-bit fixed-point LANCZOS coefficients as an ``(out, in)`` float64 matrix.

    Follows ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` of Pillow's
    ``libImaging/Resample.c`` operation by operation in double precision: per output
    pixel ``xx`` the window ``[int(center - support + 0.5), int(center + support + 0.5))``
    clipped to the image (``center = (xx + 0.5) * scale``, ``support = 3 * max(scale, 1)``),
    weights ``lanczos((x + xmin - center + 0.5) / max(scale, 1))`` summed in order and
    normalised by that sum, then ``int(w * 2**22 +- 0.5)``.  The elementwise float
    operations are IEEE-exact in numpy as in C; ``sin`` is the C library's.  The entries
    are integers (|k| < 2**23).
    """
    key = (in_size, out_size)
    hit = _MATRIX_CACHE_HOST.get(key)
    if hit is not None:
        _MATRIX_CACHE_HOST.move_to_end(key)
        return hit
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    ss = 1.0 / filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    center = (np.arange(out_size, dtype=np.float64) + 0.5) * scale
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)  # C cast: toward zero
    xmax = np.minimum((center + support + 0.5).astype(np.int64), in_size) - xmin
    taps = np.arange(ksize, dtype=np.int64)[None, :]
    inside = taps < xmax[:, None]
    arg = ((taps + xmin[:, None]).astype(np.float64) - center[:, None] + 0.5) * ss
    arg = np.where(inside, arg, 10.0)  # outside the window: lanczos gives 0
    w = _lanczos_vec(arg)
    ww = np.zeros(out_size, dtype=np.float64)
    for x in range(ksize):  # sequential sum, as the C loop
        ww = ww + w[:, x]
    w = np.where((ww != 0.0)[:, None], w / np.where(ww != 0.0, ww, 1.0)[:, None], w)
    one = float(1 << _PRECISION_BITS)
    fixed = np.where(w < 0, -0.5 + w * one, 0.5 + w * one)
    fixed = np.trunc(fixed) * inside
    m = np.zeros((out_size, in_size), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_size)[:, None], inside.shape)[inside]
    cols = (taps + xmin[:, None])[inside]
    m[rows, cols] = fixed[inside]
    _MATRIX_CACHE_HOST[key] = m
    if len(_MATRIX_CACHE_HOST) > _CACHE_SIZE:
        _MATRIX_CACHE_HOST.popitem(last=False)
    return m


def _lanczos_vec(x: np.ndarray) -> np.ndarray:
    """Pillow's ``lanczos_filter`` elementwise (``sinc(x) * sinc(x / 3)`` on [-3, 3))."""
    inside = (x >= -_LANCZOS_SUPPORT) & (x < _LANCZOS_SUPPORT)
    xi = x[inside]
    out = np.zeros_like(x)
    out[inside] = _sinc_vec(xi) * _sinc_vec(xi / 3.0)
    return out


def _sinc_vec(x: np.ndarray) -> np.ndarray:
    zero = x == 0.0
    px = np.where(zero, 1.0, x) * math.pi
    return np.where(zero, 1.0, _sin_libm(px) / px)


def _resample_matrix(in_size: int, out_size: int, device: torch.device) -> torch.Tensor:
    key = (str(device), in_size, out_size)
    hit = _MATRIX_CACHE_DEV.get(key)
    if hit is not None:
        _MATRIX_CACHE_DEV.move_to_end(key)
        return hit
    t = torch.from_numpy(_resample_matrix_host(in_size, out_size)).to(device)
    _MATRIX_CACHE_DEV[key] = t
    if len(_MATRIX_CACHE_DEV) > _CACHE_SIZE:
        _MATRIX_CACHE_DEV.popitem(last=False)
    return t


def _fixed_point_round(x: torch.Tensor) -> torch.Tensor:
    """Pillow's ``clip8((sum + 2**21) >> 22)`` on exact float64 integer sums."""
    return torch.floor((x + float(1 << (_PRECISION_BITS - 1))) * (1.0 / (1 << _PRECISION_BITS))).clamp_(
        0, 255
    )


_PILLOW_ORDER: str | None = None


def _installed_pillow_order() -> str:
    """``"pillow13"`` when the installed Pillow is 13 or newer, else ``"horizontal"``."""
    global _PILLOW_ORDER
    if _PILLOW_ORDER is None:
        try:
            import PIL

            major = int(str(PIL.__version__).split(".")[0])
        except (ImportError, ValueError):  # pragma: no cover - Pillow is a dependency
            major = 0
        _PILLOW_ORDER = "pillow13" if major >= 13 else "horizontal"
    return _PILLOW_ORDER


def _vertical_first(h: int, w: int, out_h: int, out_w: int, order: str) -> bool:
    """Which pass Pillow runs first.  Up to Pillow 12 always the horizontal one; Pillow 13
    runs the vertical pass first when ``max(H - out_h, 0) > 2 * max(W - out_w, 0)``
    (measured: that rule reproduces Pillow 13.0's choice on 600 random size pairs)."""
    if order == "auto":
        order = _installed_pillow_order()
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
        grey: ``(B, H, W)`` float64 holding integers 0..255 (any device).
        out_h, out_w: output size.
        order: which pass runs first: ``"auto"`` follows the installed Pillow (see
            :func:`_vertical_first`), or ``"horizontal"`` (Pillow <= 12), ``"pillow13"``,
            ``"vertical"``.

    Returns:
        ``(B, out_h, out_w)`` float64 holding integers 0..255.  Each pass is rounded to 8
        bits before the next, as in Pillow; a pass whose size does not change is skipped.
        Each pass is one float64 matmul with the cached fixed-point matrix: every product
        and partial sum is an integer below 2**53, so the result is exact whatever the
        summation order.
    """
    _, h, w = grey.shape
    if grey.device.type == "cpu" and order == "auto" and (out_h, out_w) != (h, w):
        return _pillow_resize(grey, out_h, out_w)
    if grey.dtype not in (torch.float64, torch.float32):
        grey = grey.to(torch.float64)
    x = grey

    def horizontal(t: torch.Tensor) -> torch.Tensor:
        if out_w == t.shape[-1]:
            return t
        return _resample_last(t, t.shape[-1], out_w)

    def vertical(t: torch.Tensor) -> torch.Tensor:
        if out_h == t.shape[-2]:
            return t
        return _resample_last(t.transpose(-1, -2), t.shape[-2], out_h).transpose(-1, -2)

    if _vertical_first(h, w, out_h, out_w, order):
        return horizontal(vertical(x))
    return vertical(horizontal(x))



def _pillow_resize(grey: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """On the CPU, Pillow's own 8-bit LANCZOS (its integer C loops touch only the ~6·scale taps
    of each output, where a matmul touches every input): exact by construction, whatever
    Pillow's pass order, and the fastest exact option here.  ``(B, H, W)`` 0..255 in,
    ``(B, out_h, out_w)`` float64 out."""
    from PIL import Image

    u8 = (grey if grey.dtype == torch.uint8 else grey.to(torch.uint8)).numpy()
    out = np.stack(
        [np.asarray(Image.fromarray(g).resize((out_w, out_h), Image.Resampling.LANCZOS)) for g in u8]
    )
    return torch.from_numpy(out).to(torch.float64)


def _resample_last(t: torch.Tensor, in_size: int, out_size: int) -> torch.Tensor:
    """One Pillow pass along the last axis: ``clip8((t @ M.T + 2**21) >> 22)``, exactly.

    CUDA and small inputs: one float64 matmul, exact since every partial sum is an integer
    below 2**53.  CPU, large inputs (the first pass over the full image): float64 matmuls
    cost ~3x float32 ones there, so the pass runs as one float32 matmul with a rigorous
    bound on its error per output column; the few entries whose rounding that error could
    change (~1%) are recomputed as exact float64 dot products.  Same integers as the
    float64 path, bit for bit.
    """
    if t.device.type != "cpu" or t.numel() < 65536:
        m = _resample_matrix(in_size, out_size, t.device)
        return _fixed_point_round(torch.matmul(t.to(torch.float64), m.T))
    plan = _band_plan(in_size, out_size)
    t32 = t.to(torch.float32)
    y = torch.matmul(t32, plan.m32t)
    scaled = y.to(torch.float64) * (1.0 / (1 << _PRECISION_BITS)) + 0.5
    out = torch.floor(scaled)
    risky = ((scaled - torch.round(scaled)).abs() <= plan.eps).nonzero(as_tuple=True)
    if risky[0].numel():
        rows = t32[risky[:-1]].to(torch.float64)  # (n, in)
        cols = plan.m64t[:, risky[-1]].T  # (n, in)
        exact = (rows * cols).sum(-1)
        out[risky] = torch.floor((exact + float(1 << (_PRECISION_BITS - 1))) * (1.0 / (1 << _PRECISION_BITS)))
    return out.clamp_(0, 255)


class _BandPlan:
    """A resampling matrix in float32 and float64, and the per-column float32 error bound."""

    def __init__(self, in_size: int, out_size: int) -> None:
        m = _resample_matrix_host(in_size, out_size)  # (out, in), integers
        self.m64t = torch.from_numpy(np.ascontiguousarray(m.T))
        self.m32t = self.m64t.to(torch.float32)  # |k| < 2**23: exact in float32
        # |float32 dot - exact| <= (terms + margin) * 2**-24 * sum|p * k| with p <= 255 and
        # terms the non-zero products (adding an exact zero is exact); the margin covers
        # blocked summation and product rounding.  In output units (/ 2**22).
        nnz = (m != 0).sum(1).astype(np.float64)
        bound = (nnz + 32.0) * 2.0**-24 * 255.0 * np.abs(m).sum(1) * 1.01
        self.eps = torch.from_numpy(bound / float(1 << _PRECISION_BITS) + 1e-9)


_BAND_CACHE: OrderedDict[tuple[int, int], _BandPlan] = OrderedDict()


def _band_plan(in_size: int, out_size: int) -> _BandPlan:
    key = (in_size, out_size)
    hit = _BAND_CACHE.get(key)
    if hit is not None:
        _BAND_CACHE.move_to_end(key)
        return hit
    plan = _BandPlan(in_size, out_size)
    _BAND_CACHE[key] = plan
    if len(_BAND_CACHE) > _CACHE_SIZE:
        _BAND_CACHE.popitem(last=False)
    return plan


# ------------------------------------------------------------------------ hash kernels


_DCT_CACHE: dict[tuple[str, int], torch.Tensor] = {}


def _dct_rows(n: int, device: torch.device) -> torch.Tensor:
    """First ``HASH_SIZE`` rows of scipy's unnormalised DCT-II matrix, ``(8, n)`` float64:
    ``D[k, i] = 2 cos(pi k (2 i + 1) / (2 n))``."""
    key = (str(device), n)
    d = _DCT_CACHE.get(key)
    if d is None:
        k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
        i = np.arange(n, dtype=np.float64)[None, :]
        d = torch.from_numpy(2.0 * np.cos(np.pi * k * (2.0 * i + 1.0) / (2.0 * n))).to(device)
        _DCT_CACHE[key] = d
    return d


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """``(..., 64)`` bool -> ``(...)`` int64, the first bit the most significant (bit 63)."""
    shifts = torch.arange(63, -1, -1, dtype=torch.int64, device=bits.device)
    weights = torch.bitwise_left_shift(torch.ones_like(shifts), shifts)  # bit 63 wraps to -2**63
    return (bits.to(torch.int64) * weights).sum(dim=-1)


def _median_bits(coeffs: torch.Tensor) -> torch.Tensor:
    """``(..., 8, 8)`` float64 -> ``(...)`` int64: bit = coefficient > numpy-style median."""
    flat = coeffs.reshape(*coeffs.shape[:-2], HASH_SIZE * HASH_SIZE)
    srt = flat.sort(dim=-1).values
    half = HASH_SIZE * HASH_SIZE // 2
    med = (srt[..., half - 1] + srt[..., half]) / 2
    return pack_bits(flat > med[..., None])


def perceptual_hash_size(h: int, w: int) -> int:
    """Side ``R`` of the square the pHash resizes to: ``8 * min((min(H, W) - 1) // 8, 4)``."""
    return HASH_SIZE * min((min(h, w) - 1) // HASH_SIZE, MAX_FACTOR)


_SNAP = 1e-11


def _dct8(small: torch.Tensor) -> torch.Tensor:
    """``(B, R, R)`` -> top-left ``(B, 8, 8)`` of scipy's ``dct(dct(x.T).T)``: ``D x D^T``.

    Coefficients smaller than ``1e-11 * (|DC| + 255)`` are set to exactly 0.  They are
    float noise around a true zero (the noise of a float64 matmul is ~1e-14 of the DC,
    a real coefficient of an 8-bit image is many orders above the threshold), and scipy's
    FFT returns exact zeros there for flat, striped and one-directional images: without
    the snap such images hash by rounding noise around a median of tied zeros (measured on
    600 structured images: 2/600 equal to scipy without, 547/600 with).
    """
    d = _dct_rows(small.shape[-1], small.device)
    c = torch.matmul(torch.matmul(d, small), d.T)
    tol = _SNAP * (c[..., :1, :1].abs() + 255.0)
    return torch.where(c.abs() <= tol, torch.zeros_like(c), c)


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
    if grey.dtype != torch.float64:
        grey = grey.to(torch.float64)
    _, h, w = grey.shape
    x = torch.matmul(_resample_matrix(h, out_h, grey.device), grey)
    x = torch.matmul(x, _resample_matrix(w, out_w, grey.device).T)
    return torch.round(x * (65536.0 / float(1 << (2 * _PRECISION_BITS)))) / 65536.0


def _hash_images(
    images: Sequence[torch.Tensor],
    side: Callable[[int, int], tuple[int, int]],
    kernel: Callable,
    resize: Callable = lanczos_resize,
) -> tuple[torch.Tensor, torch.Tensor]:
    images = list(images)
    dev = images[0].device if images else torch.device("cpu")
    if dev.type == "cpu" and resize in (lanczos_resize, symmetric_resize) and _rcpu.ready():
        return _hash_images_compiled(images, CpuPlan(side, kernel, exact=resize is symmetric_resize))
    out = torch.zeros(len(images), dtype=torch.int64, device=dev)
    valid = torch.zeros(len(images), dtype=torch.bool, device=dev)
    tasks = []
    for (h, w, c, _dtype, _dev), idx in _size_buckets(images, MIN_SIDE).items():
        # CPU: one image per task (stacking copies and spills cache; threads do the batching)
        per = 1 if dev.type == "cpu" else max(1, _MAX_STACK_ELEMENTS // (h * w * max(c, 1)))
        tasks.extend((h, w, idx[s : s + per]) for s in range(0, len(idx), per))

    def work(task: tuple[int, int, list[int]]) -> torch.Tensor:
        h, w, part = task
        x = images[part[0]].unsqueeze(0) if len(part) == 1 else torch.stack([images[i] for i in part])
        oh, ow = side(h, w)
        return kernel(resize(_grey8(x), oh, ow))

    if dev.type == "cpu":
        from .stats import _map_images_cpu  # image-level threads, intra-op threads at 1

        results = _map_images_cpu(work, tasks)
    else:
        results = [work(t) for t in tasks]
    for (_, _, part), res in zip(tasks, results):
        idx_t = torch.tensor(part, dtype=torch.int64, device=dev)
        out[idx_t] = res.to(dev)
        valid[idx_t] = True
    return out, valid


def _compiled_small(image: torch.Tensor, run: Callable[[np.ndarray, bool], np.ndarray | None]) -> np.ndarray:
    """One compiled resize of a CPU ``(C, H, W)`` image: 8-bit images of bit depth 8 go to
    ``run(pixels, need_depth8=True)`` in one pass (grey fused into it); every other image
    (other dtypes, > 16 channels, dark images 0.65 rescales) through :func:`_grey8` first."""
    if image.dtype == torch.uint8 and image.shape[0] <= 16:
        small = run(image.contiguous().numpy(), True)
        if small is not None:
            return small
    grey = _grey8(image[None]).to(torch.uint8).contiguous().numpy()  # (1, H, W), 0..255
    return run(grey, False)


def _small_grey_cpu(image: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
    """The ``(out_h, out_w)`` uint8 image 0.65 hashes (grey, then Pillow's LANCZOS, byte for
    byte) for one CPU image."""
    _, h, w = image.shape
    if out_h >= h or out_w >= w:  # Pillow skips a pass whose size does not change
        return _pillow_resize(_grey8(image[None]), out_h, out_w)[0].to(torch.uint8).numpy()
    vfirst = _vertical_first(h, w, out_h, out_w, "auto")
    return _compiled_small(image, lambda x, d8: _rcpu.grey_lanczos_u8(x, out_h, out_w, vfirst, need_depth8=d8))


def _small_exact_cpu(image: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
    """:func:`symmetric_resize`'s input to the D4 hashes for one CPU image, unscaled: the
    exact int64 ``M_v @ grey @ M_h^T`` (see ``_resample_cpu.grey_lanczos_exact``)."""
    return _compiled_small(image, lambda x, d8: _rcpu.grey_lanczos_exact(x, out_h, out_w, need_depth8=d8))


@dataclass(frozen=True)
class CpuPlan:
    """How :class:`CpuHasher` makes one near hash on the CPU.

    Attributes:
        side: the resized ``(out_h, out_w)`` for an ``(H, W)`` image.
        kernel: the batched hash kernel on a ``(B, out_h, out_w)`` float64 stack.
        exact: False: Pillow's 8-bit two-pass resize (:func:`lanczos_resize`); True: the
            unrounded resize of the D4 hashes (:func:`symmetric_resize`).
    """

    side: Callable[[int, int], tuple[int, int]]
    kernel: Callable[[torch.Tensor], torch.Tensor]
    exact: bool = False

    def small(self, image: torch.Tensor, out_h: int, out_w: int) -> np.ndarray:
        """The compiled per-image step (runs on a pool thread, releases the GIL)."""
        return (_small_exact_cpu if self.exact else _small_grey_cpu)(image, out_h, out_w)

    def finish(self, stack: np.ndarray) -> torch.Tensor:
        """Hashes of a stack of equal-sized small images."""
        t = torch.from_numpy(stack).to(torch.float64)  # |values| < 2**53: exact
        if self.exact:  # symmetric_resize's 1/65536 grid from the fixed-point sums
            t = torch.round(t * (65536.0 / float(1 << (2 * _PRECISION_BITS)))) / 65536.0
        return self.kernel(t)


class CpuHasher:
    """Hashes CPU images on the shared thread pool, streaming: :meth:`submit` queues each
    image as one task (xxhash of its bytes, then the compiled resize kernel, which releases
    the GIL) and returns at once, so batches overlap and no batch waits for its slowest
    image; :meth:`result` runs the hash kernel once per output size.

    Args:
        exact: compute the xxhash of each image's bytes.
        near: the near hash (:func:`cpu_near_plan`), or None.
        max_in_flight: most images queued at once (bounds the memory held by pending work).
    """

    def __init__(self, exact: bool, near: CpuPlan | None, max_in_flight: int = 256) -> None:
        from .stats import _pool, _threads

        self.exact = exact
        self.near = near
        self.max_in_flight = max(1, max_in_flight)
        self._pool = _pool(_threads())
        self._futures: list[Any] = []
        self._sizes: list[tuple[int, int] | None] = []
        self._first_open = 0

    def submit(self, sources: Sequence[Any], images: Sequence[torch.Tensor], start: int | None = None) -> None:
        """Queue images (``(C, H, W)`` CPU tensors) and the objects whose bytes xxhash reads."""
        base = len(self._sizes) if start is None else start
        for k, img in enumerate(images):
            size = None
            if self.near is not None:
                if img.ndim != 3:
                    raise ImageShapeError(f"image {base + k}: expected (C, H, W), got shape {tuple(img.shape)}")
                c, h, w = img.shape
                if min(h, w) >= MIN_SIDE and c > 0:
                    size = self.near.side(int(h), int(w))
            self._sizes.append(size)
            self._futures.append(self._pool.submit(self._one, sources[k] if self.exact else None, img, size))
            if len(self._futures) - self._first_open > self.max_in_flight:
                self._futures[self._first_open].result()
                self._first_open += 1

    def _one(self, source: Any, image: torch.Tensor, size: tuple[int, int] | None) -> tuple[int, Any]:
        import xxhash

        xx = _to_signed(xxhash.xxh3_64_intdigest(_raw_bytes(source))) if source is not None else 0
        small = self.near.small(image, size[0], size[1]) if size is not None and self.near else None
        return xx, small

    def result(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """``(xxhash, near, near_valid)`` as ``(N,)`` CPU tensors (None for what was not asked)."""
        done = [f.result() for f in self._futures]
        n = len(done)
        xx = torch.tensor([d[0] for d in done], dtype=torch.int64) if self.exact else None
        if self.near is None:
            return xx, None, None
        near = torch.zeros(n, dtype=torch.int64)
        valid = torch.zeros(n, dtype=torch.bool)
        by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, size in enumerate(self._sizes):
            if size is not None:
                by_size[size].append(i)
        for idx in by_size.values():
            idx_t = torch.tensor(idx, dtype=torch.int64)
            near[idx_t] = self.near.finish(np.stack([done[i][1] for i in idx]))
            valid[idx_t] = True
        return xx, near, valid


def cpu_near_plan(hash: str, d4: bool) -> CpuPlan | None:
    """The :class:`CpuPlan` of a near hash (``"pchash"`` / ``"dhash"``, D4 or not), or None
    when the compiled kernels are not available (no numba)."""
    if not _rcpu.ready():
        return None
    if hash == "pchash":
        return CpuPlan(_phash_side, _phash_d4_kernel if d4 else _phash_kernel, exact=d4)
    if hash == "dhash":
        return CpuPlan(_dhash_side, _dhash_d4_kernel if d4 else _dhash_kernel, exact=d4)
    return None


def _hash_images_compiled(images: list[torch.Tensor], plan: CpuPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """CPU path of the perceptual hashes: :class:`CpuHasher` without the xxhash."""
    hasher = CpuHasher(exact=False, near=plan, max_in_flight=max(256, len(images)))
    hasher.submit(images, images)
    _, near, ok = hasher.result()
    return near, ok


def _phash_kernel(small: torch.Tensor) -> torch.Tensor:
    return _median_bits(_dct8(small))


def _phash_side(h: int, w: int) -> tuple[int, int]:
    r = perceptual_hash_size(h, w)
    return r, r


def _dhash_side(h: int, w: int) -> tuple[int, int]:
    return HASH_SIZE + 1, HASH_SIZE + 1


def _dhash_kernel(small: torch.Tensor) -> torch.Tensor:
    im = small[..., :HASH_SIZE, :]  # 9x9 -> first 8 rows, as DataEval 1.x
    bits = im[..., :, :-1] > im[..., :, 1:]
    return pack_bits(bits.reshape(*bits.shape[:-2], HASH_SIZE * HASH_SIZE))


def _unsigned_min(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Minimum of bit-cast unsigned 64-bit values along ``dim``."""
    sign = torch.tensor(_SIGN, dtype=torch.int64, device=values.device)
    return (values ^ sign).amin(dim=dim) ^ sign


def _phash_d4_kernel(small: torch.Tensor) -> torch.Tensor:
    c = _dct8(small)  # (B, 8, 8)
    alt = 1.0 - 2.0 * (torch.arange(HASH_SIZE, device=c.device) % 2).to(c.dtype)  # (-1)**k
    variants = []
    for block in (c, c.transpose(-1, -2)):
        for row_sign in (False, True):
            for col_sign in (False, True):
                v = block
                if row_sign:
                    v = v * alt[:, None]
                if col_sign:
                    v = v * alt[None, :]
                variants.append(v)
    return _unsigned_min(_median_bits(torch.stack(variants, dim=1)), dim=1)


def _dhash_d4_kernel(small: torch.Tensor) -> torch.Tensor:
    variants = []
    for block in (small, small.transpose(-1, -2)):
        for dims in ((), (-2,), (-1,), (-2, -1)):
            variants.append(block.flip(dims) if dims else block)
    return _unsigned_min(_dhash_kernel(torch.stack(variants, dim=1)), dim=1)


def perceptual_hash(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """DataEval 0.65's ``pchash`` of each image as a packed 64-bit value.

    Steps (each reproducing 0.65 + Pillow + scipy): grey = channel mean with numpy's dtype
    rules; 0.65's 8-bit rescale and truncating uint8 cast; Pillow's 8-bit LANCZOS resize to
    ``R x R`` (``R = 8 * min((min(H, W) - 1) // 8, 4)``, see :func:`lanczos_resize`);
    the unnormalised 2-D DCT-II (scipy ``dct(dct(x.T).T)``) as matrix products keeping the
    top-left 8x8; bit = coefficient > median of the 64 (numpy's median); bits row-major,
    first bit most significant.  Coefficients that are zero up to float noise are set to
    exactly zero (see :func:`_dct8`), as scipy's FFT returns them for flat images.  The
    only difference left from 0.65 is the DCT's float rounding (scipy uses an FFT) when two
    coefficients tie at the median (measured: 1999 of 2000 real photo crops identical,
    the other at Hamming distance 1).  Pillow 13 changed which resize pass runs first;
    the installed Pillow's order is followed.

    Args:
        images: ``N`` tensors ``(C, H, W)`` of any dtype, on one device.

    Returns:
        ``(hashes, valid)``: ``(N,)`` int64 and ``(N,)`` bool on the images' device;
        ``valid`` is False (hash 0) where ``min(H, W) < 9`` (0.65 raises there).
    """
    return _hash_images(images, _phash_side, _phash_kernel)


def perceptual_hash_d4(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation- and flip-invariant pHash: the smallest of the 8 dihedral variants.

    The grey image (as :func:`perceptual_hash`'s) is resized to ``R x R`` once with
    :func:`symmetric_resize` (Pillow's coefficients, no 8-bit rounding between the passes,
    so the resize commutes with the transforms); the 8 D4 transforms (4 rotations x
    mirror) of that square are taken in the DCT domain: a mirror changes the sign of the
    odd rows or columns of the coefficients, a transpose transposes them, so one DCT gives
    all 8.  Each variant is thresholded at its own median and the canonical hash is the
    smallest as an unsigned 64-bit number (DataEval 1.x's lexicographically smallest
    fixed-width hex).  DataEval 1.x transforms the full image and resizes each variant
    with Pillow's 8-bit passes, so its values can differ in the last bits.

    Returns:
        ``(hashes, valid)`` as :func:`perceptual_hash`.
    """
    return _hash_images(images, _phash_side, _phash_d4_kernel, symmetric_resize)


def difference_hash(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """dHash as DataEval 1.x: resize the grey image to 9x9 (Pillow LANCZOS, exact), keep the
    first 8 rows, bit = pixel > its right neighbour (8x8 bits, row-major, first bit MSB).

    The grey image is :func:`perceptual_hash`'s (0.65 channel mean and 8-bit rescale); for
    single-channel uint8 images this equals DataEval 1.x's ``dhash`` (1.x converts RGB with
    Rec. 601 luma weights instead of the mean).

    Returns:
        ``(hashes, valid)``: ``(N,)`` int64, ``(N,)`` bool (False where ``min(H, W) < 9``).
    """
    return _hash_images(images, _dhash_side, _dhash_kernel)


def difference_hash_d4(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation- and flip-invariant dHash: the grey image resized to 9x9 with
    :func:`symmetric_resize`, its 8 dihedral transforms each hashed as
    :func:`difference_hash` does (first 8 rows, pixel > right neighbour), the smallest as
    an unsigned 64-bit number kept.

    Returns:
        ``(hashes, valid)`` as :func:`difference_hash`.
    """
    return _hash_images(images, _dhash_side, _dhash_d4_kernel, symmetric_resize)


# --------------------------------------------------------------------------- Hamming


_M1 = 0x5555555555555555
_M2 = 0x3333333333333333
_M4 = 0x0F0F0F0F0F0F0F0F
_LOW63 = 0x7FFFFFFFFFFFFFFF


def popcount64(x: torch.Tensor) -> torch.Tensor:
    """Number of set bits of each int64 (all 64 bits, sign bit included).

    SWAR bit counting on the low 63 bits (every intermediate stays non-negative, so no
    signed overflow) plus the sign bit.  ``(...)`` int64 -> ``(...)`` int64 in 0..64.
    """
    sign = (x < 0).to(torch.int64)
    v = x & _LOW63
    v = v - ((v >> 1) & _M1)
    v = (v & _M2) + ((v >> 2) & _M2)
    v = (v + (v >> 4)) & _M4
    v = v + (v >> 8)
    v = v + (v >> 16)
    v = v + (v >> 32)
    return (v & 0x7F) + sign


def hamming_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distance of packed 64-bit hashes (broadcasting), ``int64`` in 0..64."""
    return popcount64(torch.bitwise_xor(a, b))


# ------------------------------------------------------------------- radius search


def _as_hash_tensor(hashes: Any) -> torch.Tensor:
    if not isinstance(hashes, torch.Tensor):
        hashes = torch.as_tensor(np.asarray(hashes).astype(np.int64, copy=False))
    if hashes.dtype != torch.int64:
        raise InvalidArgumentError(f"hashes must be int64 packed 64-bit values, got dtype {hashes.dtype}")
    return hashes.reshape(-1)


def _block_widths(m: int) -> list[int]:
    base, extra = divmod(64, m)
    return [base + 1] * extra + [base] * (m - extra)


_MAX_EXPAND_WIDTH = 32  # a block searched at distance 2 packs key | flip | index in 63 bits


def _plan(n: int, radius: int) -> tuple[float, list[tuple[int, int, bool]] | None]:
    """Cheapest search for ``n`` hashes: brute force (``None``) or a block join.

    Block join (multi-index hashing with the generalised pigeonhole principle): cut the 64
    bits into ``m`` blocks; if two hashes differ in at most ``radius`` bits, then for any
    per-block thresholds ``t_i`` with ``sum(t_i) >= radius - m + 1`` some block differs by
    at most ``t_i`` (``t_i = -1`` means the block is not searched).  Here ``t_i`` is 0
    (candidates share the block) or 2 (their blocks each flipped in at most one bit meet,
    i.e. the blocks are within distance 2), so ``3 a + b >= radius + 1`` for ``a`` blocks
    searched at distance 2 and ``b`` exactly.  Costs are modelled for uniformly random
    hashes: sorting the ``n (w + 1)`` keys of a distance-2 block and verifying the
    ``~(n (w + 1))**2 / 2**(w + 1)`` candidates it yields, against ``n**2 / 2`` brute
    comparisons.  Returns ``(modelled cost, plan)``; a plan lists ``(shift, width, expand)``.
    """
    brute = 0.5 * n * n
    best: tuple[float, list[tuple[int, int, bool]] | None] = (brute, None)
    if n < 2:
        return best
    for m in range(1, 9):
        widths = _block_widths(m)
        shifts = [64 - sum(widths[: i + 1]) for i in range(m)]
        for a in range(0, m + 1):
            if a and widths[0] > _MAX_EXPAND_WIDTH:
                break
            for b in range(0, m - a + 1):
                if 3 * a + b < radius + 1:
                    continue
                cost = 0.0
                plan = []
                for i in range(a + b):
                    w = widths[i]
                    expand = i < a
                    keys = n * (w + 1 if expand else 1)
                    cost += 4.0 * keys * max(math.log2(max(keys, 2)), 1.0) / 8.0
                    cost += 3.0 * keys * keys / 2.0 ** (w + 1)
                    plan.append((shifts[i], w, expand))
                if cost < best[0]:
                    best = (cost, plan)
                break  # more exact blocks only cost more
    return best


class _TorchOps:
    """Array operations of the radius search on torch tensors (any device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def arange(self, n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.int64, device=self.device)

    def const(self, values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64, device=self.device)

    def cat(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs) if xs else torch.zeros(0, dtype=torch.int64, device=self.device)

    def sort(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x).values

    def argsort(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, stable=True).indices

    def nonzero(self, mask: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(mask).reshape(-1)

    def popcount(self, x: torch.Tensor) -> torch.Tensor:
        return popcount64(x)

    def cumsum(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, 0)

    def zeros(self, n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.int64, device=self.device)

    def minimum(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.minimum(a, b)

    def maximum(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)

    def where(self, c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(c, a, b)

    def unique(self, x: torch.Tensor) -> torch.Tensor:
        return torch.unique(x)


class _NumpyOps(_TorchOps):
    """The same operations on numpy arrays: on the CPU numpy's gathers, sorts and
    ``bitwise_count`` are several times faster than torch's."""

    def __init__(self) -> None:
        super().__init__(torch.device("cpu"))

    def arange(self, n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64)

    def const(self, values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    def cat(self, xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)

    def sort(self, x: np.ndarray) -> np.ndarray:
        return np.sort(x)

    def argsort(self, x: np.ndarray) -> np.ndarray:
        return np.argsort(x, kind="stable")

    def nonzero(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    def popcount(self, x: np.ndarray) -> np.ndarray:
        return np.bitwise_count(x.view(np.uint64))

    def cumsum(self, x: np.ndarray) -> np.ndarray:
        return np.cumsum(x)

    def zeros(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int64)

    def minimum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)

    def maximum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    def where(self, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(c, a, b)

    def unique(self, x: np.ndarray) -> np.ndarray:
        return np.unique(x)


_NUMPY_ON_CPU = True  # tests switch this off to run the torch code path on the CPU


def _ops_for(h: torch.Tensor) -> tuple[Any, Any]:
    """(ops, hashes as that ops' array type)."""
    if _NUMPY_ON_CPU and h.device.type == "cpu" and hasattr(np, "bitwise_count"):
        return _NumpyOps(), h.numpy()
    return _TorchOps(h.device), h


def _brute_pairs(ops: Any, h: Any, radius: int, chunk_size: int) -> list[Any]:
    """All pairs by chunks of rows: ``(rows, N - i0)`` XOR + popcount blocks (j > i only)."""
    n = h.shape[0]
    out = []
    rows = max(1, chunk_size // max(n, 1))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        close = ops.popcount(h[i0:i1, None] ^ h[None, i0:]) <= radius  # (rows, n - i0)
        flat = ops.nonzero(close.reshape(-1))
        ii = flat // (n - i0) + i0
        jj = flat % (n - i0) + i0
        keep = jj > ii
        out.append((ii[keep], jj[keep]))
    return out


def _join_block(
    ops: Any, h: Any, shift: int, width: int, expand: bool, radius: int, chunk_size: int
) -> list[tuple[Any, Any]]:
    """Pairs sharing block ``[shift, shift + width)`` (``expand``: within distance 2 in
    it) that are within ``radius`` on the whole 64 bits.

    Each hash enters with its block key and, when ``expand``, once more per bit of the
    block with that bit flipped (flip code ``j + 1``; 0 for the unflipped key).  Two
    hashes whose blocks differ in at most 2 bits meet under a common key; every such pair
    meets under exactly one key where the lower-index hash has the smaller flip code, or
    both codes are 0 (equal blocks), and only that meeting counts.  Entries are sorted as
    one int64 ``key | flip | index``, so entries with equal keys are contiguous runs; the
    pairs ``(p, p + d)`` inside runs are visited for ``d = 1, 2, ...`` over a shrinking
    set of positions (work = pairs + entries, no per-pair prefix sums).
    """
    n = h.shape[0]
    key = h if width >= 64 else (h >> shift) & ((1 << width) - 1)
    idbits = max(1, (n - 1).bit_length())
    fbits = (width + 1).bit_length() if expand else 0
    low = fbits + idbits
    packed = width + low <= 63
    if expand and not packed:
        raise InvalidArgumentError(f"too many hashes ({n}) for a {width}-bit block join")
    ids = ops.arange(n)
    flips = [0] + (list(range(1, width + 1)) if expand else [])
    consts = [((1 << (f - 1)) << low if f else 0) | (f << idbits) for f in flips]
    # partition the key space so one sort holds at most ~4 * chunk_size entries
    pbits = 0
    while packed and ((n * len(flips)) >> pbits) > 4 * chunk_size and pbits < width:
        pbits += 1
    out: list[tuple[Any, Any]] = []
    for part in range(1 << pbits):
        f_all = None
        if packed:
            base = (key << low) | ids
            if pbits:
                entries = [base ^ c for c in consts]
                entries = [e[(e >> (low + width - pbits)) == part] for e in entries]
                srt = ops.sort(ops.cat(entries))
                del entries
            else:
                srt = ops.sort((base[None, :] ^ ops.const(consts)[:, None]).reshape(-1))
            del base
            k_all = srt >> low
            i_all = srt & ((1 << idbits) - 1)
            if expand:
                f_all = (srt >> idbits) & ((1 << fbits) - 1)
            del srt
        else:  # a wide exact key (the whole hash): sort the keys, carry the indices
            order = ops.argsort(key)
            k_all, i_all = key[order], ids[order]
        total = k_all.shape[0]
        if total < 2:
            continue
        same = k_all[1:] == k_all[:-1]
        del k_all
        run_id = ops.zeros(total)
        run_id[1:] = ~same
        run_id = ops.cumsum(run_id)
        h_sorted = h[i_all]  # hashes in entry order: read sequentially below
        del same
        d = 1
        pos = None
        # small d: most entries still have a partner d places on in their run, so compare
        # whole shifted slices (contiguous, no gathers); once few do, switch to a shrinking
        # list of positions
        while d < total:
            partner = run_id[: total - d] == run_id[d:]
            count = int(partner.sum())
            if count == 0:
                break
            if count * 4 <= total:
                pos = ops.nonzero(partner)
                break
            for c0 in range(0, total - d, chunk_size):
                c1 = min(total - d, c0 + chunk_size)
                close = ops.popcount(h_sorted[c0:c1] ^ h_sorted[c0 + d : c1 + d]) <= radius
                close &= partner[c0:c1]
                hit = ops.nonzero(close) + c0
                out.append(_canonical(ops, i_all, f_all, hit, hit + d))
            d += 1
        del partner
        while pos is not None and pos.shape[0]:
            for c0 in range(0, pos.shape[0], chunk_size):
                p = pos[c0 : c0 + chunk_size]
                q = p + d
                hit = ops.nonzero(ops.popcount(h_sorted[p] ^ h_sorted[q]) <= radius)
                out.append(_canonical(ops, i_all, f_all, p[hit], q[hit]))
            d += 1
            pos = pos[pos + d < total]
            pos = pos[run_id[pos] == run_id[pos + d]]
    return out


def _canonical(ops: Any, i_all: Any, f_all: Any, p: Any, q: Any) -> tuple[Any, Any]:
    """Index pairs of entries ``p < q`` (same run), keeping each pair's one counted meeting."""
    a, b = i_all[p], i_all[q]
    if f_all is not None:
        fp, fq = f_all[p], f_all[q]  # fp <= fq inside a run
        keep = ops.nonzero(ops.where(fp == fq, fp == 0, a < b))
        a, b = a[keep], b[keep]
    return ops.minimum(a, b), ops.maximum(a, b)


def _unique_pairs(ops: Any, parts: list[tuple[Any, Any]], n: int) -> Any:
    """Sorted unique ``(P, 2)`` pairs as a torch tensor on ``ops.device``."""
    a = ops.cat([x for x, _ in parts])
    b = ops.cat([y for _, y in parts])
    code = ops.unique(a * n + b)
    pairs = torch.as_tensor(code).to(ops.device)
    return torch.stack([pairs // n, pairs % n], dim=1)


def near_pairs(
    hashes: torch.Tensor,
    radius: int,
    chunk_size: int = 1 << 23,
    method: str = "auto",
) -> torch.Tensor:
    """All pairs of hashes within Hamming distance ``radius``.

    Args:
        hashes: ``(N,)`` int64 packed hashes (any device; the search runs there).
        radius: largest Hamming distance reported, 0..64.
        chunk_size: most candidate pairs (and roughly sort keys / 4) held at once; the
            default keeps the working set to a few hundred MiB.
        method: ``"auto"`` (the cheaper of the two by a cost model), ``"brute"`` (chunked
            all-pairs XOR + popcount, O(N^2)) or ``"blocks"`` (multi-index block join, see
            :func:`_plan`; roughly O(N log N + candidates) for random hashes).

    Returns:
        ``(P, 2)`` int64 ``[i, j]`` with ``i < j``, sorted lexicographically, on the
        hashes' device.  Identical hashes are pairs too (every pair of them).
    """
    h = _as_hash_tensor(hashes)
    if not 0 <= radius <= 64:
        raise InvalidArgumentError(f"radius must be in 0..64, got {radius}")
    if chunk_size < 1:
        raise InvalidArgumentError(f"chunk_size must be >= 1, got {chunk_size}")
    if method not in ("auto", "brute", "blocks"):
        raise InvalidArgumentError(f"method must be 'auto', 'brute' or 'blocks', got {method!r}")
    n = h.numel()
    if n < 2:
        return torch.zeros((0, 2), dtype=torch.int64, device=h.device)
    _, plan = _plan(n, radius)
    if method == "brute":
        plan = None
    elif method == "blocks" and plan is None:
        plan = _force_plan(radius)
    ops, hx = _ops_for(h)
    if plan is None:
        parts = _brute_pairs(ops, hx, radius, chunk_size)
    else:
        parts = []
        for shift, width, expand in plan:
            parts.extend(_join_block(ops, hx, shift, width, expand, radius, chunk_size))
    return _unique_pairs(ops, parts, n)


def _force_plan(radius: int) -> list[tuple[int, int, bool]]:
    """A valid block plan regardless of cost (for ``method="blocks"``): the fewest blocks."""
    for m in range(1, 9):
        widths = _block_widths(m)
        shifts = [64 - sum(widths[: i + 1]) for i in range(m)]
        for a in range(0, m + 1):
            if a and widths[0] > _MAX_EXPAND_WIDTH:
                break
            b = max(0, radius + 1 - 3 * a)
            if a + b <= m:
                return [(shifts[i], widths[i], i < a) for i in range(a + b)]
    raise InvalidArgumentError(f"no block plan covers radius {radius}; use method='brute'")


def equal_groups(hashes: torch.Tensor, valid: torch.Tensor | None = None) -> list[list[int]]:
    """Groups of indices whose hashes are identical (radius 0), DataEval 0.65 style.

    Returns:
        Groups of at least two indices, each sorted ascending, the list sorted.
    """
    h = _as_hash_tensor(hashes)
    idx = torch.arange(h.numel(), device=h.device)
    if valid is not None:
        idx = idx[valid.reshape(-1).to(h.device)]
    if idx.numel() < 2:
        return []
    _, inv, counts = torch.unique(h[idx], return_inverse=True, return_counts=True)
    order = torch.argsort(inv, stable=True)
    members = idx[order].cpu().numpy()
    counts_np = counts.cpu().numpy()
    bounds = np.concatenate([[0], np.cumsum(counts_np)])
    groups = [members[bounds[g] : bounds[g + 1]].tolist() for g in np.nonzero(counts_np > 1)[0]]
    return sorted(groups)


def radius_groups(
    hashes: torch.Tensor,
    radius: int,
    valid: torch.Tensor | None = None,
    chunk_size: int = 1 << 23,
) -> list[list[int]]:
    """Group images whose hashes lie within Hamming ``radius`` of a group centre.

    ``radius == 0`` gives exactly the groups of identical hashes (:func:`equal_groups`).
    For ``radius > 0`` groups cannot chain: the rule is *greedy centres*.  Identical hashes
    are merged first; each distinct hash ``v`` scores the number of images within
    ``radius`` of it (its own included).  Taking the distinct hashes by descending score
    (ties: the one whose first image index is lowest), a hash not yet assigned becomes a
    centre and its group is every image whose hash is within ``radius`` of the centre and
    not yet assigned.  So every member is within ``radius`` of its centre (any two members
    within ``2 * radius``), each image is in at most one group, and the result does not
    depend on the input order beyond ties.  Only groups of two or more images are returned.

    Args:
        hashes: ``(N,)`` int64 packed hashes.
        radius: Hamming radius, 0..64.
        valid: optional ``(N,)`` bool; invalid hashes are left out.
        chunk_size: passed to :func:`near_pairs`.

    Returns:
        Groups of indices, each sorted ascending, the list sorted.  Grouping runs on the
        host (numpy) on the pairs :func:`near_pairs` found.
    """
    h = _as_hash_tensor(hashes)
    if radius == 0:
        return equal_groups(h, valid)
    idx = torch.arange(h.numel(), device=h.device)
    if valid is not None:
        idx = idx[valid.reshape(-1).to(h.device)]
    if idx.numel() < 2:
        return []
    uniq, inv = torch.unique(h[idx], return_inverse=True)
    pairs = near_pairs(uniq, radius, chunk_size=chunk_size).cpu().numpy()
    inv_np = inv.cpu().numpy()
    idx_np = idx.cpu().numpy()
    u = uniq.numel()
    # images of each distinct hash (CSR), in index order
    order = np.argsort(inv_np, kind="stable")
    counts = np.bincount(inv_np, minlength=u)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    members = idx_np[order]
    first = members[bounds[:-1]]
    # adjacency (CSR) between distinct hashes
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    adj_order = np.argsort(src, kind="stable")
    src, dst = src[adj_order], dst[adj_order]
    deg = np.bincount(src, minlength=u)
    adj_bounds = np.concatenate([[0], np.cumsum(deg)])
    score = counts + np.bincount(src, weights=counts[dst], minlength=u).astype(np.int64)

    groups: list[list[int]] = []
    # distinct hashes without neighbours: their identical copies form the group
    lonely = np.nonzero((deg == 0) & (counts > 1))[0]
    groups.extend(members[bounds[v] : bounds[v + 1]].tolist() for v in lonely)
    connected = np.nonzero(deg > 0)[0]
    connected = connected[np.lexsort((first[connected], -score[connected]))]
    assigned = np.zeros(u, dtype=bool)
    for v in connected:
        if assigned[v]:
            continue
        nb = dst[adj_bounds[v] : adj_bounds[v + 1]]
        nb = nb[~assigned[nb]]
        nodes = np.concatenate([[v], nb])
        assigned[nodes] = True
        g = np.concatenate([members[bounds[x] : bounds[x + 1]] for x in nodes])
        if g.size > 1:
            groups.append(np.sort(g).tolist())
    return sorted(groups)
