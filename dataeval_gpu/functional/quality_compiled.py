"""The compiled CPU kernels of the quality metrics of 8-bit images: one pass over the pixels.

As torch operations the full-resolution part of :func:`~dataeval_gpu.functional.quality.quality_metrics_batch`
takes about ten passes over a photo and as many float32 temporaries (the scaled image, the
luma, ``R - G``, ``(R + G)/2 - B``, their squares, max/min over channels, the int64 levels for
the histogram), ~70 ms for a 1 MP photo on one core.  :func:`pixel_pass_u8` reads each pixel
once and produces everything those passes produce:

* the float32 grey image ``0.299 R/255 + 0.587 G/255 + 0.114 B/255`` (the same float32
  operations, in the same order, as :func:`~dataeval_gpu.functional.quality.grey_image` on the
  scaled image), for the sharpness and the noise window;
* the 256-level grey histogram, the level being the luma rounded in exact integer arithmetic
  (``round((299 R + 587 G + 114 B) / 1000)``, ties to even: the float64 definition without
  float rounding);
* exact int64 sums of ``R - G``, ``(R - G)²``, ``R + G - 2B``, ``(R + G - 2B)²``, ``B - G`` and
  ``max - min`` over the channels, from which colourfulness, channel spread and the chroma means
  follow in float64.

:func:`area_down` is the area downscale to the working resolution (torch's adaptive average
pooling, separable); :func:`band_energy` computes a band energy of the sharpness metrics (blur and squared
difference) in one pass instead of a dozen torch operations on padded copies (its kernels, which
:func:`measure_u8` calls too, in :mod:`~dataeval_gpu.functional.quality_band_compiled`).
:func:`noise_u8` computes the Immerkær mask response of the noise window in one pass (float32
like the torch path; sum in float64) and its median by selection instead of a sort.

numba is optional: :func:`ready` is False without it and the callers use the torch code.
"""

from __future__ import annotations

import numpy as np
import torch

from .quality_band_compiled import (  # avg_pool2, band_energy and band_sum re-exported
    avg_pool2,
    band_energy,
    band_sum,
    bands,
    float64_sum,
)
from .quality_block_compiled import block_figures, grid_excess, phase_means, replica_off, spread_weight
from .quality_median import kth_smallest_bits
from .quality_texture_compiled import TEXTURE_ARGS, texture_levels
from .stats_compiled import KernelCheck, njit

__all__ = [
    "N_SUMS",
    "area_down",
    "avg_pool2",
    "band_energy",
    "band_sum",
    "measure_u8",
    "noise_u8",
    "pixel_pass_u8",
    "ready",
]

#: the sums of :func:`pixel_pass_u8`: R-G, (R-G)², R+G-2B, (R+G-2B)², B-G, max-min
N_SUMS = 6


@njit
def _row3(rr, gg, bb, out, lev, hist, sums, dark, dhist, bright, bhist):  # noqa: ANN001, ANN202, PLR0913 - numba kernel
    """One row of a colour image: float32 grey into ``out``, its levels into ``lev`` and ``hist``,
    the integer colour sums into ``sums``, the dark channel ``min(R, G, B)`` into ``dark`` and
    ``dhist``, the bright channel ``max(R, G, B)`` into ``bright`` and ``bhist`` (three loops:
    each vectorises on its own)."""
    w = out.shape[0]
    w0, w1, w2 = np.float32(0.299), np.float32(0.587), np.float32(0.114)
    k = 1.0 / 255.0  # float32(v * (1/255 in float64)) == float32(v) / float32(255) for all 256 bytes
    for j in range(w):
        r, g, b = np.int32(rr[j]), np.int32(gg[j]), np.int32(bb[j])
        out[j] = np.float32(r * k) * w0 + np.float32(g * k) * w1 + np.float32(b * k) * w2  # no division
        t = 299 * r + 587 * g + 114 * b + 500
        q = t // 1000
        # round half to even: a tie (remainder 500 before the +500) rounded up to an odd level
        lev[j] = q - ((t - 1000 * q == 0) & ((q & 1) == 1))
    s_rg = s_yb = s_bg = s_sp = np.int32(0)  # |row sums| <= 510 w fit int32
    s_rg2 = s_yb2 = np.int64(0)  # the squares do not
    for j in range(w):
        r, g, b = np.int32(rr[j]), np.int32(gg[j]), np.int32(bb[j])
        rg = r - g
        yb = r + g - 2 * b
        s_rg += rg
        s_rg2 += np.int64(rg * rg)
        s_yb += yb
        s_yb2 += np.int64(yb * yb)
        s_bg += b - g
        hi = r if r > g else g  # not max(r, g, b): that keeps the loop scalar
        hi = hi if hi > b else b
        lo = r if r < g else g
        lo = lo if lo < b else b
        s_sp += hi - lo
        dark[j] = lo
        bright[j] = hi
    for j in range(w):
        hist[j & 3, lev[j]] += 1  # four sub-histograms: runs of equal levels do not serialise
        dhist[j & 3, dark[j]] += 1
        bhist[j & 3, bright[j]] += 1
    sums[0] += s_rg
    sums[1] += s_rg2
    sums[2] += s_yb
    sums[3] += s_yb2
    sums[4] += s_bg
    sums[5] += s_sp


