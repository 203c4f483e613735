"""noisyterr17 (2026-12-08): ``grain_free`` (functional/quality_grain.py) - ``1 − R²`` of the channel
mean's Immerkær response regressed on the channel differences' over the unclipped positions of the
noise window - against a float64 reference on hand-made cases (grey noise and per-channel noise on a
colour picture about 1, grain painted with brightness moving with colour low), the compiled kernel
equal to the torch path on a mixed batch, and ``noisy``'s rule (``painted_grain``): the Gaussian and
per-channel terms 0 under ``GRAIN_FREE_MIN``, the impulse term untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors.quality_noise_rules import (
    GRAIN_FREE_MIN,
    chroma_noise_score,
    noisy_score,
    painted_grain,
)
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics, quality_metrics_stacks
from dataeval_gpu.functional.quality_grain import grain_free_from_sums, grain_rows, grain_sums
from tests.reference import grain_free_ref


def _picture(rng: np.random.Generator, h: int = 120, w: int = 150) -> np.ndarray:
    """A smooth colour picture (float64 ``(3, h, w)``) kept off 0 and 255."""
    base = ndimage.gaussian_filter(rng.normal(128, 50, (3, h, w)), sigma=(0, 4, 4))
    return np.clip(base, 30, 225)


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    pic = _picture(rng)
    grey_noise = rng.normal(0, 12, pic.shape[1:])
    # painted grain: one random draw per pixel moving brightness and hue together (R = G, B apart)
    t = rng.normal(0, 1, pic.shape[1:])
    painted = pic + np.stack([20 * t, 20 * t, 6 * t])
    return {
        "grey_noise": np.clip(np.round(pic + grey_noise), 0, 255).astype(np.uint8),
        "channel_noise": np.clip(np.round(pic + rng.normal(0, 12, pic.shape)), 0, 255).astype(np.uint8),
        "painted": np.clip(np.round(painted), 0, 255).astype(np.uint8),
        "clipped_painted": np.clip(np.round(painted * 1.6 - 60), 0, 255).astype(np.uint8),
    }


def test_hand_made_cases_match_the_float64_reference() -> None:
    imgs = _cases()
    want = {k: grain_free_ref(v.astype(np.float64)) for k, v in imgs.items()}
    assert want["grey_noise"] > 0.97 and want["channel_noise"] > 0.97  # noise: the colour predicts nothing
    assert want["painted"] < 0.3  # painted grain: its colour residual predicts its grey one
    x = torch.from_numpy(np.stack(list(imgs.values())))
    box = (0, 0, *x.shape[-2:])
    torch_free = grain_free_from_sums(grain_sums(x, box)).tolist()
    assert torch_free == pytest.approx(list(want.values()), rel=1e-9, abs=1e-12)
    if quality_compiled.ready():
        assert (grain_rows(x, box) == grain_sums(x, box).numpy()).all()  # the same integer sums


def test_degenerate_cases() -> None:
    rng = np.random.default_rng(5)
    grey = np.repeat(np.clip(np.round(_picture(rng)[:1] + rng.normal(0, 10, (1, 120, 150))), 0, 255), 3, 0)
    flat = np.full((3, 40, 40), 100.0)
    black = np.zeros((3, 40, 40))
    small = np.clip(np.round(_picture(rng, 12, 12) + rng.normal(0, 10, (3, 12, 12))), 0, 255)  # 100 positions < 256
    x = torch.from_numpy(np.stack([grey]).astype(np.uint8))
    # R = G = B: no colour residual, nothing predicted (1, the one-direction and no-direction cases)
    assert grain_free_from_sums(grain_sums(x, (0, 0, 120, 150))).item() == 1.0
    for img in (flat, black, small):
        t = torch.from_numpy(img.astype(np.uint8)[None])
        assert grain_free_from_sums(grain_sums(t, (0, 0, *img.shape[1:]))).item() == 1.0 == grain_free_ref(img)
    # one colour direction: u = 2 v everywhere (R - G = 2 (B - G)) and m a multiple of it
    t = rng.normal(0, 1, (60, 60))
    one_dir = np.clip(np.round(128 + np.stack([30 * t, 10 * t, 20 * t])), 0, 255)
    got = grain_free_from_sums(grain_sums(torch.from_numpy(one_dir.astype(np.uint8)[None]), (0, 0, 60, 60))).item()
    assert got == pytest.approx(grain_free_ref(one_dir), abs=1e-9)
    assert got < 0.01


def _mixed() -> dict[str, np.ndarray]:
    imgs = _cases()
    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:120, 0:150]
    disc = (np.clip((1 - np.hypot(yy - 60, xx - 75) / 50) * 6, 0, 1) * 255).astype(np.uint8)
    rgb = imgs["channel_noise"]
    return {
        **imgs,
        "grey": rgb[:1], "rgba": np.concatenate([imgs["painted"], disc[None]]),
        "rgba_opaque": np.concatenate([imgs["painted"], np.full((1, 120, 150), 255, np.uint8)]),
        "la": np.concatenate([rgb[:1], disc[None]]), "rgb16": rgb.astype(np.uint16) * 257,
        "rgbf": imgs["painted"].astype(np.float32) / 255, "tiny": rgb[:, :2, :3],
        "small": rng.integers(1, 255, (3, 16, 16)).astype(np.uint8),
    }  # fmt: skip


@pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
def test_compiled_equals_torch_on_a_mixed_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    imgs = _mixed()
    names = list(imgs)
    fast = quality_metrics(list(imgs.values()))["grain_free"].numpy()
    stacks = quality_metrics_stacks([torch.from_numpy(v)[None] for v in imgs.values()])["grain_free"].numpy()
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics(list(imgs.values()))["grain_free"].numpy()
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(stacks, fast)
    got = dict(zip(names, fast.tolist(), strict=True))
    ref = _cases()
    for key in ("grey_noise", "channel_noise", "painted", "clipped_painted", "rgba_opaque", "rgbf", "rgb16"):
        src = ref.get(key, ref["painted"] if key in ("rgba_opaque", "rgbf") else ref["channel_noise"])
        assert got[key] == pytest.approx(grain_free_ref(src.astype(np.float64)), abs=1e-6), key
    # with alpha: the composite on mid grey over the positions whose neighbourhood is opaque
    a = imgs["rgba"][3] == 255
    comp = np.round(imgs["rgba"][:3].astype(np.float64) * imgs["rgba"][3] / 255 + 128 * (1 - imgs["rgba"][3] / 255))
    assert got["rgba"] == pytest.approx(grain_free_ref(comp, a), abs=1e-6)
    assert got["grey"] == got["la"] == got["tiny"] == got["small"] == 1.0  # one channel; under 256 positions


def test_noisy_rule_leaves_painted_grain_and_keeps_impulses() -> None:
    n = 4
    m = {
        "noise": np.array([12.0, 12.0, 30.0, 12.0]), "noise_robust": np.array([10.0, 10.0, 10.0, 10.0]),
        "noise_flat": np.array([8.0, 8.0, 8.0, 8.0]), "impulse_share": np.array([0.0, 0.0, 0.03, 0.0]),
        "grey_entropy": np.full(n, 7.5), "dark_clipped": np.zeros(n), "bright_clipped": np.zeros(n),
        "grain_free": np.array([0.99, 0.5, 0.5, GRAIN_FREE_MIN]),
        "noise_chroma": np.full(n, 12.0), "opacity": np.ones(n), "width": np.full(n, 64.0), "height": np.full(n, 96.0),
    }  # fmt: skip
    assert painted_grain(m).tolist() == [False, True, True, False]
    score = noisy_score(m)
    assert score[0] == pytest.approx(10.0) and score[3] == pytest.approx(10.0)  # the MAD estimate
    assert score[1] == 0.0  # painted grain: no Gaussian term
    assert score[2] == pytest.approx(30.0 - 1.3 * 10.0)  # the impulse term untouched
    chroma = chroma_noise_score(m)
    assert chroma[0] > 0 and chroma[1] == chroma[2] == 0.0
    large = {**m, "width": np.full(n, 65.0)}  # over PAINTED_GRAIN_MAX_SIDE: a toned photo's noise reads low too
    assert not painted_grain(large).any() and noisy_score(large)[1] == pytest.approx(10.0)
    without = {k: v for k, v in m.items() if k != "grain_free"}  # metrics gathered before it: as before
    assert noisy_score(without)[1] == pytest.approx(10.0)
