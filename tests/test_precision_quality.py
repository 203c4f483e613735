"""Precision of the quality issues on real collections (precision helper): fewer false flags on
textures and sprite sheets, the planted outliers still found."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors import quality as q_mod
from dataeval_gpu.detectors.quality import QualityIssues, issue_scores
from dataeval_gpu.functional import quality as fq_mod
from tests.reference import texture_noise_ref

FASHION = Path(__file__).resolve().parents[1] / "data_cache" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def _metrics(n: int, **values: list[float]) -> dict[str, torch.Tensor]:
    m = {k: torch.zeros(n, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS}
    for k, v in (("width", 100.0), ("height", 100.0), ("channels", 3.0), ("opacity", 1.0)):
        m[k] = torch.full((n,), v, dtype=torch.float64)
    for k, v in values.items():
        m[k] = torch.tensor(v, dtype=torch.float64)
    return m


def test_impulse_estimate_counts_beyond_what_the_median_explains() -> None:
    """The impulse branch of ``noisy``: the Immerkær mean estimate less the larger of the texture
    floor (11) and 1.3x the MAD estimate.  Impulses raise the mean response, barely its median;
    a texture raises both (hand-computed)."""
    m = _metrics(
        4,
        noise=[30.0, 30.0, 22.6, 43.3],
        noise_robust=[20.0, 5.0, 9.1, 1.0],
        noise_flat=[0.0, 0.0, 0.0, 0.0],
        impulse_share=[0.02, 0.02, 0.02, 0.005],
    )
    assert (q_mod.NOISE_TEXTURE_FLOOR, q_mod.NOISE_GAUSS_RATIO) == (11.0, 1.3)
    s = issue_scores(m)[0]["noisy"]
    # 30 - 1.3 * 20 = 4 (a texture: was 30 - 11 = 19); 30 - max(11, 6.5) = 19; 22.6 - 11.83 = 10.77
    # (the planted salt-and-pepper with the highest MAD); 0.5 % impulses: not impulse noise
    np.testing.assert_allclose(s, [4.0, 19.0, 22.6 - 1.3 * 9.1, 0.0], rtol=0, atol=1e-12)
    out = QualityIssues(issues=["noisy"]).evaluate(m)
    assert out.flags["noisy"].tolist() == [False, True, True, False]
    assert "Immerkær σ 30 - 11" in out.why(1)[0]
    assert "Immerkær σ 22.6 - 11.8" in out.why(2)[0]
    # metrics gathered without impulse_share: the mean estimate less the floor, as before
    old = {k: v for k, v in m.items() if k not in ("impulse_share", "noise_flat")}
    np.testing.assert_allclose(issue_scores(old)[0]["noisy"], [19.0, 19.0, 11.6, 32.3], atol=1e-12)


def _noise_ref(g: np.ndarray) -> tuple[float, float]:
    """Immerkær's mean and the MAD estimates of a whole 256-level grey image (float64, scipy)."""
    r = np.abs(ndimage.correlate(g.astype(np.float64), IMMERKAER)[1:-1, 1:-1]).ravel()
    h, w = g.shape
    mean = math.sqrt(math.pi / 2) / (6 * (w - 2) * (h - 2)) * r.sum()
    srt = np.sort(r)
    return mean, float(srt[(srt.size - 1) // 2]) / (6 * 0.6744897501960817)


def _noisy_ref(g: np.ndarray) -> float:
    mean, mad = _noise_ref(g)
    t = texture_noise_ref(g)
    gauss = min(mad if mean <= 1.3 * mad else 0.0, t["noise_flat"] / 0.5)
    impulse = mean - max(11.0, 1.3 * mad) if t["impulse_share"] >= 0.01 else 0.0
    return max(gauss, impulse)


@pytest.mark.skipif(not FASHION.exists(), reason="Fashion-MNIST not fetched")
def test_fashion_prints_are_not_impulse_noise_salt_and_pepper_is() -> None:
    """Fashion-MNIST garments printed edge to edge (test images 248, 1004, 1972, 2388, 2960: 1-3 %
    of their pixels 48+ levels from all 8 neighbours, MAD σ 14-27) were ``noisy`` through the
    impulse branch; their median response explains their mean.  Smooth 64 px pictures with
    6 % salt-and-pepper stay noisy.  Scores against the float64 definition."""
    with gzip.open(FASHION) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    idx = [248, 1004, 1972, 2388, 2960]
    rng = np.random.default_rng(3)
    salted = []
    for _ in range(2):  # smooth 64 px pictures with 6 % salt-and-pepper
        g = ndimage.gaussian_filter(rng.normal(128, 60, (64, 64)), 2.0).clip(0, 255).round().astype(np.uint8)
        u = rng.random(g.shape)
        g[u < 0.03], g[u > 0.97] = 0, 255
        salted.append(g)
    imgs = [x[i] for i in idx] + salted
    out = QualityIssues(issues=["noisy"]).evaluate([torch.from_numpy(g.copy())[None] for g in imgs])
    ref = [_noisy_ref(g) for g in imgs]
    np.testing.assert_allclose(out.scores["noisy"], ref, rtol=1e-6, atol=1e-6)
    impulses = [texture_noise_ref(g)["impulse_share"] for g in imgs]
    assert min(impulses[:5]) >= 0.01  # the prints have isolated impulses ...
    old = np.array([_noise_ref(g)[0] - 11.0 for g in imgs[:5]])
    assert (old > 8.5).all()  # ... and their mean estimate less the floor was over the threshold
    assert out.flags["noisy"].tolist() == [False] * 5 + [True] * 2, out.scores["noisy"]
