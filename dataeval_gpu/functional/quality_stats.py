"""The quality metrics in the metric registry: one ``"joint"`` definition each.

All of them come from one pass of :func:`~dataeval_gpu.functional.quality.quality_metrics_batch`
over a size bucket; the pass runs once per bucket (kept for the bucket's lifetime) and each
definition reads its key.  They form the ``ImageStat.ALL_QUALITY`` group, so they appear in
``imagestats``, ``StatsOutput``, the Linter's supported flags, the audit summary and the
report's plots; DataEval 0.65's groups (``ALL_STATS``, ``ALL``) do not include them.
"""

from __future__ import annotations

import threading
import weakref

import torch

from .quality import QUALITY_KEYS, quality_metrics_batch, quality_metrics_stacks
from .registry import Metric, register

__all__: list[str] = []

_GROUP = "ALL_QUALITY"
_UNITS = {
    "colourfulness": "Hasler–Süsstrunk M, 0–255 scale",
    "channel_spread": "mean max−min over channels, 0–1",
    "chroma_rg": "mean R−G, 0–255 scale",
    "chroma_bg": "mean B−G, 0–255 scale",
    "norm_sharpness": "finest/next octave RMS ratio",
    "coarse_sharpness": "ratio at 64 px",
    "detail": "RMS of finest band, 0–1",
    "noise": "Immerkær σ, grey levels",
    "noise_robust": "MAD σ, grey levels",
    "dark_clipped": "share of pixels ≤ 5/255",
    "bright_clipped": "share of pixels ≥ 250/255",
    "grey_p001": "grey level, 0–1",
    "grey_p01": "grey level, 0–1",
    "grey_p50": "grey level, 0–1",
    "grey_p99": "grey level, 0–1",
    "grey_entropy": "bits",
    "blockiness": "border / other step ratio",
    "fine_sharpness": "native-resolution octave ratio",
    "opacity": "mean alpha, 0–1 (1 without alpha)",
    "grey_p0001": "grey level, 0–1",
    "dark_p001": "darkest-channel level, 0–1",
    "bright_p99": "brightest-channel highlights, 0–1",
    "bright_p9999": "brightest-channel peak, 0–1",
    "noise_flat": "Immerkær σ of the flattest blocks, grey levels",
    "impulse_share": "share of isolated impulses, 0–1",
    "occupancy": "share of 16×16 grid cells spanning 64+ grey levels, 0–1",
    "motion_ratio": "weakest / strongest direction's fine-to-coarse ratio, 0–1",
    "motion_energy": "weakest direction's 8-px second-difference energy, grey levels²",
    "motion_angle": "weakest direction, degrees (0 horizontal, 90 vertical)",
    "motion_cross": "perpendicular of the weakest direction's fine-to-coarse ratio / the strongest's, 0–1",
    "motion_peak": "weakest direction's fine-to-coarse ratio at its sharpest 8-px tile",
    "noise_chroma": "Immerkær σ per channel of R−G, B−G in the flattest blocks, grey levels",
    "colour_free": "share of the visible colour's grey variance its alpha level does not set, 0–1 (1 without alpha)",
    "seam_ratio": "wrap-around seam's squared step / its neighbours', larger direction",
    "seam_corr": "border lines' correlation across the wrap-around seam, smaller direction, −1–1",
    "edge_span": "widest span of a 16 x 16 grid cell's grey levels over the whole image's, 0–1 (0 flat)",
    "grain_free": "share of the grey noise residual the colour residual does not predict, 0–1 (1 below three channels)",
}
_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _all(bucket, group: bool = False) -> dict[str, torch.Tensor]:  # noqa: ANN001 - a stats_passes.Bucket(Group)
    """Every quality metric of the bucket (or of a group of buckets, in order), float64,
    computed once per bucket (group)."""
    with _lock:
        got = _cache.get(bucket)
    if got is None:
        # float32 (float64 only for float64 images): 3-4x cheaper; every step is written to be
        # batch-size independent (shifted adds, per-row reductions), so the CPU plan (one
        # image per pool thread, finished per batch) and the stacked device plan still agree
        if group:
            got = quality_metrics_stacks([b.raw for b in bucket.buckets], map_fn=bucket.map_fn)
        else:
            got = quality_metrics_batch(bucket.raw)
        # float64 rows as the registry stores them: one conversion for all keys (exact)
        got = dict(zip(got, torch.stack(list(got.values())).to(torch.float64).unbind(0), strict=True))
        with _lock:
            _cache[bucket] = got
    return got


def _define(key: str) -> None:
    register(
        Metric(
            key,
            key.upper(),
            _GROUP,
            _UNITS[key],
            torch.float64,
            "joint",
            lambda bucket: _all(bucket)[key],
            compute_group=lambda group: _all(group, True)[key],
        )
    )


for _key in QUALITY_KEYS:
    _define(_key)
