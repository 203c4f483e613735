"""Compiled CPU kernels for the perceptual hashes (old path: ``functional/_resample_cpu.py``): 8-bit grey and Pillow's 8-bit LANCZOS.

The pHash of DataEval 0.65 is dominated by two full-image passes: the channel mean (numpy
float64) and Pillow's two-pass LANCZOS resize to 32 x 32.  On the CPU both are memory- and
loop-bound, not matmul-bound: the resize touches ~6 taps per input pixel where a dense
resampling matrix touches all 32 outputs, and float matmuls cannot be exact without a
fix-up.  These kernels run them as the integer loops Pillow runs, compiled with numba
(``nogil``, so the caller's thread pool runs one image per core), in the same fixed-point
arithmetic and pass order, so their output is Pillow's byte for byte:

* :func:`grey_mean_u8` -- ``floor(sum_c x_c / C)`` of a ``(C, H, W)`` uint8 image (0.65's
  ``np.mean(axis=0)`` + ``astype(uint8)`` for any image of bit depth 8), with the largest
  channel sum for the bit-depth test.
* :func:`lanczos_u8` -- ``Image.fromarray(grey).resize((ow, oh), LANCZOS)`` of an 'L'
  image: Pillow's coefficients (``precompute_coeffs`` + ``normalize_coeffs_8bpc``, in
  double precision with the C library's ``sin``), 22-bit fixed-point integer sums,
  ``clip8`` between the passes.

numba is optional: :func:`ready` is False without it (or when the kernels fail to compile)
and the callers use Pillow itself.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ...errors import InvalidArgumentError
from ..stats_compiled import AVAILABLE, KernelCheck, njit  # numba's njit(nogil, cache) or a pass-through

__all__ = ["AVAILABLE", "grey_lanczos_exact", "grey_lanczos_u8", "lanczos_coeffs", "ready"]

_PRECISION_BITS = 22
_HALF = 1 << (_PRECISION_BITS - 1)
_TOP = 1 << (_PRECISION_BITS + 8)
_ROWS = 8  # image rows per horizontal sweep (_horizontal_block holds exactly 8 accumulators)
# BT.601 luma as Pillow's convert("L") (grey.LUMA_WEIGHTS), int32 constants for the kernels
_WR, _WG, _WB = np.int32(19595), np.int32(38470), np.int32(7471)
_ROUND, _THREE = np.int32(1 << 15), np.int32(3)


def _warm() -> None:
    # the one kernel every near hash uses (the taps): whether numba runs here; the resize kernels
    # load on their first call, only those a configuration uses (the plain or the D4 hash; one
    # layout each: a crop is read from its contiguous parent buffer, ``hashing.cpu``; a scan's
    # warm-up calls them before forking)
    _coeffs_kernel(12, 8)


#: True when the compiled kernels can run: numba imports (:data:`AVAILABLE`) and a first call
#: compiles (or loads from numba's disk cache).  A failure is reported once as a
#: RuntimeWarning and the callers fall back to Pillow / tensors.
ready = KernelCheck("compiled CPU kernels", _warm, "Pillow")


@njit
def _sinc(x):
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


@njit
def _coeffs_kernel(in_size, out_size):
    # Pillow's precompute_coeffs (LANCZOS, box = whole image) then normalize_coeffs_8bpc,
    # operation by operation in double precision.
    scale = float(in_size) / out_size
    filterscale = scale if scale >= 1.0 else 1.0
    support = 3.0 * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    bounds = np.zeros((out_size, 2), dtype=np.int64)
    kk = np.zeros((out_size, ksize), dtype=np.int32)
    w = np.zeros(ksize, dtype=np.float64)
    targ = np.zeros((out_size, ksize), dtype=np.float64)
    ss = 1.0 / filterscale
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ww = 0.0
        xmin = int(center - support + 0.5)  # C cast: toward zero
        if xmin < 0:
            xmin = 0
        xmax = int(center + support + 0.5)
        if xmax > in_size:
            xmax = in_size
        xmax -= xmin
        bounds[xx, 0] = xmin
        bounds[xx, 1] = xmax
        for x in range(xmax):
            targ[xx, x] = ((x + xmin) - center + 0.5) * ss
        # an earlier output with the very same filter arguments has the same weights (the
        # same double operations on the same inputs): copy them, skip the sin calls; sizes
        # with a power-of-two factor repeat their sub-pixel phase every few outputs
        same = -1
        for p in range(xx):
            if bounds[p, 1] == xmax and targ[p, 0] == targ[xx, 0]:
                same = p
                for x in range(1, xmax):
                    if targ[p, x] != targ[xx, x]:
                        same = -1
                        break
                if same >= 0:
                    break
        if same >= 0:
            for x in range(xmax):
                kk[xx, x] = kk[same, x]
            continue
        for x in range(xmax):
            t = targ[xx, x]
            v = 0.0
            if -3.0 <= t and t < 3.0:
                v = _sinc(t) * _sinc(t / 3.0)
            w[x] = v
            ww += v
        for x in range(xmax):
            v = w[x]
            if ww != 0.0:
                v = v / ww
            if v < 0:
                kk[xx, x] = int(-0.5 + v * (1 << 22))
            else:
                kk[xx, x] = int(0.5 + v * (1 << 22))
    return bounds, kk


@njit
def _clip8(ss):
    if ss >= _TOP:
        return 255
    if ss <= 0:
        return 0
    return ss >> _PRECISION_BITS


# All sums below are int32, as Pillow's: the exact sum fits in int32, and int32 addition
# is associative modulo 2**32, so any summation order (the vectorised one) gives Pillow's
# value.  The explicit np.int32 casts keep numba from widening to int64, which would stop
# LLVM from vectorising the loops.


@njit
def _luma_rows(img, box, r0, m, rows):
    # rows[i, :w] = BT.601 luma Y = (19595 R + 38470 G + 7471 B + 2**15) >> 16 (Pillow's "L"),
    # with alpha floor((3 Y + A) / 4), of a 3- or 4-channel box; returns the largest of 3 Y (+ A):
    # the channel sum of the mean's test (peak >= 2 <=> that sum >= 2 C).  int32 throughout
    # (the weighted sum is below 2**24): int64 products stopped the loop from vectorising
    c0, y0, x0, c, _, w = box
    smax = np.int32(0)
    for i in range(m):
        dst = rows[i, :w]
        y = y0 + r0 + i
        p0 = img[c0, y, x0 : x0 + w]
        p1 = img[c0 + 1, y, x0 : x0 + w]
        p2 = img[c0 + 2, y, x0 : x0 + w]
        if c == 3:
            lmax = np.int32(0)
            for x in range(w):
                s = np.int32(np.int32(p0[x]) * _WR + np.int32(p1[x]) * _WG + np.int32(p2[x]) * _WB + _ROUND)
                lum = np.int32(s >> 16)
                lmax = max(lmax, lum)
                dst[x] = lum
            smax = max(smax, np.int32(lmax * _THREE))
            continue
        pa = img[c0 + 3, y, x0 : x0 + w]
        for x in range(w):
            s = np.int32(np.int32(p0[x]) * _WR + np.int32(p1[x]) * _WG + np.int32(p2[x]) * _WB + _ROUND)
            v = np.int32(np.int32(s >> 16) * _THREE + np.int32(pa[x]))
            smax = max(smax, v)
            dst[x] = np.int32(v >> 2)
    return smax


@njit
def _grey_rows(img, box, r0, m, mult, rows, luma=False):
    # rows[i, :w] = floor(sum_c image[c, r0 + i] / C) for i < m, image the box (c0, y0, x0, C, h, w)
    # of img (the whole of a contiguous image, or the parent of a crop); returns the largest channel
    # sum.  luma (3 or 4 channels): _luma_rows instead
    c0, y0, x0, c, _, w = box
    if luma and (c == 3 or c == 4):
        return _luma_rows(img, box, r0, m, rows)
    smax = np.int32(0)
    for i in range(m):
        dst = rows[i, :w]
        y = y0 + r0 + i
        # rows as step-less slices (C layout, indexed from 0): an index x0 + x would be checked
        # for a negative value, which stops the loops from vectorising (~2.5x slower)
        if c == 3:  # the common case in one sweep
            p0 = img[c0, y, x0 : x0 + w]
            p1 = img[c0 + 1, y, x0 : x0 + w]
            p2 = img[c0 + 2, y, x0 : x0 + w]
            for x in range(w):
                v = np.int32(np.int32(p0[x]) + np.int32(p1[x]) + np.int32(p2[x]))
                smax = max(smax, v)
                dst[x] = np.int32(np.int32(v * mult) >> 16)
            continue
        src0 = img[c0, y, x0 : x0 + w]
        for x in range(w):
            dst[x] = np.int32(src0[x])
        for ch in range(1, c):
            src = img[c0 + ch, y, x0 : x0 + w]
            for x in range(w):
                dst[x] = np.int32(dst[x] + np.int32(src[x]))
        for x in range(w):
            v = dst[x]
            smax = max(smax, v)
            dst[x] = np.int32(np.int32(v * mult) >> 16)
    return smax


@njit
def _horizontal_block(rows, m, xmin, npad, kk, out, r0, raw):
    # out[r0 + i, j] = clip8(2**21 + sum_x rows[i, xmin_j + x] * k_j[x]) for i < m (m <= 8):
    # eight rows per sweep, so that each coefficient load feeds eight multiply-adds; kk is
    # padded with zeros to a multiple of 16 taps (no scalar loop tail), rows with zeros
    # past W.  Slices, so that numba indexes without negative-index checks (which would
    # stop the loop from vectorising).
    for j in range(xmin.shape[0]):
        x0 = xmin[j]
        n = npad[j]
        k = kk[j, :n]
        a0 = rows[0, x0 : x0 + n]
        a1 = rows[1, x0 : x0 + n]
        a2 = rows[2, x0 : x0 + n]
        a3 = rows[3, x0 : x0 + n]
        a4 = rows[4, x0 : x0 + n]
        a5 = rows[5, x0 : x0 + n]
        a6 = rows[6, x0 : x0 + n]
        a7 = rows[7, x0 : x0 + n]
        s0 = np.int32(_HALF)
        s1 = np.int32(_HALF)
        s2 = np.int32(_HALF)
        s3 = np.int32(_HALF)
        s4 = np.int32(_HALF)
        s5 = np.int32(_HALF)
        s6 = np.int32(_HALF)
        s7 = np.int32(_HALF)
        for x in range(n):
            kx = k[x]
            s0 = np.int32(s0 + np.int32(a0[x] * kx))
            s1 = np.int32(s1 + np.int32(a1[x] * kx))
            s2 = np.int32(s2 + np.int32(a2[x] * kx))
            s3 = np.int32(s3 + np.int32(a3[x] * kx))
            s4 = np.int32(s4 + np.int32(a4[x] * kx))
            s5 = np.int32(s5 + np.int32(a5[x] * kx))
            s6 = np.int32(s6 + np.int32(a6[x] * kx))
            s7 = np.int32(s7 + np.int32(a7[x] * kx))
        res = (s0, s1, s2, s3, s4, s5, s6, s7)
        for i in range(m):
            if raw:  # the exact integer sum (int32 output), no rounding
                out[r0 + i, j] = np.int32(res[i] - _HALF)
            else:
                out[r0 + i, j] = _clip8(res[i])


@njit
def _vertical(src, ymin, count, kk, out):
    # out[i, c] = clip8(2**21 + sum_y src[ymin_i + y, c] * k_i[y]), a whole row at a time
    w = src.shape[1]
    acc = np.empty(w, dtype=np.int32)
    for i in range(ymin.shape[0]):
        for c in range(w):
            acc[c] = np.int32(_HALF)
        y0 = ymin[i]
        for y in range(count[i]):
            k = kk[i, y]
            row = src[y0 + y]
            for c in range(w):
                acc[c] = np.int32(acc[c] + np.int32(np.int32(row[c]) * k))
        for c in range(w):
            out[i, c] = _clip8(acc[c])


@njit
def _grey_resize_kernel(img, box, hx, hn, hk, vy, vn, vk, vertical_first, need_depth8):
    # the box (c0, y0, x0, C, H, W) of img (C-contiguous uint8), 0..255; returns (out (oh, ow)
    # uint8, largest channel sum)
    c, h, w = box[3], box[4], box[5]
    oh = vy.shape[0]
    ow = hx.shape[0]
    mult = np.int32((65536 + c - 1) // c)
    rows = np.zeros((_ROWS, w + hk.shape[1]), dtype=np.int32)
    out = np.empty((oh, ow), dtype=np.uint8)
    smax = np.int32(0)
    if vertical_first:
        grey = np.empty((h, w), dtype=np.int32)
        for r0 in range(0, h, _ROWS):
            m = min(_ROWS, h - r0)
            smax = max(smax, _grey_rows(img, box, r0, m, mult, rows))
            for i in range(m):  # element by element: an array assignment compiles numba's
                src, dst = rows[i], grey[r0 + i]  # shape-mismatch message (string code, ~2 s CPU)
                for x in range(w):
                    dst[x] = src[x]
        if need_depth8 and smax < 2 * c:
            return out, smax
        tmp8 = np.empty((oh, w), dtype=np.uint8)
        _vertical(grey, vy, vn, vk, tmp8)
        for i0 in range(0, oh, _ROWS):
            m = min(_ROWS, oh - i0)
            for i in range(m):
                for x in range(w):
                    rows[i, x] = np.int32(tmp8[i0 + i, x])
            _horizontal_block(rows, m, hx, hn, hk, out, i0, False)
        return out, smax
    # Pillow resamples only the rows the vertical pass reads
    first = vy[0]
    last = vy[oh - 1] + vn[oh - 1]
    tmp8 = np.empty((last - first, ow), dtype=np.uint8)
    for r0 in range(first, last, _ROWS):
        m = min(_ROWS, last - r0)
        smax = max(smax, _grey_rows(img, box, r0, m, mult, rows))
        _horizontal_block(rows, m, hx, hn, hk, tmp8, r0 - first, False)
    if need_depth8:
        # rows outside [first, last) still count for the image's bit depth
        for r0 in range(0, first, _ROWS):
            smax = max(smax, _grey_rows(img, box, r0, min(_ROWS, first - r0), mult, rows))
        for r0 in range(last, h, _ROWS):
            smax = max(smax, _grey_rows(img, box, r0, min(_ROWS, h - r0), mult, rows))
        if smax < 2 * c:
            return out, smax
    _vertical(tmp8, vy - first, vn, vk, out)
    return out, smax


@njit
def _grey_resize_exact_kernel(img, box, hx, hn, hk, vy, vn, vk, need_depth8, luma):
    # Both passes without rounding: the exact integer M_v @ grey @ M_h^T (int64), grey (and the
    # box) as in _grey_resize_kernel (luma: _luma_rows' grey).  First-pass sums fit int32 (as
    # Pillow's), the second int64.
    c, h, w = box[3], box[4], box[5]
    oh = vy.shape[0]
    ow = hx.shape[0]
    mult = np.int32((65536 + c - 1) // c)
    rows = np.zeros((_ROWS, w + hk.shape[1]), dtype=np.int32)
    tmp = np.empty((h, ow), dtype=np.int32)
    out = np.zeros((oh, ow), dtype=np.int64)
    smax = np.int32(0)
    for r0 in range(0, h, _ROWS):
        m = min(_ROWS, h - r0)
        smax = max(smax, _grey_rows(img, box, r0, m, mult, rows, luma))
        _horizontal_block(rows, m, hx, hn, hk, tmp, r0, True)
    if need_depth8 and smax < 2 * c:
        return out, smax
    for i in range(oh):
        acc = out[i]
        y0 = vy[i]
        for y in range(vn[i]):
            k = np.int64(vk[i, y])
            row = tmp[y0 + y]
            for x in range(ow):
                acc[x] += k * np.int64(row[x])
    return out, smax


_COEFF_CACHE_SIZE = 4096
_PAD = 16


@functools.lru_cache(maxsize=_COEFF_CACHE_SIZE)  # thread-safe: pool threads share it
def lanczos_coeffs(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pillow's 8-bit LANCZOS taps for one axis, cached: ``(start, count, padded_count, kk)``
    with ``kk`` ``(out, K)`` int32 zero-padded so that ``padded_count`` (a multiple of 16)
    taps can be read from ``start``.  The one coefficient builder of the package: the
    compiled kernels read these taps, ``hashing.resample`` lays them out as the matrices
    of the tensor (CUDA) path.  The arrays are read-only (shared between threads)."""
    bounds, kk = _coeffs_kernel(int(in_size), int(out_size))
    count = np.ascontiguousarray(bounds[:, 1])
    padded = (count + _PAD - 1) // _PAD * _PAD
    kkp = np.zeros((kk.shape[0], max(int(padded.max()), _PAD)), dtype=np.int32)
    width = min(kk.shape[1], kkp.shape[1])  # taps past each count are zero
    kkp[:, :width] = kk[:, :width]
    out = (np.ascontiguousarray(bounds[:, 0]), count, padded, kkp)
    for a in out:
        a.flags.writeable = False
    return out


