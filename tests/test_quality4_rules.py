"""quality4 (2026-12-07): the entropy bound of ``noisy``'s Gaussian branch and the object detail of
``low_information`` on see-through images (false flags of painted sprites and overlay frames of
game collections: wesnoth, supertux, pingus, hedgewars)."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage

from dataeval_gpu.detectors import quality as q_mod
from dataeval_gpu.detectors import quality_rules as rules
from dataeval_gpu.detectors.quality import QualityIssues, issue_scores, object_detail
from dataeval_gpu.functional import quality as fq_mod


def quality_rows(n: int, **values: list[float]) -> dict[str, torch.Tensor]:
    # grain_free 1: nothing painted (0 would clear every Gaussian term: quality_noise_rules.painted_grain)
    m = {k: torch.zeros(n, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(n, dtype=torch.float64)}
    m["opacity"] = torch.ones(n, dtype=torch.float64)
    for k, v in (("width", 100.0), ("height", 100.0), ("channels", 3.0)):
        m[k] = torch.full((n,), v, dtype=torch.float64)
    for k, v in values.items():
        m[k] = torch.tensor(v, dtype=torch.float64)
    return m


def test_gaussian_noise_is_bounded_by_the_grey_entropy() -> None:
    """A Gaussian of σ has ``log2(σ) + 0.5 log2(2πe)`` bits (hand: 2.0471); the noisy picture has at
    least the noise's entropy, so the MAD estimate counts at most ``2 ** (H + 0.5 - 2.0471)``."""
    assert q_mod.NOISE_ENTROPY_SLACK == 0.5
    assert math.isclose(rules.GAUSS_ENTROPY_BITS, 2.047095585180641, rel_tol=1e-12)
    m = quality_rows(
        5,
        noise_robust=[30.0, 30.0, 30.0, 5.0, 30.0],
        noise=[31.0, 31.0, 31.0, 5.0, 31.0],
        noise_flat=[100.0, 100.0, 100.0, 100.0, 100.0],
        grey_entropy=[4.0, 6.0, 8.0, 1.0, 3.0],
        dark_clipped=[0.0, 0.0, 0.0, 0.0, 0.2],
        bright_clipped=[0.0, 0.0, 0.0, 0.0, 0.4],
    )
    # the clipped share (0.6 of the last image) loses the noise's entropy, the rest holds it: 3 / 0.4
    bits = (4.0, 6.0, 8.0, 1.0, 3.0 / 0.4)
    cap = [2.0 ** (h + 0.5 - 2.047095585180641) for h in bits]  # 5.47, 21.9, 87.6, 0.68, 61.9
    # quality6: an estimate beyond the bound is structure, not noise (0, no longer the bound itself)
    want = [0.0, 0.0, 30.0, 0.0, 30.0]
    np.testing.assert_allclose(issue_scores(m)[0]["noisy"], want, rtol=1e-12)
    assert min(cap[2], cap[4]) > 30.0 > max(cap[0], cap[1], cap[3])
    # the impulse branch is not bounded (salt-and-pepper on a two-level picture has ~1.3 bits)
    imp = quality_rows(1, noise_robust=[2.0], noise=[40.0], noise_flat=[0.0], impulse_share=[0.03], grey_entropy=[1.3])
    np.testing.assert_allclose(issue_scores(imp)[0]["noisy"], [40.0 - 11.0])


