"""What ``noisy`` leaves out since noisyprec15 (``detectors/quality_noise_rules.py``): a two-level dot
screen (its isolated dots are the drawing), the grain of a see-through layer shared by R, G and B
(painted texture, not noise drawn per channel) and a per-channel pattern whose grey levels cannot
hold the noise it reads as - while planted salt-and-pepper and Gaussian noise stay ``noisy``."""

from __future__ import annotations

import math

import numpy as np
import torch

from dataeval_gpu.detectors import quality_noise_rules as n_mod
from dataeval_gpu.detectors.quality import QualityIssues, issue_scores
from tests.test_quality4_rules import quality_rows


def _smooth(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    return np.stack([70 + 0.5 * xx, 90 + 0.4 * yy, 150 - 0.3 * xx])


def test_dot_screen_is_not_impulse_noise_salt_and_pepper_is() -> None:
    """A 100 x 32 black screen with a white dot in every 4 x 5 cell (5 %, as ImageMagick's ``gray5``):
    every dot is an isolated impulse (impulse share 0.05) and the mean estimate reads ~43, so the
    impulse branch scored ~32 - but every pixel is black or white (clipped 1.0): 0.  Salt-and-pepper
    (3 % black, 3 % white) on a smooth picture: clipped 0.06, flagged."""
    assert n_mod.IMPULSE_MAX_CLIPPED == 0.99
    rng = np.random.default_rng(5)
    dots = np.zeros((3, 32, 100), np.uint8)
    dots[:, 2::5, 1::4] = 255
    sp = _smooth(128, 160)
    u = rng.random(sp.shape[1:])
    sp[:, u < 0.03] = 0
    sp[:, u > 0.97] = 255
    imgs = [torch.from_numpy(dots), torch.from_numpy(sp.round().astype(np.uint8))]
    out = QualityIssues(issues=["noisy"]).evaluate(imgs)
    m = {k: np.asarray(v, dtype=np.float64) for k, v in out.metrics.items()}
    # the dots at interior positions (rows 1-30, columns 1-98): 6 rows x 25 of 30 x 98
    np.testing.assert_allclose(m["impulse_share"][0], 150 / 2940, rtol=1e-6)
    assert m["noise_robust"][0] == 0.0
    np.testing.assert_allclose(m["dark_clipped"][0] + m["bright_clipped"][0], 1.0, rtol=1e-6)
    # the impulse estimate without the clipped check: the mean estimate less the texture floor 11
    assert m["noise"][0] - 11.0 > 30.0
    assert 0.05 < m["dark_clipped"][1] + m["bright_clipped"][1] < 0.07 and m["impulse_share"][1] >= 0.01
    impulse = m["noise"][1] - max(11.0, 1.3 * m["noise_robust"][1])
    assert impulse > 8.5
    np.testing.assert_allclose(out.scores["noisy"], [0.0, impulse], rtol=1e-6)
    assert out.flags["noisy"].tolist() == [False, True]


def _layer(rgb: np.ndarray) -> np.ndarray:
    """A 200 x 300 see-through layer: the left 120 columns opaque (opacity 0.4), the rest transparent."""
    a = np.zeros((1, *rgb.shape[1:]))
    a[:, :, :120] = 255
    return np.concatenate([rgb.clip(0, 255).round(), a]).astype(np.uint8)


def test_shared_grain_of_a_see_through_layer_is_not_noise_per_channel_noise_is() -> None:
    """A rock-coloured layer painted with grain shared by the channels (``colour · (1 + 0.2 g)``, g
    white): MAD ~24 with the mean estimate within 1.3x, the flattest blocks ~13.4 (/ 0.5 = 26.8),
    6.6 bits of grey - every grey check reads it as noise, and main flagged it (score = MAD) -, but
    the channel differences hold ~2.9, 0.22 of ``noise_flat``: grain, not noisy.  The same layer with
    sigma 25 drawn per channel: ``noise_chroma`` ~16, 1.65 of ``noise_flat``: noisy."""
    rng = np.random.default_rng(7)
    col = np.array([150.0, 115.0, 75.0])[:, None, None] * np.ones((3, 200, 300))
    grain = _layer(col * (1 + 0.2 * rng.normal(0, 1, (200, 300))))
    noise = _layer(col + rng.normal(0, 25, (3, 200, 300)))
    out = QualityIssues(issues=["noisy"]).evaluate([torch.from_numpy(grain), torch.from_numpy(noise)])
    m = {k: np.asarray(v, dtype=np.float64) for k, v in out.metrics.items()}
    np.testing.assert_allclose(m["opacity"], [0.4, 0.4])
    mad, flat, chroma = m["noise_robust"], m["noise_flat"], m["noise_chroma"]
    assert mad[0] > 20 and m["noise"][0] <= 1.3 * mad[0] and flat[0] / 0.5 > mad[0]
    assert mad[0] <= math.exp2(m["grey_entropy"][0] + 0.5 - 2.047095585180641)  # the entropy bound holds it
    assert chroma[0] < 0.3 * flat[0] and chroma[1] > 1.5 * flat[1]
    assert n_mod.shared_grain(m).tolist() == [True, False]
    np.testing.assert_allclose(out.scores["noisy"], [0.0, min(mad[1], flat[1] / 0.5)], rtol=1e-9)
    assert out.flags["noisy"].tolist() == [False, True]
    # opaque, the same grain is judged by the grey checks as before (photos: JPEG's 4:2:0 hides their
    # chroma noise) - but its brightness moves with its colour (every channel ``col · (1 + 0.2 g)``):
    # the colour residual predicts the grey one, ``grain_free`` under 0.75, painted (noisyterr17) -
    # judged so on a tile-sized image only (short side <= 64 px: a toned photo reads as low)
    opaque = dict(m, opacity=np.ones(2))
    assert m["grain_free"][0] < 0.1 and m["grain_free"][1] > 0.95
    np.testing.assert_allclose(issue_scores(opaque)[0]["noisy"][0], mad[0], rtol=1e-9)  # 200 x 300: as before
    tile = dict(opaque, width=np.full(2, 64.0), height=np.full(2, 64.0))
    assert issue_scores(tile)[0]["noisy"][0] == 0.0
    without = {k: v for k, v in opaque.items() if k != "grain_free"}  # metrics gathered before it
    np.testing.assert_allclose(issue_scores(without)[0]["noisy"][0], mad[0], rtol=1e-9)


def test_per_channel_term_needs_grey_levels_that_hold_it() -> None:
    """The per-channel term scores ``noise_chroma / 0.45`` only while ``noise_chroma`` is at most the
    entropy bound ``2 ** (H / (1 - clipped) + 0.5 - 2.0471)``: ImageMagick's 128 px ``granite``
    pattern (``noise_chroma`` 5.01, ``noise_flat`` 3.38, 3.19 bits of grey: bound 2 ** 1.643 = 3.12)
    is 0; with a photo's 6 bits (bound 2 ** 4.45 = 21.9) the same figures score 5.01 / 0.45."""
    m = quality_rows(
        3,
        noise_chroma=[5.01, 5.01, 5.01],
        noise_flat=[3.38, 3.38, 3.38],
        noise_robust=[5.61, 5.61, 5.61],
        noise=[5.62, 5.62, 5.62],
        grey_entropy=[3.19, 6.0, 2.6],
        dark_clipped=[0.0, 0.0, 0.1],
        bright_clipped=[0.0, 0.0, 0.1],
        width=[128.0] * 3,
        height=[128.0] * 3,
    )
    cap = n_mod.noise_entropy_cap(m)
    bits = np.array([3.19, 6.0, 2.6 / 0.8]) + 0.5 - 2.047095585180641
    np.testing.assert_allclose(cap, np.exp2(bits), rtol=1e-12)
    # the third: 2.6 bits over the unclipped 80 %: 3.25 bits, bound 3.41 < 5.01
    np.testing.assert_allclose(n_mod.chroma_noise_score(m), [0.0, 5.01 / 0.45, 0.0], rtol=1e-12)
    assert QualityIssues().evaluate(m).flags["noisy"].tolist() == [False, True, False]


def _periodic(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth grey field of side ``n`` that wraps around (white noise low-passed in the Fourier domain), sigma 1."""
    f = np.fft.fft2(rng.normal(size=(n, n)))
    k = np.fft.fftfreq(n)
    t = np.real(np.fft.ifft2(f * np.exp(-((k[:, None] ** 2 + k[None] ** 2) / (2 * 0.05**2)))))
    return (t - t.mean()) / t.std()


def test_a_tile_s_grain_is_not_noise_a_picture_s_noise_is() -> None:
    """terrain16: a 256 x 256 tile - a smooth field (sigma 30) with pixel grain (sigma 20) shared by R, G
    and B, the 128-px pattern repeated 2 x 2, so it continues across its own borders - reads as
    Gaussian noise of sigma ~19 and was ``noisy``; it wraps around (``seam_ratio`` 1 within sampling,
    ``seam_corr`` the field's share of the variance, ~0.7): 0.  The same kind of picture cut from a
    larger field (its edges different parts), with the same grain: still ``noisy``.  Without the seam
    figures (metrics gathered before them) both are scored as before."""
    assert n_mod.SEAM_MAX_RATIO == 1.5 and n_mod.SEAM_MIN_CORR == 1.0 / 6.0
    rng = np.random.default_rng(16)
    base = 128 + 30 * _periodic(rng, 128) + rng.normal(0, 20, (128, 128))
    tile = np.tile(base, (2, 2))
    cut = (128 + 30 * _periodic(rng, 512))[:256, 128:384] + rng.normal(0, 20, (256, 256))
    imgs = [torch.from_numpy(np.clip(np.round(t), 0, 255).astype(np.uint8)[None].repeat(3, 0)) for t in (tile, cut)]
    out = QualityIssues(issues=["noisy"]).evaluate(imgs)
    m = {k: np.asarray(v, dtype=np.float64) for k, v in out.metrics.items()}
    assert 0.6 < m["seam_ratio"][0] < 1.4 and 0.5 < m["seam_corr"][0] < 0.85
    assert m["seam_ratio"][1] > 2.0
    assert n_mod.tileable(m).tolist() == [True, False]
    assert (m["noise_robust"] > 15).all() and (m["noise_chroma"] < 1).all()  # grain shared by the channels
    assert out.flags["noisy"].tolist() == [False, True]
    assert out.scores["noisy"][0] == 0.0
    before = {k: v for k, v in m.items() if not k.startswith("seam_")}
    old, _ = issue_scores(before)
    assert (old["noisy"] > 8.5).all()
    np.testing.assert_array_equal(old["noisy"][1], out.scores["noisy"][1])
