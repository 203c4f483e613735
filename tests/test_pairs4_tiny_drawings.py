"""A drawing on transparent that covers only a few hundred pixels of a large canvas (Hedgewars'
20 px weapon icons on 128 px canvases) is a small picture on its 32 x 32 thumbnail: distinct icons
of one silhouette hashed alike and verified at 0.87-0.91.  Such a pair is now held as two small
images are (``hash_pairs.DRAWING_MIN_AREA``: radius 2, ``SMALL_VERIFY_MIN``)."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_pairs import DRAWING_MIN_AREA, SMALL_VERIFY_MIN, PairFigures, hash_pairs_ok

_YY, _XX = np.mgrid[-10:10, -10:10] + 0.5


def _sprite(shade: np.ndarray, side: int = 128) -> torch.Tensor:
    """A 20 px disc of ``shade`` (orange) at the centre of a transparent ``side`` px canvas."""
    im = np.zeros((4, side, side), np.uint8)
    c = side // 2
    disc = _XX**2 + _YY**2 <= 90
    for k, f in enumerate((1.0, 0.8, 0.6)):
        im[k, c - 10 : c + 10, c - 10 : c + 10] = np.where(disc, np.clip(shade * f, 0, 255), 0)
    im[3, c - 10 : c + 10, c - 10 : c + 10] = np.where(disc, 255, 0)
    return torch.from_numpy(im)


def test_two_tiny_drawings_of_one_silhouette_are_not_paired() -> None:
    stripes_x = 150 + 60 * np.sin(_XX / 2.0)
    stripes_y = 150 + 60 * np.sin(_YY / 2.0 + 1)  # another drawing: its stripes 2 px off once turned
    images = [_sprite(stripes_x), _sprite(stripes_y), _sprite(stripes_x, 120)]  # 2: 0 on a smaller canvas
    visible = float(np.count_nonzero(_XX**2 + _YY**2 <= 90))
    assert visible < DRAWING_MIN_AREA  # ~280 px: 4-5 pixels of the thumbnail
    nd = NearDuplicates(embedding_threshold=None)
    # before: one hash group of all three (the two drawings at distance 0, detail 0.93 >= 0.8)
    assert [sorted(g) for g in nd.evaluate(images).hash] == [[0, 2]]


def test_visible_area_decides() -> None:
    hw = np.full((2, 2), 128.0)
    i, j, v = np.array([0]), np.array([1]), np.zeros(1, dtype=np.int64)
    for opacity, kept in ((0.05, False), (0.1, True)):  # 819 and 1,638 visible pixels
        figs = PairFigures(opacity=np.full(2, opacity), hw=hw)  # no thumbnails: the radius decides
        assert (opacity * 128 * 128 < DRAWING_MIN_AREA) != kept
        assert hash_pairs_ok(figs, figs, i, v, j, v, np.array([4]), 4).tolist() == [kept]
        assert hash_pairs_ok(figs, figs, i, v, j, v, np.array([2]), 4).tolist() == [True]
    assert SMALL_VERIFY_MIN == 0.95
