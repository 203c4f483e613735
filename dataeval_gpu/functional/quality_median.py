"""The median of the noise window's responses by selection, compiled: no sort.

:func:`kth_smallest_bits` finds the ``k``-th smallest of non-negative float32 values from their
bit patterns (which order like the values), digit by digit, in counting passes; the quality
kernel (:mod:`~dataeval_gpu.functional.quality_compiled`) takes the lower median of the
Immerkær responses with it (``torch.median``'s value, ties and zeros included).
"""

from __future__ import annotations

import numpy as np

from .stats_compiled import njit

__all__ = ["kth_smallest_bits"]


@njit
def _digit(bits, top, k, shift, width, cnt):  # noqa: ANN001, ANN202 - numba kernel
    """Among the values whose bits above ``shift + width`` are ``top`` (all values when
    ``top`` < 0), the digit ``(v >> shift) & (2^width - 1)`` of the ``k``-th smallest, and ``k`` left."""
    mask = (1 << width) - 1
    cnt[: mask + 1] = 0
    for u in bits:
        v = np.int64(u)
        if top < 0 or (v >> (shift + width)) == top:
            cnt[(v >> shift) & mask] += 1
    d = 0
    while k >= cnt[d]:
        k -= cnt[d]
        d += 1
    return d, k


@njit
def kth_smallest_bits(bits, k, cnt, part):  # noqa: ANN001, ANN201 - numba kernel
    """The ``k``-th smallest (from 0) of non-negative float32 values given as their bit
    patterns (ordered like the values), digit by digit: bits 31..20, 19..8, 7..0, each a
    counting pass (``cnt``: 4 x 4096 counters) over the values that match the digits so far.
    The first pass counts into four sub-counts (the noise responses share few top digits:
    runs of equal counters do not serialise); the values with the chosen top digit are then
    copied to ``part`` (as long as ``bits``), and the two later passes read only them."""
    c4 = cnt.reshape(4, 4096)
    c4[:] = 0
    for j in range(bits.shape[0]):
        c4[j & 3, bits[j] >> 20] += 1
    d1 = 0
    while k >= c4[0, d1] + c4[1, d1] + c4[2, d1] + c4[3, d1]:
        k -= c4[0, d1] + c4[1, d1] + c4[2, d1] + c4[3, d1]
        d1 += 1
    m = 0
    for j in range(bits.shape[0]):  # no branch: every value is written, the matching ones kept
        v = bits[j]
        part[m] = v
        m += (v >> 20) == d1
    d2, k = _digit(part[:m], -1, k, 8, 12, cnt)
    d3, k = _digit(part[:m], (d1 << 12) | d2, k, 0, 8, cnt)
    return (d1 << 20) | (d2 << 8) | d3
