"""softblur17: ``edge_span`` (functional/quality_occupancy.py) against a float64 numpy reference
written from its definition, hand-checked cases, the compiled kernel equal to the torch path, and
``blurry`` not judged on a soft design (``detectors/quality_blur_rules.soft_design``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.detectors.quality_blur_rules import EDGE_SPAN_MIN, soft_design
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_occupancy import OCCUPANCY_GRID, cell_levels
from tests.reference import grey_levels_ref


def edge_span_ref(img: np.ndarray) -> float:
    """From the definition, one cell at a time: the 256-level grey (alpha composited on grey 128,
    ``(c a + 128 (255 - a) + 127) // 255``), the adaptive-pooling cells of the occupancy grid
    (``floor(i H / n)`` to ``ceil((i + 1) H / n)``, ``H // 2`` cells on a side under 32 px), the
    widest cell's ``max - min`` over the whole image's; 0 for a flat image."""
    x = np.asarray(img)
    if x.shape[0] in (2, 4):
        a = x[-1].astype(np.int64)
        x = (x[:-1].astype(np.int64) * a + 128 * (255 - a) + 127) // 255
    g = np.asarray(grey_levels_ref(x), dtype=np.float64)
    h, w = g.shape
    nh, nw = max(1, min(OCCUPANCY_GRID, h // 2)), max(1, min(OCCUPANCY_GRID, w // 2))
    widest = 0.0
    for i in range(nh):
        for j in range(nw):
            rows = slice(math.floor(i * h / nh), math.ceil((i + 1) * h / nh))
            cell = g[rows, math.floor(j * w / nw) : math.ceil((j + 1) * w / nw)]
            widest = max(widest, cell.max() - cell.min())
    whole = g.max() - g.min()
    return widest / whole if whole > 0 else 0.0


def _ramp(h: int, w: int) -> np.ndarray:
    """A grey ramp, 0 to 255 from left to right."""
    return np.repeat(np.round(np.linspace(0, 255, w))[None, None], h, axis=1).astype(np.uint8)


def _blurred_steps(h: int, w: int, sigma: float) -> np.ndarray:
    """Random rectangles of random grey on a random ground, Gaussian-blurred: a blurred picture."""
    rng = np.random.default_rng(7)
    g = np.full((h, w), float(rng.integers(0, 256)))
    for _ in range(12):
        y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
        g[y : y + rng.integers(8, h // 2), x : x + rng.integers(8, w // 2)] = rng.integers(0, 256)
    return np.clip(np.round(ndimage.gaussian_filter(g, sigma)), 0, 255).astype(np.uint8)[None]


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    disc = np.zeros((90, 120), np.uint8)
    yy, xx = np.mgrid[0:90, 0:120]
    disc[np.hypot(yy - 45, xx - 60) < 30] = 255
    photo = _blurred_steps(96, 120, 2.0)
    return {
        "ramp": np.repeat(_ramp(61, 83), 3, axis=0),
        "blurred": photo,
        "rgb": np.concatenate([photo, photo // 2, 255 - photo]),
        "rgba": np.concatenate([np.repeat(_blurred_steps(90, 120, 3.0), 3, axis=0), disc[None]]),
        "la": np.concatenate([_blurred_steps(90, 120, 1.0), disc[None]]),
        "small": rng.integers(0, 256, (3, 10, 7)).astype(np.uint8),
        "flat": np.full((3, 40, 30), 77, np.uint8),
        "one": np.full((1, 1, 1), 9, np.uint8),
    }


def test_matches_float64_reference() -> None:
    """Odd sizes (unequal cells, sides under the grid), grey, colour, alpha: the reference's value
    to float32 rounding, in one batch."""
    imgs = _images()
    got = quality_metrics(list(imgs.values()))["edge_span"].tolist()
    for (name, img), v in zip(imgs.items(), got, strict=True):
        assert v == pytest.approx(edge_span_ref(img), rel=1e-6, abs=1e-7), name


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
def test_compiled_kernel_equals_torch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The numba kernel's integer maxima and minima give the torch path's values exactly (8-bit CPU
    stacks; the torch path is what a GPU runs), ``occupancy`` as before."""
    imgs = list(_images().values())
    fast = quality_metrics(imgs)
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics(imgs)
    for key in ("edge_span", "occupancy"):
        assert fast[key].tolist() == slow[key].tolist(), key


def test_hand_checked_cases() -> None:
    """A ramp of one level a px over 256 px: cells of 16 px span 15 levels (``15 / 255``); a black
    and white step: 1; a constant image: 0; the step Gaussian-blurred (σ 4 px on 256 px: spread
    over ~10 px, inside a 16-px cell) still nearly all of its range.  A crisp step on a cell
    border is in no cell (0: blurry is not judged there, and has nothing to flag)."""
    ramp = torch.arange(256, dtype=torch.int64).repeat(1, 32, 1)  # (1, 32, 256)
    occ, span = cell_levels(ramp)
    assert span.item() == 15 / 255 and occ.item() == 0.0
    step = torch.zeros((1, 32, 256), dtype=torch.int64)
    step[..., 128:] = 255  # on a cell border (cells 112-127 and 128-143): no cell holds it
    assert cell_levels(step)[1].item() == 0.0
    step[..., 120:128] = 255  # inside a cell
    assert cell_levels(step)[1].item() == 1.0
    assert cell_levels(torch.full((2, 8, 9), 40, dtype=torch.int64))[1].tolist() == [0.0, 0.0]
    soft = np.clip(np.round(ndimage.gaussian_filter1d(step[0].numpy().astype(float), 4.0, axis=1)), 0, 255)
    got = cell_levels(torch.from_numpy(soft.astype(np.int64))[None])[1].item()
    assert got == pytest.approx(edge_span_ref(soft.astype(np.uint8)[None]))
    assert got > 0.9  # 0.937: the ramp starts 7.5 px (1.9 σ) inside the cell


def test_blurry_not_judged_on_a_soft_design() -> None:
    """A ramp and a soft glow (every change wider than 1/16 of the image) are not ``blurry``;
    a blurred picture of steps (σ 3 px on 320 px) still is, and metrics gathered without
    ``edge_span`` judge the ramp and the glow as before (the glow flagged)."""
    yy, xx = np.mgrid[0:200, 0:240]
    glow = np.clip(255 * np.exp(-((yy - 100) ** 2 + (xx - 120) ** 2) / (2 * 50.0**2)), 0, 255)
    ramp = np.repeat(_ramp(200, 240), 3, axis=0)
    imgs = [ramp, np.repeat(glow.astype(np.uint8)[None], 3, axis=0), _blurred_steps(240, 320, 3.0)]
    q = QualityIssues().evaluate(imgs)
    m = {k: v.numpy().astype(np.float64) for k, v in quality_metrics(imgs).items()}
    assert m["edge_span"][0] < EDGE_SPAN_MIN and m["edge_span"][1] < EDGE_SPAN_MIN <= m["edge_span"][2]
    assert soft_design(m).tolist() == [True, True, False]
    assert q.scores["blurry"][:2].tolist() == [0.0, 0.0]
    assert q.flags["blurry"].tolist() == [False, False, True]
    m.update(width=np.array([240.0, 240, 320]), height=np.array([200.0, 200, 240]))
    m["channels"] = np.array([3.0, 3.0, 1.0])
    before = {k: v for k, v in m.items() if k != "edge_span"}
    assert not soft_design(before).any()
    old = QualityIssues().evaluate(before).scores["blurry"]
    assert old[0] > 0.0 and old[1] > 0.555 and old[2] == q.scores["blurry"][2]
