"""The metric registry: every derived view matches DataEval 0.65's layout, and a new metric
registered once shows up everywhere (imagestats, StatsOutput, ImageStat, Linter, summary, plots)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import registry
from dataeval_gpu.functional.registry import Metric

ROOT = Path(__file__).resolve().parents[2]

# the keys, orders and units before the registry (main at the time of the change)
OLD_IMAGE_KEYS = (
    "width", "height", "size", "aspect_ratio", "channels", "depth", "brightness", "blurriness",
    "missing", "zero", "mean", "std", "var", "skew", "kurtosis", "entropy", "percentiles",
    "histogram", "darkness", "contrast", "sharpness", "zeros",
)  # fmt: skip
OLD_SUMMARY_KEYS = (
    "width", "height", "channels", "size", "aspect_ratio", "depth", "brightness", "blurriness",
    "missing", "zero", "mean", "std", "var", "skew", "kurtosis", "entropy",
    "darkness", "contrast", "sharpness", "zeros",
)  # fmt: skip
OLD_FIELDS = (
    "xxhash", "pchash", "width", "height", "channels", "size", "aspect_ratio", "depth", "brightness",
    "blurriness", "missing", "zero", "mean", "std", "var", "skew", "kurtosis", "percentiles",
    "histogram", "entropy", "ch_idx_map", "darkness", "contrast", "sharpness", "zeros",
)  # fmt: skip


def test_derived_views_keep_the_065_layout():
    from dataeval_gpu.audit import SUMMARY_KEYS
    from dataeval_gpu.flags import METRIC_FLAGS, ImageStat
    from dataeval_gpu.functional.quality import QUALITY_KEYS
    from dataeval_gpu.functional.stats import CHANNEL_KEYS, IMAGE_KEYS
    from dataeval_gpu.metrics import StatsOutput
    from dataeval_gpu.report import histograms as plots

    # the quality metrics (functional/quality_stats.py) come after 0.65's and 1.x's
    assert IMAGE_KEYS == OLD_IMAGE_KEYS + QUALITY_KEYS
    assert CHANNEL_KEYS == ("mean", "std", "var", "skew", "kurtosis", "entropy", "percentiles", "histogram")
    assert SUMMARY_KEYS == OLD_SUMMARY_KEYS + QUALITY_KEYS
    assert tuple(f.name for f in fields(StatsOutput)) == OLD_FIELDS + QUALITY_KEYS
    assert METRIC_FLAGS == ImageStat.ALL_STATS | ImageStat.ALL_V1 | ImageStat.ALL_QUALITY
    assert plots.GUIDE_METRICS == (
        "size", "aspect_ratio", "channels", "mean", "std", "var", "skew", "kurtosis",
        "zero", "brightness", "blurriness", "entropy",
    )  # fmt: skip
    assert plots._MORE_METRICS == (
        "width",
        "height",
        "depth",
        "missing",
        "darkness",
        "contrast",
        "sharpness",
        "zeros",
        *QUALITY_KEYS,
    )
    assert plots._UNITS["blurriness"] == "std of Laplacian" and plots._UNITS["entropy"] == "nats"
    # DataEval 0.65's flag values (bit k for the k-th flag of its enum)
    import dataeval.flags as ref_flags  # the reference package

    for member in ref_flags.ImageStat:
        assert int(ImageStat[member.name]) == int(member), member.name


def test_definitions_are_checked():
    f64 = torch.float64
    with pytest.raises(ValueError, match="compute_float"):
        Metric("x", "X", None, "u", f64, "counts", lambda r: r.n)
    with pytest.raises(ValueError, match="kind"):
        Metric("x", "X", None, "u", f64, "pixels", lambda r: r)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lower-case"):
        Metric("Bad", "BAD", None, "u", f64, "joint", lambda b: b)
    with pytest.raises(ValueError, match="per_channel"):
        Metric("x", "X", None, "u", f64, "joint", lambda b: b, per_channel=True)


def test_registering_after_the_registry_was_read_is_refused():
    import dataeval_gpu.flags  # noqa: F401 - builds ImageStat: the registry is read

    late = Metric("late", "LATE", None, "u", torch.float64, "joint", lambda b: b.scaled.mean((1, 2, 3)))
    with pytest.raises(ValueError, match="already read"):
        registry.register(late)
    assert "late" not in registry.image_keys()


# A toy metric needing each pixel's (R, G, B) triple jointly: the mean over pixels of
# max(channel) - min(channel) of the scaled values (0 for a grey image stored as RGB).
TOY = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    from dataeval_gpu.functional import registry
    from dataeval_gpu.functional.registry import Metric

    def rgb_spread(bucket):
        s = bucket.scaled
        return (s.amax(1) - s.amin(1)).mean((1, 2))

    registry.register(Metric("rgb_spread", "RGB_SPREAD", "ALL_TOY", "scaled pixels, 0–1", torch.float64, "joint", rgb_spread))

    from dataeval_gpu.audit import SUMMARY_KEYS
    from dataeval_gpu.detectors import Linter
    from dataeval_gpu.flags import ImageStat, METRIC_FLAGS
    from dataeval_gpu.functional.stats import IMAGE_KEYS, image_statistics
    from dataeval_gpu.metrics import StatsOutput, imagestats
    from dataeval_gpu.report import histograms as plots
    from dataclasses import fields

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 20, 30), dtype=np.uint8) for _ in range(11)]
    grey = rng.integers(0, 256, (1, 20, 30), dtype=np.uint8)
    imgs.append(np.repeat(grey, 3, axis=0))          # grey stored as RGB: spread 0
    imgs.append(rng.integers(0, 65536, (3, 17, 9)).astype(np.uint16).astype(np.int32))
    imgs.append(rng.random((3, 60, 20)).astype(np.float32))
    imgs.append(rng.integers(0, 256, (3, 160, 140), dtype=np.uint8))  # big: counted on its own
    out = imagestats(imgs, ImageStat.RGB_SPREAD | ImageStat.BRIGHTNESS)
    ts = [torch.from_numpy(a) for a in imgs]
    cpu, _ = image_statistics(ts, metrics=["rgb_spread"], backend="cpu")
    cuda, _ = image_statistics(ts, metrics=["rgb_spread"], backend="cuda")
    lint = Linter(flags=ImageStat.RGB_SPREAD).evaluate(imgs[:12])
    json.dump({
        "image_keys": list(IMAGE_KEYS),
        "fields": [f.name for f in fields(StatsOutput)],
        "dict_keys": list(out.dict()),
        "rgb_spread": out.rgb_spread.tolist(),
        "brightness": out.brightness.tolist(),
        # float sums over a big image may differ in the last bits with the intra-op thread count
        "cpu_vs_cuda_plan": float(((cpu["rgb_spread"] - cuda["rgb_spread"]).abs() / cpu["rgb_spread"].abs().clamp_min(1e-300)).max()),
        "flag_in_group": bool(ImageStat.RGB_SPREAD & ImageStat.ALL_TOY),
        "flag_in_metric_flags": bool(ImageStat.RGB_SPREAD & METRIC_FLAGS),
        "flag_value": int(ImageStat.RGB_SPREAD),
        "linter_issues": {str(k): v for k, v in lint.issues.items()},
        "summary_keys": list(SUMMARY_KEYS),
        "unit": plots._UNITS.get("rgb_spread"),
        "plotted": "rgb_spread" in plots._MORE_METRICS,
    }, sys.stdout)
    """
)


