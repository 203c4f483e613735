"""quality6 (2026-12-07): ``noisy``'s Gaussian estimate beyond the entropy bound is structure, not
noise (false flags of painted sprites and terrain on held-out game collections: Wesnoth, hedgewars)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from dataeval_gpu.detectors.quality import NOISE_ENTROPY_EXCESS, QualityIssues, issue_scores
from tests.test_quality4_rules import quality_rows

PHOTOS = Path(__file__).resolve().parents[1] / "data_cache" / "photos"


def test_estimate_beyond_the_entropy_bound_is_not_noise() -> None:
    """The bound of 6 bits is ``2 ** (6 + 0.5 - 2.0471)`` = 21.90 grey levels (hand); an estimate at
    or under it counts in full, one over it not at all (before: the bound itself, 21.9, flagged)."""
    assert NOISE_ENTROPY_EXCESS == 1.0
    cap = 2.0 ** (6.0 + 0.5 - 2.047095585180641)
    rob = [20.0, 21.9, 21.91, 40.0, 12.0]
    m = quality_rows(
        5,
        noise_robust=rob,
        noise=[r * 1.05 for r in rob],
        noise_flat=[r * 0.5 for r in rob],
        grey_entropy=[6.0, 6.0, 6.0, 6.0, 3.0],  # the last: 2.73 grey levels at most
    )
    np.testing.assert_allclose(issue_scores(m)[0]["noisy"], [20.0, 21.9, 0.0, 0.0, 0.0], rtol=1e-12)
    assert 21.9 < cap < 21.91
    # the impulse branch is not judged against the bound (salt and pepper on two levels)
    imp = quality_rows(1, noise_robust=[30.0], noise=[80.0], noise_flat=[0.0], impulse_share=[0.03], grey_entropy=[1.3])
    np.testing.assert_allclose(issue_scores(imp)[0]["noisy"], [80.0 - 1.3 * 30.0])


def _painted(name: str) -> np.ndarray:
    """A photo read at every third pixel (aliased: detail at the pixel scale everywhere), the
    72 px window whose flattest blocks are busiest, in 16 tones a channel: a painted texture."""
    a = np.asarray(Image.open(PHOTOS / name).convert("RGB"))[::3, ::3].astype(np.int32)
    lap = np.abs(ndimage.laplace(a.mean(axis=2)))
    best, pos = -1.0, (0, 0)
    for y in range(0, a.shape[0] - 71, 24):
        for x in range(0, a.shape[1] - 71, 24):
            v = float(np.quantile(lap[y : y + 72, x : x + 72].reshape(18, 4, 18, 4).mean(axis=(1, 3)), 0.05))
            if v > best:
                best, pos = v, (y, x)
    y, x = pos
    tile = (a[y : y + 72, x : x + 72] // 16) * 16 + 8
    return np.moveaxis(tile, -1, 0).astype(np.uint8).copy()


def test_painted_texture_of_a_photo_is_not_noisy_noise_on_it_is() -> None:
    """Real pixels: two photos' busiest windows read at every third pixel in 16 tones (a woven
    fabric's aliased weave, bare branches on a sky: MAD σ 28-66 everywhere, flattest blocks alike;
    4.8-6.6 bits, bounds 9.4 and 32.8) are not noisy; σ 8, 12 and 25 added (7.6-7.9 bits, bounds
    66-99, estimates 29-67) are.  Before, each clean tile scored its bound and was flagged."""
    if not PHOTOS.is_dir():
        pytest.skip("data_cache/photos is not here")
    rng = np.random.default_rng(3)
    tiles = [_painted("02_6655da93.jpg"), _painted("09_212d7b91.jpg")]

    def noised(x: np.ndarray, s: float) -> np.ndarray:
        return np.clip(x + rng.normal(0, s, x.shape), 0, 255).round().astype(np.uint8)

    pictures = tiles + [noised(t, s) for s in (8.0, 12.0, 25.0) for t in tiles]
    out = QualityIssues(issues=["noisy"]).evaluate(pictures)
    rob = np.asarray(out.metrics["noise_robust"], dtype=np.float64)
    h = np.asarray(out.metrics["grey_entropy"], dtype=np.float64)
    assert rob[0] > 60.0 and rob[1] > 25.0  # the MAD estimate alone calls both noise
    assert h[0] > 6.5 and 4.6 < h[1] < 5.0  # bounds 32.8 and 9.4: over the threshold of 8.5
    assert out.flags["noisy"].tolist() == [False, False] + [True] * 6, out.scores["noisy"]
