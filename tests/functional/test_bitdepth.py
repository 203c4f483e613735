"""The one bit-depth rule against a plain-Python reference, and its users."""

from __future__ import annotations

import math

import numpy as np
import torch

from dataeval_gpu.functional.bitdepth import BIT_DEPTHS, bit_depth, depth_scale


def _reference(vmin: float, vmax: float) -> int:
    if vmin < 0:
        return 0
    for d in (1, 8, 12, 16, 32):
        if 2.0**d > vmax:  # False for NaN
            return d
    return 32


def test_bit_depth_matches_the_rule():
    cases = [
        (0, 0), (0, 1), (0, 1.5), (0, 2), (0, 255), (0, 255.5), (0, 256), (0, 4095), (0, 4096),
        (0, 65535), (0, 65536), (0, 2.0**32 - 1), (0, 2.0**32), (0, 1e300), (-1, 5), (-0.0, 3),
        (0, math.inf), (0, math.nan), (math.nan, 3), (-math.inf, 0),
    ]  # fmt: skip
    vmin = torch.tensor([c[0] for c in cases], dtype=torch.float64)
    vmax = torch.tensor([c[1] for c in cases], dtype=torch.float64)
    got = bit_depth(vmin, vmax)
    assert got.dtype == torch.int64
    assert got.tolist() == [_reference(a, b) for a, b in cases]
    assert BIT_DEPTHS == (1, 8, 12, 16, 32)
    # integer inputs and Python numbers
    assert bit_depth(
        torch.tensor([0, 0], dtype=torch.int32), torch.tensor([3, 70000], dtype=torch.int32)
    ).tolist() == [8, 32]
    assert int(bit_depth(0.0, 4000.0)) == 12
    assert depth_scale(torch.tensor([0, 1, 8, 16])).tolist() == [0.0, 1.0, 255.0, 65535.0]


def test_users_agree_with_the_rule():
    from dataeval_gpu.embeddings.embed import _scale_factor
    from dataeval_gpu.report.plots import to_display

    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.integers(0, 4096, (3, 1, 4, 4)).astype(np.int32))
    x[1] = x[1].clamp(max=200)
    x[2, 0, 0, 0] = -3
    f = _scale_factor(x)
    want = [1 / (2.0 ** _reference(float(x[i].min()), float(x[i].max())) - 1) for i in range(2)] + [1.0]
    np.testing.assert_allclose(f.numpy(), np.float32(want))
    # the report scales a 12-bit grey image by 4095
    img = np.array([[[0, 4095], [2000, 100]]], dtype=np.uint16)
    disp, grey = to_display(img)
    assert grey
    np.testing.assert_allclose(disp, img[0] / 4095.0, rtol=1e-12)
