"""The compiled CPU kernel of the 8-bit statistics: value counts and Laplacian counts in one pass.

:func:`~dataeval_gpu.functional.stats_kernels.count_uint8` computes, for an image, the count
of each raw value per channel and the count of each value of the integer 3×3 Laplacian of the
channel sum.  As torch operations that takes five full-image passes and three temporaries
(the int16 channel sum, its replicate-padded copy, the box sums) before the bincounts, ~7 ms
for a 0.4 MP photo on one core.  :func:`count_image_u8` reads each pixel once: it counts the
channel values of a row, sums the channels into a ring of three rows, and counts the
Laplacian of the middle row from the rows' horizontal 3-sums.  Integer arithmetic throughout,
so the counts are the same integers (tested against the torch kernel).

The image may be any strided ``(C, H, W)`` uint8 view (e.g. the CHW view of an interleaved
HWC buffer).  numba is optional: :func:`ready` is False without it and the callers use the
torch kernel.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable

import numpy as np
import torch

from .kernel_cache import njit  # numba's njit(nogil, cache) after the cache's source check, or a pass-through

try:  # pragma: no cover - exercised through ready()
    import numba

    AVAILABLE = True
except ImportError:  # pragma: no cover - numba is a default dependency
    numba = None
    AVAILABLE = False

__all__ = ["AVAILABLE", "KernelCheck", "count_image_u8", "njit", "planes_u8", "preload_numba_without_blas", "ready"]


def preload_numba_without_blas() -> bool:
    """Import numba's array-math implementations (what its first compile or cache load
    imports) with scipy's BLAS hidden: at import that module checks whether
    ``scipy.linalg.cython_blas`` imports, which imports ``scipy.linalg`` and, through scipy's
    array-API layer, ``numpy.f2py``: 0.15-0.3 s of CPU time in a scan's start-up (issue 14) for a flag that
    only chooses how numba's own ``np.cov``-style inner products are compiled (a plain loop
    without it).  No kernel of this package uses BLAS, and ``scipy.linalg`` still imports
    normally afterwards.  Returns True when it did the import; False when there was nothing to
    do (numba missing, the module already imported, or scipy's BLAS already loaded)."""
    blas = "scipy.linalg.cython_blas"
    if numba is None or "numba.np.arraymath" in sys.modules or blas in sys.modules:
        return False
    sys.modules[blas] = None  # type: ignore[assignment] - an import of it raises ImportError
    try:
        importlib.import_module("numba.np.arraymath")
    finally:
        if sys.modules.get(blas, 0) is None:
            del sys.modules[blas]
    return True


class KernelCheck:
    """The ``ready()`` of a module of compiled kernels: True when numba imports
    (:data:`AVAILABLE`) and ``warm()`` - a first call of the module's kernels - compiles or
    loads them from numba's disk cache.  Checked once; a failure is reported once as a
    RuntimeWarning naming ``what`` and the ``fallback`` the callers use instead.  ``state``
    holds the answer (None until the first call; a test may set it to False)."""

    def __init__(self, what: str, warm: Callable[[], object], fallback: str) -> None:
        self.what, self.warm, self.fallback = what, warm, fallback
        self.state: bool | None = None

    def __call__(self) -> bool:
        if not AVAILABLE:
            return False
        if self.state is None:
            try:
                self.warm()
                self.state = True
            except Exception as exc:  # pragma: no cover - depends on the platform's numba
                msg = f"dataeval_gpu: {self.what} unavailable ({exc}); using {self.fallback}"
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
                self.state = False
        return self.state


@njit
def _row(x, r, s, h, counts):  # noqa: ANN001, ANN202 - numba kernel
    """Count the values of row ``r`` of each channel, sum its channels into ``s`` and put the
    replicate-padded horizontal 3-sums of ``s`` into ``h``."""
    c_n, _, w = x.shape
    for i in range(w):
        s[i] = 0
    for c in range(c_n):
        row = x[c, r]
        cc = counts[c]
        for i in range(w):  # vectorised: no histogram in this loop (in one loop ~25 % slower)
            s[i] += row[i]
        for i in range(w):
            cc[i & 3, row[i]] += 1  # four sub-histograms: runs of equal values do not serialise
    if w == 1:
        h[0] = 3 * s[0]
        return
    h[0] = 2 * s[0] + s[1]
    for i in range(1, w - 1):
        h[i] = s[i - 1] + s[i] + s[i + 1]
    h[w - 1] = s[w - 2] + 2 * s[w - 1]


@njit
def _lap_row(cur, up, mid, down, cmax, tmp, lap_counts):  # noqa: ANN001, ANN202 - numba kernel
    """Count the clamped Laplacian 9·s − box3×3(s) of one row (offset by ``cmax``)."""
    lo, hi = -cmax, 255 * cmax
    for i in range(cur.shape[0]):  # vectorised: no histogram in this loop
        tmp[i] = min(max(9 * cur[i] - (up[i] + mid[i] + down[i]), lo), hi) + cmax
    for i in range(cur.shape[0]):
        lap_counts[i & 1, tmp[i]] += 1


@njit
def _count(x, cmax, counts, lap_counts):  # noqa: ANN001, ANN202 - numba kernel
    _, hgt, w = x.shape
    s = np.empty((3, w), np.int32)  # a ring of three rows of channel sums ...
    h = np.empty((3, w), np.int32)  # ... and of their horizontal 3-sums
    tmp = np.empty(w, np.int32)
    first = 0 * hgt  # a run-time 0: a literal 0 would compile a second _row (Literal[int](0))
    _row(x, first, s[0], h[0], counts)
    for y in range(hgt):
        if y + 1 < hgt:
            _row(x, y + 1, s[(y + 1) % 3], h[(y + 1) % 3], counts)
        up = h[(y - 1) % 3] if y > 0 else h[0]  # replicate border: row -1 is row 0
        down = h[(y + 1) % 3] if y + 1 < hgt else h[y % 3]
        _lap_row(s[y % 3], up, h[y % 3], down, cmax, tmp, lap_counts)


def count_image_u8(x: torch.Tensor, cmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count_uint8(x.unsqueeze(0), cmax)`` of one ``(C, H, W)`` uint8 CPU image, in one pass.

    Returns ``counts (1, C, 256)`` and ``lap (1, 256·cmax + 1)`` int64 (see
    :func:`~dataeval_gpu.functional.stats_kernels.count_uint8`).
    """
    a = x.numpy()
    c = a.shape[0]
    if a.shape[1] * a.shape[2] >= 1 << 31:  # pragma: no cover - int32 sub-counts could overflow
        from .stats_kernels import count_uint8

        return count_uint8(x.unsqueeze(0), cmax, per_row_bincount=True)
    counts = np.zeros((c, 4, 256), np.int32)
    lap = np.zeros((2, 256 * cmax + 1), np.int32)
    _count(a, cmax, counts, lap)
    return (
        torch.from_numpy(counts.sum(1, dtype=np.int64)).unsqueeze(0),
        torch.from_numpy(lap.sum(0, dtype=np.int64)).unsqueeze(0),
    )


@njit
def _planes3(a, out):  # noqa: ANN001, ANN202 - numba kernel
    """Interleaved ``(3 N,)`` bytes -> ``(3, N)`` planes (one pass; it vectorises with shuffles)."""
    o0, o1, o2 = out[0], out[1], out[2]
    for i in range(out.shape[1]):
        o0[i] = a[3 * i]
        o1[i] = a[3 * i + 1]
        o2[i] = a[3 * i + 2]


def planes_u8(hwc: np.ndarray) -> np.ndarray:
    """``(C, H, W)`` contiguous planes of a contiguous ``(H, W, C)`` uint8 array: the same bytes as
    ``np.ascontiguousarray(hwc.transpose(2, 0, 1))``, 3-6x faster for three channels (numpy's
    transposing copy moves ~2 GB/s: ~0.7 ms for a 0.4 MP photo, what the decoders' CHW views
    cost the scan); other channel counts through numpy."""
    h, w, c = hwc.shape
    if c != 3 or hwc.dtype != np.uint8 or not hwc.flags.c_contiguous or not ready():
        return np.ascontiguousarray(hwc.transpose(2, 0, 1))
    out = np.empty((3, h, w), np.uint8)
    _planes3(hwc.reshape(-1), out.reshape(3, -1))
    return out


def _warm_stats() -> None:
    count_image_u8(torch.full((2, 3, 5), 7, dtype=torch.uint8), 2)


#: True when the kernel runs here (numba imports and the first call compiles, or loads from
#: numba's disk cache); a failure is reported once as a RuntimeWarning and torch is used.
ready = KernelCheck("compiled statistics kernel", _warm_stats, "torch")
