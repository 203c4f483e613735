"""review20: the cell colours (``colour_cells``, lumaprec14) read an image on the scale every other
colour measurement of the project reads it (``pixels.scale_stored``: a ``uint16`` image over 65,535
levels, every other dtype by 0.65's bit depth).  They clamped a float image to [0, 1] (a float
tensor of 0-255 values read white: its 8-bit copy was no longer its near duplicate) and read a
``uint16`` image whose maximum is under 256 as 8 bits."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.functional.hashing.colour_cells import CELL_GRID, colour_cells


def _photo() -> torch.Tensor:
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:96, 0:128]
    img = np.stack([x * 1.9, y * 2.5, 255 - x - y], axis=0) + rng.normal(0, 6, (3, 96, 128))
    img[:, 30:60, 40:90] = np.array([210, 40, 60])[:, None, None]  # a red block: a colourful picture
    return torch.from_numpy(np.clip(np.round(img), 0, 255).astype(np.uint8))


def _cells_ref(img: np.ndarray) -> np.ndarray:
    """The 4 x 4 cell means of a 0-255 float64 image (every pixel: sides under 128)."""
    c, h, w = img.shape
    return img.reshape(c, CELL_GRID, h // CELL_GRID, CELL_GRID, w // CELL_GRID).mean(axis=(2, 4)).reshape(-1)


def test_cells_of_other_dtypes_are_those_of_the_8_bit_copy() -> None:
    u8 = _photo()
    want = _cells_ref(u8.numpy().astype(np.float64))
    got = colour_cells(
        [
            u8,
            u8.to(torch.float32),  # 0-255 floats: 0.65's bit depth 8
            u8.to(torch.float64) / 255.0,  # 0-1 floats
            (u8.to(torch.int32) * 257).to(torch.uint16),  # a 16-bit copy
            u8.to(torch.int64),  # integers of 0-255 in a wider dtype
        ]
    ).numpy()
    for row in got:
        assert np.abs(row.astype(np.float64) - want).max() <= 1.0
    # a uint16 image is over 65,535 levels whatever its maximum (scale_stored): dark, not bright
    dim = colour_cells([u8.to(torch.int32).to(torch.uint16)]).numpy()[0]
    np.testing.assert_array_equal(dim, np.round(want / 257.0))


def test_a_float_copy_of_0_255_values_is_a_near_duplicate() -> None:
    u8 = _photo()
    copy = u8.to(torch.float32)
    assert NearDuplicates(embedding_threshold=None).evaluate([u8, copy]).hash == [[0, 1]]
    audit = DataAudit(device="cpu")
    audit.update([u8, copy])
    assert audit.compute().duplicates["near"] == [[0, 1]]
