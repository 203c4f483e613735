"""The compiled CPU kernel of ``noise_flat`` and ``impulse_share`` on a window's grey levels.

:func:`texture_levels` measures both texture metrics of :mod:`~dataeval_gpu.functional.quality_texture`
on a ``(h, w)`` int32 array of 256-level grey values (the noise window's levels, which the one-pass
measurement of :func:`~dataeval_gpu.functional.quality_compiled.measure_u8` keeps while it reads
the image's rows, and which :func:`~dataeval_gpu.functional.quality_texture.texture_rows` computes
from a stack): the same integers and the same float64 steps as the torch code, row by row in
loops without branches (they vectorise):

* Immerkær's mask ``[[1, -2, 1], [-2, 4, -2], [1, -2, 1]]`` is the horizontal second difference
  ``d = a - 2b + c`` of three rows combined as ``d0 - 2 d1 + d2`` (each row's ``d`` computed once);
* the largest (smallest) of a pixel's 8 neighbours is the maximum (minimum) of the rows above and
  below over three columns (each row's 3-maximum computed once) and of its left and right pixels;
* the block quantile is the ``k``-th smallest block sum, by selection: the block sums are
  non-negative integers below ``2**32`` (at most ``fb**2 * 2040``), and
  :func:`~dataeval_gpu.functional.quality_median.kth_smallest_bits` finds the ``k``-th smallest
  of such uint32 values in counting passes: the value a sort puts there, as ``np.partition``
  (whose compiled form cost ~4 s CPU of a first run's compile; the selection kernel is compiled
  for the noise median anyway, with these argument types).
"""

from __future__ import annotations

import math

import numpy as np

from .quality_median import kth_smallest_bits
from .stats_compiled import njit

__all__ = ["FLAT_BLOCK", "FLAT_QUANTILE", "IMPULSE_STEP", "TEXTURE_ARGS", "texture_levels", "window_levels"]

#: ``noise_flat``: side (mask positions) of the blocks the Immerkær response is summed over
FLAT_BLOCK = 4
#: ``noise_flat``: the block at this lower quantile of the image's blocks counts (as numerator /
#: denominator, exact in integers)
FLAT_QUANTILE = (1, 20)
#: ``impulse_share``: a pixel more than this many grey levels above (below) all 8 neighbours is an impulse
IMPULSE_STEP = 48
#: :func:`texture_levels`' settings after the levels: ``fb, qnum, qden, step``
TEXTURE_ARGS = (FLAT_BLOCK, *FLAT_QUANTILE, IMPULSE_STEP)


@njit
def _second_diff(row, out):  # noqa: ANN001, ANN202 - numba kernel
    """``out[j] = row[j] - 2 row[j + 1] + row[j + 2]`` and the row's 3-max / 3-min after it."""
    n = out.shape[1]
    d, hi, lo = out[0], out[1], out[2]
    for j in range(n):
        a, b, c = row[j], row[j + 1], row[j + 2]
        d[j] = a - 2 * b + c
        m = a if a > b else b
        hi[j] = m if m > c else c
        m = a if a < b else b
        lo[j] = m if m < c else c


@njit
def texture_levels(lev, fb, qnum, qden, step, out):  # noqa: ANN001, ANN202, PLR0913 - numba kernel
    """``out[0]`` = ``noise_flat``, ``out[1]`` = ``impulse_share`` of the grey levels ``lev``
    (int32 ``(h, w)``, both sides >= 3; ``out`` untouched otherwise): blocks of ``fb`` x ``fb``
    mask positions, the ``ceil(qnum / qden n)``-th smallest block, impulses more than ``step``
    levels above or below all 8 neighbours."""
    h, w = lev.shape
    if h < 3 or w < 3:
        return
    n = w - 2
    nh, nw = (h - 2) // fb, (w - 2) // fb
    ring = np.empty((3, 3, n), np.int32)  # per row: second difference, 3-max, 3-min
    sums = np.zeros(max(nh * nw, 1), np.int64)
    absr = np.empty(n, np.int32)
    hit = np.empty(n, np.int32)
    count = 0
    _second_diff(lev[0], ring[0])
    _second_diff(lev[1], ring[1])
    for y in range(h - 2):
        _second_diff(lev[y + 2], ring[(y + 2) % 3])
        top, mid, bot = ring[y % 3], ring[(y + 1) % 3], ring[(y + 2) % 3]
        d0, d1, d2 = top[0], mid[0], bot[0]
        hi0, hi2, lo0, lo2 = top[1], bot[1], top[2], bot[2]
        row = lev[y + 1]
        for j in range(n):
            r = d0[j] - 2 * d1[j] + d2[j]
            absr[j] = r if r >= 0 else -r
            a, c, v = row[j], row[j + 2], row[j + 1]
            hi = hi0[j] if hi0[j] > hi2[j] else hi2[j]
            hi = hi if hi > a else a
            hi = hi if hi > c else c
            lo = lo0[j] if lo0[j] < lo2[j] else lo2[j]
            lo = lo if lo < a else a
            lo = lo if lo < c else c
            hit[j] = (v - hi > step) | (lo - v > step)
        for j in range(n):
            count += hit[j]
        if y < nh * fb:
            base = (y // fb) * nw
            for bj in range(nw):
                s = 0
                for t in range(bj * fb, bj * fb + fb):
                    s += absr[t]
                sums[base + bj] += s
    nb = nh * nw
    if nb > 0:
        k = max((nb * qnum + qden - 1) // qden - 1, 0)
        bits = sums[:nb].astype(np.uint32)  # exact: 0 <= sum <= fb**2 * 2040 < 2**32
        low = kth_smallest_bits(bits, k, np.empty(4 << 12, np.int64), np.empty(nb, np.uint32))
        out[0] = np.float64(low) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0)
    out[1] = np.float64(count) / (n * (h - 2))


@njit
def window_levels(a, dy, dx, lev):  # noqa: ANN001, ANN202 - numba kernel
    """The 256-level grey values of the uint8 ``(C, H, W)`` image ``a`` (any strides) in the window
    at ``(dy, dx)`` of ``lev``'s shape into ``lev`` (int32): ``round((299 R + 587 G + 114 B) / 1000)``
    ties to even, exactly; the first channel below three."""
    wh, ww = lev.shape
    for y in range(wh):
        out = lev[y]
        if a.shape[0] >= 3:
            rr, gg, bb = a[0, dy + y], a[1, dy + y], a[2, dy + y]
            for j in range(ww):
                t = 299 * np.int32(rr[dx + j]) + 587 * np.int32(gg[dx + j]) + 114 * np.int32(bb[dx + j]) + 500
                q = t // 1000
                out[j] = q - ((t - 1000 * q == 0) & ((q & 1) == 1))
        else:
            r0 = a[0, dy + y]
            for j in range(ww):
                out[j] = r0[dx + j]
