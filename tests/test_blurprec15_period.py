"""``blockiness`` weighs out a pattern whose content repeats at 8 or 16 px (blurprec15): ImageMagick's
hatchings (lines every 8 px, 100 x 26), a pole striped at 16 px (fillets-ng's ``styc.png``) step on
their 8-px borders as JPEG blocks do, but pixels 8 (16) px apart are alike while pixels 4 px apart are
not.  JPEG copies and 8-px pixelations of a picture do not repeat it.  The period share is checked by
hand on signals whose lag differences are known, against the float64 reference of ``test_jpeg9_pattern``
(torch and the compiled kernel exactly), and the flags on a replica of ImageMagick's shingles and on
ramps repeating every 8 px against real JPEGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional import quality_block_compiled, quality_compiled, quality_torch
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_torch import block_figures, period_share
from tests.test_jpeg9_pattern import ref_figures


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


def _grey(img: np.ndarray) -> np.ndarray:
    return np.tensordot(np.array([0.299, 0.587, 0.114]), img[:3] / 255.0, axes=1) * 255.0


def _old_blockiness(g: np.ndarray) -> float:
    """The metric without a pattern weight (float64): the border / other mean-step ratio (floor 0.5)
    times ``min(1, share / 0.2) ** 2``."""
    num = den = nb = no = 0.0
    for axis, size in ((1, g.shape[1]), (0, g.shape[0])):
        if size < 64:
            continue
        steps = np.abs(np.diff(g.astype(np.float64), axis=axis)).mean(axis=1 - axis)
        on = (np.arange(1, size) % 8) == 0
        num, nb, den, no = num + steps[on].sum(), nb + on.sum(), den + steps[~on].sum(), no + (~on).sum()
    return (num / nb) / max(den / no, 0.5) * min(1.0, ref_figures(g)[0] / 0.2) ** 2


def _flagged(img: np.ndarray) -> bool:
    q = QualityIssues()
    return bool(q.evaluate(q.metrics([torch.from_numpy(img)])).flags["jpeg_blocking"][0])


def _shingles(w: int = 100, h: int = 26) -> np.ndarray:
    """ImageMagick's ``verticalleftshingle.png`` pixel for pixel at 100 x 26 (checked against the
    file of imagemagick-6-doc): a black 1-px line every 8 px on white (columns 7, 15, ...) and in
    each 8-px column a falling stroke of 4 rows (1, 2, 2, 2 px) every 24 rows, 8 rows higher in the
    next column; RGB."""
    g = np.full((h, w), 255, np.uint8)
    g[:, 7::8] = 0
    for k in range((w + 7) // 8):
        for d, (c0, c1) in enumerate(((0, 1), (1, 3), (3, 5), (5, 7))):
            g[(20 - 8 * k) % 24 + d :: 24, 8 * k + c0 : min(w, 8 * k + c1)] = 0
    return np.repeat(g[None], 3, axis=0)


def _ramps(w: int = 128, h: int = 128) -> np.ndarray:
    """Shingles as ramps: ``30 (x mod 8)`` (grey, RGB): 30 levels up within each 8-px column, 210
    down across its border, the same in every column."""
    x = np.arange(w)
    return np.repeat(np.repeat((30 * (x % 8))[None, :], h, axis=0)[None], 3, axis=0).astype(np.uint8)


def _sawtooth(w: int = 100, h: int = 24) -> np.ndarray:
    """Rows ``10 (x mod 8) + x`` (grey): pairs 4 px apart differ by 44 or 36 (48 pairs each over 96
    pairs per row: D4 = 40), 8 px apart by 8, 16 px apart by 16: period share ``1 - 8 / 40 = 0.8``."""
    x = np.arange(w)
    return np.repeat((10 * (x % 8) + x)[None, :], h, axis=0).astype(np.float32)


def _pixelate(img: np.ndarray, k: int = 8) -> np.ndarray:
    """Each k x k block replaced by its mean (a mosaic: 8-px blocks without repetition)."""
    c, h, w = img.shape
    m = img[:, : h // k * k, : w // k * k].reshape(c, h // k, k, w // k, k).mean(axis=(2, 4))
    return np.round(np.repeat(np.repeat(m, k, axis=1), k, axis=2)).astype(np.uint8)


def test_period_share_by_hand() -> None:
    g = _sawtooth()
    got = quality_block_compiled.period_share(np.ascontiguousarray(g), True, False)
    assert got == pytest.approx(0.8, abs=1e-12)
    assert float(period_share(torch.from_numpy(g)[None, None], True, False)[0]) == pytest.approx(0.8, abs=1e-12)
    # ramps repeating every 8 px: pairs 8 px apart are equal (D8 = 0): share 1
    ramps = _grey(_ramps()).astype(np.float32)
    assert quality_block_compiled.period_share(np.ascontiguousarray(ramps), True, True) == 1.0
    # a flat window (D4 = 0): nothing repeats, share 0
    assert quality_block_compiled.period_share(np.full((64, 64), 9.0, np.float32), True, True) == 0.0


def test_shingles_are_a_pattern_not_blocking() -> None:
    """ImageMagick's shingles scored 5.78 (jpeg_blocking) on the main job: every border line steps
    (line 7 -> 8) as much as its left neighbour (6 -> 7); the strokes tip a third of the segments over it."""
    img = _shingles()
    g = _grey(img)
    assert _old_blockiness(g) == pytest.approx(5.7846, abs=1e-4)  # the file's value before
    share, pattern = ref_figures(g)
    # a third of the 8-px border segments step; D4 = 189,720 / (26 * 96) (the lines against the white 4 px
    # off, 2 of 8 pairs a row, 255 each: 186,660, and the strokes), D8 = 41,310 / (26 * 92) (only the
    # strokes, 8 rows apart from the next column's), D16 = 37,740 / (26 * 84): 1 - D8 / D4 = 0.7728
    assert share == pytest.approx(1 / 3) and pattern == pytest.approx(1 - (41310 / 2392) / (189720 / 2496), abs=1e-12)
    assert float(quality_metrics([img])["blockiness"][0]) == 0.0
    assert not _flagged(img)


def test_ramps_are_a_pattern_not_blocking() -> None:
    img = _ramps()
    g = _grey(img)
    # the border lines step 210, the others 30: 7 times, on every segment (share 1)
    assert _old_blockiness(g) == pytest.approx(7.0, rel=1e-6)
    assert ref_figures(g)[1] == 1.0  # pairs 8 px apart equal: D8 = 0
    assert float(quality_metrics([img])["blockiness"][0]) == 0.0
    assert not _flagged(img)


def test_a_see_through_pattern_is_a_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    """With alpha (a transparent corner: the median path over opaque lines, weighted by the
    composite's figures on the torch path): ramps repeating every 8 px along both axes."""
    y, x = np.mgrid[0:128, 0:128]
    grey = (15 * (x % 8) + 15 * (y % 8)).astype(np.uint8)
    alpha = np.full((128, 128), 255, np.uint8)
    alpha[:20, :20] = 0
    img = np.stack([grey, grey, grey, alpha])
    assert float(quality_metrics([img])["blockiness"][0]) == 0.0
    assert not _flagged(img)
    # without the period share the medians' ratio counted in full: border lines 105, others 15
    monkeypatch.setattr(quality_torch, "period_share", lambda g, rows, cols: torch.zeros(g.shape[0], dtype=torch.float64))
    assert float(quality_metrics([img])["blockiness"][0]) == pytest.approx(7.0, rel=1e-6)


@pytest.mark.parametrize("quality", [5, 10])
def test_jpeg_keeps_its_blocks(quality: int) -> None:
    """Real JPEGs of a photo-like scene: pixels 8 / 16 px apart differ more than 4 px apart (period
    share 0), so the metric is the one before (pattern weight 1).  An 8-px mosaic of it (the survey's
    pixelate8 copies) does not repeat either: share 0."""
    mosaic = _grey(_pixelate(_photo(256, seed=quality))).astype(np.float32)
    assert quality_block_compiled.period_share(mosaic, True, True) == 0.0
    for img in (_jpeg(_photo(256, seed=quality), quality),):
        g = _grey(img)
        lv = np.round(g)
        d = {s: np.abs(lv[:, s:] - lv[:, :-s]).sum() + np.abs(lv[s:] - lv[:-s]).sum() for s in (4, 8, 16)}
        assert min(d[8], d[16]) > 1.2 * d[4]  # counts differ by under 4 %: the means' ratio > 1.15
        assert ref_figures(g)[1] < 0.2
        assert float(quality_metrics([img])["blockiness"][0]) == pytest.approx(_old_blockiness(g), rel=1e-3)
        assert _flagged(img)


def _windows() -> list[np.ndarray]:
    return [
        _sawtooth(),
        _grey(_shingles()).astype(np.float32),
        _grey(_shingles(200, 72)).astype(np.float32),
        _grey(_jpeg(_photo(136, seed=2), 10)).astype(np.float32),
        np.ascontiguousarray(_sawtooth(72, 100).T),  # along y only
    ]


@pytest.mark.parametrize("k", range(5))
def test_figures_equal_the_reference_and_the_kernel(k: int) -> None:
    g = _windows()[k]
    want = ref_figures(g.astype(np.float64))
    got = block_figures(torch.from_numpy(g)[None, None])
    assert (float(got[0][0]), float(got[1][0])) == pytest.approx(want, rel=1e-12, abs=1e-15)
    if quality_compiled.ready():
        assert quality_block_compiled.block_figures(np.ascontiguousarray(g)) == tuple(float(f[0]) for f in got)
