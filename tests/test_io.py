"""Decoding single files (dataeval_gpu.io) against Pillow, for formats the bad-input corpus
(tests/audit/test_corpus.py) does not hold."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from dataeval_gpu.io import decode_bytes


def _stored(h: int = 24, w: int = 40) -> np.ndarray:
    """An RGB image whose every pixel differs from its mirror images (so any flip shows)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 6, y * 10, (x * 3 + y * 7) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_webp_exif_orientation_is_applied(orientation: int) -> None:
    """A WebP with an EXIF orientation is turned upright as a JPEG is (it was measured as stored:
    a portrait phone photo saved as WebP came out sideways, with width and height swapped)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "WEBP", lossless=True, exif=exif.tobytes())
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    got = decode_bytes(buf.getvalue()).permute(1, 2, 0).numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