def test_painted_pixel_art_is_not_noisy_but_noise_on_it_is() -> None:
    """Real pixels: a 72 px tile painted from six grey tones (2.6 bits; every pixel differs from its
    neighbours as noise would: MAD σ ~30, flattest blocks alike) is not noisy; the same tile with
    Gaussian σ 25 added is (its entropy rises to ~7 bits), as a smooth photo with the same noise.
    Before the entropy bound the painted tile was flagged."""
    rng = np.random.default_rng(5)
    tones = 40 + 30 * rng.integers(0, 6, (72, 72))
    painted = np.repeat(tones.astype(np.uint8)[None], 3, axis=0)
    painted[1] = np.clip(tones + 20, 0, 255)  # a colour tile, not grey
    photo = np.clip(ndimage.gaussian_filter(rng.normal(128, 70, (3, 72, 72)), sigma=(0, 2, 2)), 0, 255)

    def noised(x: np.ndarray) -> np.ndarray:
        return np.clip(x + rng.normal(0, 25, x.shape), 0, 255).round().astype(np.uint8)

    # a white page with a narrow ramp and σ 24 noise: half its pixels clipped white lose the
    # noise's entropy (4.6 bits in all: without the clipping correction the cap would be 8.2)
    xx = np.mgrid[0:96, 0:128][1]
    page = np.where(xx < 12, 120 + xx * 2.0, 254.0)
    white = np.repeat(np.clip(page + np.random.default_rng(7).normal(0, 24, page.shape), 0, 255).round()[None], 3, 0)
    pictures = [painted, noised(painted), noised(photo), photo.astype(np.uint8), white.astype(np.uint8)]
    out = QualityIssues(issues=["noisy"]).evaluate(pictures)
    h = out.metrics["grey_entropy"]
    assert float(h[0]) < 3.0 < 6.0 < float(h[1])
    assert float(out.metrics["noise_robust"][0]) > 20.0  # the MAD estimate alone calls it noise
    assert float(out.metrics["bright_clipped"][4]) > 0.5 and float(h[4]) < 4.64
    assert out.flags["noisy"].tolist() == [False, True, True, False, True], out.scores["noisy"]
    assert "grey entropy" in out.why(1)[0]


def test_object_detail_is_the_detail_where_the_object_is_seen() -> None:
    """``detail / sqrt(opacity)`` for a see-through image of more than one ink with at least
    OBJECT_MIN_PIXELS visible pixels; 0 for an opaque image, a silhouette or a speck."""
    assert q_mod.OBJECT_MIN_PIXELS == 81.0
    m = quality_rows(
        5,
        detail=[0.012, 0.012, 0.012, 0.012, 0.012],
        opacity=[0.04, 1.0, 0.04, 0.004, 0.04],
        grey_entropy=[3.0, 3.0, 0.5, 3.0, 3.0],
    )
    m["width"] = torch.tensor([100.0, 100.0, 100.0, 100.0, 20.0], dtype=torch.float64)
    # visible pixels: 400, 10000 (opaque), 400 (one ink), 40 (a speck), 80 (a speck); 0.012 / sqrt(0.04)
    np.testing.assert_allclose(object_detail({k: v.numpy() for k, v in m.items()}), [0.06, 0, 0, 0, 0])
    np.testing.assert_allclose(issue_scores(m)[0]["low_information"][0], 0.0)


def test_a_sprite_on_a_transparent_canvas_is_not_low_information() -> None:
    """Real pixels: a 14 x 13 many-coloured object in a 90 x 80 transparent frame (2.5 % opaque: 0.3
    bit seen) is not low information; the empty frame, a faint object (two levels off the mid-grey
    backdrop, 0.7 % of its detail) and a 6 x 6 speck of the same object still are.  Before the
    object detail the sprite was flagged."""
    rng = np.random.default_rng(3)

    def frame(h: int, w: int, lo: int, hi: int) -> np.ndarray:
        x = np.zeros((4, 80, 90), np.uint8)
        x[:3, 30 : 30 + h, 40 : 40 + w] = rng.integers(lo, hi, (3, h, w))
        x[3, 30 : 30 + h, 40 : 40 + w] = 255
        return x

    sprite, empty = frame(13, 14, 0, 256), np.zeros((4, 80, 90), np.uint8)
    faint, speck = frame(13, 14, 126, 131), frame(6, 6, 0, 256)
    out = QualityIssues(issues=["low_information"]).evaluate([sprite, empty, faint, speck])
    assert float(out.scores["low_information"][2]) > 7.5  # the faint object: under 0.5 bit seen
    seen = 8.0 - issue_scores({**out.metrics, "detail": torch.zeros(4), "occupancy": torch.zeros(4)})[0]["low_information"]
    assert float(seen[0]) < 0.5  # the sprite's seen entropy alone: low information
    assert out.flags["low_information"].tolist() == [False, True, True, True], out.scores["low_information"]
