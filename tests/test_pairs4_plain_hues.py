"""Two plain pictures of one grey level but different hues are not embedding near duplicates: the
thumbnails the look check reads are grey, so (200, 100, 100) and (100, 100, 200) flat (grey level
133 both) gave it nothing to tell apart, and an embedding model fed two blank squares of similar
brightness puts them close.  Where the images' colour casts are known (the scan's ``chroma_rg`` /
``chroma_bg``, :class:`NearDuplicates`' own) a pair of two plain pictures must also agree in colour,
as a hash pair must (``hash_pairs.CHROMA_TOLERANCE``)."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.embedding_pairs import embedding_pairs_ok
from dataeval_gpu.detectors.hash_pairs import CHROMA_TOLERANCE


def _flat(rgb: tuple[int, int, int], side: int = 64) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.uint8).view(3, 1, 1).expand(3, side, side).clone()


def _grey(rgb: tuple[int, int, int]) -> int:
    return sum(rgb) // 3  # 0.65's grey image: the channel mean


def test_plain_pairs_need_one_colour_on_figures() -> None:
    # two flat thumbnails of grey 133; chroma (R - G, B - G): (100, 0) against (0, 100)
    thumbs = np.full((3, 1, 32, 32), 133, np.uint8)
    sides = np.full((3, 2), 64.0)
    chroma = np.array([[100.0, 0.0], [0.0, 100.0], [100.0 + CHROMA_TOLERANCE[0] / 2, 0.0]])
    src, dst, cos = np.array([0, 0, 1]), np.array([1, 2, 2]), np.full(3, 0.999)
    assert embedding_pairs_ok(src, dst, cos, thumbs, sides).tolist() == [True, True, True]  # grey only
    assert embedding_pairs_ok(src, dst, cos, thumbs, sides, chroma).tolist() == [False, True, False]


def test_near_duplicates_same_grey_other_hue() -> None:
    red, blue = (200, 100, 100), (100, 100, 200)
    assert _grey(red) == _grey(blue)
    copy = tuple(v + 1 for v in red)  # a re-encode of the red one: one level off
    images = [_flat(red), _flat(blue), _flat(copy, 48)]
    emb = np.ones((3, 16)) + np.random.default_rng(0).normal(0, 1e-4, (3, 16))  # the model: all alike
    out = NearDuplicates(embedding_threshold=0.9, k=2, local_margin=None).evaluate(images, embeddings=emb)
    # the hash groups keep their colour check; the embedding groups now too: red with its copy only
    assert [sorted(g) for g in out.embedding] == [[0, 2]]
    groups = [sorted(g) for g in (*out.exact, *out.hash, *out.embedding)]
    assert all(not (0 in g and 1 in g) and not (1 in g and 2 in g) for g in groups)
