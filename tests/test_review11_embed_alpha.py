"""review11: an opaque image with alpha of any dtype embeds bit for bit as its colour channels
(before: only uint8 and [0, 1] floats did; 12-bit colour beside a 16-bit opaque alpha was
scaled by the alpha's depth, 16 times darker, and negative data were clamped), and a
half-transparent non-uint8 image is composited as the float64 reference says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.embeddings import preprocess_images

CFG = {"input_size": 32, "crop_pct": 1.0, "interpolation": "bilinear", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)}
CPU = torch.device("cpu")


def _colour(kind: str) -> torch.Tensor:
    base = torch.from_numpy(np.random.default_rng(11).random((3, 32, 32)))
    return {
        "uint16_12bit": (base * 4095).round().to(torch.int32).to(torch.uint16),
        "uint16_full": (base * 65535).round().to(torch.int32).to(torch.uint16),
        "int32": (base * 65535).round().to(torch.int32),
        "float32_0_255": (base * 255).round().to(torch.float32),
        "float32_negative": (base - 0.5).to(torch.float32),
    }[kind]


@pytest.mark.parametrize("kind", ["uint16_12bit", "uint16_full", "int32", "float32_0_255", "float32_negative"])
@pytest.mark.parametrize("channels", [1, 3])
def test_opaque_alpha_preprocessed_as_the_colour_bit_for_bit(kind: str, channels: int) -> None:
    colour = _colour(kind)[:channels]
    opaque = {"uint16_12bit": 65535, "uint16_full": 65535, "int32": 65535}.get(kind, 1.0)
    if kind == "float32_0_255":
        opaque = 255.0
    alpha = torch.full((1, 32, 32), opaque, dtype=torch.float64).to(colour.dtype)
    x = preprocess_images([colour, torch.cat([colour, alpha])], CFG, CPU)
    assert torch.equal(x[1], x[0])


def test_half_transparent_uint16_composited_as_the_reference() -> None:
    rng = np.random.default_rng(12)
    colour = rng.integers(0, 4096, (3, 32, 32)).astype(np.float64)  # 12-bit colour
    alpha = rng.integers(0, 65536, (1, 32, 32)).astype(np.float64)  # 16-bit alpha
    alpha[0, 0, 0] = 65535
    img = torch.from_numpy(np.concatenate([colour, alpha]).astype(np.int32)).to(torch.uint16)
    x = preprocess_images([img], CFG, CPU)[0].numpy()
    a = alpha / 65535.0
    want = colour / 4095.0 * a + 128.0 / 255.0 * (1.0 - a)
    np.testing.assert_allclose(x, (want - 0.5) / 0.25, atol=2e-5)
