"""The compiled CPU kernels of the quality metrics against numpy integer / float64 references
and against the torch code they replace (skipped without numba)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from dataeval_gpu.functional import quality, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics_batch
from dataeval_gpu.functional.quality_fine_compiled import fine_energies_u8

pytestmark = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")


def _photo_like(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    base = ndimage.gaussian_filter(rng.normal(128, 60, (c, h, w)), sigma=(0, 2, 2))
    return np.clip(base + rng.normal(0, 6, (c, h, w)), 0, 255).astype(np.uint8)


def _ties() -> np.ndarray:
    """(3, N) pixels whose luma 299 R + 587 G + 114 B is an exact half level (ends in 500)."""
    r, g, b = np.meshgrid(np.arange(0, 256, 3), np.arange(0, 256, 5), np.arange(0, 256, 7), indexing="ij")
    s = 299 * r + 587 * g + 114 * b
    keep = (s % 1000) == 500
    return np.stack([r[keep], g[keep], b[keep]]).astype(np.uint8)


def test_pixel_pass_levels_and_sums_are_exact() -> None:
    rng = np.random.default_rng(0)
    ties = _ties()
    assert ties.shape[1] > 100  # both odd and even lower levels among them
    img = np.concatenate([_photo_like(rng, 3, 1, ties.shape[1]), ties[:, None, :]], axis=1)
    grey, hist, sums = quality_compiled.pixel_pass_u8(torch.from_numpy(img))
    r, g, b = (img[i].astype(np.int64) for i in range(3))
    s = 299 * r + 587 * g + 114 * b
    # round half to even of s / 1000, from the exact rationals
    lev = np.round(s / 1000.0).astype(np.int64)  # numpy rounds halves to even; s / 1000 is exact enough here
    assert np.all((s[1] % 1000) == 500) and set((s[1] // 1000 % 2).tolist()) == {0, 1}
    np.testing.assert_array_equal(hist.numpy(), np.bincount(lev.ravel(), minlength=256))
    # the torch path's integer levels agree (the device path)
    np.testing.assert_array_equal(quality.grey_levels(torch.from_numpy(img)[None])[0].numpy(), lev)
    want = [(r - g).sum(), ((r - g) ** 2).sum(), (r + g - 2 * b).sum(), ((r + g - 2 * b) ** 2).sum(),
            (b - g).sum(), (img.max(0).astype(np.int64) - img.min(0)).sum()]  # fmt: skip
    assert sums.tolist() == [int(v) for v in want]
    ref = quality.grey_image(quality.scale01(torch.from_numpy(img)[None]))[0]
    np.testing.assert_allclose(grey.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)


def test_one_channel_pass() -> None:
    img = np.arange(60, dtype=np.uint8).reshape(1, 6, 10) * 4
    grey, hist, sums = quality_compiled.pixel_pass_u8(torch.from_numpy(img))
    assert sums is None
    np.testing.assert_array_equal(hist.numpy(), np.bincount(img.ravel(), minlength=256))
    np.testing.assert_allclose(grey.numpy(), img / 255.0, rtol=1e-6)


@pytest.mark.parametrize(
    "shape", [(20, 30, 256), (707, 1280, 256), (512, 1616, 64), (300, 255, 17), (5, 7, 2)]
)
def test_area_down_equals_torch_area(shape: tuple[int, int, int]) -> None:
    h, w, side = shape
    g = torch.rand(h, w, generator=torch.Generator().manual_seed(h))
    short = min(h, w)
    size = (max(1, round(h * side / short)), max(1, round(w * side / short)))
    got = quality_compiled.area_down(g, *size)
    want = F.interpolate(g.double()[None, None], size=size, mode="area")[0, 0]
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(2, 9), (3, 3), (40, 57)])
def test_band_energy_and_noise_equal_float64(shape: tuple[int, int]) -> None:
    g = torch.rand(*shape, generator=torch.Generator().manual_seed(shape[1]))
    k = np.array([1, 4, 6, 4, 1]) / 16.0
    a = g.double().numpy()
    mode = "mirror" if min(shape) > 2 else "nearest"
    blur = ndimage.convolve1d(ndimage.convolve1d(a, k, axis=1, mode=mode), k, axis=0, mode=mode)
    assert quality_compiled.band_energy(g) == pytest.approx(float(((a - blur) ** 2).mean()), rel=1e-5)
    if min(shape) >= 3:
        n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
        conv = np.abs(ndimage.correlate(a * 255, n)[1:-1, 1:-1])
        total, med = quality_compiled.noise_u8(g * 255)
        assert total == pytest.approx(conv.sum(), rel=1e-5)
        assert med == pytest.approx(np.sort(conv.ravel())[(conv.size - 1) // 2], rel=1e-5)


@pytest.mark.parametrize("shape", [(3, 64, 80), (1, 50, 40), (3, 2, 5), (4, 480, 700), (3, 900, 600)])
def test_compiled_path_equals_torch_path(
    shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(sum(shape))
    x = torch.from_numpy(np.stack([_photo_like(rng, *shape) for _ in range(2)]))
    fast = quality_metrics_batch(x)
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics_batch(x)
    for key in QUALITY_KEYS:
        assert fast[key].dtype == slow[key].dtype == torch.float32
        np.testing.assert_allclose(fast[key].numpy(), slow[key].numpy(), rtol=2e-5, atol=1e-6, err_msg=key)


def test_compiled_path_equals_torch_path_with_alpha(monkeypatch: pytest.MonkeyPatch) -> None:
    """Images with transparent parts: the kernel measures the composite on grey, the visible
    levels, opacity, noise and blockiness where opaque come from the torch code on both paths."""
    rng = np.random.default_rng(21)
    yy, xx = np.mgrid[0:140, 0:160]
    disc = (np.clip((1.0 - np.hypot(yy - 70, xx - 80) / 60.0) * 8.0, 0.0, 1.0) * 255).round().astype(np.uint8)
    for c in (4, 2):
        x = torch.from_numpy(np.stack([np.concatenate([_photo_like(rng, c - 1, 140, 160), disc[None]]) for _ in range(2)]))
        fast = quality_metrics_batch(x)
        monkeypatch.setattr(quality_compiled.ready, "state", False)
        slow = quality_metrics_batch(x)
        monkeypatch.undo()
        assert 0.4 < float(fast["opacity"][0]) < 0.8 and float(fast["noise"][0]) > 0
        for key in QUALITY_KEYS:
            np.testing.assert_allclose(fast[key].numpy(), slow[key].numpy(), rtol=2e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize(
    "shape,layout",
    [
        ((3, 707, 1280), "chw"),
        ((3, 300, 255), "hwc"),
        ((1, 130, 97), "chw"),
        ((4, 64, 80), "chw"),
        ((2, 5, 7), "chw"),
    ],
)
def test_one_pass_equals_the_separate_kernels(shape: tuple[int, int, int], layout: str) -> None:
    """measure_u8 (no full-resolution grey image) gives the same bits as the separate kernels:
    the pixel pass, the area downscales, the band energies of the image and its 2x2 mean
    (torch's avg_pool2d), and the noise window's sum and median."""
    rng = np.random.default_rng(shape[1])
    img = torch.from_numpy(_photo_like(rng, *shape))
    if layout == "hwc":
        img = img.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    c, h, w = shape
    sizes = [quality_torch.working_size(h, w, s) for s in (256, 64)]
    box = quality._window_box(h, w, 96)
    hist, sums, res, _, _ = quality_compiled.measure_u8(img[None], sizes[0], sizes[1], box)
    grey, want_hist, want_sums = quality_compiled.pixel_pass_u8(img)
    np.testing.assert_array_equal(hist[0], want_hist.numpy())
    np.testing.assert_array_equal(sums[0], want_sums.numpy() if c >= 3 else np.zeros(6, np.int64))
    for k, size in enumerate(sizes):
        work = grey[0] if size == (h, w) else quality_compiled.area_down(grey[0], *size)
        assert res[0, 2 * k] == quality_compiled.band_energy(work)
        if min(size) >= 2:
            half = F.avg_pool2d(work[None, None], 2)[0, 0]
            assert res[0, 2 * k + 1] == quality_compiled.band_energy(half)
    dy, dx, wh, ww = box
    win = grey[0, dy : dy + wh, dx : dx + ww] * 255.0
    if min(wh, ww) >= 3:
        assert (res[0, 4], res[0, 5]) == quality_compiled.noise_u8(win)
    want_block = float(quality_torch.blockiness(win.double()[None, None])[0])
    assert res[0, 6] == pytest.approx(want_block, rel=1e-12)


def test_grey_of_every_colour_equals_the_torch_path() -> None:
    """The kernel's float32 grey (no division: ``float32(v * (1/255))``) equals the torch path's
    ``(v / 255) * weight`` sums for all 2^24 colours, and ``v / 255`` for every grey byte."""
    r, g, b = np.meshgrid(np.arange(256), np.arange(256), np.arange(256), indexing="ij")
    img = torch.from_numpy(
        np.stack([r.ravel(), g.ravel(), b.ravel()]).astype(np.uint8).reshape(3, 4096, 4096)
    )
    grey, _, _ = quality_compiled.pixel_pass_u8(img)
    ref = quality.grey_image(quality.scale01(img[None]))[0]
    assert torch.equal(grey, ref)
    one = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 256)
    assert torch.equal(quality_compiled.pixel_pass_u8(one)[0], one.to(torch.float32) / 255.0)


@pytest.mark.parametrize("kind", ["flat", "two_levels", "photo"])
def test_noise_median_by_radix_selection_equals_a_sort(kind: str) -> None:
    """The window's median response (digit-by-digit selection over the float32 bit patterns)
    is the lower middle value of the sorted responses, ties and zeros included."""
    rng = np.random.default_rng(3)
    if kind == "flat":
        img = np.full((3, 90, 100), 77, np.uint8)
    elif kind == "two_levels":
        img = np.where(rng.random((3, 90, 100)) < 0.7, 10, 200).astype(np.uint8)
    else:
        img = _photo_like(rng, 3, 90, 100)
    x = torch.from_numpy(img)
    _, _, res, _, _ = quality_compiled.measure_u8(x[None], (90, 100), (64, 71), (0, 0, 90, 100))
    grey, _, _ = quality_compiled.pixel_pass_u8(x)
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    g = grey[0].numpy() * np.float32(255.0)
    resp = np.abs(sum(n[i, j] * g[i : i + 88, j : j + 98] for i in range(3) for j in range(3)))
    srt = np.sort(resp.ravel())
    assert res[0, 5] == srt[(srt.size - 1) // 2]
    if kind == "flat":
        assert res[0, 4] == res[0, 5] == 0.0


@pytest.mark.parametrize("shape", [(3, 900, 1000), (1, 60, 75), (3, 384, 17)])
def test_fine_energies_equal_the_ordered_sums(shape: tuple[int, int, int]) -> None:
    """fine_energies_u8 sums each row's squares in four interleaved parts (exact on 256-level
    windows): the same bits as the in-order band energy of each window's levels and of their
    2x2 mean, and the float64 band energies to rounding."""
    rng = np.random.default_rng(shape[2])
    x = torch.from_numpy(_photo_like(rng, *shape))
    x[:, :8, :8] = 255  # saturated corner: large steps
    boxes = quality.fine_windows(*shape[1:])
    got = fine_energies_u8(x, boxes)
    k = np.array([1, 4, 6, 4, 1]) / 16.0
    for (y0, x0, wh, ww), (e0, e1) in zip(boxes, got, strict=True):
        lev = quality.grey_levels(x[None, :, y0 : y0 + wh, x0 : x0 + ww])[0].to(torch.float32)
        assert e0 == quality_compiled.band_energy(lev)
        half = F.avg_pool2d(lev[None, None], 2)[0, 0]
        assert e1 == (quality_compiled.band_energy(half) if min(wh, ww) >= 2 else 0.0)
        a = lev.double().numpy()
        blur = ndimage.convolve1d(ndimage.convolve1d(a, k, axis=1, mode="mirror"), k, axis=0, mode="mirror")
        assert e0 == pytest.approx(float(((a - blur) ** 2).mean()), rel=1e-6)


def test_fine_energies_refuse_windows_beyond_exact_sums() -> None:
    x = torch.zeros(1, 800, 800, dtype=torch.uint8)
    with pytest.raises(ValueError, match="2\\^19"):
        fine_energies_u8(x, [(0, 0, 800, 800)])
