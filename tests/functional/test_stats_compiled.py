"""The compiled one-pass 8-bit kernel gives the torch kernel's integers, and the statistics built on it are unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import stats_compiled
from dataeval_gpu.functional.stats import image_statistics
from dataeval_gpu.functional.stats_kernels import count_uint8

pytestmark = pytest.mark.skipif(not stats_compiled.ready(), reason="numba not available")

SHAPES = [(1, 1), (1, 6), (6, 1), (2, 2), (3, 7), (17, 33), (70, 41)]


def _image(kind: str, c: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    if kind == "random":
        return torch.randint(0, 256, (c, h, w), generator=gen, dtype=torch.uint8)
    if kind == "binary":
        return torch.randint(0, 2, (c, h, w), generator=gen, dtype=torch.uint8)
    if kind == "extremes":  # the Laplacian's clamp at both ends
        return (torch.randint(0, 2, (c, h, w), generator=gen, dtype=torch.uint8) * 255).to(torch.uint8)
    return torch.full((c, h, w), 255, dtype=torch.uint8)


@pytest.mark.parametrize("c", [1, 2, 3, 4, 16])
@pytest.mark.parametrize("kind", ["random", "binary", "extremes", "constant"])
def test_counts_match_torch_kernel(c: int, kind: str) -> None:
    gen = torch.Generator().manual_seed(c)
    for h, w in SHAPES:
        x = _image(kind, c, h, w, gen)
        for cmax in (c, c + 2):  # a batch's widest image sets cmax
            want_counts, want_lap = count_uint8(x.unsqueeze(0), cmax, per_row_bincount=True)
            got_counts, got_lap = stats_compiled.count_image_u8(x, cmax)
            assert torch.equal(got_counts, want_counts), (c, h, w, kind)
            assert torch.equal(got_lap, want_lap), (c, h, w, kind)
            assert int(got_counts.sum()) == c * h * w and int(got_lap.sum()) == h * w


def test_strided_view_of_interleaved_pixels() -> None:
    """The CHW view of an HWC buffer (what image decoders return) is read in place."""
    hwc = torch.randint(0, 256, (37, 29, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    view = hwc.permute(2, 0, 1)
    assert not view.is_contiguous()
    want = count_uint8(view.contiguous().unsqueeze(0), 3, per_row_bincount=True)
    got = stats_compiled.count_image_u8(view, 3)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_statistics_unchanged_by_the_compiled_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(3)
    imgs = [
        torch.randint(0, 256, (3, 300, 260), generator=gen, dtype=torch.uint8),
        torch.randint(0, 2, (1, 400, 200), generator=gen, dtype=torch.uint8).bool(),
        torch.randint(0, 256, (4, 256, 300), generator=gen, dtype=torch.uint8),
        torch.randint(0, 256, (3, 8, 8), generator=gen, dtype=torch.uint8),  # stacked (small)
    ]
    got, got_ch = image_statistics(imgs, per_channel=True)
    monkeypatch.setattr(stats_compiled, "ready", lambda: False)
    want, want_ch = image_statistics(imgs, per_channel=True)
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]) or torch.allclose(
            got[key], want[key], rtol=0, atol=0, equal_nan=True
        ), key
    for key in want_ch:  # type: ignore[union-attr]
        assert torch.equal(got_ch[key], want_ch[key]) or torch.allclose(  # type: ignore[index]
            got_ch[key],
            want_ch[key],
            rtol=0,
            atol=0,
            equal_nan=True,  # type: ignore[index]
        ), key


@pytest.mark.parametrize("shape", [(1, 1, 3), (7, 5, 3), (480, 641, 3), (5, 4, 4), (3, 2, 1)])
def test_planes_u8_equals_the_transposing_copy(shape: tuple[int, int, int]) -> None:
    from dataeval_gpu.functional.stats_compiled import planes_u8

    hwc = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    got = planes_u8(hwc)
    assert got.flags.c_contiguous and got.shape == (shape[2], shape[0], shape[1])
    assert np.array_equal(got, hwc.transpose(2, 0, 1))
    assert got[0, 0, 0] == hwc[0, 0, 0] and got[-1, -1, -1] == hwc[-1, -1, -1]
