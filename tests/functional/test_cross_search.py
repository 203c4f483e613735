"""Cross-set Hamming search: the direct comparison of two sets (``cross_near_pairs``, used
when one set is small, e.g. new images against an index) and the all-pairs search over
their union give the same pairs as a float-free numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.hashing import cross_pairs, groups
from dataeval_gpu.functional.hashing.search import cross_near_pairs


def _sets(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    base = rng.integers(-(2**63), 2**63 - 1, size=8, dtype=np.int64)
    flip = lambda k: (np.int64(1) << rng.integers(0, 64, k)) * rng.integers(0, 2, k)  # noqa: E731
    return base[rng.integers(0, 8, n)] ^ flip(n), base[rng.integers(0, 8, m)] ^ flip(m)


def _reference(a: np.ndarray, b: np.ndarray, r: int) -> list[list[int]]:
    d = np.bitwise_count((a[:, None] ^ b[None, :]).view(np.uint64))
    return [[int(i), int(j)] for i, j in zip(*np.nonzero(d <= r))]


@pytest.mark.parametrize("path", ["direct", "union"])
def test_cross_pairs_match_the_numpy_reference_on_both_paths(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "union":  # make the all-pairs search look cheaper than the direct comparison
        monkeypatch.setattr(groups, "search_plan", lambda n, r: (0.0, None))
        monkeypatch.setattr(groups, "cross_near_pairs", None)  # fails if the direct path is taken
        kw = {"chunk_size": 8}
    else:
        kw = {}
    rng = np.random.default_rng(3)
    hits = 0
    for _ in range(25):
        a, b = _sets(rng, int(rng.integers(2, 40)), int(rng.integers(20, 200)))
        r = int(rng.integers(0, 6))
        ref = _reference(a, b, r)
        hits += len(ref)
        assert cross_pairs(torch.from_numpy(a), torch.from_numpy(b), r, **kw).tolist() == ref
    assert hits > 100


def test_cross_near_pairs_in_small_chunks() -> None:
    rng = np.random.default_rng(4)
    a, b = _sets(rng, 30, 500)
    got = cross_near_pairs(torch.from_numpy(a), torch.from_numpy(b), 3, chunk_size=7).tolist()
    assert got == _reference(a, b, 3) and got
