"""motion11: the ``quality_motion`` metrics (``motion_ratio``, ``motion_energy``, ``motion_angle``,
artprec13's ``motion_cross``)
on the numba and torch paths (forced on CPU tensors) against a float64 reference and hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.datasets import sample_photos
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics, quality_metrics_stacks
from dataeval_gpu.functional.quality_alpha import ALPHA_BACKDROP
from dataeval_gpu.functional.quality_motion import (
    MOTION_KEYS,
    motion_figures,
    motion_metrics,
    motion_rows,
    motion_rows_u8,
)

from .reference import grey_levels_ref, motion_ref

needs_numba = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")


def line_blur(img: np.ndarray, length: int, angle: int) -> np.ndarray:
    """A ``(C, H, W)`` uint8 image box-blurred over ``length`` px along a line (degrees
    counter-clockwise from the rows, y up), scipy's reflect padding, rounded."""
    k = np.zeros((length, length))
    c, idx = length // 2, np.arange(length)
    if angle == 0:
        k[c] = 1
    elif angle == 90:
        k[:, c] = 1
    elif angle == 45:  # rising: bottom left to top right
        k[idx[::-1], idx] = 1
    else:  # 135, falling
        k[idx, idx] = 1
    k /= length
    out = [ndimage.convolve(ch.astype(np.float64), k, mode="reflect") for ch in img]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def sample(name: str) -> np.ndarray:
    return dict(sample_photos())[name]


