"""review21: defects found reviewing the merges of 9243e4a..eec7330.

* ``NearDuplicates().evaluate([])`` raised ``ValueError: cannot reshape array of size 0 into shape
  (0,newaxis)`` (``Duplicates`` gives empty groups): ``window_pairs`` (and since turns15 also
  ``turn_pairs`` and ``PairFigures``' cell colours) reshaped ``(0, ...)`` arrays with a ``-1``.
* ``colour_cells`` (review20: other dtypes on ``scale_stored``'s scale) took 0.65's bit depth of the
  every-``k``-th-pixel sample it averages, not of the image: a float image of 0-255 values whose
  sampled pixels are all under 2 read as 0-1 floats, 255 times too bright (its 8-bit copy 1, it 255).
"""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.detectors.turn_pairs import turn_pairs
from dataeval_gpu.detectors.window_pairs import window_pairs
from dataeval_gpu.functional.hashing.colour_cells import CELL_GRID, CELL_SAMPLES, colour_cells


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


def test_cells_of_a_float_copy_take_the_whole_images_bit_depth() -> None:
    side = 2 * CELL_SAMPLES  # every 2nd row and column is sampled
    u8 = torch.ones(3, side, side, dtype=torch.uint8)
    u8[:, 1::2, 1::2] = 200  # bright specks the sample skips: the image's maximum is 200 (8 bits)
    u8[0, ::2, ::2] = 0  # a cyan cast in the sampled pixels
    # reference: the sampled pixels' 4 x 4 cell means, float64, as the 8-bit image stores them
    sampled = u8.numpy()[:, ::2, ::2].astype(np.float64)
    c, h, w = sampled.shape
    want = sampled.reshape(c, CELL_GRID, h // CELL_GRID, CELL_GRID, w // CELL_GRID).mean(axis=(2, 4)).reshape(-1)
    assert want.max() == 1.0 and want.min() == 0.0
    got = colour_cells([u8, u8.to(torch.float32), u8.to(torch.float64), u8.to(torch.int32)]).numpy()
    for row in got:
        np.testing.assert_array_equal(row.astype(np.float64), want)
    # the same picture as 0-1 floats (the whole image's maximum 1.0: bit depth 1) stays on 0-1
    unit = u8.to(torch.float64) / 200.0
    np.testing.assert_array_equal(colour_cells([unit]).numpy()[0], np.round(want * 255.0 / 200.0))
    # NaN / inf pixels count as 0 (0.65's rule as scale01 reads it), for the bit depth too: a float
    # image whose only pixels over 1 are inf reads on 0-1 - as its copy with those pixels 0
    spiky = unit.clone()
    spiky[:, 1::2, 1::2] = float("inf")
    spiky[0, 1, 1] = float("nan")
    zeroed = torch.nan_to_num(spiky, nan=0.0, posinf=0.0)
    assert zeroed.max() == 1.0 / 200.0
    np.testing.assert_array_equal(colour_cells([spiky]).numpy(), colour_cells([zeroed]).numpy())
    np.testing.assert_array_equal(colour_cells([spiky]).numpy()[0], np.round(want * 255.0 / 200.0))

