"""``blockiness`` weighs out a drawing whose edges lie on the 8-px grid because it is drawn on a
coarser grid of its own (blockicons18): ukui's flat 64 / 96 px icons (a 32-px design stored at 2x,
edges on every 4th line) stepped on the 8-px borders, and as often on the lines 2, 4 or 6 px past
them; JPEG blocks are 8 px, and the lines inside a block step above both their neighbours far less
often than its borders.  ``grid_share`` is checked by hand and against a float64 reference (torch and
the compiled kernel exactly); flat icons on a 4-px grid are flagged before and not after, while real
JPEG copies - of a photo-like scene and of a shaded drawing on the same 4-px grid - keep their
values and flags."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import quality_block_compiled, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_torch import block_figures, blockiness
from tests.test_blurprec15_period import _grey, _jpeg, _photo
from tests.test_quality5_blocking import ref_block_share, ref_grid

LUMA = np.array([0.299, 0.587, 0.114])


def _no_grid(hits: torch.Tensor, total: int, ph: torch.Tensor, pn: list[int]) -> torch.Tensor:
    return torch.zeros_like(hits)


def _edges(*columns: int) -> np.ndarray:
    """A 64 x 64 grey window of level 100 whose columns from ``columns[0]`` up to ``columns[1]``
    (and so on, in pairs; the last to the right side) are 160: vertical edges at those columns."""
    g = np.full((64, 64), 100.0)
    bounds = [*columns, 64] if len(columns) % 2 else list(columns)
    for a, b in zip(bounds[0::2], bounds[1::2]):
        g[:, a:b] = 160.0
    return g


def _figures(g: np.ndarray) -> list[tuple[float, ...]]:
    """``block_figures`` of the window by torch and, where available, the compiled kernel."""
    got = [tuple(float(f[0]) for f in block_figures(torch.from_numpy(g.astype(np.float32))[None, None]))]
    if quality_compiled.ready():
        got.append(quality_block_compiled.block_figures(np.ascontiguousarray(g.astype(np.float32))))
    return got


def test_grid_share_by_hand() -> None:
    # edges at columns 16 (an 8-px border: step position 15) and 28 (4 px past one: position 27), each
    # stepping by 60 in all 8 rows of blocks; nothing steps along y.  Border segments: 7 lines x 8 rows
    # per direction = 112, 8 stepping: 1/14.  Phase 4 (positions 3, 11, ..., 59): 8 a row of blocks, 64
    # per direction, 128 in all, 8 stepping: 1/16.  grid = (1/16) / (1/14) = 0.875 >= GRID_HI: weight 0
    g = _edges(16, 28)
    assert ref_block_share(g) == pytest.approx(1 / 14, abs=1e-15)
    assert ref_grid(g) == pytest.approx(0.875, abs=1e-15)
    for share, _pattern, grid in _figures(g):
        assert share == pytest.approx(1 / 14, abs=1e-15) and grid == pytest.approx(0.875, abs=1e-15)
    assert quality_block_compiled.GRID_HI <= 0.875
    assert quality_block_compiled.grid_excess(5.0, 0.875) == 1.0 and quality_block_compiled.grid_excess(0.6, 0.875) == 0.6
    # the border edge alone: no other phase steps, grid 0 (weight 1)
    for _share, _pattern, grid in _figures(_edges(16)):
        assert grid == 0.0
    assert ref_grid(_edges(16)) == 0.0
    # the phase-4 edge alone: nothing steps on the borders, grid 0 (and the share 0 weighs it out)
    for share, _pattern, grid in _figures(_edges(28)):
        assert share == 0.0 and grid == 0.0


def test_grid_share_is_not_judged_on_few_segments() -> None:
    # 64 x 16: only the steps along x are measured, 2 rows of blocks: a phase holds 14-16 segments, under
    # GRID_MIN_SEGMENTS (a share of a few dozen segments is noise): not judged, 0
    g = _edges(16, 28)[:16]
    assert ref_grid(g) == 0.0
    for _share, _pattern, grid in _figures(g):
        assert grid == 0.0


def _windows() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [
        _edges(16, 28, 44),
        _grey(_jpeg(_photo(128, seed=1), 10)),
        _grey(_flat_icon(5)[:3]),
        rng.uniform(0, 255, (72, 80)),
        rng.uniform(0, 255, (64, 9)),  # one direction, too few segments
        np.full((64, 64), 7.0),  # measured, nothing steps
    ]


@pytest.mark.parametrize("k", range(6))
def test_grid_figure_equals_the_reference_and_the_kernel(k: int) -> None:
    g = _windows()[k].astype(np.float32)
    want = ref_grid(g.astype(np.float64))
    got = _figures(g)
    assert got[0][2] == pytest.approx(want, rel=1e-12, abs=1e-15)
    if len(got) > 1:
        assert got[1] == got[0]  # the compiled kernel: the same three figures, exactly


def _flat_icon(seed: int, side: int = 64) -> np.ndarray:
    """A flat RGBA icon drawn on a 4-px design grid: an opaque plate 4 px inside the canvas, six flat
    rectangles of random colours with every edge on a multiple of 4 px, transparent outside."""
    rng = np.random.default_rng(seed)
    img = np.zeros((4, side, side), np.uint8)
    img[:3, 4 : side - 4, 4 : side - 4] = np.array([60, 90, 140], np.uint8)[:, None, None]
    img[3, 4 : side - 4, 4 : side - 4] = 255
    for _ in range(6):
        y0, x0 = rng.integers(2, 12, 2) * 4
        y1, x1 = y0 + rng.integers(2, 5) * 4, x0 + rng.integers(2, 5) * 4
        img[:3, y0 : min(y1, side - 4), x0 : min(x1, side - 4)] = rng.integers(0, 256, 3).astype(np.uint8)[:, None, None]
    return img


def test_flat_icons_on_a_4px_grid_are_not_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    """40 flat icons (seeds 0-39): without the grid weight 8 scored over 2.2 (2.30-10.0: flagged
    ``jpeg_blocking``), with it none - they read 1, their border excess weighed out -; each of those 8
    steps on another phase at least 0.8 times as often as on the borders."""
    icons = [_flat_icon(s) for s in range(40)]
    after = quality_metrics(icons)["blockiness"].numpy()
    monkeypatch.setattr(quality_torch, "grid_share", _no_grid)
    before = quality_metrics(icons)["blockiness"].numpy()
    flagged = np.flatnonzero(before > 2.2)
    assert flagged.tolist() == [1, 10, 14, 15, 16, 22, 24, 36]
    assert (after <= 2.2).all() and (after[flagged] == 1.0).all()
    assert (after[before <= 1.0] == before[before <= 1.0]).all()  # no excess: as before
    for i in flagged:  # the composite on mid grey, as the metric sees it
        a = icons[i][3:].astype(np.float64) / 255.0
        rgb = icons[i][:3].astype(np.float64) * a + 128.0 * (1.0 - a)
        assert ref_grid(np.tensordot(LUMA, rgb, axes=1)) >= quality_block_compiled.GRID_HI


def _shaded_drawing(seed: int, side: int = 256) -> np.ndarray:
    """A drawing on a 4-px design grid with shaded fills: a gradient ground and eight rectangles filled
    with linear ramps, every edge on a multiple of 4 px (RGB uint8)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    img = np.stack([60 + 120 * y, 90 + 100 * y, 160 + 60 * x])
    for _ in range(8):
        y0, x0 = rng.integers(1, side // 4 - 12, 2) * 4
        y1, x1 = y0 + rng.integers(6, 12) * 4, x0 + rng.integers(6, 12) * 4
        ramp = np.linspace(0, rng.uniform(-60, 60), x1 - x0)[None, None, :]
        img[:, y0:y1, x0:x1] = rng.uniform(40, 200, 3)[:, None, None] + ramp
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("make", "quality", "flagged"),
    [
        (lambda: _photo(256, seed=4), 5, True),
        (lambda: _photo(256, seed=4), 10, True),
        (lambda: _photo(256, seed=4), 20, True),
        (lambda: _shaded_drawing(0), 10, True),
        (lambda: _shaded_drawing(1), 5, True),
        (lambda: _shaded_drawing(2), 20, True),
    ],
)
def test_real_jpeg_keeps_its_value(monkeypatch: pytest.MonkeyPatch, make, quality: int, flagged: bool) -> None:  # noqa: ANN001
    """A JPEG's blocks step on the 8-px borders and far less often on any other phase (grid at most
    0.16 here, < GRID_LO: weight 1): the value is that without the grid weight, the flag kept.  The
    shaded drawing is on a 4-px grid as the icons are; as stored (lossless) its grid reads over 1.4."""
    img = _jpeg(make(), quality)
    g = _grey(img)
    assert ref_grid(g) < quality_block_compiled.GRID_LO
    value = float(quality_metrics([img])["blockiness"][0])
    win = torch.from_numpy(g.astype(np.float32))[None, None]
    assert float(blockiness(win)[0]) == pytest.approx(value, rel=1e-5)
    monkeypatch.setattr(quality_torch, "grid_share", _no_grid)
    assert float(blockiness(win)[0]) == pytest.approx(value, rel=1e-5)
    assert (value > 2.2) == flagged


def test_the_lossless_drawing_reads_as_its_own_grid() -> None:
    assert min(ref_grid(_grey(_shaded_drawing(s))) for s in range(3)) > 1.4
