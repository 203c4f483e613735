"""``blockiness`` of a picture enlarged by repeating its pixels (artfalse14): the lines inside an
enlarged pixel do not step, so the 8-px borders (a subset of its own grid's lines) stepped 2.3
times the mean of all other lines on scikit-image's ``moon`` (256 px stored at 512: flagged
``jpeg_blocking`` 2.33 in the README's demo) with no 8 x 8 block in it.  The step elsewhere is
now taken on the picture's own grid; a JPEG of an enlarged picture keeps its blocking."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional import quality_block_compiled, quality_compiled
from dataeval_gpu.functional.pixels import block_phases
from dataeval_gpu.functional.quality_alpha import blockiness_opaque
from dataeval_gpu.functional.quality_torch import blockiness
from tests.test_quality5_blocking import ref_grid, ref_grid_excess

skdata = pytest.importorskip("skimage.data")


def ref_ratio(g: np.ndarray, replica: bool = True) -> float:
    """float64 reference of the step ratio (no spread weight: used on images whose every border
    segment steps or none does): per line ``j`` (step between lines ``j`` and ``j + 1``, both
    directions) its mean step; the border lines ``(j + 1) % 8 == 0`` over the others, or with
    ``replica`` over line 4 when lines 1-3 and 5-7 step at most 1/4 of it, else over lines 2, 4, 6
    when lines 1, 3, 5, 7 step at most 1/4 of those."""
    lines: dict[int, list[float]] = {p: [] for p in range(8)}
    for a in (g.astype(np.float64), g.T.astype(np.float64)):
        for j, v in enumerate(np.abs(np.diff(a, axis=1)).mean(axis=0)):
            lines[(j + 1) % 8].append(float(v))

    def mean(ps: tuple[int, ...]) -> float:
        return float(np.mean([v for p in ps for v in lines[p]]))

    off = mean((1, 2, 3, 4, 5, 6, 7))
    if replica:
        odd, even, mid, four = mean((1, 3, 5, 7)), mean((2, 4, 6)), mean((2, 6)), mean((4,))
        if four > 0 and max(odd, mid) <= 0.25 * four:
            off = four
        elif even > 0 and odd <= 0.25 * even:
            off = even
    return mean((0,)) / max(off, 0.5)


def _moon() -> np.ndarray:
    return skdata.moon()


def test_the_moon_is_a_picture_enlarged_two_times() -> None:
    """Hand check of what ``moon`` is: every second column and row repeats the one before."""
    g = _moon().astype(np.int64)
    assert g.shape == (512, 512)
    assert np.array_equal(g[:, 0::2], g[:, 1::2]) and np.array_equal(g[0::2], g[1::2])


def test_the_moon_is_not_blocky() -> None:
    g = _moon()
    before = ref_ratio(g, replica=False)
    assert before == pytest.approx(2.3339, abs=2e-3)  # the demo's false flag, by the old reference
    assert ref_ratio(g) == pytest.approx(1.0002, abs=2e-3)
    compiled = quality_compiled._blocky(g.astype(np.float32), 0.5)
    tensor = float(blockiness(torch.from_numpy(g.astype(np.float32))[None, None])[0])
    # every border segment or none steps: weight 1; blockicons18: its excess over 1 (0.0003) times the
    # grid weight, 0 (the lines 2, 4, 6 px past the borders, its own grid, step as often): 1
    assert ref_grid(g.astype(np.float64)) >= quality_block_compiled.GRID_HI
    assert compiled == pytest.approx(ref_grid_excess(ref_ratio(g), g.astype(np.float64)), rel=1e-6) == 1.0
    assert tensor == pytest.approx(compiled, rel=1e-5)
    q = QualityIssues().evaluate([torch.from_numpy(g)[None]])
    assert float(q.scores["jpeg_blocking"][0]) == pytest.approx(1.0002, abs=2e-3)
    assert not q.flags["jpeg_blocking"][0]


@pytest.mark.parametrize("k", [2, 4])
def test_a_photo_enlarged_two_or_four_times(k: int) -> None:
    g = skdata.camera()[::k, ::k]  # the whole picture, subsampled, then enlarged back
    e = np.kron(g, np.ones((k, k), np.uint8)).astype(np.float32)
    assert ref_ratio(e, replica=False) > 2.0  # the lines inside an enlarged pixel: no step
    assert ref_ratio(e) == pytest.approx(1.0, abs=0.05)
    assert quality_compiled._blocky(e, 0.5) == pytest.approx(ref_ratio(e), abs=0.05)
    got = float(blockiness(torch.from_numpy(e)[None, None])[0])  # the device path, on CPU tensors
    assert got == pytest.approx(quality_compiled._blocky(e, 0.5), rel=1e-5)
    opaque = torch.ones(1, 1, *e.shape, dtype=torch.bool)  # the alpha path's medians (0.94-1.02)
    assert float(blockiness_opaque(torch.from_numpy(e)[None, None], opaque, 0.5)[0]) == pytest.approx(1.0, abs=0.1)


def test_a_photo_is_measured_as_before() -> None:
    """A picture on its own grid steps on every line alike: the step elsewhere is every other line's."""
    g = skdata.camera().astype(np.float32)
    assert ref_ratio(g) == ref_ratio(g, replica=False)
    assert quality_compiled._blocky(g, 0.5) == pytest.approx(0.538206, abs=1e-5)  # as at ea98d88


@pytest.mark.parametrize(("quality", "least"), [(5, 3.5), (10, 2.5)])
def test_a_jpeg_of_an_enlarged_picture_keeps_its_blocking(quality: int, least: float) -> None:
    e = np.kron(skdata.astronaut()[100:356, 100:356, 1], np.ones((2, 2), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(e).save(buf, "JPEG", quality=quality)
    j = np.asarray(Image.open(buf), np.float32)
    got = quality_compiled._blocky(np.ascontiguousarray(j), 0.5)
    assert got > least  # 4.32 / 3.16: the blocks break the repetition, the odd lines step again
    assert float(blockiness(torch.from_numpy(j)[None, None])[0]) == pytest.approx(got, rel=1e-5)


def test_replica_off_and_its_torch_twin_agree() -> None:
    from dataeval_gpu.functional.quality_torch import replica_reference

    nan = float("nan")
    cases = [  # (odd, even, mid, four, off) -> expected
        ((0.0, 6.0, 6.0, 6.0, 2.6), 6.0),  # enlarged 2 times
        ((0.0, 4.0, 0.0, 12.0, 1.7), 12.0),  # 4 times
        ((1.0, 1.0, 1.0, 1.0, 1.0), 1.0),  # a photo
        ((0.0, 0.0, 0.0, 0.0, 0.0), 0.0),  # flat off the borders
        ((1.5, 6.0, 6.0, 6.0, 3.6), 6.0),  # odd at exactly 1/4: still on the grid
        ((1.6, 6.0, 6.0, 6.0, 3.7), 3.7),
        ((nan, nan, nan, nan, 1.0), 1.0),
    ]
    for args, want in cases:
        assert quality_block_compiled.replica_off(*args) == want
        got = replica_reference(*(torch.tensor([v], dtype=torch.float64) for v in args))
        assert float(got[0]) == want


@pytest.mark.parametrize("size", [9, 64, 100])
def test_block_phases_are_the_lines_past_a_border(size: int) -> None:
    phase = np.arange(1, size) % 8
    got = block_phases(size, torch.device("cpu"))
    for idx, group in zip(got, ((1, 3, 5, 7), (2, 4, 6), (2, 6), (4,))):
        assert idx.tolist() == np.nonzero(np.isin(phase, group))[0].tolist()
