"""Two plain images of different grey levels (a blank frame, flat colours) are not embedding near
duplicates: the look check has nothing to compare on their thumbnails and the model sees two blank
squares (a new-user trial found (172, 47, 117) and (36, 87, 70) flat grouped).  Plain images at one
level, and pairs whose thumbnails are not made (an image under 33 px a side), are judged as before."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.detectors.embedding_pairs import FLAT_LEVEL_TOLERANCE, embedding_pairs_ok
from dataeval_gpu.detectors.near_duplicates import embedding_groups


def _grey(rgb: tuple[int, int, int]) -> float:  # BT.601, as the thumbnails' grey image
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _case():
    rng = np.random.default_rng(0)
    levels = [_grey((172, 47, 117)), _grey((36, 87, 70)), _grey((172, 47, 117)), 255.0, 0.0]
    thumbs = np.stack([np.full((1, 32, 32), round(v), np.uint8) for v in levels])
    thumbs[2, 0, 3, 4] += 1  # a re-encoded copy: one level off in one pixel
    emb = np.ones((len(levels), 8)) + rng.normal(0, 1e-4, (len(levels), 8))  # the model: all alike
    sides = np.full((len(levels), 2), 64.0)
    return emb, thumbs, sides


def test_plain_pairs_need_one_level() -> None:
    emb, thumbs, sides = _case()
    assert abs(_grey((172, 47, 117)) - _grey((36, 87, 70))) > FLAT_LEVEL_TOLERANCE
    src, dst = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 4])
    ok = embedding_pairs_ok(src, dst, np.full(4, 0.999), thumbs, sides)
    assert ok.tolist() == [False, True, False, False]
    groups = embedding_groups(emb, 0.9, k=4, margin=None, thumbs=thumbs, sides=sides)
    assert sorted(map(sorted, groups)) == [[0, 2]]


def test_without_thumbnails_or_sides_as_before() -> None:
    emb, thumbs, sides = _case()
    small = sides.copy()
    small[1] = 20  # under 33 px: its thumbnail is not made (blank), nothing to judge it by
    ok = embedding_pairs_ok(np.array([0, 1]), np.array([1, 0]), np.full(2, 0.999), thumbs, small)
    assert ok.tolist() == [True, True]
    assert embedding_pairs_ok(np.array([0]), np.array([1]), np.full(1, 0.999), thumbs, None).tolist() == [True]