@njit
def _row1(row, out, hist):  # noqa: ANN001, ANN202 - numba kernel
    """One row of a one-channel image: float32 grey ``v / 255`` and the level counts."""
    k = 1.0 / 255.0  # as in _row3: the same float32 as v / 255
    for j in range(out.shape[0]):
        v = row[j]
        out[j] = np.float32(v * k)
        hist[j & 3, v] += 1


@njit
def _pass3(x, grey, hist, sums):  # noqa: ANN001, ANN202 - numba kernel
    lev, dark, dhist = np.empty(x.shape[2], np.int32), np.empty(x.shape[2], np.int32), np.zeros((4, 256), np.int64)
    bright, bhist = np.empty(x.shape[2], np.int32), np.zeros((4, 256), np.int64)
    for i in range(x.shape[1]):
        _row3(x[0, i], x[1, i], x[2, i], grey[i], lev, hist, sums, dark, dhist, bright, bhist)


@njit
def _pass1(x, grey, hist):  # noqa: ANN001, ANN202 - numba kernel
    for i in range(x.shape[1]):
        _row1(x[0, i], grey[i], hist)


@njit
def _area(g, oh, ow, out):  # noqa: ANN001, ANN202 - numba kernel
    """torch's adaptive average pooling (``F.interpolate(mode="area")``): output cell ``(i, j)``
    is the mean of rows ``[floor(i H / oh), ceil((i + 1) H / oh))`` and the same columns;
    separable, summed in float64."""
    h, w = g.shape
    acc_row = np.empty(w, np.float64)
    for i in range(oh):
        a, b = (i * h) // oh, ((i + 1) * h + oh - 1) // oh
        for j in range(w):
            acc_row[j] = 0.0
        for k in range(a, b):  # the rows of the window: contiguous adds, vectorised
            src = g[k]
            for j in range(w):
                acc_row[j] += src[j]
        for j in range(ow):
            c0, c1 = (j * w) // ow, ((j + 1) * w + ow - 1) // ow
            acc = 0.0
            for k in range(c0, c1):
                acc += acc_row[k]
            out[i, j] = acc / ((c1 - c0) * (b - a))


@njit
def _noise(g, resp):  # noqa: ANN001, ANN202 - numba kernel
    h, w = g.shape
    total = 0.0
    n = 0
    for i in range(h - 2):
        a, b, c = g[i], g[i + 1], g[i + 2]
        for j in range(w - 2):
            # the torch path's order: acc = 0 + m00 a00 + m01 a01 + ... (row by row)
            acc = np.float32(0.0) + a[j]
            acc = acc + np.float32(-2.0) * a[j + 1]
            acc = acc + a[j + 2]
            acc = acc + np.float32(-2.0) * b[j]
            acc = acc + np.float32(4.0) * b[j + 1]
            acc = acc + np.float32(-2.0) * b[j + 2]
            acc = acc + c[j]
            acc = acc + np.float32(-2.0) * c[j + 1]
            acc = acc + c[j + 2]
            resp[n] = abs(acc)
            n += 1
    for j in range(n):  # apart from the responses (that loop then vectorises): the same sum in order
        total += resp[j]
    return total