Box = tuple[int, int, int, int, int, int]


def _whole(image: np.ndarray, box: Box | None) -> tuple[np.ndarray, Box]:
    """The kernels' ``(img, box)``: ``image`` itself (C-contiguous: a strided array is copied,
    so that each kernel compiles for one layout) and its whole box, or the given parent and box
    (checked here: the kernels index without bounds checks)."""
    if box is not None:
        c0, y0, x0, c, h, w = box
        inside = min(box) >= 0 and c0 + c <= image.shape[0] and y0 + h <= image.shape[1] and x0 + w <= image.shape[2]
        if image.ndim != 3 or not image.flags.c_contiguous or not inside:
            raise InvalidArgumentError(
                f"box {tuple(box)} must lie inside a C-contiguous (C, H, W) image, got shape {image.shape}"
            )
        return image, box
    image = np.ascontiguousarray(image)
    c, h, w = image.shape
    return image, (0, 0, 0, int(c), int(h), int(w))


def _taps(box: Box, out_h: int, out_w: int) -> tuple[np.ndarray, ...]:
    """The kernels' tap arguments: horizontal (start, padded count, kk), vertical (start,
    count, kk)."""
    hx, _, hn, hk = lanczos_coeffs(box[5], out_w)
    vy, vn, _, vk = lanczos_coeffs(box[4], out_h)
    return hx, hn, hk, vy, vn, vk


