"""review21: defects found reviewing the merges of 9243e4a..eec7330.

* ``NearDuplicates().evaluate([])`` raised ``ValueError: cannot reshape array of size 0 into shape
  (0,newaxis)`` (``Duplicates`` gives empty groups): ``window_pairs`` (and since turns15 also
  ``turn_pairs`` and ``PairFigures``' cell colours) reshaped ``(0, ...)`` arrays with a ``-1``.
"""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.detectors.turn_pairs import turn_pairs
from dataeval_gpu.detectors.window_pairs import window_pairs


def test_near_duplicates_of_no_images_are_none() -> None:
    for d4 in (True, False):
        out = NearDuplicates(d4=d4, embedding_threshold=None).evaluate([])
        assert out.exact == [] and out.hash == [] and out.groups == []
        assert out.pairs["first"].size == 0 and out.pairs["second"].size == 0


def test_turn_and_window_pairs_of_fewer_than_two_images() -> None:
    for n in (0, 1):
        full, valid = torch.zeros(n, dtype=torch.int64), torch.ones(n, dtype=torch.bool)
        thumbs, hw = np.zeros((n, 3 * 32 * 32), np.uint8), np.full((n, 2), 100.0)
        for search in (turn_pairs, window_pairs):
            got = search(full, valid, thumbs, hw, PairFigures(), 4)
            assert got.shape == (0, 2) and got.dtype == np.int64


def test_pair_figures_of_no_rows_keep_their_shapes() -> None:
    figs = PairFigures(thumbs=np.zeros((0, 3 * 32 * 32), np.uint8), cells=torch.zeros(0, 48, dtype=torch.uint8))
    assert figs.thumbs.shape == (0, 3, 32, 32)  # type: ignore[union-attr]
    assert figs.cells.shape == (0, 48)  # type: ignore[union-attr]
    figs = PairFigures(thumbs=np.zeros((2, 3, 32, 32), np.uint8), cells=np.zeros((2, 3, 16), np.uint8))
    assert figs.thumbs.shape == (2, 3, 32, 32) and figs.cells.shape == (2, 48)  # type: ignore[union-attr]
