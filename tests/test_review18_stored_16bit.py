"""review18: the quality metrics read a ``uint16`` image over its container's 65,535 levels
(``pixels.scale_stored``).  0.65's bit-depth rule (``scale01``: the smallest of 8 / 12 / 16 bits
holding the maximum) read a dark 16-bit photo whose maximum is under 4096 as 12-bit, as bright as
its brightest level allowed: a 16-bit photo at x0.05 (max 3277) measured ``grey_p99`` 0.76 and was
not ``dark``, while its 8-bit twin was (0.047).  The statistics keep 0.65's rule.

References: numpy float64 (the value / 65535; the 8-bit twin's levels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional.pixels import grey_levels, scale01, scale_stored


def test_scale_stored_reads_uint16_over_its_container() -> None:
    rng = np.random.default_rng(18)
    x = rng.integers(0, 4096, (2, 3, 5, 7)).astype(np.uint16)
    np.testing.assert_allclose(scale_stored(torch.from_numpy(x)).numpy(), x / 65535.0, rtol=1e-6, atol=0)
    assert float(scale01(torch.from_numpy(x)).max()) > 0.9  # 0.65's rule: 12-bit
    for other in (x.astype(np.uint8), (x / 4095.0).astype(np.float32)):
        t = torch.from_numpy(other)
        assert torch.equal(scale_stored(t), scale01(t))
    # the 256-level grey of a 16-bit window is the whole image's, not the window's own bit depth
    img = np.zeros((1, 1, 4, 8), np.uint16)
    img[..., :4], img[..., 4:] = 3000, 60000
    lev = grey_levels(torch.from_numpy(img))
    assert lev[0, 0, 0] == round(3000 / 65535 * 255) == grey_levels(torch.from_numpy(img[..., :4]))[0, 0, 0]


def _set(photos: list[np.ndarray]) -> tuple[list[torch.Tensor], np.ndarray]:
    colour = [p[:3, :96, :128] for p in photos if p.shape[0] == 3 and min(p.shape[1:]) >= 96][:8]
    if len(colour) < 8:
        pytest.skip("too few colour photos")
    src = colour[0].astype(np.float64)
    dark16 = np.round(src * 257.0 * 0.05).astype(np.uint16)  # a 16-bit photo at x0.05
    assert 256 <= dark16.max() < 4096  # 0.65's rule reads it as 12-bit
    dark8 = np.round(src * 0.05).astype(np.uint8)
    return [torch.from_numpy(np.ascontiguousarray(x)) for x in (*colour[1:], dark16, dark8)], dark16


def test_dark_16_bit_photo_is_dark_as_its_8_bit_twin(photos: list[np.ndarray]) -> None:
    tensors, dark16 = _set(photos)
    out = QualityIssues().evaluate(tensors)
    p99 = np.asarray(out.metrics["grey_p99"], dtype=np.float64)
    assert p99[-2] == pytest.approx(p99[-1], abs=1.5 / 255)  # the 16-bit one where its 8-bit twin is
    assert p99[-2] < 0.1  # 0.65's rule: 0.76
    assert out.flags["dark"][-2] and out.flags["dark"][-1]
    audit = DataAudit(hashes=False)  # the CLI's and the Lightning callback's engine
    audit.update(tensors)
    assert np.asarray(audit.compute().quality["flags"]["dark"]).tolist() == out.flags["dark"].tolist()
    # a full-range 16-bit copy (x257) reads as its 8-bit source
    full = torch.from_numpy((tensors[0].numpy().astype(np.uint16) * 257).astype(np.uint16))
    both = QualityIssues().evaluate([tensors[0], full]).metrics
    for key in ("grey_p99", "bright_p9999", "dark_p001", "grey_entropy"):
        assert float(both[key][0]) == pytest.approx(float(both[key][1]), abs=1e-6), key
