"""Two images with a transparent ground are compared by the look check on the grey image beneath
their alpha, where the ground's hidden colour against the drawing makes one large step: Stellarium's
panorama slices (a transparent sky over different fields) looked 0.9 alike, its planet ground
textures (a transparent sky over flat beige, yellow or blue) 0.74-0.98, while their detail
correlated at 0.05-0.28.  Such a pair must now also agree in detail (``ALPHA_DETAIL_MIN``)."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.detectors.embedding_pairs import ALPHA_DETAIL_MIN, embedding_pairs_ok, look_scores
from dataeval_gpu.detectors.near_duplicates import embedding_groups
from dataeval_gpu.functional.hashing.thumbs import detail_check


def _case():
    rng = np.random.default_rng(0)
    thumbs = np.zeros((3, 1, 32, 32), np.uint8)  # the hidden sky: black above row 12
    for k, seed in enumerate((1, 2, 1)):
        thumbs[k, 0, 12:] = np.random.default_rng(seed).integers(90, 170, (20, 32))
    thumbs[2, 0, 12:] = np.clip(thumbs[2, 0, 12:].astype(int) + rng.integers(-3, 4, (20, 32)), 0, 255)  # 0 re-encoded
    emb = np.ones((3, 8)) + rng.normal(0, 1e-4, (3, 8))  # the model: one field, three times
    sides = np.full((3, 2), 128.0)
    return thumbs, emb, sides, np.array([0.6, 0.6, 0.6])


def test_two_fields_under_one_sky() -> None:
    thumbs, emb, sides, opacity = _case()
    look, _ = look_scores(thumbs, np.array([0, 0]), np.array([1, 2]))
    detail, _ = detail_check(thumbs[[0, 0], 0].astype(float), thumbs[[1, 2], 0].astype(float))
    assert look[0] > 0.75 and detail[0] < ALPHA_DETAIL_MIN  # the step looks alike; the fields differ
    assert detail[1] > 0.9  # the copy
    src, dst, cos = np.array([0, 0]), np.array([1, 2]), np.full(2, 0.999)
    assert embedding_pairs_ok(src, dst, cos, thumbs, sides).tolist() == [True, True]  # no opacity: as before
    assert embedding_pairs_ok(src, dst, cos, thumbs, sides, None, opacity).tolist() == [False, True]
    opaque = np.ones(3)  # opaque pictures: the look check alone, as before
    assert embedding_pairs_ok(src, dst, cos, thumbs, sides, None, opaque).tolist() == [True, True]
    groups = embedding_groups(emb, 0.9, k=2, margin=None, thumbs=thumbs, sides=sides, opacity=opacity)
    assert sorted(map(sorted, groups)) == [[0, 2]]
