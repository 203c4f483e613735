"""seeblur16 (2026-12-07): ``colour_free`` (functional/quality_alpha_colour.py) - the share of a
see-through image's visible colour variance its alpha level does not set - against a float64 numpy
reference written from its definition and hand-checked cases, the compiled kernel against the torch
path (the same integer sums), and ``blurry``'s rule: not judged on an image drawn in its alpha (a
shadow, a glow), judged as before on a blurred icon and on metrics gathered without the key."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import dataeval_gpu.functional.quality_alpha_colour as qac
from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.detectors.quality_rules import ALPHA_DRAWN_MAX, alpha_drawn
from dataeval_gpu.functional.quality_alpha_colour import (
    ALPHA_BINS,
    COLOUR_FLOOR,
    alpha_colour_sums,
    colour_free,
    colour_free_from_sums,
)
from dataeval_gpu.functional.quality_alpha_colour_compiled import alpha_colour_sums_u8
from tests.reference import colour_free_ref as reference_colour_free
from tests.reference import grey_levels_ref


def colour_free_ref(img: np.ndarray) -> float:
    """From the definition (``tests.reference.colour_free_ref``): the visible colour's 256-level grey
    (exact luma of 8-bit) weighted by the alpha; 1 without alpha."""
    x = np.asarray(img)
    if x.shape[0] not in (2, 4):
        return 1.0
    return reference_colour_free(grey_levels_ref(x[:-1]), x[-1])


def _glow(side: int, colour_follows: bool, gauss: bool = False) -> np.ndarray:
    """A radial glow: alpha falls from 255 at the centre to 0 (linearly, or as a Gaussian of σ a
    sixth of the side); one white ink, or white at the core and yellow where it fades (the colour a
    function of the alpha)."""
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    r = np.hypot(y, x)
    a = 255 * np.exp(-0.5 * (r / (side / 6)) ** 2) if gauss else np.clip(255 * (1 - r / (side / 2)), 0, 255)
    blue = a if colour_follows else np.full_like(a, 255)
    return np.stack([np.full_like(a, 255), np.full_like(a, 255), blue, a]).round().astype(np.uint8)


def _icon(rng: np.random.Generator, side: int = 64) -> np.ndarray:
    """An opaque picture of its own colours (smoothed noise) in a disc on a transparent canvas,
    blurred as eval_icons.py plants blur (σ 2 of the premultiplied RGBA)."""
    col = ndimage.gaussian_filter(rng.normal(128, 70, (3, side, side)), sigma=(0, 3, 3)).clip(0, 255)
    y, x = np.mgrid[:side, :side] - (side - 1) / 2
    a = np.where(np.hypot(y, x) < side * 0.4, 255.0, 0.0)
    pre = np.concatenate([col * a / 255.0, a[None]])
    b = ndimage.gaussian_filter(pre, sigma=(0, 2, 2))
    un = np.where(b[3:] > 0, b[:3] * 255.0 / np.maximum(b[3:], 1e-9), 0)
    return np.concatenate([un.clip(0, 255), b[3:]]).round().astype(np.uint8)


def test_hand_checked() -> None:
    """One ink, a colour set by the alpha: 0.  Two opaque inks of grey 0 and 200 in equal parts (one
    bin): all their variance within it, 1.  The same two inks, one at alpha 255, the other at 128
    (two bins): the alpha explains it all, 0.  Two inks 2 levels apart: under the floor (one ink),
    variance 1 over 16.  Nothing visible: 0; no alpha: 1."""
    one_ink = _glow(33, colour_follows=False)
    follows = _glow(33, colour_follows=True)
    two = np.zeros((2, 4, 4), np.uint8)
    two[0, :, 2:] = 200
    two[1] = 255
    split = two.copy()
    split[1, :, 2:] = 128
    near = two.copy()
    near[0, :, 2:] = 2
    nothing = np.zeros((4, 8, 8), np.uint8)
    rgb = np.full((3, 8, 8), 90, np.uint8)
    got = colour_free(torch.from_numpy(np.stack([one_ink, follows]))).tolist()
    assert got[0] == 0.0 and 0.0 < got[1] < 0.01  # yellow to white: the grey a step within each bin
    assert got[1] == pytest.approx(colour_free_ref(follows), rel=1e-12)
    assert colour_free(torch.from_numpy(two[None])).item() == 1.0
    assert colour_free(torch.from_numpy(split[None])).item() == 0.0
    assert colour_free(torch.from_numpy(near[None])).item() == pytest.approx(1.0 / 16.0)  # variance 1 < 16
    assert colour_free(torch.from_numpy(nothing[None])).item() == 0.0
    assert colour_free(torch.from_numpy(rgb[None])).item() == 1.0
    assert COLOUR_FLOOR == 16.0 and ALPHA_BINS == 16


@pytest.mark.parametrize("shape", [(4, 37, 41), (2, 20, 33), (4, 130, 70)])
def test_matches_float64_reference_and_torch_equals_kernel(
    shape: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random images with alpha (and a blurred icon): the value from the definition in float64; the
    compiled kernel's integer sums equal the torch path's (what a GPU runs), so the values are equal."""
    rng = np.random.default_rng(sum(shape))
    imgs = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2)]
    imgs[1][-1] = (imgs[1][-1] // 64) * 85  # alpha on four levels: bins 0, 5, 10, 15
    x = torch.from_numpy(np.stack(imgs))
    compiled = alpha_colour_sums(x)
    assert torch.equal(compiled, torch.stack([alpha_colour_sums_u8(t) for t in x]))
    monkeypatch.setattr(qac.quality_compiled, "ready", lambda: False)
    torch_sums = alpha_colour_sums(x)
    assert torch_sums.dtype == torch.int64 and torch.equal(torch_sums, compiled)
    got = colour_free_from_sums(torch_sums).tolist()
    assert got == pytest.approx([colour_free_ref(i) for i in imgs], rel=1e-12, abs=1e-12)
    # float images, alpha and colour on [0, 1]: the same weights; the float luma may round an exact
    # tie (299 R + 587 G + 114 B = 500 mod 1000, ~0.1 % of the pixels) to the other level
    f = colour_free(x.to(torch.float64) / 255.0).tolist()
    assert f == pytest.approx(got, rel=1e-5)
    icon = _icon(rng)
    assert colour_free(torch.from_numpy(icon[None])).item() == pytest.approx(colour_free_ref(icon), rel=1e-12)


def test_registry_metric_with_and_without_alpha() -> None:
    """``colour_free`` is measured with the quality metrics: 1 without alpha, its value with it."""
    rng = np.random.default_rng(3)
    glow, icon = _glow(64, colour_follows=True), _icon(rng)
    photo = rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)
    m = QualityIssues().metrics([glow, icon, photo])
    assert m["colour_free"][0].item() == pytest.approx(colour_free_ref(glow), abs=1e-6)
    assert m["colour_free"][1].item() == pytest.approx(colour_free_ref(icon), abs=1e-6)
    assert m["colour_free"][2].item() == 1.0


