"""The compiled k-th smallest of float32 bit patterns against numpy's partition (skipped without numba)."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality_median import kth_smallest_bits

pytestmark = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")


@pytest.mark.parametrize("kind", ["spread", "ties", "zeros", "one", "tiny_and_huge"])
def test_kth_smallest_equals_a_partition(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    vals = {
        "spread": rng.exponential(20.0, 5001),
        "ties": rng.integers(0, 4, 4000) * 0.5,  # long runs of equal values, one top digit
        "zeros": np.where(rng.random(3000) < 0.6, 0.0, rng.random(3000)),
        "one": np.array([3.25]),
        "tiny_and_huge": np.concatenate([rng.random(500) * 1e-30, rng.random(501) * 1e30]),
    }[kind].astype(np.float32)
    cnt, part = np.empty(4 << 12, np.int64), np.empty(vals.size, np.uint32)
    for k in sorted({0, (vals.size - 1) // 2, vals.size - 1}):
        got = np.uint32(kth_smallest_bits(vals.view(np.uint32), k, cnt, part)).view(np.float32)
        assert got == np.partition(vals, k)[k], (kind, k)
