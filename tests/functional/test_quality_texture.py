"""``noise_flat`` and ``impulse_share`` (functional/quality_texture.py): hand-checked cases, the
float64 reference (tests/reference.py), and the same integers on every path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics, quality_metrics_batch
from dataeval_gpu.functional.quality_texture import flat_noise, impulse_share

from ..reference import grey_levels_ref, texture_noise_ref

KEYS = ("noise_flat", "impulse_share")


def _one(levels: np.ndarray, ok: np.ndarray | None = None) -> tuple[float, float]:
    lev = torch.from_numpy(levels.astype(np.int64))[None]
    o = None if ok is None else torch.from_numpy(ok)[None]
    return float(flat_noise(lev, o)[0]), float(impulse_share(lev, o)[0])


def test_isolated_impulses_are_counted_strokes_are_not() -> None:
    g = np.full((20, 20), 100)
    g[5, 5], g[10, 12], g[15, 4] = 255, 0, 140  # salt, pepper, and a step of 40 (< 48: not an impulse)
    assert _one(g)[1] == pytest.approx(2 / (18 * 18), abs=0)
    line = np.full((20, 20), 255)
    line[:, 7] = 0  # a one-pixel black stroke: each of its pixels has two dark neighbours
    line[3:6, 14:17] = 0  # a 3 x 3 dot
    assert _one(line)[1] == 0.0
    checker = (np.indices((20, 20)).sum(axis=0) % 2) * 255  # 1-px checkerboard: diagonal neighbours equal
    assert _one(checker)[1] == 0.0


def test_flat_noise_reads_noise_everywhere_and_texture_not_at_all() -> None:
    rng = np.random.default_rng(3)
    noisy = np.clip(np.round(128 + rng.normal(0, 10, (200, 200))), 0, 255)
    flat, _ = _one(noisy)
    # the 5 % lowest of 2,401 blocks of 16 Immerkaer responses: under the noise's sigma, well above 0
    assert 0.4 * 10 < flat < 0.8 * 10
    assert flat == pytest.approx(texture_noise_ref(noisy)["noise_flat"], abs=1e-12)
    texture = np.full((200, 200), 40.0)
    texture[:, 60:] = (rng.random((200, 140)) < 0.5) * 200 + 30  # strong pixel texture on 70 % ...
    assert _one(texture)[0] == 0.0  # ... but a smooth ground beside it: no noise there
    assert _one(np.zeros((9, 40)))[0] == 0.0  # no whole 4 x 4 block of positions (a side under 6 px)
    ramp = np.add.outer(np.arange(50), 2 * np.arange(60)).astype(float)  # the mask is blind to ramps
    assert _one(ramp) == (0.0, 0.0)


def test_hand_checked_block_quantile() -> None:
    """One impulse of 160 in a 6 x 6 image: one block of 4 x 4 mask positions; the impulse adds
    160 (4 at the centre, 2 at four edge neighbours, 1 at four corners) times 16 to the block's sum."""
    g = np.zeros((6, 6))
    g[2, 2] = 160
    flat, share = _one(g)
    assert flat == pytest.approx((4 + 4 * 2 + 4 * 1) * 160 / 16 * math.sqrt(math.pi / 2) / 6)
    assert share == pytest.approx(1 / 16)
    ok = np.ones((6, 6), bool)
    ok[5, 5] = False  # one transparent pixel: the only block touches it
    assert _one(g, ok) == (0.0, pytest.approx(1 / 15))


@pytest.mark.parametrize("shape", [(3, 61, 83), (1, 40, 30), (3, 500, 430), (4, 90, 120), (2, 64, 64)])
def test_matches_float64_reference_on_every_path(shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """uint8: the compiled CPU path and the torch path (the one a GPU runs, forced here on the
    CPU) give the reference's values exactly, stacked or alone."""
    rng = np.random.default_rng(sum(shape))
    c, h, w = shape
    base = ndimage.gaussian_filter(rng.normal(128, 50, (c, h, w)), sigma=(0, 3, 3))
    base[:, : h // 3] = 90  # a smooth band
    imgs = np.clip(base + rng.normal(0, 5, (c, h, w)) * (rng.random((c, h, w)) < 0.5), 0, 255).round().astype(np.uint8)
    imgs = np.stack([imgs, np.clip(imgs.astype(int) + 7, 0, 255).astype(np.uint8)])
    imgs[1, :, h // 2, w // 2] = 0  # pepper and salt in the middle
    imgs[1, :, h // 2 + 3, w // 2 + 3] = 255
    if c in (2, 4):
        imgs[:, -1] = 255
        imgs[:, -1, : h // 4, : w // 4] = 0  # a transparent corner
    x = torch.from_numpy(imgs)
    fast = quality_metrics_batch(x)
    alone = [quality_metrics_batch(x[i : i + 1]) for i in range(2)]
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics_batch(x)
    for i, img in enumerate(imgs):
        dy, dx = max(0, (h - 384) // 2) // 8 * 8, max(0, (w - 384) // 2) // 8 * 8
        win = np.s_[dy : dy + min(h, 384), dx : dx + min(w, 384)]
        if c in (2, 4):
            a = img[-1].astype(np.int64)
            comp = (img[:-1].astype(np.int64) * a + 128 * (255 - a) + 127) // 255  # uint8 composite
            ref = texture_noise_ref(grey_levels_ref(comp)[win], (a == 255)[win])
        else:
            ref = texture_noise_ref(grey_levels_ref(img)[win])
        for key in KEYS:
            want = np.float32(ref[key])
            assert fast[key][i].item() == want == slow[key][i].item() == alone[i][key][0].item(), key
    assert float(fast["noise_flat"].max()) > 0 and float(fast["impulse_share"].max()) > 0


def test_float_images_use_the_same_levels() -> None:
    """A float image whose values are the 8-bit ones / 255 (one channel: no luma ties) measures
    as the uint8 image."""
    rng = np.random.default_rng(9)
    img = rng.integers(0, 256, (1, 70, 90)).astype(np.uint8)
    a, b = quality_metrics([img]), quality_metrics([torch.from_numpy(img).to(torch.float64) / 255.0])
    for key in KEYS:
        assert float(b[key][0]) == pytest.approx(float(a[key][0]), rel=1e-6), key
