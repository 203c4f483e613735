"""The block join's sorts hold at most ``SORT_ENTRIES`` entries: a big search is split by the
keys' top bits, each part gathered without forming every flipped copy of every hash first."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.hashing import search as S

pytestmark = pytest.mark.usefixtures("one_thread")
REAL_SORT = S._NumpyOps.sort


def _hashes(n: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Random hashes with 40 planted copies 1..5 bits away (some in the top bits of the first
    22-bit block, which move a flipped entry to another part)."""
    rng = np.random.default_rng(3)
    h = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, n, dtype=np.int64, endpoint=True)
    planted = []
    for k in range(40):
        bits = rng.choice(np.arange(57, 64) if k % 2 else np.arange(64), 1 + k % 5, replace=False)
        flip = np.uint64(sum(1 << int(b) for b in bits))
        h[n - 1 - k] = (h[k].view(np.uint64) ^ flip).view(np.int64)
        planted.append((k, n - 1 - k))
    return h, planted


def _search(h: np.ndarray, entries: int, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, list[int], int]:
    """(pairs, sizes of the sorts, peak traced bytes) of the radius-5 search with ``entries``."""
    monkeypatch.setattr(S, "SORT_ENTRIES", entries)
    sizes: list[int] = []

    def sort(self, x):  # noqa: ANN001, ANN202
        sizes.append(int(x.shape[0]))
        return REAL_SORT(self, x)

    monkeypatch.setattr(S._NumpyOps, "sort", sort)
    tracemalloc.start()
    try:
        pairs = S.near_pairs(torch.from_numpy(h), 5).numpy()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return pairs, sizes, peak


def test_a_split_search_holds_a_part_at_a_time_and_finds_the_same_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 100_000
    h, planted = _hashes(n)
    assert any(e for _, _, e in S.search_plan(n, 5)[1])  # a distance-2 block: 23 entries a hash
    whole, whole_sizes, whole_peak = _search(h, 1 << 30, monkeypatch)
    split, sizes, peak = _search(h, 1 << 16, monkeypatch)
    np.testing.assert_array_equal(split, whole)
    assert set(planted) <= set(map(tuple, split.tolist()))
    d = np.bitwise_count((h[split[:, 0]] ^ h[split[:, 1]]).view(np.uint64))
    assert d.max() <= 5
    assert max(whole_sizes) == 23 * n  # one sort of every entry of the 22-bit block
    assert len(sizes) > 2 * len(whole_sizes) and max(sizes) <= 1 << 16
    # every flipped copy formed at once took ~126 x 8 bytes a hash (~5.5 arrays of 23 entries)
    assert whole_peak > 100 * 8 * n
    assert peak < 12 * 8 * n
