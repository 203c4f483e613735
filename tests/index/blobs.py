"""Synthetic look-alike objects shared by the index tests."""

from __future__ import annotations

import numpy as np


def blob(seed: int, size: int = 160) -> np.ndarray:
    """(H, W, 3) uint8: one bright elliptical object on a dark ground, its inner texture from
    ``seed`` (seeds 1 and 2: two distinct objects whose D4 hashes are equal)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype(float)
    mask = np.exp(-(((x - 0.45 * size) / (0.16 * size)) ** 2) - ((y - 0.42 * size) / (0.11 * size)) ** 2)
    tex = np.kron(rng.normal(size=(size // 5, size // 5)), np.ones((5, 5)))
    grey = 14 + 150 * mask + 30 * tex * mask + rng.normal(0, 1.5, (size, size))
    return np.clip(np.round(np.stack([grey * 0.95, grey, grey * 1.05], axis=-1)), 0, 255).astype(np.uint8)
