"""``noise_chroma`` (functional/quality_chroma.py): hand-checked cases, the float64 reference
(tests/reference.py), and the same value on the torch (any device; run here on CPU tensors) and
compiled paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.quality import NOISE_WINDOW, quality_metrics, quality_metrics_batch
from dataeval_gpu.functional.quality_chroma import chroma_noise, chroma_rows
from dataeval_gpu.functional.quality_chroma_compiled import chroma_blocks_u8

from ..reference import chroma_noise_ref

UNIT = math.sqrt(math.pi / 2.0) / 6.0 / (2.0 * math.sqrt(2.0))  # one block-sum level per mask position


def _window_box(h: int, w: int) -> tuple[int, int, int, int]:
    """The noise window: central, at most NOISE_WINDOW px a side, offsets on the 8-px grid."""
    return (
        max(0, (h - NOISE_WINDOW) // 2) // 8 * 8,
        max(0, (w - NOISE_WINDOW) // 2) // 8 * 8,
        min(h, NOISE_WINDOW),
        min(w, NOISE_WINDOW),
    )


def _torch(img: np.ndarray) -> float:
    x = torch.from_numpy(img)[None]
    return float(chroma_noise(x, _window_box(*img.shape[1:]))[0])


def _compiled(img: np.ndarray) -> float:
    h, w = img.shape[1:]
    return float(chroma_blocks_u8(img, *_window_box(h, w), 4, 1, 20))


def test_hand_checked_single_block() -> None:
    """A 6 x 6 image holds one block of 4 x 4 mask positions, and a pixel at (2, 2) lies under all
    9 positions that see it with mask weights summing to 16 in absolute value: an impulse of 160 in
    R alone adds 160 * 16 to the block through R - G; one in G adds it through both R - G and B - G;
    one shared by R, G and B adds nothing (no channel difference changes)."""
    img = np.full((3, 6, 6), 60, np.uint8)
    img[0, 2, 2] = 220
    want = 160 * 16 / 16 * UNIT
    assert _torch(img) == pytest.approx(want, rel=1e-15) and _compiled(img) == _torch(img)
    assert want == pytest.approx(160 * 0.07385, rel=1e-4)  # sqrt(pi / 2) / 6 / (2 sqrt 2) = 0.07385
    img = np.full((3, 6, 6), 60, np.uint8)
    img[1, 2, 2] = 220
    assert _torch(img) == pytest.approx(2 * want, rel=1e-15) and _compiled(img) == _torch(img)
    img[:, 2, 2] = 220
    assert _torch(img) == 0.0 and _compiled(img) == 0.0


def test_independent_noise_reads_shared_noise_does_not() -> None:
    """Noise drawn per channel reads about 0.64 sigma in the flattest 5 % of the blocks (the value of
    sigma 8 on the survey's photos: 5.0-5.3); the very same noise added to all three channels (a
    texture's grain is shared) reads exactly 0, however strong."""
    rng = np.random.default_rng(4)
    base = np.add.outer(np.arange(200) // 2, np.arange(220) // 3).astype(np.float64) + 40.0
    own = np.clip(np.round(base + rng.normal(0, 8, (3, 200, 220))), 0, 255).astype(np.uint8)
    shared = np.clip(np.round(base + rng.normal(0, 20, (200, 220))), 0, 255).astype(np.uint8)
    shared = np.repeat(shared[None], 3, axis=0)
    ref = chroma_noise_ref(own.astype(np.float64))
    assert 0.55 * 8 < ref < 0.75 * 8
    assert _torch(own) == pytest.approx(ref, rel=1e-12) and _compiled(own) == _torch(own)
    assert _torch(shared) == 0.0 and _compiled(shared) == 0.0
    m = quality_metrics([own, shared])
    assert float(m["noise_chroma"][0]) == pytest.approx(ref, rel=1e-6)
    assert float(m["noise_chroma"][1]) == 0.0
    # the grey estimate of the flattest blocks reads the independent noise at 0.67 its sigma: the ratio
    # of the two is the term's independence check (pure noise: 1.49; shared: 0)
    assert 1.3 < float(m["noise_chroma"][0]) / float(m["noise_flat"][0]) < 1.8


@pytest.mark.parametrize("shape", [(3, 6, 7), (3, 37, 53), (3, 400, 431), (4, 90, 70), (3, 5, 40)])
def test_paths_equal_the_reference(shape: tuple[int, int, int]) -> None:
    """The torch code (CPU tensors: the device path), the numba kernel, the stacked one-pass
    finish and the float path all give the reference's value (windows over 384 px at their
    8-px-grid offset; a side under 6 px: 0)."""
    rng = np.random.default_rng(sum(shape))
    imgs = rng.integers(0, 256, (2, *shape)).astype(np.uint8)
    imgs[:, :, : shape[1] // 2] //= 8  # a quieter half: the low quantile is not the median
    if shape[0] == 4:
        imgs[:, 3] = 255  # opaque alpha: the RGB values as they are
    dy, dx, wh, ww = _window_box(*shape[1:])
    for img in imgs:
        want = chroma_noise_ref(img[:3, dy : dy + wh, dx : dx + ww].astype(np.float64))
        assert _torch(img[:3]) == pytest.approx(want, rel=1e-12, abs=0)
        assert _compiled(img) == _torch(img[:3])
        as_float = torch.from_numpy(img[:3].astype(np.float32) / 255.0)[None]
        assert float(chroma_noise(as_float, (dy, dx, wh, ww))[0]) == _torch(img[:3])
    x = torch.from_numpy(imgs)
    got = quality_metrics_batch(x)["noise_chroma"].numpy()
    want = [chroma_noise_ref(i[:3, dy : dy + wh, dx : dx + ww].astype(np.float64)) for i in imgs]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    if shape[0] == 3:
        np.testing.assert_array_equal(
            chroma_rows(x, (dy, dx, wh, ww)), chroma_noise(x, (dy, dx, wh, ww)).numpy()
        )
    if min(shape[1:]) < 6:
        assert (got == 0).all()


def test_grey_and_see_through_images() -> None:
    """One channel (grey, grey + alpha): 0.  RGBA with transparent parts: only blocks whose positions'
    3 x 3 neighbourhoods are opaque count, on the composite on mid grey (torch path on CPU tensors)."""
    rng = np.random.default_rng(9)
    grey = rng.integers(0, 256, (1, 50, 60)).astype(np.uint8)
    assert float(quality_metrics([grey])["noise_chroma"][0]) == 0.0
    assert chroma_rows(torch.from_numpy(grey)[None], _window_box(50, 60)).tolist() == [0.0]
    assert float(quality_metrics([np.concatenate([grey, grey])])["noise_chroma"][0]) == 0.0
    rgba = np.empty((4, 60, 80), np.uint8)
    rgba[:3] = np.clip(np.round(120 + rng.normal(0, 6, (3, 60, 80))), 0, 255).astype(np.uint8)
    rgba[:3, :, :40] = np.clip(np.round(120 + rng.normal(0, 30, (3, 60, 40))), 0, 255).astype(np.uint8)
    rgba[3] = 255
    rgba[3, :, 40:] = 0  # the quiet half is not seen: the loud half's blocks count
    opaque = rgba[3] == 255
    comp = (rgba[:3].astype(np.int64) * 255 + 127) // 255  # opaque pixels: their values
    comp[:, ~opaque] = 128
    want = chroma_noise_ref(comp.astype(np.float64), opaque)
    got = float(quality_metrics([rgba])["noise_chroma"][0])
    assert got == pytest.approx(want, rel=1e-6)
    assert got > 2.0 * float(quality_metrics([rgba[:3]])["noise_chroma"][0])  # not the quiet half's value
    as_float = torch.from_numpy(rgba.astype(np.float64) / 255.0)[None]
    assert float(quality_metrics_batch(as_float)["noise_chroma"][0]) == pytest.approx(want, rel=1e-12)
