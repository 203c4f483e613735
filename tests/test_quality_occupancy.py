"""``occupancy`` (functional/quality_occupancy.py) against a float64 numpy reference written from
its definition, hand-checked cases, and its use by ``low_information``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors.quality import LOW_INFO_OCCUPANCY, QualityIssues
from dataeval_gpu.functional.quality_occupancy import (
    OCCUPANCY_GRID,
    OCCUPANCY_STEP,
    occupancy,
    occupancy_levels,
)
from tests.reference import grey_levels_ref


def occupancy_ref(img: np.ndarray) -> float:
    """From the definition, one cell at a time: adaptive-pooling bins (``floor(i H / n)`` to
    ``ceil((i + 1) H / n)``; ``H // 2`` cells on a side under 32 px), a cell occupied when its grey levels span >= OCCUPANCY_STEP; an image
    with alpha composited on grey 128 first (uint8: ``(c a + 128 (255 - a) + 127) // 255``)."""
    x = np.asarray(img)
    if x.shape[0] in (2, 4):
        if x.dtype == np.uint8:
            a = x[-1].astype(np.int64)
            x = (x[:-1].astype(np.int64) * a + 128 * (255 - a) + 127) // 255
        else:
            a = x[-1].astype(np.float64)
            x = (x[:-1] * a + 128 / 255 * (1 - a)) * 255.0  # float in [0, 1]: on the 0..255 scale
    elif x.dtype != np.uint8:
        x = np.asarray(x, dtype=np.float64) * 255.0
    return occupancy_of_levels_ref(grey_levels_ref(x))


def occupancy_of_levels_ref(levels: np.ndarray) -> float:
    """``occupancy`` of a 256-level grey image ``(H, W)``, one cell at a time."""
    g = np.asarray(levels, dtype=np.float64)
    h, w = g.shape
    nh, nw = max(1, min(OCCUPANCY_GRID, h // 2)), max(1, min(OCCUPANCY_GRID, w // 2))
    occupied = 0
    for i in range(nh):
        for j in range(nw):
            cell = g[math.floor(i * h / nh) : math.ceil((i + 1) * h / nh), math.floor(j * w / nw) : math.ceil((j + 1) * w / nw)]
            occupied += (cell.max() - cell.min()) >= OCCUPANCY_STEP
    return occupied / (nh * nw)


@pytest.mark.parametrize("shape", [(3, 61, 83), (1, 40, 30), (1, 10, 7), (3, 500, 430), (4, 90, 120), (2, 64, 64)])
def test_matches_float64_reference(shape: tuple[int, int, int]) -> None:
    """uint8 images of odd sizes (cells of unequal sizes, a side under the grid), with alpha too:
    the reference's value exactly, alone and in a batch."""
    rng = np.random.default_rng(sum(shape))
    c, h, w = shape
    img = np.full(shape, 20, np.uint8)
    for _ in range(6):  # a few strokes of random contrast (some under the step) over a dark ground
        y, x0 = rng.integers(0, h), rng.integers(0, w)
        img[:, y, x0 : x0 + w // 3] = rng.integers(30, 256)
    if c in (2, 4):
        img[-1] = 255
        img[-1, : h // 3, : w // 3] = 0  # a transparent corner: mid grey against the dark ground
    want = occupancy_ref(img)
    got = occupancy([torch.from_numpy(img), torch.from_numpy(img[:, ::-1].copy())])
    assert got.dtype == torch.float64
    assert got[0].item() == want
    assert got[1].item() == occupancy_ref(img[:, ::-1])
    assert 0.0 < want < 1.0


def test_float_images_use_the_same_levels() -> None:
    """A float image in [0, 1] reads as its uint8 form does (``round(255 g)``)."""
    rng = np.random.default_rng(3)
    u8 = (rng.random((3, 48, 40)) < 0.05).astype(np.uint8) * 200
    f = u8.astype(np.float32) / 255.0
    assert occupancy([torch.from_numpy(f)]).item() == occupancy([torch.from_numpy(u8)]).item() == occupancy_ref(u8)


def test_hand_checked_cells() -> None:
    """32 x 32: cells of 2 x 2; one vertical line at column 5 occupies one column of cells (16 of
    256); a step of 63 levels occupies nothing, of 64 it does; a constant image 0."""
    g = np.zeros((1, 32, 32), np.int64)
    g[0, :, 5] = 255
    assert occupancy_levels(torch.from_numpy(g[:, None][:, 0])).item() == 16 / 256
    step = np.full((1, 32, 32), 10, np.int64)
    step[0, :, 5] = 10 + OCCUPANCY_STEP - 1
    assert occupancy_levels(torch.from_numpy(step)).item() == 0.0
    step[0, :, 5] = 10 + OCCUPANCY_STEP
    assert occupancy_levels(torch.from_numpy(step)).item() == 16 / 256
    assert occupancy_levels(torch.full((2, 7, 9), 200, dtype=torch.int64)).tolist() == [0.0, 0.0]


def test_low_information_spares_a_drawing_across_the_frame() -> None:
    """A line drawing on black (two faint 1-px lines across 512 px: under 0.05 bit of grey entropy,
    ``detail`` under the stroke bound) is not low information; a small dot and a constant image
    still are; metrics gathered without ``occupancy`` score the drawing as before."""
    drawing = np.zeros((3, 512, 512), np.uint8)
    drawing[:, 200, :] = 100
    drawing[:, :, 300] = 100
    dot = np.zeros((3, 512, 512), np.uint8)
    dot[:, 250:254, 250:254] = 100
    flat = np.full((3, 512, 512), 60, np.uint8)
    photo = np.random.default_rng(0).integers(0, 256, (3, 512, 512), dtype=np.uint8)
    qi = QualityIssues()
    m = qi.metrics([drawing, dot, flat, photo])
    assert m["occupancy"][0].item() == 31 / 256 >= LOW_INFO_OCCUPANCY
    assert m["occupancy"][1].item() == 1 / 256 and m["occupancy"][2].item() == 0.0
    assert m["detail"][0].item() < 0.05  # the drawing passes the older stroke bound: occupancy decides
    out = qi.evaluate(m)
    assert out.flags["low_information"].tolist() == [False, True, True, False]
    assert out.scores["low_information"][0] == 0.0
    before = qi.evaluate({k: v for k, v in m.items() if k != "occupancy"})
    assert before.flags["low_information"].tolist() == [True, True, True, False]
    entropy = float(m["grey_entropy"][0])
    assert before.scores["low_information"][0] == pytest.approx(8.0 - entropy) and entropy < 0.1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu() -> None:
    """The one torch path on a GPU: the same values as on the CPU (exact integer maxima)."""
    rng = np.random.default_rng(5)
    imgs = [torch.from_numpy((rng.random((c, 70, 90)) < 0.03).astype(np.uint8) * 180) for c in (1, 3, 4)]
    cpu = occupancy(imgs)
    gpu = occupancy([x.cuda() for x in imgs])
    assert gpu.device.type == "cuda"
    assert gpu.cpu().tolist() == cpu.tolist()
