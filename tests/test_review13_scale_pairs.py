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
    sizes = []
    from dataeval_gpu.functional.hashing import offcentre

    real = offcentre.block_join  # scalevis16: the search across the two sides (cross_matches)
    monkeypatch.setattr(offcentre, "block_join", lambda ua, ub, *a: sizes.append(ua.size + ub.size) or real(ua, ub, *a))
    full, valid = torch.zeros(n + 1, dtype=torch.int64), torch.ones(n + 1, dtype=torch.bool)
    p = sp.scale_pairs(full, valid, PairFigures(None, None, None, None, None, None, None, side), thumbs)
    assert sizes and max(sizes) <= 9  # distinct values only (before: 1 + 8 * 400 hashes)
    assert p.shape[1] == 2
