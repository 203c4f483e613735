"""``blockiness`` weighs out regular patterns on the 8-px grid (jpeg9): a checkerboard (GIMP's
transparency checks baked into a screenshot) or a pattern of 16-px period (3-D LUT tiles) steps on
many border segments, but with the sign alternating to every neighbour or on one phase of border
lines only; JPEG blocking of a photo does neither.  The figures are checked against a float64
reference by plain loops, the compiled kernel against the torch path, and the flags on a
hand-made checkerboard against a real JPEG at quality 5."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional import quality_block_compiled, quality_compiled
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_torch import block_figures, blockiness


def ref_figures(g: np.ndarray) -> tuple[float, float] | None:
    """float64 reference of ``(share, pattern)`` by plain loops over the grid of border segments of
    each measured direction (at least 64 px along the steps, 8 across): a segment steps when its
    summed absolute step exceeds both neighbouring lines' (the left one alone at the last line) by
    more than 4; it is a check when every neighbouring segment inside the grid (along the border
    line and across it) steps with the opposite signed sum; the phase imbalance is per direction
    ``|even - odd|`` of the stepping border indices, summed, less ``sqrt(steps)``, at least 0; the
    period share (blurprec15) ``max(0, 1 - min(D8, D16) / D4)``, ``Ds`` the mean ``|L(p + s) - L(p)|``
    of the rounded levels ``L`` along the measured directions (0 where ``D4`` is 0); the tile share
    (blockprec17, :func:`ref_tile_lines`) of the border lines' excess over both directions."""
    hits = total = checks = imbalance = 0
    tiles = excess = 0.0
    lags = {4: [0.0, 0], 8: [0.0, 0], 16: [0.0, 0]}
    for a in (g, g.T):  # steps along x (rows grouped), then along y (columns grouped)
        rows, cols = a.shape
        if cols < 64 or rows < 8:
            continue
        d = np.diff(a.astype(np.float64), axis=1)
        lv = np.round(a.astype(np.float64))  # half to even, as rint
        for s, acc in lags.items():
            acc[0] += np.abs(lv[:, s:] - lv[:, :-s]).sum()
            acc[1] += lv[:, s:].size
        border = list(range(7, cols - 1, 8))
        hit = np.zeros((rows // 8, len(border)), bool)
        sgn = np.zeros(hit.shape)
        line = np.zeros(len(border))
        for r in range(rows // 8):
            seg = np.abs(d[8 * r : 8 * r + 8]).sum(axis=0)
            for k, j in enumerate(border):
                side = seg[j - 1] if j + 1 >= cols - 1 else max(seg[j - 1], seg[j + 1])
                hit[r, k] = seg[j] - side > 4.0
                sgn[r, k] = d[8 * r : 8 * r + 8, j].sum()
                line[k] += max(seg[j] - side, 0.0)
        tiles += ref_tile_lines(line, rows // 8)
        excess += line.sum()
        na, nk = hit.shape
        for r in range(na):
            for k in range(nk):
                if not hit[r, k] or na * nk == 1:
                    continue
                nbrs = [(r + dr, k + dk) for dr, dk in ((0, -1), (0, 1), (-1, 0), (1, 0))]
                if all(
                    hit[q] and sgn[q] * sgn[r, k] < 0 for q in nbrs if 0 <= q[0] < na and 0 <= q[1] < nk
                ):
                    checks += 1
        hits += int(hit.sum())
        total += hit.size
        imbalance += abs(int(hit[:, 0::2].sum()) - int(hit[:, 1::2].sum()))
    if total == 0:
        return None
    if hits == 0:
        return 0.0, 0.0
    d4 = lags[4][0] / lags[4][1]
    period = 0.0 if d4 == 0 else max(0.0, 1.0 - min(lags[8][0] / lags[8][1], lags[16][0] / lags[16][1]) / d4)
    tile = tiles / excess if excess > 0 else 0.0
    return hits / total, max(checks / hits, max(0.0, imbalance - math.sqrt(hits)) / hits, period, tile)


def ref_tile_lines(line: np.ndarray, segments: int) -> float:
    """float64 reference of ``tile_lines`` (blockprec17): over the periods ``m`` of 2 to 8 border
    lines with at least two lines and the phases ``r``, the largest sum of the lines ``r, r + m, ...``
    whose least is at least 8 times the lower median of the other lines (that at least 4 a segment)."""
    best, n = 0.0, len(line)
    for m in range(2, 9):
        for r in range(m if n >= 2 * m else 0):
            on = [line[k] for k in range(n) if k % m == r]
            rest = sorted(line[k] for k in range(n) if k % m != r)
            if min(on) >= 8.0 * max(rest[(len(rest) - 1) // 2], 4.0 * segments):
                best = max(best, sum(on))
    return best


def _photo(side: int = 256, seed: int = 0) -> np.ndarray:
    """A photo-like RGB scene (smooth shading and fine texture), uint8 (3, side, side)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = 120 + 50 * np.sin(3 * x + 2 * y) + 30 * np.cos(5 * y - x)
    base = base + ndimage.gaussian_filter(rng.normal(0, 40, (side, side)), 1.5)
    return np.clip(np.stack([base + 20, base, base - 30]), 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.moveaxis(img, 0, -1)).save(buf, format="JPEG", quality=quality)
    return np.moveaxis(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), -1, 0).copy()


def _checkerboard(side: int = 256) -> np.ndarray:
    """GIMP's transparency checks (8-px squares of grey 153 / 102) under a red layer whose
    opacity fades from 0.2 to 0.8 across its width (edges off the grid), as a screenshot of a
    semi-transparent layer stores them (RGB)."""
    y, x = np.mgrid[0:side, 0:side]
    grey = np.where((y // 8 + x // 8) % 2 == 0, 153.0, 102.0)
    img = np.stack([grey, grey, grey])
    lo, hi = 3 * side // 16 + 3, 13 * side // 16 - 3
    a = np.zeros((side, side))
    a[lo:hi, lo:hi] = np.linspace(0.2, 0.8, hi - lo)[None, :]
    for c, v in enumerate((220.0, 40.0, 30.0)):
        img[c] = (1 - a) * img[c] + a * v
    return np.round(img).astype(np.uint8)


def _lut_strip(tiles: int = 16) -> np.ndarray:
    """A 3-D colour lookup table stored as a strip of ``tiles`` tiles of 16 x 16 px (red along x,
    green along y, blue by tile): steps on every 16th column only."""
    y, x = np.mgrid[0:16, 0 : 16 * tiles]
    r, gr, b = (x % 16) * 17, y * 17, (x // 16) * 255 // (tiles - 1)
    return np.stack([r, gr, b]).astype(np.uint8)


def _grey(img: np.ndarray) -> np.ndarray:
    return np.tensordot(np.array([0.299, 0.587, 0.114]), img / 255.0, axes=1) * 255.0


def _old_blockiness(g: np.ndarray) -> float:
    """The metric before the pattern weight: the border / other mean-step ratio (floor 0.5) times
    ``min(1, share / 0.2) ** 2``."""
    num = den = nb = no = 0.0
    for axis, size in ((1, g.shape[1]), (0, g.shape[0])):
        if size < 64:
            continue
        steps = np.abs(np.diff(g.astype(np.float64), axis=axis)).mean(axis=1 - axis)
        on = (np.arange(1, size) % 8) == 0
        num, nb, den, no = num + steps[on].sum(), nb + on.sum(), den + steps[~on].sum(), no + (~on).sum()
    share = ref_figures(g)[0]
    return (num / nb) / max(den / no, 0.5) * min(1.0, share / 0.2) ** 2


def _flagged(img: np.ndarray) -> bool:
    q = QualityIssues()
    return bool(q.evaluate(q.metrics([torch.from_numpy(img)])).flags["jpeg_blocking"][0])


def test_a_checkerboard_is_a_pattern_not_blocking() -> None:
    img = _checkerboard()
    g = _grey(img)
    assert _old_blockiness(g) > 2.4  # flagged before the pattern weight
    share, pattern = ref_figures(g)
    assert share > 0.5 and pattern > 0.9  # steps everywhere, each against all its neighbours
    assert float(quality_metrics([img])["blockiness"][0]) == 0.0
    assert not _flagged(img)


def test_a_lut_strip_steps_on_one_phase_only() -> None:
    img = _lut_strip()
    g = _grey(img)
    assert _old_blockiness(g) > 2.4
    share, pattern = ref_figures(g)
    assert share == pytest.approx(0.5, abs=0.05) and pattern > 0.4  # 31 lines, 15 step, all odd
    assert not _flagged(img)


@pytest.mark.parametrize("quality", [5, 10])
def test_a_real_jpeg_keeps_its_blocking(quality: int) -> None:
    img = _jpeg(_photo(), quality)
    g = _grey(img)
    share, pattern = ref_figures(g)
    assert share > 0.2 and pattern < 0.2  # a weight of 1: the metric as before
    got = float(quality_metrics([img])["blockiness"][0])
    assert got == pytest.approx(_old_blockiness(g), rel=1e-3)
    assert _flagged(img)


def test_a_jpeg_of_a_checkerboard_is_a_pattern() -> None:
    """The checks survive a JPEG at quality 75 (gimp-help's JPEG screenshots): still weighed out."""
    img = _jpeg(_checkerboard(), 75)
    assert _old_blockiness(_grey(img)) > 2.4
    assert not _flagged(img)


def _windows() -> list[np.ndarray]:
    rng = np.random.default_rng(9)
    return [
        _grey(_checkerboard(136)),
        _grey(_lut_strip(8)),
        _grey(_jpeg(_photo(160, seed=3), 5)),
        rng.uniform(0, 255, (72, 80)),
        rng.uniform(0, 255, (64, 7)),  # one direction (along y)
        np.full((40, 40), 7.0),  # no direction measured
        np.full((64, 64), 7.0),  # measured, nothing steps
    ]


@pytest.mark.parametrize("k", range(7))
def test_torch_figures_equal_the_reference(k: int) -> None:
    g = _windows()[k].astype(np.float32)
    got = block_figures(torch.from_numpy(g)[None, None])
    want = ref_figures(g.astype(np.float64))
    if want is None:
        assert got is None
    else:
        assert (float(got[0][0]), float(got[1][0])) == pytest.approx(want, rel=1e-12, abs=1e-15)


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
@pytest.mark.parametrize("k", range(7))
def test_compiled_figures_equal_torch(k: int) -> None:
    g = _windows()[k].astype(np.float32)
    got = quality_block_compiled.block_figures(np.ascontiguousarray(g))
    want = block_figures(torch.from_numpy(g)[None, None])
    assert got == ((-1.0, 0.0, 0.0) if want is None else tuple(float(f[0]) for f in want))


def test_batched_blockiness_equals_each_image_alone() -> None:
    """A stack of a checkerboard, a JPEG and a LUT-like pattern: each row as measured alone, the
    pattern weight applied per image (no batch-wide figure)."""
    wins = [_grey(_checkerboard(128)), _grey(_jpeg(_photo(128, seed=4), 5)), _grey(_lut_strip(8)).repeat(8, axis=0)]
    stack = torch.from_numpy(np.stack(wins)[:, None].astype(np.float32))
    got = blockiness(stack)
    for i in range(len(wins)):
        assert float(got[i]) == float(blockiness(stack[i : i + 1])[0]), i
    assert float(got[0]) == 0.0 and float(got[1]) > 2.4
