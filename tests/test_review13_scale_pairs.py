"""review13: the scale-pair search runs on distinct hashes (equal hashes of flat / symmetric
larger images no longer pair among themselves quadratically) and finds the same pairs."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import scale_pairs as sp
from dataeval_gpu.detectors.hash_pairs import PairFigures
from dataeval_gpu.functional.hashing import hamming_distance


def test_cross_pairs_equal_brute_force_with_repeated_hashes() -> None:
    rng = np.random.default_rng(3)
    pool = rng.integers(-(1 << 62), 1 << 62, 6, dtype=np.int64)
    pool = np.concatenate([pool, pool ^ 1, pool ^ 6, pool ^ (1 << 40) ^ 5])  # 0-3 bits apart
    a, b = rng.choice(pool, 40), rng.choice(pool, 300)
    i, j = sp._cross_pairs(a, b, 2)
    d = hamming_distance(torch.from_numpy(a)[:, None], torch.from_numpy(b)[None, :]).numpy()
    want = sorted(zip(*np.nonzero(d <= 2), strict=True))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(int(x), int(y)) for x, y in want]
    assert len(want) > 300  # repeated values on both sides


def test_flat_larger_images_are_searched_once(monkeypatch) -> None:  # noqa: ANN001
    n = 400  # flat larger images: 8 equal turned hashes each, equal across the images
    thumbs = np.full((n + 1, 32, 32), 200, np.uint8)
    side = np.full(n + 1, 64.0)
    side[0] = 20
    seen = []
    from dataeval_gpu.functional.hashing import block_search

    real = block_search.block_join  # scalevis16: only across the two sides (cross_matches)

    def spy(ua, ub, *a):  # noqa: ANN001, ANN002, ANN202
        out = real(ua, ub, *a)
        seen.append((ua.size, ub.size, out[2]))
        return out

    monkeypatch.setattr(block_search, "block_join", spy)
    full, valid = torch.zeros(n + 1, dtype=torch.int64), torch.ones(n + 1, dtype=torch.bool)
    p = sp.scale_pairs(full, valid, PairFigures(None, None, None, None, None, None, None, side), thumbs)
    # the small image's one distinct value against the 8 * 400 equal turned hashes: each checked at
    # most once in each 32-bit half, never paired among themselves (before: all 3,200 in one joined
    # search); here the two values meet in one half only: 3,200 candidates
    assert len(seen) == 1 and seen[0][:2] == (8 * n, 1) and 8 * n <= seen[0][2] <= 2 * 8 * n
    assert p.shape[1] == 2
