"""An image that shows next to nothing - a 1024 x 2 ring texture 0.6 % opaque - is embedded
composited on mid grey: the model sees a grey square, and two such images embed alike whatever they
hold (Stellarium's Neptune and Uranus rings were one embedding group).  Where the thumbnails cannot
compare such a pair (under 33 px a side) it is no longer kept on the embeddings alone."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.detectors.embedding_pairs import EMPTY_SHARE, embedding_pairs_ok, shows_little
from dataeval_gpu.detectors.near_duplicates import embedding_groups


def _case():
    rng = np.random.default_rng(0)
    sides = np.array([[2, 1024], [2, 1024], [64, 64], [64, 64]], dtype=np.float64)
    opacity = np.array([0.006, 0.008, 1.0, 1.0])  # two rings; two opaque 64 px sprites
    emb = np.ones((4, 8)) + rng.normal(0, 1e-4, (4, 8))
    emb[2:] = -emb[2:]  # the sprites alike among themselves, far from the rings
    thumbs = np.zeros((4, 1, 32, 32), np.uint8)  # the rings have none (2 px); the sprites flat
    return emb, sides, opacity, thumbs


def test_shows_little() -> None:
    opacity = _case()[2]
    assert shows_little(opacity).tolist() == [True, True, False, False]
    assert shows_little(np.array([EMPTY_SHARE * 0.99, EMPTY_SHARE, 0.2])).tolist() == [True, False, False]


def test_rings_not_paired_on_embeddings_alone() -> None:
    emb, sides, opacity, thumbs = _case()
    before = embedding_groups(emb, 0.9, k=3, margin=None, thumbs=thumbs, sides=sides)
    assert sorted(map(sorted, before)) == [[0, 1], [2, 3]]  # without opacity: as before
    after = embedding_groups(emb, 0.9, k=3, margin=None, thumbs=thumbs, sides=sides, opacity=opacity)
    assert sorted(map(sorted, after)) == [[2, 3]]
    ok = embedding_pairs_ok(np.array([0, 2]), np.array([1, 3]), np.full(2, 0.999), thumbs, sides, None, opacity)
    assert ok.tolist() == [False, True]