def test_blurry_not_judged_on_an_image_drawn_in_its_alpha() -> None:
    """A soft white glow and a soft black shadow (blurred silhouette) score ``blurry`` 0; a blurred
    colour icon keeps its flag (``colour_free`` far over the bound); without the key both glow and
    shadow are flagged as before."""
    rng = np.random.default_rng(7)
    glow = _glow(64, colour_follows=True, gauss=True)
    sil = np.zeros((96, 96))
    sil[20:76, 30:66] = 255
    shadow = np.zeros((4, 96, 96), np.uint8)
    shadow[3] = ndimage.gaussian_filter(sil, 4).round().astype(np.uint8)
    icon = _icon(rng, 96)
    qi = QualityIssues()
    m = qi.metrics([glow, shadow, icon])
    cf = m["colour_free"].tolist()
    assert cf[0] < 0.01 and cf[1] == 0.0 and cf[2] > 0.5 > ALPHA_DRAWN_MAX
    out = qi.evaluate(m)
    assert out.flags["blurry"].tolist() == [False, False, True]
    assert out.scores["blurry"][:2].tolist() == [0.0, 0.0]
    # without colour_free (and softblur17's edge_span, under which the glow is a soft design too)
    before = qi.evaluate({k: v for k, v in m.items() if k not in ("colour_free", "edge_span")})
    assert before.flags["blurry"].tolist() == [True, True, True]
    assert before.scores["blurry"][2] == out.scores["blurry"][2]


def test_alpha_drawn_bound_hand_checked() -> None:
    """Rows alike but for ``opacity`` / ``colour_free``: see-through under the bound only."""
    m = {
        "grey_p99": np.full(5, 0.5),
        "opacity": np.array([0.3, 0.3, 0.3, 1.0, 0.98]),
        "colour_free": np.array([0.0, ALPHA_DRAWN_MAX, 0.099, 0.0, 0.05]),
    }
    assert ALPHA_DRAWN_MAX == 0.1
    assert alpha_drawn(m).tolist() == [True, False, True, False, True]
    assert not alpha_drawn({k: v for k, v in m.items() if k != "colour_free"}).any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu() -> None:
    """The torch path on a GPU: the same integer sums, so the same values."""
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.integers(0, 256, (3, 4, 50, 60), dtype=np.uint8))
    gpu = colour_free(x.cuda())
    assert gpu.device.type == "cuda"
    assert gpu.cpu().tolist() == colour_free(x).tolist()
