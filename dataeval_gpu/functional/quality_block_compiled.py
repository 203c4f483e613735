"""The compiled CPU kernel of ``blockiness``'s spread: how many of the 8-px block borders step.

JPEG blocking is spread over the picture: where the content is smooth, most borders between two
8 x 8 blocks show a step that the lines beside them do not.  A drawing or a sprite whose few strong
edges happen to lie on the 8-px grid raises the mean step on the grid lines as much, but on few
border segments.  :func:`block_spread` counts the border *segments* (a border line's 8 px within
one row / column of blocks) whose summed step exceeds the larger of the two neighbouring lines'
(the same 8 px) by more than ``8 *`` :data:`BLOCK_STEP` grey levels, over all border segments of
the directions ``blockiness`` measures (a side of at least 64 px).  The float64 sums of eight
float32 steps are exact, so the count equals
:func:`~dataeval_gpu.functional.quality_torch.block_spread`'s.
"""

from __future__ import annotations

import numpy as np

from .stats_compiled import njit

__all__ = ["BLOCK_SPREAD", "BLOCK_STEP", "block_spread"]

#: a border segment steps when its mean step exceeds both neighbouring lines' by more than this
#: (grey levels, 0..255)
BLOCK_STEP = 0.5
#: ``blockiness`` is the border / other step ratio times ``min(1, share / BLOCK_SPREAD) ** 2``,
#: ``share`` of the border segments that step: JPEG blocking steps on 0.2-0.7 of them (photos at
#: quality 5), a sprite's few edges on the grid on under 0.1 (a factor under 1/4)
BLOCK_SPREAD = 0.2


@njit
def _hits(seg, thr):  # noqa: ANN001, ANN202 - numba helper
    """Border positions ``j`` (``(j + 1) % 8 == 0``) of the segment sums ``seg`` whose sum exceeds
    both neighbours' (the left one alone at the last line) by more than ``thr``."""
    n = seg.shape[0]
    hits = 0
    for j in range(7, n, 8):
        side = seg[j - 1] if j + 1 >= n else max(seg[j - 1], seg[j + 1])
        if seg[j] - side > thr:
            hits += 1
    return hits


@njit
def block_spread(g):  # noqa: ANN001, ANN201 - numba kernel
    """The share of the 8-px border segments of the float32 window ``g`` (0..255) that step
    (see the module); -1 when no direction is measured (both sides under 64 px, or the other
    side under 8 px)."""
    h, w = g.shape
    thr = 8.0 * BLOCK_STEP
    hits = total = 0
    if w >= 64 and h >= 8:
        seg = np.zeros(w - 1)
        for r in range(h // 8):
            seg[:] = 0.0
            for i in range(8 * r, 8 * r + 8):
                row = g[i]
                for j in range(w - 1):
                    seg[j] += abs(row[j + 1] - row[j])
            hits += _hits(seg, thr)
            total += (w - 1) // 8
    if h >= 64 and w >= 8:
        n8 = w // 8
        seg = np.zeros((n8, h - 1))
        for i in range(h - 1):
            a, b = g[i], g[i + 1]
            for k in range(n8):
                s = 0.0
                for j in range(8 * k, 8 * k + 8):
                    s += abs(b[j] - a[j])
                seg[k, i] = s
        for k in range(n8):
            hits += _hits(seg[k], thr)
            total += (h - 1) // 8
    return hits / total if total > 0 else -1.0
