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
    m = {k: torch.zeros(n, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(n, dtype=torch.float64)}
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
    assert "Immerkær σ 30 less its floor 11" in out.why(1)[0]
    assert "Immerkær σ 22.6 less its floor 11.8" in out.why(2)[0]
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


def test_shape_detail_scales_a_silhouettes_ink_to_black_or_white() -> None:
    """``shape_detail``: a silhouette's ``detail`` times ``0.5 / |grey_p50 - 0.5|`` (at least 1, the
    distance at least one grey level); opaque images, images of more than one ink and black or
    white ink keep their ``detail`` (hand-computed)."""
    m = _metrics(
        5,
        detail=[0.0362, 0.0362, 0.0362, 0.02, 0.01],
        grey_p50=[69 / 255, 69 / 255, 0.0, 0.5, 0.6],
        grey_entropy=[0.0, 0.0, 0.0, 0.0, 2.0],
        opacity=[0.1, 1.0, 0.1, 0.1, 0.1],
    )
    assert q_mod.SILHOUETTE_INK_MIN == 1 / 255
    want = [0.0362 * 0.5 / (0.5 - 69 / 255), 0.0362, 0.0362, 0.02 * 0.5 * 255, 0.01]
    np.testing.assert_allclose(q_mod.shape_detail({k: v.numpy() for k, v in m.items()}), want, rtol=1e-12)
    # the sheet of #454545 glyphs: 0.079 >= LOW_INFO_DETAIL, not low information; the opaque one is judged
    s = issue_scores(m)[0]["low_information"]
    assert s[0] == 0.0 and s[1] == pytest.approx(8.0) and s[2] == pytest.approx(8.0 - (0.4689955935892812))


def _sheet(ink: int, cells: int = 15) -> np.ndarray:
    """A 240 x 256 grey + alpha sprite sheet: a glyph (a 9 px cross) in every 16 px cell of a
    ``cells`` x ``cells`` grid, one ink on transparent (as jQuery UI's icon sheets)."""
    a = np.zeros((240, 256), np.uint8)
    yy, xx = np.mgrid[0:16, 0:16]
    glyph = ((np.abs(yy - 8) <= 4) & (xx == 8)) | ((np.abs(xx - 8) <= 4) & (yy == 8))
    for r in range(cells):
        for c in range(cells):
            a[16 * r : 16 * r + 16, 16 * c : 16 * c + 16][glyph] = 255
    return np.stack([np.full_like(a, ink), a])


def test_sprite_sheet_of_grey_glyphs_is_not_low_information() -> None:
    """Stellarium's web UI ships jQuery UI icon sheets (256 x 240, grey or blue glyphs on
    transparent, 10 % opaque, 0.47 bit seen; here 6 %): composited on mid grey, ``#454545`` glyphs are 59
    levels from the backdrop, under a quarter of black glyphs' detail, and were
    ``low_information``.  The detail is linear in the ink's distance from the backdrop (checked
    here against the black sheet), so the sheet is judged as black glyphs.  One glyph on a large
    transparent canvas, and a blank canvas, stay low information."""
    grey, black = _sheet(69), _sheet(0)
    one = np.zeros((2, 240, 256), np.uint8)
    one[:, 112:128, 120:136] = _sheet(69)[:, :16, :16]
    blank = np.zeros((2, 240, 256), np.uint8)
    out = QualityIssues(issues=["low_information"]).evaluate([torch.from_numpy(x) for x in (grey, black, one, blank)])
    m = out.metrics
    assert (m["opacity"][:2] < 0.1).all() and (m["occupancy"][[0, 2]] < q_mod.LOW_INFO_OCCUPANCY).all()
    assert m["grey_p50"][0] == pytest.approx(69 / 255) and m["grey_entropy"][0] == 0.0
    assert m["detail"][0] < q_mod.LOW_INFO_DETAIL <= m["detail"][1]  # grey glyphs: under the bound as measured
    # the composite is 128 + alpha (ink - 128), rounded: the grey sheet's detail is the black one's
    # times (128 - 69) / 128 but for the rounding
    assert m["detail"][0] == pytest.approx(m["detail"][1] * (128 - 69) / 128, rel=0.02)
    assert q_mod.shape_detail(m)[0] == pytest.approx(m["detail"][1] * (128 - 69) / 128 * 0.5 / (0.5 - 69 / 255), rel=0.02)
    assert out.flags["low_information"].tolist() == [False, False, True, True]
    # without the silhouette scaling (detail as measured) the grey sheet was low information
    assert out.scores["low_information"][0] == 0.0
    assert 8.0 - q_mod.seen_entropy(m)[0] > 7.5
