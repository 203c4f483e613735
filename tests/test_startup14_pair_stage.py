"""The pair stage after the scan (startup14, issue 14's start to exit): the window views' hashes,
bit packing and the cross search made cheaper with the same results, checked against plain
references written here (Python ints, numpy's median, a per-pair popcount)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.hashing import kernels, search
from dataeval_gpu.functional.hashing.kernels import dct_turns_bits, pack_bits
from dataeval_gpu.functional.hashing.search import cross_near_pairs
from dataeval_gpu.functional.hashing.windows import view_samples
from dataeval_gpu.parallel import one_blas_thread


def _packed(bits: np.ndarray) -> int:
    """64 bools, the first the most significant, as a signed int64 (Python ints)."""
    v = sum(1 << (63 - k) for k in range(64) if bits[k])
    return v - (1 << 64) if v >= 1 << 63 else v


def _turn(c: np.ndarray, k: int) -> np.ndarray:
    """Turn ``k`` = 4 t + 2 r + s of 8 x 8 DCT coefficients: transposed (t), then odd rows (r) and
    odd columns (s) negated (a mirror of the image flips the sign of its odd frequencies)."""
    v = c.T.copy() if k & 4 else c.copy()
    if k & 2:
        v[1::2, :] *= -1.0
    if k & 1:
        v[:, 1::2] *= -1.0
    return v


def test_pack_bits_matches_python_ints() -> None:
    rng = np.random.default_rng(0)
    bits = rng.random((40, 3, 64)) < 0.5
    bits[0, 0] = True  # all ones: -1
    bits[0, 1] = False
    bits[0, 2] = np.arange(64) == 0  # the sign bit alone: -2**63
    got = pack_bits(torch.from_numpy(bits))
    want = [[_packed(b) for b in row] for row in bits]
    assert got.dtype == torch.int64 and got.tolist() == want
    assert got[0].tolist() == [-1, 0, -(1 << 63)]


@pytest.mark.parametrize("ties", [False, True])
def test_dct_turns_bits_match_each_turns_median(ties: bool) -> None:
    """Each of the 8 turns' bits: coefficient > numpy's median of that turn (the transposed turns
    share their medians with the plain ones: same values, other places)."""
    rng = np.random.default_rng(1)
    c = rng.integers(-3, 4, (300, 8, 8)).astype(np.float64) if ties else rng.normal(size=(300, 8, 8)) * 50
    got = dct_turns_bits(torch.from_numpy(c)).numpy()
    assert got.shape == (300, 8)
    for b in range(300):
        for k in range(8):
            v = _turn(c[b], k).reshape(-1)
            assert got[b, k] == _packed(v > np.median(v)), (b, k)
    d4 = kernels.dct_d4_hash(torch.from_numpy(c)).numpy()  # the smallest as unsigned
    assert (d4.view(np.uint64) == got.view(np.uint64).min(axis=1)).all()


def test_view_samples_window_same_for_any_shape() -> None:
    """A window's places do not depend on the image's shape: sampled once for all, the same values
    as each image's own bilinear sample (a loop reference, edges held)."""
    rng = np.random.default_rng(2)
    t = rng.integers(0, 256, (3, 32, 32)).astype(np.float64)
    hw = np.array([[300.0, 451.0], [20.0, 900.0], [64.0, 64.0]])
    view = (0.9, 0.1, 0.05, 0.0)
    got = view_samples(t, hw, view)
    for n in range(3):
        for y in range(32):
            for x in range(32):
                i = min(max((0.1 + 0.9 * (y + 0.5) / 32) * 32 - 0.5, 0.0), 31.0)
                j = min(max((0.05 + 0.9 * (x + 0.5) / 32) * 32 - 0.5, 0.0), 31.0)
                i0, j0 = min(int(np.floor(i)), 30), min(int(np.floor(j)), 30)
                fi, fj = i - i0, j - j0
                top = t[n, i0, j0] * (1 - fj) + t[n, i0, j0 + 1] * fj
                bottom = t[n, i0 + 1, j0] * (1 - fj) + t[n, i0 + 1, j0 + 1] * fj
                assert got[n, y, x] == pytest.approx(top * (1 - fi) + bottom * fi, abs=1e-9)
    assert view_samples(t[:0], hw[:0], view).shape == (0, 32, 32)


@pytest.mark.parametrize("tile", [1 << 18, 7, 1000])
def test_cross_near_pairs_tiles_find_every_pair_in_order(monkeypatch: pytest.MonkeyPatch, tile: int) -> None:
    """Tiles smaller than a row, than the whole, or the default: the pairs within the radius of a
    per-pair popcount, in (i, j) order."""
    monkeypatch.setattr(search, "CROSS_TILE", tile)
    rng = np.random.default_rng(3)
    a = rng.integers(-(1 << 62), 1 << 62, 90, dtype=np.int64)
    b = rng.integers(-(1 << 62), 1 << 62, 40, dtype=np.int64)
    b[:10] = a[:10] ^ (1 << rng.integers(0, 63, 10))  # one bit apart
    b[10:15] = a[20:25] ^ 0b111  # three bits apart
    got = cross_near_pairs(torch.from_numpy(a), torch.from_numpy(b), 3).tolist()
    want = [[i, j] for i in range(90) for j in range(40) if bin((int(a[i]) ^ int(b[j])) & ((1 << 64) - 1)).count("1") <= 3]
    assert len(want) >= 15 and got == want


def test_one_blas_thread_restores_the_count() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS loaded
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with one_blas_thread():
        inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        a = np.arange(12.0).reshape(3, 4)
        assert (a @ a.T).tolist() == [[14.0, 38.0, 62.0], [38.0, 126.0, 214.0], [62.0, 214.0, 366.0]]
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert inside == [1] * len(before) and after == before
