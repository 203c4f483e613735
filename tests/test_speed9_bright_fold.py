"""bright_p99 counted in the passes that already read the pixels: ``measure_u8`` counts the bright
channel ``max(R, G, B)`` beside the dark channel, and ``channel_histograms`` counts both from one
``min`` / ``max`` of each pixel (numba for uint8 CPU stacks, alpha as integer weights; one
``aminmax`` + ``scatter_add`` in torch, what a GPU runs).  Against numpy float64 references and
between the paths, with the 99 % level placed on a tie."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.functional import quality, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import quality_metrics_batch
from dataeval_gpu.functional.quality_dark import BRIGHT_SHARE, DARK_SHARE, channel_histograms, channel_levels

pytestmark = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")


def _image(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    img = np.clip(ndimage.gaussian_filter(rng.normal(110, 70, shape), (0, 2, 2)) + rng.normal(0, 8, shape), 0, 255)
    img = img.astype(np.uint8)
    img[:, : shape[1] // 3] //= 8  # a dark band
    return img


def _level(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The lowest level whose float64 cumulative share reaches ``share`` (numpy reference)."""
    cdf = np.cumsum(np.bincount(values.ravel(), weights=weights.ravel(), minlength=256)) / weights.sum()
    return int(np.argmax(cdf >= share - 1e-9)) / 255.0


@pytest.mark.parametrize("layout", ["chw", "hwc"])
@pytest.mark.parametrize("shape", [(3, 707, 1280), (3, 90, 70), (1, 130, 97), (3, 4, 5), (1, 2, 9), (3, 500, 31)])
def test_measure_counts_the_bright_channel(shape: tuple[int, int, int], layout: str) -> None:
    """measure_u8's bright counts are ``bincount(max(R, G, B))`` (the value itself for one channel),
    counted in the same pass as the dark ones (which stay ``bincount(min)``)."""
    rng = np.random.default_rng(sum(shape) + 9)
    c, h, w = shape
    img = _image(rng, shape)
    x = torch.from_numpy(img)
    if layout == "hwc":
        x = x.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    sizes = [quality_torch.working_size(h, w, s) for s in (256, 64)]
    bright = np.full((1, 256), -1, np.int64)
    hist, _, _, dark, _ = quality_compiled.measure_u8(x[None], sizes[0], sizes[1], quality._window_box(h, w), bright=bright)
    np.testing.assert_array_equal(bright[0], np.bincount(img.max(axis=0).ravel(), minlength=256))
    np.testing.assert_array_equal(dark[0], np.bincount(img.min(axis=0).ravel(), minlength=256))
    np.testing.assert_array_equal(bright[0], channel_histograms(x[None])[0, 1].numpy())
    if c == 1:
        np.testing.assert_array_equal(bright[0], hist[0])


def test_measure_rejects_a_wrong_bright_array() -> None:
    x = torch.zeros(2, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"bright: expected a \(2, 256\) int64"):
        quality_compiled.measure_u8(x, (8, 8), (8, 8), (0, 0, 8, 8), bright=np.empty((1, 256), np.int64))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_channel_histograms_paths_agree(channels: int, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass gives both channels' counts: numba (uint8 CPU, alpha as integer weights) and torch
    (forced; what a GPU runs) equal the numpy float64 bincounts, a transparent image one black pixel."""
    rng = np.random.default_rng(channels)
    a = np.stack([_image(rng, (channels, 40, 53)) for _ in range(3)])
    alpha = channels in (2, 4)
    if alpha:
        a[2, -1] = 0  # fully transparent
    x = torch.from_numpy(a) if dtype == torch.uint8 else torch.from_numpy(a).to(dtype) / 255.0
    fast = channel_histograms(x)
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = channel_histograms(x)
    assert fast.dtype == slow.dtype and torch.equal(fast, slow)
    col = a[:, : channels - 1] if alpha else a
    wts = a[:, -1].astype(np.float64) if alpha else np.ones(a[:, 0].shape)
    for i in range(3):
        w = wts[i] if wts[i].sum() > 0 else None
        for k, v in enumerate((col[i].min(axis=0), col[i].max(axis=0))):
            want = np.bincount(v.ravel(), weights=w.ravel(), minlength=256) if w is not None else np.eye(256)[0]
            got = fast[i, k].to(torch.float64).numpy()
            if dtype == torch.uint8:  # integer counts, alpha 0..255 as the weight
                np.testing.assert_array_equal(got, want)
            else:  # float alpha in [0, 1], float64 sums
                np.testing.assert_allclose(got, want / 255.0 if w is not None and alpha else want, rtol=1e-6)
    levels = channel_levels(x)
    for i in range(2):
        w = wts[i]
        assert float(levels[0][i]) == pytest.approx(_level(col[i].min(axis=0), w, DARK_SHARE), abs=1e-7)
        assert float(levels[1][i]) == pytest.approx(_level(col[i].max(axis=0), w, BRIGHT_SHARE), abs=1e-7)


@pytest.mark.parametrize("alpha", [False, True])
def test_bright_p99_on_a_tie_same_on_every_path(alpha: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """An image whose 99 % level of max(R, G, B) sits exactly on a bin edge (99 of 100 pixels at
    or below 200): the fused pass (numba), torch and float64 give the same level, and one count
    off in the bright bins moves it."""
    a = np.zeros((1, 3, 10, 10), np.uint8)
    a[0, 2] = 200  # blue at 200: grey 23, min 0, max 200
    a[0, 0, 0, 0] = 250  # one pixel brighter: the 100th
    if alpha:
        a = np.concatenate([a, np.full((1, 1, 10, 10), 255, np.uint8)], axis=1)
    x = torch.from_numpy(a)
    fast = quality_metrics_batch(x)["bright_p99"]
    moved = a.copy()
    moved[0, 2, 0, 1] = 201  # 98 at or below 200: the level moves to 201
    fast_moved = quality_metrics_batch(torch.from_numpy(moved))["bright_p99"]
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics_batch(x)["bright_p99"]
    flt = quality_metrics_batch(x.to(torch.float64) / 255.0)["bright_p99"]
    assert fast.tolist() == slow.tolist() == [np.float32(200 / 255)] and float(flt[0]) == pytest.approx(200 / 255)
    assert fast_moved.tolist() == quality_metrics_batch(torch.from_numpy(moved))["bright_p99"].tolist()
    assert fast_moved.tolist() == [np.float32(201 / 255)]