def _scene(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Smooth noise with a few hard-edged rectangles (odd sizes, every channel count)."""
    rng = np.random.default_rng(seed)
    c, h, w = shape
    img = ndimage.gaussian_filter(rng.normal(128, 50, shape), sigma=(0, 1.2, 1.2))
    for _ in range(4):
        y, x = rng.integers(0, h), rng.integers(0, w)
        img[:, y : y + h // 5, x : x + w // 4] = rng.integers(0, 256, size=(c, 1, 1))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if c in (2, 4):
        img[-1] = 255
        img[-1, : h // 3, : w // 2] = rng.integers(0, 256, size=(h // 3, w // 2))  # partly see-through
    return img


def _seen_levels(img: np.ndarray) -> np.ndarray:
    """The 256-level grey of what is seen: an image with alpha on the mid-grey backdrop
    (``(c a + level (255 - a) + 127) // 255``), the grey levels of the colour channels."""
    x = img.astype(np.int64)
    if img.shape[0] in (2, 4):
        a = x[-1]
        x = (x[:-1] * a + ALPHA_BACKDROP * (255 - a) + 127) // 255
    return grey_levels_ref(x)


def test_hand_checked_bars() -> None:
    """``G = 100 + 50 [x mod 16 < 8] + 50 [y mod 4 < 2]`` on 64 x 64, 48 x 48 inner positions.
    Along the rows the step-8 difference is +-100 everywhere, the step-2 one +-50 at 8 of 16
    columns (E2 = 1250, E8 = 10000); down the columns +-100 at step 2 and 0 at step 8 (the
    period 4 divides 8: no detail at step 8, so the columns take no part); along both diagonals
    both add up (the cross term sums to 0 over whole periods): E2 = 11250, E8 = 10000.  So
    ``motion_ratio = sqrt((1250 - 1/2) / (11250 - 1/2))``, the rows the weakest, their ``E8``.  Every
    8 x 8 tile of positions holds the mean energies (along the rows the step-2 difference is +-50 at 4
    of its 8 columns; the diagonals' cross terms sum to 0 over its 8 rows, two periods of 4): its sums
    are 64 times them, so ``motion_peak`` (the rows at their sharpest tile) is ``sqrt(1249.5 / 9999.5)``."""
    y, x = np.mgrid[:64, :64]
    img = torch.from_numpy((100 + 50 * (x % 16 < 8) + 50 * (y % 4 < 2)).astype(np.uint8)[None, None])
    n = 48 * 48
    energies = [1250, 10000, 11250, 10000, 10000, 0, 11250, 10000]
    want = [n * e for e in energies] + [64 * e for e in energies] + [n]
    assert motion_rows(img.float() / 255.0).tolist() == [want]  # the torch path (float input)
    if quality_compiled.ready():
        assert motion_rows_u8(img).tolist() == [want]
    got = motion_figures(torch.tensor([want]), torch.float64)
    assert got["motion_ratio"].item() == pytest.approx(math.sqrt(1249.5 / 11249.5), rel=1e-15)
    assert got["motion_energy"].tolist() == [9999.5] and got["motion_angle"].tolist() == [0.0]
    assert got["motion_cross"].tolist() == [1.0]  # across the rows: the columns, which take no part
    assert got["motion_peak"].item() == pytest.approx(math.sqrt(1249.5 / 9999.5), rel=1e-15)
    ref = motion_ref(img[0, 0].numpy())
    want = [math.sqrt(1249.5 / 11249.5), 9999.5, 0.0, 1.0, math.sqrt(1249.5 / 9999.5)]
    assert [ref[k] for k in MOTION_KEYS] == pytest.approx(want, rel=1e-12)


def test_a_direction_without_coarse_detail_takes_no_part() -> None:
    """Three bands of a flag (rows of one colour): nothing changes along the rows, so they take no
    part; every other direction crosses the same two sharp edges (q = 1/2 each): ratio 1, where
    counting the rows' empty direction as the sharpest would give 1/2."""
    flag = np.zeros((3, 90, 120), np.uint8)
    flag[:, 30:60], flag[:, 60:] = 120, 240
    m = quality_metrics([flag])
    assert m["motion_ratio"].item() == pytest.approx(1.0)
    assert m["motion_energy"].item() > 16.0


SHAPES = [(3, 61, 83), (1, 64, 67), (3, 500, 430), (3, 900, 1100), (4, 90, 120), (2, 64, 64), (3, 20, 50), (1, 100, 131)]


@needs_numba
@pytest.mark.parametrize("shape", SHAPES)
def test_compiled_and_torch_paths_equal_the_reference(shape, monkeypatch) -> None:
    """8-bit stacks of every channel count (alpha: as seen on mid grey), sizes under the 64-px
    minimum and over the 768-px window: the numba kernel (CPU) and the torch code (what CUDA
    runs, forced here on CPU tensors) give the same values bit for bit, the float64 reference's
    to float32 rounding."""
    x = torch.from_numpy(np.stack([_scene(shape, 1), _scene(shape, 2)]))
    compiled = quality_metrics_stacks([x])
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    forced = quality_metrics_stacks([x])
    for key in MOTION_KEYS:
        assert compiled[key].dtype == forced[key].dtype == torch.float32
        assert compiled[key].tolist() == forced[key].tolist(), key
    for j in range(2):
        ref = motion_ref(_seen_levels(x[j].numpy()))
        for key in MOTION_KEYS:
            assert float(compiled[key][j]) == pytest.approx(ref[key], rel=1e-6, abs=1e-6), key
    small = min(shape[1:]) < 64
    assert (compiled["motion_ratio"] == 1.0).all().item() is small
    assert small or (compiled["motion_ratio"] < 1.0).all()


def test_rows_of_several_stacks_finish_together() -> None:
    """The compiled path finishes the rows of stacks of several sizes at once: the same values as
    each stack alone (the positions counted per row)."""
    a = torch.from_numpy(np.stack([_scene((3, 64, 48), 3)]))
    b = torch.from_numpy(np.stack([_scene((3, 100, 140), 4), _scene((3, 100, 140), 5)]))
    both = quality_metrics_stacks([a, b])
    alone = [quality_metrics_stacks([a]), quality_metrics_stacks([b])]
    for key in MOTION_KEYS:
        assert both[key].tolist() == alone[0][key].tolist() + alone[1][key].tolist()


def test_flat_and_float_images() -> None:
    """A flat window has nothing to judge (1, 0, 0); a float image in [0, 1] of one channel reads
    as its 8-bit form exactly; float64 input gives float64 values."""
    flat = np.full((3, 64, 64), 90, np.uint8)
    flat[:, :, 40:] = 91  # one faint step: under the flat energy at step 8 along the rows only
    one = _scene((1, 70, 90), 6)
    m = quality_metrics([flat, one, torch.from_numpy(one).float() / 255.0, torch.from_numpy(one).double() / 255.0])
    assert m["motion_ratio"][0].item() == 1.0 and m["motion_energy"][0].item() == 0.0
    assert m["motion_angle"][0].item() == 0.0
    assert m["motion_ratio"][1].item() == m["motion_ratio"][2].item() < 1.0
    got64 = motion_metrics(torch.from_numpy(one)[None].double() / 255.0)
    assert got64["motion_ratio"].dtype == torch.float64
    assert got64["motion_ratio"].item() == pytest.approx(motion_ref(one[0])["motion_ratio"], rel=1e-12)


@pytest.mark.parametrize("angle", [0, 45, 90, 135])
def test_a_line_blur_lowers_its_own_direction(angle) -> None:
    """A 9-px box blur along a line leaves its direction the weakest: ``motion_angle`` names it
    and ``motion_ratio`` falls from the photo's own (0.92) to under 0.5."""
    pic = sample("skimage_astronaut")
    m = quality_metrics([pic, line_blur(pic, 9, angle)])
    assert m["motion_ratio"][0].item() > 0.9
    assert m["motion_angle"][1].item() == angle
    assert m["motion_ratio"][1].item() < 0.5


def test_white_noise_is_isotropic() -> None:
    rng = np.random.default_rng(0)
    m = quality_metrics([rng.integers(0, 256, (3, 200, 300), dtype=np.uint8)])
    assert m["motion_ratio"].item() > 0.95
    assert m["motion_energy"].item() > 1000.0




def test_the_registry_plans_agree_on_cpu_tensors(monkeypatch) -> None:
    """Through the metric registry: the CPU plan (numba kernels) and the device plan
    (``backend="cuda"`` with the compiled kernels off, forced on CPU tensors: the stacked torch
    path a GPU runs) give the same motion values for photos, their line blurs and an image with alpha."""
    from dataeval_gpu.functional.stats import image_statistics

    pic = sample("skimage_chelsea")
    imgs = [pic, line_blur(pic, 9, 45), line_blur(pic, 15, 90), _scene((4, 130, 150), 7), _scene((1, 300, 200), 8)]
    ts = [torch.from_numpy(a) for a in imgs]
    cpu, _ = image_statistics(ts, metrics=list(MOTION_KEYS), backend="cpu")
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    device, _ = image_statistics(ts, metrics=list(MOTION_KEYS), backend="cuda")
    for key in MOTION_KEYS:
        assert cpu[key].tolist() == device[key].tolist(), key
    assert cpu["motion_angle"].tolist()[1:3] == [45.0, 90.0]