def _reference_rgb_spread(img: np.ndarray) -> float:
    x = img.astype(np.float64)
    if img.dtype == np.uint8:
        x = x / 255.0 if x.max() >= 2 else x
    elif np.issubdtype(img.dtype, np.floating):
        pass  # values in [0, 1]: depth 1, unchanged
    else:
        d = next(d for d in (1, 8, 12, 16, 32) if 2.0**d > x.max())
        x = x / (2.0**d - 1)
    return float((x.max(0) - x.min(0)).mean())


def test_a_registered_metric_appears_everywhere():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-c", TOY], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    from dataeval_gpu.functional.quality import QUALITY_KEYS

    assert got["image_keys"] == [*OLD_IMAGE_KEYS, *QUALITY_KEYS, "rgb_spread"]
    assert got["fields"] == [*OLD_FIELDS, *QUALITY_KEYS, "rgb_spread"]
    assert got["dict_keys"] == ["brightness", "rgb_spread"]
    assert got["flag_in_group"] and got["flag_in_metric_flags"]
    # the next bit after ZEROS and the quality metrics: 0.65's values unchanged
    assert got["flag_value"] == 1 << (24 + len(QUALITY_KEYS))
    assert got["summary_keys"] == [*OLD_SUMMARY_KEYS, *QUALITY_KEYS, "rgb_spread"]
    assert got["unit"] == "scaled pixels, 0–1" and got["plotted"]
    assert got["cpu_vs_cuda_plan"] < 1e-13
    # float64 reference, on the same images
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 20, 30), dtype=np.uint8) for _ in range(11)]
    grey = rng.integers(0, 256, (1, 20, 30), dtype=np.uint8)
    imgs.append(np.repeat(grey, 3, axis=0))
    imgs.append(rng.integers(0, 65536, (3, 17, 9)).astype(np.uint16).astype(np.int32))
    imgs.append(rng.random((3, 60, 20)).astype(np.float32))
    imgs.append(rng.integers(0, 256, (3, 160, 140), dtype=np.uint8))
    want = [_reference_rgb_spread(a) for a in imgs]
    np.testing.assert_allclose(got["rgb_spread"], want, rtol=1e-12, atol=1e-15)
    assert got["rgb_spread"][11] == 0.0
    want_bright = [float(a.astype(np.float64).mean() / (255.0 if a.dtype == np.uint8 else 1.0)) for a in imgs]
    np.testing.assert_allclose(
        [got["brightness"][i] for i in (0, 11, 14)], [want_bright[i] for i in (0, 11, 14)]
    )
    # the Linter lints the new flag: the grey-as-RGB image is the outlier among colour noise
    assert list(got["linter_issues"]) == ["11"]
    assert got["linter_issues"]["11"] == {"rgb_spread": 0.0}
