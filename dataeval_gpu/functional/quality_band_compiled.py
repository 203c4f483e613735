"""The compiled CPU kernels of the sharpness metrics' band energies (the Laplacian-pyramid band of
:mod:`~dataeval_gpu.functional.quality`): the torch path's float32 5-tap blur and squared
difference, summed in float64, in one pass instead of a dozen torch operations on padded copies.

:func:`band_sum` (a window's sum), :func:`avg_pool2` (its 2x2 mean), :func:`bands` (the energies
``E0`` / ``E1`` of an image and its 2x2 mean) are called by the one-pass measurement
(:func:`~dataeval_gpu.functional.quality_compiled.measure_u8`) and by ``fine_sharpness``'s
windows (:mod:`~dataeval_gpu.functional.quality_fine_compiled`); :func:`float64_sum` (a row's
float64 sum, in order or in four parts) also by the blockiness; :func:`band_energy` is the one
image entry (the torch path's CPU twin and the tests' reference; re-exported by
``quality_compiled``).
"""

from __future__ import annotations

import numpy as np
import torch

from .stats_compiled import njit

__all__ = ["avg_pool2", "band_energy", "band_sum", "bands", "float64_sum"]


@njit
def _refl(j, n, reflect):  # noqa: ANN001, ANN202 - numba helper: padded index
    if j < 0:
        return -j if reflect else 0
    if j >= n:
        return 2 * (n - 1) - j if reflect else n - 1
    return j


@njit
def float64_sum(v, any_order):  # noqa: ANN001, ANN202 - numba helper
    """float64 sum of the float32 values ``v``: in order (``((0 + v0) + v1) + ...``), or, when
    ``any_order`` (the caller knows the sum is exact in any order), in four interleaved parts."""
    n = v.shape[0]
    if not any_order:
        acc = 0.0
        for j in range(n):
            acc += v[j]
        return acc
    a0 = a1 = a2 = a3 = 0.0
    j = 0
    while j + 4 <= n:
        a0 += v[j]
        a1 += v[j + 1]
        a2 += v[j + 2]
        a3 += v[j + 3]
        j += 4
    while j < n:
        a0 += v[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


@njit
def band_sum(g, tmp, any_order=False):  # noqa: ANN001, ANN202 - numba kernel
    """Sum of ``(g - blur5(g))²``: the torch path's float32 blur (same taps, same order), the
    sum in float64, row by row (each row's squares first: that loop vectorises, ~1.7x faster
    than one loop with the sum; the same sum in the same order).

    ``any_order``: for 256-level grey images and their 2x2 means (the windows of
    ``fine_sharpness``), whose sums are exact in any order: every blur value and difference is
    then a multiple of 2^-8 (2^-10 on the means, multiples of 1/4), so each float32 square is a
    multiple of 2^-16 (2^-20) below 2^16, and a float64 sum of fewer than 2^21 (2^17) of them
    is exact - the windows have at most 384^2 (the means 192^2) pixels."""
    h, w = g.shape
    reflect = min(h, w) > 2
    c0, c1, c2 = np.float32(1.0 / 16.0), np.float32(4.0 / 16.0), np.float32(6.0 / 16.0)
    pad = np.empty(w + 4, np.float32)
    for i in range(h):
        row, out = g[i], tmp[i]
        for j in range(w):
            pad[j + 2] = row[j]
        for j in (-2, -1, w, w + 1):
            pad[j + 2] = row[_refl(j, w, reflect)]
        for j in range(w):  # no branch: it vectorises
            out[j] = c0 * pad[j] + c1 * pad[j + 1] + c2 * pad[j + 2] + c1 * pad[j + 3] + c0 * pad[j + 4]
    total = 0.0
    sq = pad[:w]  # the padded row is no longer needed
    for i in range(h):
        r0, r1 = tmp[_refl(i - 2, h, reflect)], tmp[_refl(i - 1, h, reflect)]
        r3, r4 = tmp[_refl(i + 1, h, reflect)], tmp[_refl(i + 2, h, reflect)]
        r2, row = tmp[i], g[i]
        for j in range(w):
            v = c0 * r0[j] + c1 * r1[j] + c2 * r2[j] + c1 * r3[j] + c0 * r4[j]
            d = row[j] - v
            sq[j] = d * d
        total += float64_sum(sq, any_order)
    return total


@njit
def avg_pool2(g, out):  # noqa: ANN001, ANN202 - numba kernel
    """torch's ``avg_pool2d(g, 2)`` on float32: ``(((0 + a) + b) + c) + d) / 4``, row by row."""
    q = np.float32(4.0)
    for i in range(out.shape[0]):
        a, b, o = g[2 * i], g[2 * i + 1], out[i]
        for j in range(out.shape[1]):
            s = np.float32(0.0)
            s += a[2 * j]
            s += a[2 * j + 1]
            s += b[2 * j]
            s += b[2 * j + 1]
            o[j] = s / q


@njit
def bands(g, tmp, d, tmp_d):  # noqa: ANN001, ANN202 - numba kernel
    """Band energies ``E0`` of ``g`` and ``E1`` of its 2x2 mean (0 when a side is under 2 px)."""
    e0 = band_sum(g, tmp) / g.size
    if min(g.shape) < 2:
        return e0, 0.0
    avg_pool2(g, d)
    return e0, band_sum(d, tmp_d) / d.size


def band_energy(g: torch.Tensor) -> float:
    """Mean of ``(g - blur5(g))²`` of one float32 ``(H, W)`` CPU image (the Laplacian-pyramid
    band energy of :mod:`~dataeval_gpu.functional.quality`)."""
    a = np.ascontiguousarray(g.numpy(), dtype=np.float32)
    return band_sum(a, np.empty_like(a)) / a.size

