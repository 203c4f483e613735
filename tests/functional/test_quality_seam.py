"""``seam_ratio`` / ``seam_corr`` (``functional/quality_seam.py``): the torch code, the numba kernel and
the one-pass finish against a float64 numpy reference of the definition, hand-checked cases, and
what they read on a tile and on a picture with noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional.pixels import grey_levels
from dataeval_gpu.functional.quality import quality_metrics, quality_metrics_batch
from dataeval_gpu.functional.quality_seam import seam_figures, seam_sums
from dataeval_gpu.functional.quality_seam_compiled import seam_rows_u8

from ..reference import grey_levels_ref, seam_ref


def _seam_ref(img: np.ndarray) -> tuple[float, float]:
    """The reference figures of a uint8 ``(C, H, W)`` image (its grey levels: ``grey_levels_ref``)."""
    ref = seam_ref(grey_levels_ref(img))
    return ref["seam_ratio"], ref["seam_corr"]


@pytest.mark.parametrize("shape", [(3, 4, 4), (3, 37, 53), (1, 64, 40), (3, 300, 521), (3, 3, 40), (4, 30, 20)])
def test_paths_equal_the_reference(shape: tuple[int, int, int]) -> None:
    """Torch sums (CPU tensors: the device path) and the numba kernel give the same integers; the
    one-pass finish (uint8), the torch finish (float input) and the reference the same figures."""
    rng = np.random.default_rng(sum(shape))
    imgs = rng.integers(0, 256, (3, *shape)).astype(np.uint8)
    imgs[1] = imgs[1] // 4 + 100  # a quieter image, and one whose right edge repeats its left
    imgs[2, :, :, -1] = imgs[2, :, :, 0]
    if shape[0] == 4:
        imgs[:, 3] = 255  # opaque: measured as its colour
    x = torch.from_numpy(imgs)
    if shape[0] != 4:
        np.testing.assert_array_equal(seam_rows_u8(x), seam_sums(grey_levels(x)).numpy())
    got = quality_metrics_batch(x)
    as_float = quality_metrics_batch(x.to(torch.float64) / 255.0)
    for i, img in enumerate(imgs):
        want = _seam_ref(img[:3])
        assert float(got["seam_ratio"][i]) == pytest.approx(want[0], rel=1e-6)
        assert float(got["seam_corr"][i]) == pytest.approx(want[1], rel=1e-6, abs=1e-7)
        assert float(as_float["seam_ratio"][i]) == pytest.approx(want[0], rel=1e-12)
        assert float(as_float["seam_corr"][i]) == pytest.approx(want[1], rel=1e-12, abs=1e-15)
    if min(shape[1:]) < 4:
        assert got["seam_ratio"].tolist() == [0.0] * 3 and got["seam_corr"].tolist() == [0.0] * 3


def test_hand_checked() -> None:
    """A 4 x 4 grey image by hand; a constant image and a constant frame: nothing continues (corr 0)."""
    g = np.array([[0, 2, 4, 1], [0, 2, 4, 1], [0, 2, 4, 1], [0, 2, 4, 1]], np.uint8)[None]
    rows = seam_sums(torch.from_numpy(g).to(torch.int64))[0].tolist()
    # columns: wrap 4 x (1 - 0)^2, edge 4 x (2^2 + 3^2), the lines constant (V 0); rows: every line
    # (0, 2, 4, 1), no step anywhere, V = 2 (4 x 21 - 7^2) = 70
    assert rows == [[4, 52, 0], [0, 0, 70]]
    m = quality_metrics([g])
    assert float(m["seam_ratio"][0]) == pytest.approx(2 * 4 / 52)  # the larger: the columns' 8 / 52, the rows' 0
    # the columns' lines constant, the rows' summed variances 70 / 16 = 4.4 under 32 (plain): both 0
    assert float(m["seam_corr"][0]) == 0.0
    rows = torch.tensor([[[0, 0, 1200], [4, 52, 600]], [[0, 0, 1200], [4, 52, 511]]])
    fig = seam_figures(rows, torch.tensor([[4, 4], [4, 4]]))
    # n = 4: varied from V = 32 x 16 = 512; the first image's seams 1 - 4 x 0 / 1200 = 1 and
    # 1 - 4 x 4 / 600, the smaller counts; the second's columns' lines are plain (511): 0
    assert fig["seam_corr"].tolist() == [pytest.approx(1 - 16 / 600), 0.0]
    assert fig["seam_ratio"].tolist() == [pytest.approx(8 / 52), pytest.approx(8 / 52)]
    assert quality_metrics([np.full((3, 20, 30), 77, np.uint8)])["seam_corr"].tolist() == [0.0]
    framed = np.random.default_rng(1).integers(0, 256, (3, 40, 40)).astype(np.uint8)
    framed[:, :2], framed[:, -2:], framed[:, :, :2], framed[:, :, -2:] = 0, 0, 0, 0
    faint = framed.copy()
    faint[:, :, [0, -1]] = (2 + np.arange(40) % 3)[:, None]  # the same faint ripple both sides (sigma 0.8): plain
    m = quality_metrics([framed, faint])
    assert m["seam_ratio"].tolist()[0] == 0.0 and m["seam_corr"].tolist() == [0.0, 0.0]


def _field(rng: np.random.Generator, n: int) -> np.ndarray:
    """A periodic grey texture of side ``n``: white noise low-passed in the Fourier domain (wraps around)."""
    f = np.fft.fft2(rng.normal(size=(n, n)))
    k = np.fft.fftfreq(n)
    f *= np.exp(-((k[:, None] ** 2 + k[None] ** 2) / (2 * 0.08**2)))
    t = np.real(np.fft.ifft2(f))
    return (t - t.mean()) / t.std()


def test_a_tile_and_a_picture_with_noise() -> None:
    """A periodic texture (the tile) continues across its seams - ratio about 1, correlation high -
    with or without noise of sigma 25; the same texture cut off-period (a window of a larger field:
    edges of different parts) steps across the seam far more.  Noise does not make a picture a tile:
    the corr of a plain ground with noise stays about 0."""
    rng = np.random.default_rng(5)
    tile = 128 + 30 * _field(rng, 256)
    noise = rng.normal(0, 25, tile.shape)
    cut = (128 + 30 * _field(rng, 512))[:256, 100:356]
    plain = np.full((256, 256), 128.0)
    imgs = [tile, tile + noise, cut, cut + noise, plain + noise]
    u8 = [np.clip(np.round(t), 0, 255).astype(np.uint8)[None].repeat(3, 0) for t in imgs]
    m = quality_metrics(u8)
    ratio, corr = m["seam_ratio"].numpy(), m["seam_corr"].numpy()
    assert 0.5 < ratio[0] < 1.5 and corr[0] > 0.9
    assert 0.7 < ratio[1] < 1.3 and corr[1] > 0.5
    assert ratio[2] > 5.0 and corr[2] < 0.5
    assert ratio[3] > 1.5
    assert 0.7 < ratio[4] < 1.3 and abs(corr[4]) < 0.15
