"""review18: ``bright_p9999`` on small images.  99.99 % of under 10,000 pixels is the single
brightest pixel, so one hot pixel made a darkened icon or crop "lit" (``dark8``'s peak test) and
lifted its peak over dark10's under-exposure bound.  The peak now spares up to three seen pixels
under 30,000 (never under the 99 % level) and is the 99.99 % level as before from there.

References: numpy float64 counts (``tests.reference.bright_peak_ref``, hand-checked cases in
``test_review17_dark_peak``); the old rule (the 99.99 % share alone) as ``bright_level``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional.quality_dark import (
    BRIGHT_PEAK_SHARE,
    PEAK_SPARE_PIXELS,
    bright_level,
    peak_level,
)

from .reference import bright_peak_ref


def test_peak_level_as_before_from_30000_pixels_and_against_the_reference() -> None:
    rng = np.random.default_rng(18)
    hists = []
    for total in (30_000, 30_001, 40_000, 250_000, 2_000_000):
        p = rng.dirichlet(np.full(256, 0.3))
        h = rng.multinomial(total - 6, p)
        h[255] += 3  # hot pixels
        h[250] += 3
        hists.append(h)
    h = torch.tensor(np.array(hists))
    np.testing.assert_array_equal(peak_level(h).numpy(), bright_level(h, share=BRIGHT_PEAK_SHARE).numpy())
    small = torch.tensor(np.array([rng.multinomial(n, rng.dirichlet(np.full(256, 0.3))) for n in (81, 299, 300, 5000, 29_999)]))
    small[:, 255] += 2
    want = [bright_peak_ref(row) for row in small.numpy()]
    np.testing.assert_allclose(peak_level(small, dtype=torch.float64).numpy(), want, atol=0)
    # never under bright_p99, never over the 99.99 % level
    assert (peak_level(small).numpy() >= bright_level(small).numpy()).all()
    assert (peak_level(small).numpy() <= bright_level(small, share=BRIGHT_PEAK_SHARE).numpy()).all()
    assert PEAK_SPARE_PIXELS == 3


def _dark_set(photos: list[np.ndarray], side: int) -> list[torch.Tensor]:
    colour = [p[:3, :side, :side] for p in photos if p.shape[0] == 3 and min(p.shape[1:]) >= side][:8]
    if len(colour) < 8:
        pytest.skip("too few colour photos")
    dim = colour[0] // 8  # a photo divided by 8: dark
    hot = dim.copy()
    hot[:, side // 2, side // 3] = 255  # ... with one hot pixel
    two = dim.copy()
    two[:, [3, side - 4], [5, side - 6]] = 255  # ... with two
    return [torch.from_numpy(np.ascontiguousarray(x)) for x in (*colour[1:], dim, hot, two)]


@pytest.mark.parametrize("side", [64, 96])
def test_one_hot_pixel_does_not_light_a_dark_small_image(photos: list[np.ndarray], side: int) -> None:
    """A 64 / 96 px photo crop divided by 8 is dark with one or two hot pixels too (before: its peak
    was the hot pixel, 1.0, "lit", not judged), through ``QualityIssues`` and ``DataAudit`` (the
    CLI's and the Lightning callback's engine) alike."""
    tensors = _dark_set(photos, side)
    direct = QualityIssues().evaluate(tensors)
    peak = np.asarray(direct.metrics["bright_p9999"], dtype=np.float64)
    # the hot pixels spared: the peak is the darkened photo's own (at most 32/255), not 1.0
    assert (peak[-3:] <= 32 / 255 + 1e-6).all() and peak[-3] > 0.05
    assert direct.flags["dark"].tolist()[-3:] == [True, True, True]
    audit = DataAudit(hashes=False)
    audit.update(tensors)
    flags = np.asarray(audit.compute().quality["flags"]["dark"]).tolist()
    assert flags == direct.flags["dark"].tolist()


def test_hot_pixel_does_not_hide_an_under_exposed_icon(photos: list[np.ndarray]) -> None:
    """dark10's under-exposure branch on a 64 px crop at x0.4 (peak ~0.4 < 0.55 x the photos' median,
    above the relative rule's reach): flagged with a hot pixel too; before, the hot pixel (1.0)
    was its peak and over the bound."""
    colour = [p[:3, :64, :64] for p in photos if p.shape[0] == 3 and min(p.shape[1:]) >= 64][:8]
    if len(colour) < 8:
        pytest.skip("too few colour photos")
    under = np.round(colour[0].astype(np.float64) * 0.4).astype(np.uint8)
    hot = under.copy()
    hot[:, 30, 20] = 255
    tensors = [torch.from_numpy(np.ascontiguousarray(x)) for x in (*colour[1:], under, hot)]
    out = QualityIssues().evaluate(tensors)
    if not out.flags["dark"][-2]:
        pytest.skip("this crop at x0.4 is not under-exposed by dark10's rule")
    assert out.flags["dark"][-1]
    assert float(out.metrics["bright_p9999"][-1]) < 0.55 * 0.9  # its own peak, not the hot pixel's 1.0
