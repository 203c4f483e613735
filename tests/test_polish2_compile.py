"""polish2: kernels that compile less on a first run give the same values bit for bit.

``texture_levels`` selects its block quantile with the integer counting selection
(``kth_smallest_bits``) instead of ``np.partition``; the hash kernels copy rows in loops (no
array assignment, whose shape check compiles numba's string formatting) and read a strided
crop from a contiguous copy.  Each is checked against an independent numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba")

from dataeval_gpu.functional.quality_median import kth_smallest_bits  # noqa: E402
from dataeval_gpu.functional.quality_texture_compiled import TEXTURE_ARGS, texture_levels  # noqa: E402


def _kth(values: np.ndarray, k: int) -> int:
    bits = values.astype(np.uint32)
    return int(kth_smallest_bits(bits, k, np.empty(4 << 12, np.int64), np.empty(bits.size, np.uint32)))


@pytest.mark.parametrize(
    "values",
    [
        np.zeros(50, np.int64),  # all equal (a flat window: every block sum 0)
        np.full(7, 32640, np.int64),  # all equal at the largest block sum of the defaults
        np.array([5], np.int64),
        np.array([3, 1, 3, 1, 3, 1, 2, 2, 2], np.int64),  # ties
        np.array([0, 2**32 - 1, 1 << 20, (1 << 20) - 1, 1 << 8, 255, 256, 2**31, 2**31 - 1], np.int64),  # digit edges
        np.random.default_rng(0).integers(0, 40000, 4096),
        np.random.default_rng(1).integers(0, 2**32, 999),
        np.random.default_rng(2).integers(0, 3, 1000),  # few distinct values, many ties
    ],
)
def test_kth_smallest_integers_match_partition(values: np.ndarray) -> None:
    for k in sorted({0, 1, values.size // 20, values.size // 2, values.size - 1} & set(range(values.size))):
        assert _kth(values, k) == int(np.partition(values, k)[k])


def _reference(lev: np.ndarray, fb: int, qnum: int, qden: int, step: int) -> tuple[float, float]:
    """noise_flat / impulse_share in numpy (float64 / int64), np.partition for the quantile."""
    x = lev.astype(np.int64)
    h, w = x.shape
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])
    r = sum(mask[i, j] * x[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3))
    a = np.abs(r)
    nh, nw = (h - 2) // fb, (w - 2) // fb
    flat = np.nan
    if nh * nw:
        sums = a[: nh * fb, : nw * fb].reshape(nh, fb, nw, fb).sum(axis=(1, 3)).ravel()
        k = max(-(-(nh * nw * qnum) // qden) - 1, 0)
        flat = np.float64(np.partition(sums, k)[k]) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0)
    v = x[1:-1, 1:-1]
    nb = [x[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    hi, lo = np.max(nb, axis=0), np.min(nb, axis=0)
    share = np.float64(((v - hi > step) | (lo - v > step)).sum()) / v.size
    return flat, share


def _levels() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    check = (np.indices((42, 38)).sum(0) % 2 * 255).astype(np.int32)  # extremes: the largest responses
    spikes = np.full((30, 30), 128, np.int32)
    spikes[rng.integers(1, 29, 40), rng.integers(1, 29, 40)] = 255
    blocks = np.kron(rng.integers(0, 2, (8, 8)), np.ones((5, 5), np.int64)).astype(np.int32) * 255
    return [
        np.zeros((3, 3), np.int32),  # no whole block: noise_flat untouched
        np.full((6, 6), 77, np.int32),  # one block, all equal
        np.full((64, 64), 255, np.int32),
        check,
        spikes,
        blocks,  # many tied block sums
        rng.integers(0, 256, (67, 91)).astype(np.int32),
        rng.integers(0, 256, (256, 256)).astype(np.int32),
        (rng.integers(0, 3, (100, 80)) * 127).astype(np.int32),
    ]


@pytest.mark.parametrize("i", range(9))
def test_texture_levels_bit_identical_to_partition_reference(i: int) -> None:
    lev = _levels()[i]
    out = np.full(2, np.nan)
    texture_levels(lev, *TEXTURE_ARGS, out)
    flat, share = _reference(lev, *TEXTURE_ARGS)
    assert out[1] == share
    if math.isnan(flat):
        assert math.isnan(out[0])
    else:
        assert out[0] == flat  # bit for bit (the same float64 steps on the same integer)
