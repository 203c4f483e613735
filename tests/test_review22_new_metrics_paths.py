"""review22: the metrics this session's branches appended at once (motion16's ``motion_peak``,
seeblur16's ``colour_free``, terrain16's ``seam_ratio`` / ``seam_corr``), merged by hand into
``quality.py``'s compiled rows / finishing step and its torch path: the compiled CPU path and the
torch path (what a GPU runs) give the same values for a mixed batch - grey, RGB, RGBA, grey + alpha,
16-bit, float, and images too small for the motion and seam figures - through ``quality_metrics`` and
the scan's ``quality_metrics_stacks``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics, quality_metrics_stacks

pytestmark = pytest.mark.skipif(not quality_compiled.ready(), reason="numba kernels unavailable")
NEW = ("motion_peak", "colour_free", "seam_ratio", "seam_corr")


def _batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)

    def photo(c: int, h: int, w: int) -> np.ndarray:
        base = ndimage.gaussian_filter(rng.normal(128, 60, (c, h, w)), sigma=(0, 2, 2))
        return np.clip(base + rng.normal(0, 6, (c, h, w)), 0, 255).astype(np.uint8)

    yy, xx = np.mgrid[0:96, 0:120]
    disc = (np.clip((1 - np.hypot(yy - 48, xx - 60) / 40) * 6, 0, 1) * 255).astype(np.uint8)
    return {
        "grey": photo(1, 96, 120), "rgb": photo(3, 96, 120),
        "rgba": np.concatenate([photo(3, 96, 120), disc[None]]), "la": np.concatenate([photo(1, 96, 120), disc[None]]),
        "rgb16": photo(3, 96, 120).astype(np.uint16) * 257, "rgbf": photo(3, 96, 120).astype(np.float32) / 255,
        "rgba16": np.concatenate([photo(3, 96, 120), disc[None]]).astype(np.uint16) * 257,
        "tiny": photo(3, 2, 3), "one": photo(3, 1, 1), "tiny_grey": photo(1, 5, 7),
        "tiny_rgba": np.concatenate([photo(3, 4, 4), rng.integers(0, 256, (1, 4, 4)).astype(np.uint8)]),
    }  # fmt: skip


def test_new_metrics_equal_on_the_compiled_and_torch_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    imgs = _batch()
    names = list(imgs)
    fast = quality_metrics(list(imgs.values()))
    stacks = quality_metrics_stacks([torch.from_numpy(v)[None] for v in imgs.values()])
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics(list(imgs.values()))
    for key in QUALITY_KEYS:
        np.testing.assert_allclose(fast[key].numpy(), slow[key].numpy(), rtol=2e-5, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(stacks[key].numpy(), fast[key].numpy(), rtol=2e-5, atol=1e-6, err_msg=key)
    got = {k: dict(zip(names, fast[k].tolist(), strict=True)) for k in NEW}
    # the figures are measured, not their defaults: see-through colour under 1, opaque 1; seams and
    # motion_peak measured from 4 / 64 px a side, their defaults (0; 1) below
    assert got["colour_free"]["rgba"] < 1.0 and got["colour_free"]["la"] < 1.0 and got["colour_free"]["rgb"] == 1.0
    assert got["colour_free"]["tiny_rgba"] < 1.0
    assert got["seam_ratio"]["rgb"] > 1.5 and got["seam_ratio"]["tiny_grey"] > 0.0
    assert got["seam_ratio"]["tiny"] == got["seam_corr"]["tiny"] == 0.0
    assert 0.0 < got["motion_peak"]["rgb"] < 1.0 and got["motion_peak"]["tiny"] == 1.0
