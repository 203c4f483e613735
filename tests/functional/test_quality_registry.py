"""The quality metrics through the metric registry: imagestats, both stats plans, the Linter."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics
from dataeval_gpu.functional.stats import image_statistics


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 40, 50), dtype=np.uint8) for _ in range(5)]
    imgs.append(np.repeat(rng.integers(0, 256, (1, 40, 50), dtype=np.uint8), 3, axis=0))  # grey as RGB
    imgs.append(rng.integers(0, 256, (3, 70, 64), dtype=np.uint8))
    imgs.append((rng.random((3, 30, 20)) * 0.5).astype(np.float32))
    # with alpha (measured as seen: levels of the visible pixels, noise / blockiness where
    # opaque): an RGBA picture in an opaque disc, and grey + alpha
    yy, xx = np.mgrid[0:80, 0:72]
    disc = (np.clip((1.0 - np.hypot(yy - 40, xx - 36) / 34.0) * 8.0, 0.0, 1.0) * 255).round().astype(np.uint8)
    imgs.append(np.concatenate([rng.integers(0, 256, (3, 80, 72), dtype=np.uint8), disc[None]]))
    imgs.append(np.concatenate([rng.integers(0, 256, (1, 80, 72), dtype=np.uint8), disc[None]]))
    return imgs


def test_registry_values_equal_the_functional_metrics_on_both_plans() -> None:
    imgs = _images()
    ts = [torch.from_numpy(a) for a in imgs]
    want = quality_metrics(ts)  # the registry computes in the images' own float32 / float64 path
    want64 = quality_metrics([t.to(torch.float64) for t in ts])
    cpu, _ = image_statistics(ts, metrics=list(QUALITY_KEYS), backend="cpu")
    cuda_plan, _ = image_statistics(ts, metrics=list(QUALITY_KEYS), backend="cuda")  # forced on CPU tensors
    for key in QUALITY_KEYS:
        np.testing.assert_allclose(
            cpu[key].numpy(), want[key].numpy().astype(np.float64), rtol=1e-6, err_msg=key
        )
        # float32 against the float64 definition: a 256-level histogram bin may move on a tie
        np.testing.assert_allclose(cpu[key].numpy(), want64[key].numpy(), rtol=1e-4, atol=5e-3, err_msg=key)
        np.testing.assert_allclose(
            cuda_plan[key].numpy(), cpu[key].numpy(), rtol=1e-6, atol=1e-9, err_msg=key
        )


def test_imagestats_flags_and_linter() -> None:
    from dataeval_gpu.detectors import Linter
    from dataeval_gpu.flags import ImageStat
    from dataeval_gpu.metrics import imagestats

    imgs = _images()[:7]
    out = imagestats(imgs, ImageStat.ALL_QUALITY)
    assert set(QUALITY_KEYS) <= set(out.dict())
    assert out.channel_spread[5] == 0.0 and min(out.channel_spread[:5]) > 0.3
    # 0.65's groups do not include the quality metrics
    assert not ImageStat.COLOURFULNESS & ImageStat.ALL
    lint = Linter(flags=ImageStat.CHANNEL_SPREAD).evaluate(imgs)
    assert list(lint.issues) == [5]