@njit
def _blocky(g, floor):  # noqa: ANN001, ANN202 - numba kernel
    """Blockiness of the 0..255 window: mean step across the 8-px borders over the mean step
    elsewhere, the latter at least ``floor`` (float32 steps, float64 means; 1 when both sides
    are under 64 px or flat), times ``min(1, share / BLOCK_SPREAD) ** 2`` of the border segments'
    share that step and the pattern weight (checks, a 16-px phase, content repeating at 8 / 16 px:
    ``quality_block_compiled.spread_weight``, ``period_share``), its excess over 1 times the grid
    weight (another phase of lines stepping as often: ``grid_excess``, ``grid_share``); for a picture
    enlarged by repeating its pixels, the step elsewhere on its own grid (``replica_off``)."""
    h, w = g.shape
    ps = np.zeros(8)  # the lines' mean steps summed per phase (line j + 1 past a border, mod 8) ...
    pn = np.zeros(8)  # ... and counted
    if w >= 64:
        col = np.zeros(w - 1)
        for i in range(h):
            row = g[i]
            for j in range(w - 1):
                col[j] += abs(row[j + 1] - row[j])
        for j in range(w - 1):
            ps[(j + 1) % 8] += col[j] / h
            pn[(j + 1) % 8] += 1
    if h >= 64:
        step = np.empty(w, np.float32)
        for i in range(h - 1):
            a, b = g[i], g[i + 1]
            for j in range(w):  # the steps apart from their sum (in order): this loop vectorises
                step[j] = abs(b[j] - a[j])
            ps[(i + 1) % 8] += float64_sum(step, False) / w
            pn[(i + 1) % 8] += 1
    off = replica_off(*phase_means(ps, pn), ps[1:].sum() / max(pn[1:].sum(), 1.0))
    if pn[0] == 0 or off <= 1e-12:
        return 1.0
    share, pattern, grid = block_figures(g)
    return grid_excess((ps[0] / pn[0]) / max(off, floor) * spread_weight(share, pattern), grid)


@njit
def _area_feed(row, k, out, rows, cols, acc, lo):  # noqa: ANN001, ANN202 - numba kernel
    """Feed grey row ``k`` to the area downscale into ``out``: ``rows`` / ``cols`` hold each
    output row's / column's input window ``[start, stop)``; a row is added to the (at most
    two) open output rows whose window holds it, in float64 (``acc``: two rows of sums), and
    an output row is written when its window is complete.  ``out`` as wide as ``row``: a copy."""
    oh, ow = out.shape
    w = row.shape[0]
    if ow == w:
        out[k, :] = row
        return
    i = lo[0]
    while i < oh and rows[0, i] <= k:
        a = acc[i & 1]
        for j in range(w):
            a[j] += row[j]
        i += 1
    while lo[0] < oh and rows[1, lo[0]] == k + 1:
        i = lo[0]
        a, o, n = acc[i & 1], out[i], rows[1, i] - rows[0, i]
        for jo in range(ow):
            t = 0.0
            for c in range(cols[0, jo], cols[1, jo]):
                t += a[c]
            o[jo] = t / ((cols[1, jo] - cols[0, jo]) * n)
        a[:] = 0.0
        lo[0] += 1


@njit
def _image(x, hist, sums, buf, lev, g1, rows1, cols1, acc1, g2, rows2, cols2, acc2, win, wlev, dy, dx, dark, dhist, bright, bhist):  # noqa: ANN001, ANN202, E501, PLR0913
    """One pass over an image's rows: grey row, levels, colour sums, dark and bright channels,
    both area downscales, the window (float32 grey x 255 into ``win``, its levels into ``wlev``)."""
    c, h, _ = x.shape
    lo = np.zeros(2, np.int64)
    acc1[:] = 0.0
    acc2[:] = 0.0
    wh, ww = win.shape
    k255 = np.float32(255.0)
    for k in range(h):
        if c >= 3:
            _row3(x[0, k], x[1, k], x[2, k], buf, lev, hist, sums, dark, dhist, bright, bhist)
        else:
            _row1(x[0, k], buf, hist)
        _area_feed(buf, k, g1, rows1, cols1, acc1, lo[0:1])
        _area_feed(buf, k, g2, rows2, cols2, acc2, lo[1:2])
        if dy <= k < dy + wh:
            o, ol = win[k - dy], wlev[k - dy]
            for j in range(ww):
                o[j] = buf[dx + j] * k255
            if c >= 3:
                for j in range(ww):
                    ol[j] = lev[dx + j]
            else:
                row = x[0, k]
                for j in range(ww):
                    ol[j] = row[dx + j]


