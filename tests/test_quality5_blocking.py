"""``blockiness`` counts only spread blocking: the border / other step ratio times the share of
the 8-px border segments that step (``quality_block_compiled``): a drawing whose few strong edges
lie on the grid is not blocky, a real JPEG at quality 5-10 is; the torch and compiled kernels agree."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional import quality_block_compiled, quality_compiled
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_torch import block_spread, blockiness
from tests.test_jpeg9_pattern import ref_figures


def ref_block_share(g: np.ndarray) -> float | None:
    """float64 reference of the share of border segments that step, by plain loops: per direction
    with at least 64 px along the steps (and 8 across), per row (column) of 8-px blocks the summed
    step of each border line ``j`` ((j + 1) % 8 == 0) against its neighbours ``j - 1`` and ``j + 1``
    (only ``j - 1`` at the last step); it steps when it exceeds the larger by more than 8 * 0.5."""
    hits = total = 0
    for a in (g, g.T):  # steps along x (rows grouped), then along y (columns grouped)
        rows, cols = a.shape
        if cols < 64 or rows < 8:
            continue
        st = np.abs(np.diff(a.astype(np.float64), axis=1))
        for r in range(rows // 8):
            seg = st[8 * r : 8 * r + 8].sum(axis=0)
            for j in range(7, cols - 1, 8):
                side = seg[j - 1] if j + 1 >= cols - 1 else max(seg[j - 1], seg[j + 1])
                hits += int(seg[j] - side > 4.0)
                total += 1
    return hits / total if total else None


def ref_grid(g: np.ndarray) -> float:
    """float64 reference of ``grid_share`` (blockicons18), by plain loops: per direction as
    :func:`ref_block_share`, every step position ``j`` off the borders with both neighbours
    (``1 <= j <= N - 2`` of ``N`` steps) counted in its phase ``(j + 1) % 8``, stepping when its
    segment sum exceeds both neighbours' by more than 4; the largest phase share over the border
    share, 0 where no border segment steps or a phase holds fewer than 64 segments."""
    share = ref_block_share(g)
    hit, tot = np.zeros(8), np.zeros(8)
    for a in (g, g.T):
        rows, cols = a.shape
        if cols < 64 or rows < 8:
            continue
        st = np.abs(np.diff(a.astype(np.float64), axis=1))
        for r in range(rows // 8):
            seg = st[8 * r : 8 * r + 8].sum(axis=0)
            for j in range(1, cols - 2):
                if (j + 1) % 8:
                    hit[(j + 1) % 8] += seg[j] - max(seg[j - 1], seg[j + 1]) > 4.0
                    tot[(j + 1) % 8] += 1
    if not share or tot[1:].min() < 64:
        return 0.0
    return max(hit[p] / tot[p] for p in range(1, 8)) / share


def ref_grid_excess(value: float, g: np.ndarray) -> float:
    """blockicons18: a weighted step ratio ``value`` over 1 keeps its excess times the grid weight of
    the window ``g`` (1 up to 0.65, 0 from 0.8); at most 1 as it is."""
    if value <= 1.0:
        return value
    return 1.0 + (value - 1.0) * min(1.0, max(0.0, (0.8 - ref_grid(g)) / (0.8 - 0.65)))


def ref_spread_factor(g: np.ndarray) -> float:
    """``min(1, share / 0.2) ** 2`` times jpeg9's pattern weight (1 up to 0.2, 0 from 0.4)."""
    share = ref_block_share(g)
    if share is None:
        return 1.0
    return min(1.0, share / 0.2) ** 2 * min(1.0, max(0.0, (0.4 - ref_figures(g)[1]) / 0.2))