def grey_lanczos_u8(
    image: np.ndarray, out_h: int, out_w: int, vertical_first: bool, need_depth8: bool = True, box: Box | None = None
) -> np.ndarray | None:
    """Pillow's ``resize((out_w, out_h), LANCZOS)`` of the 8-bit channel-mean grey image.

    Args:
        image: ``(C, H, W)`` uint8, ``C <= 16``; the grey image is ``floor(sum_c / C)``,
            which is 0.65's ``np.mean(axis=0).astype(uint8)`` for an image of bit depth 8.
        out_h, out_w: output size, each smaller than the input's (both passes run).
        vertical_first: the installed Pillow's pass order (``hashing._vertical_first``).
        need_depth8: return None when the image is not of bit depth 8 for 0.65 (its
            largest channel mean is below 2: 0.65 rescales such images first).
        box: ``(c0, y0, x0, C, H, W)``: the image is ``image[c0 : c0 + C, y0 : y0 + H,
            x0 : x0 + W]`` of a C-contiguous ``image`` (a crop read in place, see
            ``hashing.cpu``); None: all of ``image`` (copied first when strided).

    Returns:
        ``(out_h, out_w)`` uint8, byte for byte Pillow's, or None (see ``need_depth8``).
    """
    img, box = _whole(image, box)
    out, smax = _grey_resize_kernel(img, box, *_taps(box, out_h, out_w), bool(vertical_first), bool(need_depth8))
    return None if need_depth8 and smax < 2 * box[3] else out


def grey_lanczos_exact(
    image: np.ndarray, out_h: int, out_w: int, need_depth8: bool = True, box: Box | None = None, luma: bool = False
) -> np.ndarray | None:
    """Pillow's LANCZOS coefficients applied to the grey image with no rounding at all:
    ``(out_h, out_w)`` int64 ``M_v @ grey @ M_h^T`` in fixed point (scale ``2**44``), the
    exact integers the float64 matmuls of ``hashing.symmetric_resize`` produce.  Arguments
    and the None return as :func:`grey_lanczos_u8`; ``luma``: a 3- or 4-channel image's grey
    is BT.601 luma (``grey.luma8``: Pillow's ``convert("L")``, alpha averaged in), None
    returned where that grey peaks under 2."""
    img, box = _whole(image, box)
    out, smax = _grey_resize_exact_kernel(img, box, *_taps(box, out_h, out_w), bool(need_depth8), bool(luma))
    return None if need_depth8 and smax < 2 * box[3] else out
