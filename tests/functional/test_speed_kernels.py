"""The fused CPU kernels: ``noise_flat`` / ``impulse_share`` on a window's levels
(``quality_texture_compiled.texture_levels``) and the dark channel and texture rows that the one-pass
``quality_compiled.measure_u8`` counts while it reads the pixels, against numpy references and
the torch code a GPU runs (forced on CPU tensors); skipped without numba."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.functional import quality, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import quality_metrics_batch
from dataeval_gpu.functional.quality_dark import dark_histogram, dark_level
from dataeval_gpu.functional.quality_texture import flat_noise, impulse_share, texture_noise
from dataeval_gpu.functional.quality_texture_compiled import TEXTURE_ARGS, texture_levels, window_levels

from ..reference import grey_levels_ref, texture_noise_ref

pytestmark = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")


def _levels(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    if kind == "photo":
        base = ndimage.gaussian_filter(rng.normal(128, 60, (h, w)), 2) + rng.normal(0, 6, (h, w))
    elif kind == "dark":  # low texture near black, a few impulses
        base = 3 + rng.normal(0, 1, (h, w))
        base[rng.random((h, w)) < 0.01] = 200
    elif kind == "impulses":
        base = np.where(rng.random((h, w)) < 0.5, 40.0, 60.0)
        base[rng.random((h, w)) < 0.05] = 255
        base[rng.random((h, w)) < 0.05] = 0
    else:  # "lines": strokes of one level on white, 1-bit like
        base = np.full((h, w), 255.0)
        base[::5] = 0
        base[:, ::7] = 0
    return np.clip(np.round(base), 0, 255).astype(np.int32)


def _kernel(lev: np.ndarray) -> tuple[float, float]:
    out = np.zeros(2)
    texture_levels(np.ascontiguousarray(lev, dtype=np.int32), *TEXTURE_ARGS, out)
    return float(out[0]), float(out[1])


@pytest.mark.parametrize("kind", ["photo", "dark", "impulses", "lines"])
@pytest.mark.parametrize("shape", [(3, 3), (3, 40), (5, 6), (6, 6), (7, 9), (61, 83), (384, 384), (130, 17)])
def test_texture_levels_equal_torch_and_the_reference(kind: str, shape: tuple[int, int]) -> None:
    """The row-by-row kernel (second differences, 3-max / 3-min rows, selection) gives the torch
    code's values exactly and the float64 reference's (its own order of operations) to rounding,
    whole blocks or none."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    lev = _levels(rng, kind, *shape)
    got = _kernel(lev)
    t = torch.from_numpy(lev.astype(np.int64))[None]
    assert got == (float(flat_noise(t)[0]), float(impulse_share(t)[0]))
    ref = texture_noise_ref(lev)
    assert got == pytest.approx((ref["noise_flat"], ref["impulse_share"]), rel=1e-12, abs=0)
    if kind in ("impulses", "dark") and min(shape) >= 17:
        assert got[1] > 0


def test_texture_levels_hand_checked() -> None:
    """A flat 6 x 6 field with one impulse of 100 levels: one 4 x 4 block of mask positions, whose
    response sum is 4 * 100 + 4 * 2 * 100 + 4 * 100 = 1600 (the impulse seen by all nine mask
    positions around it: centre 4, edges -2, corners 1); one impulse among the 16 positions."""
    lev = np.full((6, 6), 50, np.int32)
    lev[2, 2] = 150
    flat, share = _kernel(lev)
    assert flat == pytest.approx((4 + 4 * 2 + 4 * 1) * 100 / 16 * np.sqrt(np.pi / 2) / 6)
    assert share == 1 / 16
    assert _kernel(np.full((2, 9), 7, np.int32)) == (0.0, 0.0)  # under 3 px: untouched


@pytest.mark.parametrize("layout", ["chw", "hwc"])
@pytest.mark.parametrize("shape", [(3, 707, 1280), (3, 90, 70), (1, 130, 97), (3, 4, 5), (1, 2, 9), (3, 500, 31)])
def test_measure_counts_the_dark_channel_and_the_texture(shape: tuple[int, int, int], layout: str) -> None:
    """measure_u8's dark-channel counts are ``bincount(min(R, G, B))`` (the value itself for one
    channel) and dark_histogram's; its texture rows are texture_noise's (torch) on the window."""
    rng = np.random.default_rng(sum(shape))
    c, h, w = shape
    img = np.clip(ndimage.gaussian_filter(rng.normal(110, 70, shape), (0, 2, 2)) + rng.normal(0, 8, shape), 0, 255)
    img = img.astype(np.uint8)
    img[:, : h // 3] //= 16  # a dark band
    x = torch.from_numpy(img)
    if layout == "hwc":
        x = x.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    box = quality._window_box(h, w)
    sizes = [quality_torch.working_size(h, w, s) for s in (256, 64)]
    _, _, _, dark, tex = quality_compiled.measure_u8(x[None], sizes[0], sizes[1], box)
    np.testing.assert_array_equal(dark[0], np.bincount(img.min(axis=0).ravel(), minlength=256))
    np.testing.assert_array_equal(dark[0], dark_histogram(x[None])[0].numpy())
    want = texture_noise(x[None], box)  # the torch code
    assert tex[0].tolist() == [float(want["noise_flat"][0]), float(want["impulse_share"][0])]
    lev = np.empty(box[2:], np.int32)
    window_levels(x.numpy(), box[0], box[1], lev)
    dy, dx, wh, ww = box
    np.testing.assert_array_equal(lev, grey_levels_ref(img)[dy : dy + wh, dx : dx + ww])


@pytest.mark.parametrize("shape", [(3, 480, 640), (1, 28, 28), (3, 3, 200), (1, 17, 16)])
def test_fused_metrics_equal_the_torch_path(shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """dark_p001, noise_flat and impulse_share from the fused pass equal the torch path's (what a
    GPU runs) bit for bit, dark and low-texture images included; dark_level is dark_black_point's."""
    rng = np.random.default_rng(shape[2])
    c, h, w = shape
    dark = np.clip(rng.normal(4, 2, shape), 0, 255).astype(np.uint8)
    photo = np.clip(ndimage.gaussian_filter(rng.normal(128, 60, shape), (0, 2, 2)), 0, 255).astype(np.uint8)
    x = torch.from_numpy(np.stack([dark, photo]))
    fast = quality_metrics_batch(x)
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics_batch(x)
    for key in ("dark_p001", "bright_p99", "noise_flat", "impulse_share", "grey_p001", "grey_entropy"):
        assert fast[key].tolist() == slow[key].tolist(), key
    hist = torch.from_numpy(np.stack([np.bincount(im.min(axis=0).ravel(), minlength=256) for im in (dark, photo)]))
    assert dark_level(hist).tolist() == fast["dark_p001"].tolist()