@njit
def _windows(n, m):  # noqa: ANN001, ANN202 - numba helper
    """``(2, m)`` input windows ``[floor(i n / m), ceil((i + 1) n / m))`` of ``m`` output cells."""
    out = np.empty((2, m), np.int64)
    for i in range(m):
        out[0, i] = (i * n) // m
        out[1, i] = ((i + 1) * n + m - 1) // m
    return out


@njit
def _measure(x, geometry, block_floor, texture, hist, sums, res, dark, tex, bright):  # noqa: ANN001, ANN202, PLR0913
    """Every quality measurement of a ``(B, C, H, W)`` uint8 stack, image by image."""
    _, _, h, w = x.shape
    oh1, ow1, oh2, ow2, dy, dx, wh, ww = geometry
    rows1, cols1, rows2, cols2 = _windows(h, oh1), _windows(w, ow1), _windows(h, oh2), _windows(w, ow2)
    g1, g2 = np.empty((oh1, ow1), np.float32), np.empty((oh2, ow2), np.float32)
    d1 = np.empty((oh1 // 2, ow1 // 2), np.float32)
    d2 = np.empty((oh2 // 2, ow2 // 2), np.float32)
    acc1, acc2 = np.empty((2, w)), np.empty((2, w))
    win = np.empty((wh, ww), np.float32)
    resp = np.empty(max(wh - 2, 0) * max(ww - 2, 0), np.float32)
    cnt = np.empty(4 << 12, np.int64)
    part = np.empty(resp.size, np.uint32)
    med = np.empty(1, np.uint32)
    buf, lev = np.empty(w, np.float32), np.empty(w, np.int32)
    t1, t2, td1, td2 = np.empty_like(g1), np.empty_like(g2), np.empty_like(d1), np.empty_like(d2)
    h4, d4, b4 = np.empty((4, 256), np.int64), np.empty((4, 256), np.int64), np.empty((4, 256), np.int64)
    wlev, dbuf, bbuf = np.empty((wh, ww), np.int32), np.empty(w, np.int32), np.empty(w, np.int32)
    fb, qnum, qden, step = texture
    for b in range(x.shape[0]):
        h4[:] = 0
        d4[:] = 0
        b4[:] = 0
        _image(x[b], h4, sums[b], buf, lev, g1, rows1, cols1, acc1, g2, rows2, cols2, acc2, win, wlev, dy, dx, dbuf, d4, bbuf, b4)
        for v in range(256):
            hist[b, v] = h4[0, v] + h4[1, v] + h4[2, v] + h4[3, v]
            # one channel: its own value is the darkest and the brightest
            dark[b, v] = d4[0, v] + d4[1, v] + d4[2, v] + d4[3, v] if x.shape[1] >= 3 else hist[b, v]
            bright[b, v] = b4[0, v] + b4[1, v] + b4[2, v] + b4[3, v] if x.shape[1] >= 3 else hist[b, v]
        texture_levels(wlev, fb, qnum, qden, step, tex[b])
        res[b, 0], res[b, 1] = bands(g1, t1, d1, td1)
        res[b, 2], res[b, 3] = bands(g2, t2, d2, td2)
        if resp.size:
            res[b, 4] = _noise(win, resp)
            med[0] = kth_smallest_bits(resp.view(np.uint32), (resp.size - 1) // 2, cnt, part)
            res[b, 5] = med.view(np.float32)[0]
        res[b, 6] = _blocky(win, block_floor)


def measure_u8(
    x: torch.Tensor,
    size1: tuple[int, int],
    size2: tuple[int, int],
    box: tuple[int, int, int, int],
    block_floor: float = 0.5,
    texture: tuple[int, int, int, int] = TEXTURE_ARGS,
    bright: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every measurement of the quality metrics of a ``(B, C, H, W)`` uint8 CPU stack in one
    pass over each image's pixels: the grey image is never stored at full resolution.

    ``size1`` / ``size2``: the two working resolutions (area downscales of the grey image;
    its own size for a copy), ``box``: the noise window ``(dy, dx, height, width)``.  Returns
    the grey-level counts ``(B, 256)``, the :data:`N_SUMS` colour sums ``(B, N_SUMS)`` (zeros
    below three channels) and ``(B, 7)`` float64: ``E0``, ``E1`` at ``size1``, the same at
    ``size2``, the noise window's ``sum |g * N|`` and lower median, the blockiness (its mean
    step off the borders taken as at least ``block_floor``), the dark channel's counts ``(B, 256)``
    (``min(R, G, B)``; the grey counts of one channel: ``quality_dark.dark_histogram``'s) and
    ``(B, 2)`` float64 ``noise_flat``, ``impulse_share`` of the window's levels
    (:func:`~dataeval_gpu.functional.quality_texture_compiled.texture_levels` with ``texture``;
    zeros when a side is under 3 px).  ``bright``: a ``(B, 256)`` int64 array that receives the
    bright channel's counts (``max(R, G, B)``; the grey counts of one channel:
    ``quality_dark.bright_histogram``'s), counted in the same pass.  Equal to
    :func:`pixel_pass_u8`, :func:`area_down`, :func:`band_energy` and :func:`noise_u8` in turn
    (every grey value is 0 or a multiple of 2^-35 below 2, so the float64 area sums are exact in
    any order while a cell holds fewer than 2^17 pixels: short sides up to ~23,000 px).
    """
    a = x.numpy()
    b = a.shape[0]
    hist = np.empty((b, 256), np.int64)
    sums = np.zeros((b, N_SUMS), np.int64)
    res = np.zeros((b, 7), np.float64)
    dark, tex = np.empty((b, 256), np.int64), np.zeros((b, 2), np.float64)
    if bright is None:
        bright = np.empty((b, 256), np.int64)
    elif bright.shape != (b, 256) or bright.dtype != np.int64:
        raise ValueError(f"bright: expected a ({b}, 256) int64 array, got {bright.shape} {bright.dtype}")
    args = (hist, sums, res, dark, tex, bright)
    _measure(a, (*size1, *size2, *box), float(block_floor), tuple(int(v) for v in texture), *args)
    return hist, sums, res, dark, tex


def pixel_pass_u8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One ``(C, H, W)`` uint8 CPU image (any strides) -> grey ``(1, H, W)`` float32,
    the 256-level grey histogram ``(256,)`` int64 and the :data:`N_SUMS` int64 sums
    (None below three channels)."""
    a = x.numpy()
    c, h, w = a.shape
    grey = np.empty((h, w), np.float32)
    hist = np.zeros((4, 256), np.int64)
    if c >= 3:
        sums = np.zeros(N_SUMS, np.int64)
        _pass3(a, grey, hist, sums)
        s = torch.from_numpy(sums)
    else:
        _pass1(a, grey, hist)
        s = None
    return torch.from_numpy(grey).unsqueeze(0), torch.from_numpy(hist.sum(0)), s


def noise_u8(g255: torch.Tensor) -> tuple[float, float]:
    """Sum and lower median of ``|g * N|`` (Immerkær's mask, valid positions) of one float32
    ``(H, W)`` CPU window with both sides >= 3."""
    a = np.ascontiguousarray(g255.numpy(), dtype=np.float32)
    h, w = a.shape
    resp = np.empty((h - 2) * (w - 2), np.float32)
    total = _noise(a, resp)
    k = (resp.size - 1) // 2
    return float(total), float(np.partition(resp, k)[k])


def area_down(g: torch.Tensor, oh: int, ow: int) -> torch.Tensor:
    """``F.interpolate(g, (oh, ow), mode="area")`` of one float32 ``(H, W)`` CPU image
    (float64 sums: equal to float32 rounding)."""
    a = np.ascontiguousarray(g.numpy(), dtype=np.float32)
    out = np.empty((oh, ow), np.float32)
    _area(a, oh, ow, out)
    return torch.from_numpy(out)


def _warm_u8() -> None:
    # the 8-bit path's kernel for a contiguous stack, what the decoders give (other layouts and
    # the other kernels load on their first call: a scan's warm-up makes those it uses)
    measure_u8(torch.full((1, 3, 5, 6), 7, dtype=torch.uint8), (5, 6), (2, 3), (0, 0, 5, 6))


#: True when the kernels run here (numba imports and the first call compiles, or loads from
#: numba's disk cache); a failure is reported once as a RuntimeWarning and torch is used.
ready = KernelCheck("compiled quality kernels", _warm_u8, "torch")