def _drawing(h: int = 256, w: int = 256) -> np.ndarray:
    """A flat-coloured drawing (PNG-like: no compression) whose few strong edges lie on the
    8-px grid: a bar and a post, like the power-line tiles of lincity-ng (5.78 before), and a
    disc and a frame off the grid."""
    g = np.full((h, w), 230, np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    g[(y - 0.3 * h) ** 2 + (x - 0.7 * w) ** 2 < (0.1 * min(h, w)) ** 2] = 170  # a disc off the grid
    g[h // 2 + 3 : h // 2 + 6, 5 : w - 11] = 200  # a thin line off the grid
    g[64:80, 40:min(216, w - 8)] = 90  # a bar: rows 64-79 (steps 63 and 79 on the grid)
    g[80:h - 32, 120:136] = 60  # a post: steps 119 and 135
    return np.repeat(g[None], 3, axis=0)


def _jpeg(quality: int, seed: int = 0, side: int = 320) -> np.ndarray:
    """A photo-like scene (smooth shading and fine texture), JPEG-compressed at ``quality`` and decoded."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    base = 120 + 50 * np.sin(3 * x + 2 * y) + 30 * np.cos(5 * y - x)
    base = base + ndimage.gaussian_filter(rng.normal(0, 40, (side, side)), 1.5)
    img = np.clip(np.stack([base + 20, base, base - 30]), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.moveaxis(img, 0, -1)).save(buf, format="JPEG", quality=quality)
    return np.moveaxis(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")), -1, 0).copy()


def _old_ratio(g: np.ndarray) -> float:
    """The mean-step ratio alone (the definition before the spread factor)."""
    num = den = nb = no = 0.0
    for axis, size in ((1, g.shape[1]), (0, g.shape[0])):
        steps = np.abs(np.diff(g.astype(np.float64), axis=axis)).mean(axis=1 - axis)
        on = (np.arange(1, size) % 8) == 0
        num, nb, den, no = num + steps[on].sum(), nb + on.sum(), den + steps[~on].sum(), no + (~on).sum()
    return (num / nb) / max(den / no, 0.5) if den > 0 else 1.0


def _flagged(img: np.ndarray) -> bool:
    q = QualityIssues()
    return bool(q.evaluate(q.metrics([torch.from_numpy(img)])).flags["jpeg_blocking"][0])


def test_a_drawing_with_edges_on_the_grid_is_not_blocky() -> None:
    img = _drawing()
    g = img[0].astype(np.float64)
    assert _old_ratio(g) > 2.4  # the mean ratio alone flagged it
    share = ref_block_share(g)
    assert share is not None and share < 0.05
    m = quality_metrics([img])
    # its few edges on the grid fall on one phase of border lines: jpeg9's pattern weight takes the rest
    assert float(m["blockiness"][0]) == pytest.approx(ref_grid_excess(_old_ratio(g) * ref_spread_factor(g), g), rel=1e-5)
    assert not _flagged(img)


@pytest.mark.parametrize("quality", [5, 10])
def test_a_real_jpeg_at_low_quality_is_blocky(quality: int) -> None:
    img = _jpeg(quality)
    g = np.tensordot(np.array([0.299, 0.587, 0.114]), img / 255.0, axes=1) * 255.0
    share = ref_block_share(g)
    assert share is not None and share > 0.2  # the blocking is spread: the ratio counts in full
    m = quality_metrics([img])
    assert float(m["blockiness"][0]) == pytest.approx(_old_ratio(g), rel=1e-3)
    assert _flagged(img)
    assert not _flagged(_jpeg(90))


def _windows() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = [rng.uniform(0, 255, (72, 80)), rng.uniform(0, 255, (64, 7)), rng.uniform(0, 255, (5, 130))]
    g = np.full((100, 131), 128.0)
    g[:, 8::8] += rng.uniform(0, 3, (100, 16))  # faint columns on the grid, some over the threshold
    g[48:, :] += rng.integers(0, 2, (52, 131)) * 2.0  # steps of exactly the threshold's size
    out.append(g)
    out.append(_drawing(96, 200)[0].astype(np.float64))
    out.append(_jpeg(8, seed=1, side=136)[1].astype(np.float64))
    return out


@pytest.mark.parametrize("k", range(6))
def test_torch_share_equals_the_reference(k: int) -> None:
    g = _windows()[k].astype(np.float32)
    got = block_spread(torch.from_numpy(g)[None, None])
    want = ref_block_share(g.astype(np.float64))
    if want is None:
        assert got is None
    else:
        assert float(got[0]) == want  # exact: float64 sums of eight float32 steps


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
@pytest.mark.parametrize("k", range(6))
def test_compiled_share_equals_torch(k: int) -> None:
    g = _windows()[k].astype(np.float32)
    got = quality_block_compiled.block_spread(np.ascontiguousarray(g))
    want = block_spread(torch.from_numpy(g)[None, None])
    assert got == (-1.0 if want is None else float(want[0]))


def test_blockiness_batched_with_float64_reference() -> None:
    """The torch metric (any device: index tensors, no sync) of a stack equals ratio x factor in float64."""
    wins = [_drawing(128, 128)[0], _jpeg(10, seed=2, side=128)[1], _jpeg(95, seed=3, side=128)[1]]
    got = blockiness(torch.from_numpy(np.stack(wins)[:, None].astype(np.float32)))
    for i, g in enumerate(wins):
        want = ref_grid_excess(_old_ratio(g) * ref_spread_factor(g.astype(np.float64)), g.astype(np.float64))
        assert float(got[i]) == pytest.approx(want, rel=1e-5), i
