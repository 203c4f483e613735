"""Synthetic look-alike objects shared by the index tests."""

from __future__ import annotations

import numpy as np
import PIL.Image as PIL


def blob(seed: int, size: int = 160) -> np.ndarray:
    """(H, W, 3) uint8: one bright elliptical object on a dark ground, its inner texture from
    ``seed`` (seeds 1 and 2: two distinct objects whose D4 hashes are equal)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype(float)
    mask = np.exp(-(((x - 0.45 * size) / (0.16 * size)) ** 2) - ((y - 0.42 * size) / (0.11 * size)) ** 2)
    tex = np.kron(rng.normal(size=(size // 5, size // 5)), np.ones((5, 5)))
    grey = 14 + 150 * mask + 30 * tex * mask + rng.normal(0, 1.5, (size, size))
    return np.clip(np.round(np.stack([grey * 0.95, grey, grey * 1.05], axis=-1)), 0, 255).astype(np.uint8)


def picture(seed: int, side: int, gain: float = 1.0) -> np.ndarray:
    """(side, side, 3) uint8: a smooth colour picture with a full tonal range (its highlights near
    white), darkened by ``gain``."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3)).astype(np.uint8)
    img = np.asarray(PIL.fromarray(small).resize((side, side), PIL.BICUBIC), dtype=np.float64)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return np.clip(img * gain, 0, 255).astype(np.uint8)
