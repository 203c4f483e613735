"""``blockiness`` weighs out a strip or grid of tiles whose borders lie on the 8-px grid (blockprec17):
enigma's floor strips (tiles of 32, 40, 48, 64 px) and lbreakout2's brick sheets step on their tile
borders, which are 8-px borders, and barely anywhere else, so the border lines stepped 2.2-4.5 times
the others.  JPEG blocking raises nearly every 8-px border line; a tile grid only the lines of one
coarser period.  ``tile_lines`` is checked by hand on line excesses, the figures against the float64
reference of ``test_jpeg9_pattern`` (torch and the compiled kernel exactly), and the metric on a
strip of 40-px tiles (the phase imbalance of jpeg9 does not see a 40-px period) and on real JPEGs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.functional import quality_block_compiled, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_torch import block_figures, blockiness, tile_lines
from tests.test_blurprec15_period import _grey, _jpeg, _photo
from tests.test_jpeg9_pattern import ref_figures, ref_tile_lines

#: a hand-checked case: lines 3, 7, 11 (every 4th: 32-px tiles) carry 100 each, the others 0 or 1
GRID4 = np.array([0.0, 1.0, 0.0, 100.0, 0.0, 1.0, 0.0, 100.0, 1.0, 0.0, 0.0, 100.0])


def _tiles(tile: int = 40, n: int = 8, width: int = 32, seed: int = 0) -> np.ndarray:
    """A strip of ``n`` tiles of ``tile`` px stacked along y, ``width`` px wide, uint8 RGB: each tile
    a level of its own (70-190) with a fine smoothed texture of its own (an animation strip, a
    floor strip): the steps between tiles are on 8-px borders, nothing repeats at 8 or 16 px."""
    rng = np.random.default_rng(seed)
    levels = rng.permutation(np.linspace(70, 190, n))
    rows = []
    for k in range(n):
        tex = ndimage.gaussian_filter(rng.normal(0, 12, (tile, width)), 0.8)
        rows.append(levels[k] + tex)
    g = np.clip(np.concatenate(rows), 0, 255)
    return np.stack([g, g, g]).astype(np.uint8)


def _no_tiles(excess: torch.Tensor, segments: int) -> torch.Tensor:
    return torch.zeros(excess.shape[0], dtype=torch.float64, device=excess.device)


def test_tile_lines_by_hand() -> None:
    # m = 4, r = 3: the least of lines 3, 7, 11 (100) >= 8 * max(lower median of the other 9 (0), 4 * 1) = 32
    # m = 2, r = 1 (lines 1, 3, 5, ...): its least is 0; m = 5, 6 hold a 0 line; m = 7 needs 14 lines
    want = 300.0
    assert ref_tile_lines(GRID4, 1) == want
    assert float(tile_lines(torch.from_numpy(GRID4)[None], 1)[0]) == want
    # with 4 segments a line the floor is 16 a line: 100 < 8 * 16, no tile grid
    assert ref_tile_lines(GRID4, 4) == 0.0 and float(tile_lines(torch.from_numpy(GRID4)[None], 4)[0]) == 0.0
    one = np.zeros(12)
    one[3] = 500.0  # one strong edge on the grid is not a period: every phase holds a 0 line beside it
    spread = np.array([20.0, 31.0, 25.0, 18.0, 40.0, 22.0, 27.0, 35.0, 19.0, 24.0, 30.0, 21.0])  # JPEG-like
    for e in (one, spread):
        assert ref_tile_lines(e, 1) == 0.0 and float(tile_lines(torch.from_numpy(e)[None], 1)[0]) == 0.0
    if quality_compiled.ready():
        for e, s in ((GRID4, 1), (GRID4, 4), (one, 1), (spread, 1)):
            assert quality_block_compiled.tile_lines(e, s) == ref_tile_lines(e, s)


def test_a_tile_strip_is_a_pattern_not_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    img = _tiles()
    g = _grey(img)
    share, pattern = ref_figures(g)
    assert pattern >= quality_block_compiled.PATTERN_HI  # nearly all the border excess is on the tile lines
    assert float(quality_metrics([img])["blockiness"][0]) == 0.0
    win = torch.from_numpy(g.astype(np.float32))[None, None]
    assert float(blockiness(win)[0]) == 0.0
    # without the tile share the steps between tiles read as blocking: flagged (> 2.2) before.  Since
    # blockicons18 the grid weight weighs the strip out too (its tiles' texture steps on the lines
    # inside the 8-px blocks as often as on the borders): off here, so that the tile share is tested alone
    monkeypatch.setattr(quality_torch, "grid_share", lambda hits, total, ph, pn: torch.zeros_like(hits))
    assert float(blockiness(win)[0]) == 0.0
    monkeypatch.setattr(quality_torch, "tile_lines", _no_tiles)
    assert float(blockiness(win)[0]) > 2.2


@pytest.mark.parametrize("quality", [5, 10])
def test_jpeg_keeps_its_blocks(monkeypatch: pytest.MonkeyPatch, quality: int) -> None:
    """Real JPEGs of a photo-like scene step on nearly every border line: no tile grid, the value
    the same as without the tile share."""
    g = torch.from_numpy(_grey(_jpeg(_photo(256, seed=quality), quality)).astype(np.float32))[None, None]
    assert ref_figures(g[0, 0].numpy().astype(np.float64))[1] < quality_block_compiled.PATTERN_LO
    now = float(blockiness(g)[0])
    monkeypatch.setattr(quality_torch, "tile_lines", _no_tiles)
    assert float(blockiness(g)[0]) == now > 2.2


def _windows() -> list[np.ndarray]:
    grid = _grey(_tiles(48, 6, 288, seed=1))  # 288 x 288: tiles of 48 px along y, a texture along x
    return [
        _grey(_tiles()).astype(np.float32),
        _grey(_tiles(32, 10, 64, seed=2)).astype(np.float32),
        np.ascontiguousarray(grid.T).astype(np.float32),
        _grey(_jpeg(_photo(200, seed=3), 10)).astype(np.float32),
        np.random.default_rng(4).uniform(0, 255, (96, 136)).astype(np.float32),
    ]


@pytest.mark.parametrize("k", range(5))
def test_figures_equal_the_reference_and_the_kernel(k: int) -> None:
    g = _windows()[k]
    want = ref_figures(g.astype(np.float64))
    got = block_figures(torch.from_numpy(g)[None, None])
    assert (float(got[0][0]), float(got[1][0])) == pytest.approx(want, rel=1e-12, abs=1e-15)
    if quality_compiled.ready():
        assert quality_block_compiled.block_figures(np.ascontiguousarray(g)) == tuple(float(f[0]) for f in got)


def test_a_batch_equals_its_images() -> None:
    """The tile share is per image: a stack measures each row as alone (torch path)."""
    w = [x[:96, :96] for x in _windows()[:4] if min(x.shape) >= 96]
    stack = torch.from_numpy(np.stack(w))[:, None]
    both = block_figures(stack)
    for i, x in enumerate(w):
        one = block_figures(torch.from_numpy(x)[None, None])
        assert float(both[1][i]) == float(one[1][0]) and float(both[0][i]) == float(one[0][0])
