"""``noisy``'s per-channel term (detectors/quality_noise_rules.py, noise14): weak noise drawn per
colour channel is ``noisy``; grain shared by the channels, small images, see-through images and
metrics without ``noise_chroma`` are scored as before."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.detectors.quality import QualityIssues, issue_scores
from dataeval_gpu.detectors.quality_noise_rules import (
    CHROMA_NOISE_MIN_FLAT,
    CHROMA_NOISE_MIN_RATIO,
    CHROMA_NOISE_MIN_SIDE,
    CHROMA_NOISE_SHARE,
    chroma_noise_score,
)
from dataeval_gpu.functional.quality import quality_metrics
from tests.test_quality4_rules import quality_rows


def test_term_and_its_conditions_hand_checked() -> None:
    """``noise_chroma / 0.45`` where it is >= 1.2 x ``noise_flat``, ``noise_flat`` >= 1.8, opaque,
    >= 64 px a side; 0 otherwise.  The survey's sigma 8 copies read about 5.2 / 3.1: 11.6 > 8.5."""
    assert (CHROMA_NOISE_SHARE, CHROMA_NOISE_MIN_RATIO, CHROMA_NOISE_MIN_FLAT, CHROMA_NOISE_MIN_SIDE) == (
        0.45,
        1.2,
        1.8,
        64,
    )
    m = quality_rows(
        7,
        noise_chroma=[5.2, 3.6, 3.9, 5.2, 5.2, 5.2, 2.2],
        noise_flat=[3.1, 3.0, 3.25, 4.5, 1.7, 3.1, 1.8],
        opacity=[1.0, 1.0, 1.0, 1.0, 1.0, 0.99, 1.0],
        grey_entropy=[7.5] * 7,  # a photo's grey levels: the entropy bound (2 ** 5.95) holds the noise
    )
    want = [
        5.2 / 0.45,
        3.6 / 0.45,
        3.9 / 0.45,
        0.0,
        0.0,
        0.0,
        2.2 / 0.45,
    ]  # ratio 1.16 < 1.2; flat 1.7; see-through
    np.testing.assert_allclose(chroma_noise_score(m), want, rtol=1e-12)
    got = issue_scores(m)[0]["noisy"]  # the old estimates are all 0 here: the term alone
    np.testing.assert_allclose(got, want, rtol=1e-12)
    flags = QualityIssues().evaluate(m).flags["noisy"]
    assert flags.tolist() == [True, False, True, False, False, False, False]  # 8.0 and 4.9 under 8.5
    small = quality_rows(
        2,
        noise_chroma=[5.2, 5.2],
        noise_flat=[3.1, 3.1],
        width=[63.0, 64.0],
        height=[400.0, 64.0],
        grey_entropy=[7.5, 7.5],
    )
    np.testing.assert_allclose(chroma_noise_score(small), [0.0, 5.2 / 0.45], rtol=1e-12)
    old = quality_rows(1, noise_flat=[3.1])
    del old["noise_chroma"]  # metrics gathered before noise_chroma: the term is 0, the rest as before
    assert chroma_noise_score(old).tolist() == [0.0]
    assert issue_scores(old)[0]["noisy"].tolist() == [0.0]


def test_the_larger_estimate_counts() -> None:
    """``noisy`` takes the larger of the grey estimates and the term (the first: 11 < 1.2 x 10, term 0)."""
    m = quality_rows(
        2,
        noise_robust=[20.0, 4.0],
        noise=[21.0, 4.4],
        noise_flat=[10.0, 2.5],
        noise_chroma=[11.0, 4.5],
        grey_entropy=[7.5, 7.5],
    )
    np.testing.assert_allclose(issue_scores(m)[0]["noisy"], [20.0, 10.0], rtol=1e-12)


def _scene(rng: np.random.Generator) -> np.ndarray:
    """A smooth colour picture of 256 x 300: gradients and a few flat discs (no pixel-scale detail)."""
    yy, xx = np.mgrid[:256, :300].astype(np.float64)
    img = np.stack([60 + 0.4 * xx, 80 + 0.3 * yy, 140 - 0.2 * xx])
    for cy, cx, r, col in ((80, 90, 40, (200, 60, 50)), (170, 210, 55, (40, 160, 90))):
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[:, disc] = np.array(col, np.float64)[:, None]
    return img


def test_planted_weak_noise_is_noisy_shared_grain_is_not() -> None:
    """Sigma 8 drawn per channel on a smooth picture: the grey estimates stay under the threshold
    (MAD about 5.4, the flattest blocks about 3.2), the term reads about 5.1 / 0.45 = 11.4: noisy.
    Grain of sigma 8 shared by R, G and B (a texture): ``noise_chroma`` 0, not noisy; the grey
    picture with the same noise: one channel, the grey estimates as before (not noisy)."""
    rng = np.random.default_rng(11)
    base = _scene(rng)
    own = np.clip(np.round(base + rng.normal(0, 8, base.shape)), 0, 255).astype(np.uint8)
    shared = np.clip(np.round(base + rng.normal(0, 8, base.shape[1:])), 0, 255).astype(np.uint8)
    grey = np.clip(np.round(base.mean(axis=0) + rng.normal(0, 8, base.shape[1:])), 0, 255).astype(np.uint8)[
        None
    ]
    rows = quality_metrics([own, shared, grey])
    m = {k: v.numpy().astype(np.float64) for k, v in rows.items()}
    m.update(width=np.full(3, 300.0), height=np.full(3, 256.0), channels=np.array([3.0, 3.0, 1.0]))
    assert 4.6 < m["noise_chroma"][0] < 5.6 and m["noise_chroma"][1] == 0.0 and m["noise_chroma"][2] == 0.0
    assert m["noise_robust"][0] < 8.5 and m["noise_flat"][0] / 0.5 < 8.5  # the grey estimates miss it
    q = QualityIssues().evaluate(m)
    assert q.flags["noisy"].tolist() == [True, False, False]
    assert q.scores["noisy"][0] == pytest.approx(m["noise_chroma"][0] / 0.45, rel=1e-12)
    (line,) = q.why(0)
    assert line.startswith(f"noisy: score {q.scores['noisy'][0]:.4g} > threshold 8.5")
    assert line.endswith(f"channel-difference σ {m['noise_chroma'][0]:.3g})")
