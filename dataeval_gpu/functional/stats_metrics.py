"""The built-in metrics: DataEval 0.65's image statistics, then DataEval 1.x's additions.

Each ``register(Metric(...))`` below is the whole definition of a metric (see
:mod:`dataeval_gpu.functional.registry` for the fields and for how to add one).  The order
of registration is the order of the output keys and of the ``ImageStat`` flag values, so new
metrics go at the end.
"""

from __future__ import annotations

import math

import torch

from .registry import Metric, register
from .stats_kernels import EPS, blur_from_lap_counts, float_laplacian, population_std
from .stats_passes import CountRows, FloatRows

__all__: list[str] = []

F64, I64 = torch.float64, torch.int64
INF = math.inf
#: the range of a mean of scaled pixels: 0-1, but 0.65's bit depth 1 leaves a float image's values
#: under 2 as they are (functional/bitdepth.py)
SCALED = (0.0, 2.0)
_PROPS, _VISUALS, _PIXELS, _V1 = "ALL_PROPERTIES", "ALL_VISUALS", "ALL_PIXELSTATS", "ALL_V1"


def _bucket(r: FloatRows):  # noqa: ANN202 - the Bucket of image rows
    if r.bucket is None:  # pragma: no cover - image metrics always get image rows
        raise ValueError("this metric needs image rows")
    return r.bucket


def _hw(r: FloatRows) -> float:
    h, w = _bucket(r).raw.shape[-2:]
    return float(h * w)


def _float_nzero(r: FloatRows) -> torch.Tensor:
    b = _bucket(r)
    return (b.as_float.reshape(b.raw.shape[0], -1) == 0).sum(-1).to(F64)


def _float_blur(r: FloatRows) -> torch.Tensor:
    """std of clip(Laplacian(mean over channels of the raw values) + 0.5, 0, 255)."""
    b = _bucket(r)
    g = b.as_float.mean(1)
    return population_std((float_laplacian(g) + 0.5).clamp(0, 255).reshape(g.shape[0], -1))


def _float_sharp(r: FloatRows) -> torch.Tensor:
    """blurriness of the perceptual 0-255 view: scaled values × 255, clipped.

    NaN pixels stay NaN through the clamp, so a NaN image has NaN sharpness; ±inf pixels
    clamp to 0 / 255 here (finite), even where the raw blurriness is NaN (inf − inf).
    """
    b = _bucket(r)
    gp = (b.scaled * 255.0).clamp(0, 255).mean(1)
    return population_std((float_laplacian(gp) + 0.5).clamp(0, 255).reshape(gp.shape[0], -1))


def _p255(values: dict[str, torch.Tensor]) -> torch.Tensor:
    return (values["percentiles"] * 255.0).clamp(0, 255)


def _contrast(values: dict[str, torch.Tensor]) -> torch.Tensor:
    p255 = _p255(values)
    return (p255.amax(-1) - p255.amin(-1)) / (p255.mean(-1) + EPS)


def _count_blur(r: CountRows, k: torch.Tensor) -> torch.Tensor:
    if r.lap is None or r.channels is None:  # pragma: no cover - image rows carry them
        raise ValueError("this metric needs image rows")
    return blur_from_lap_counts(r.lap, r.cmax, r.channels, k)


def _shape(name: str, flag: str, unit: str, fn, valid: tuple[float, float] = (1, INF)) -> None:  # noqa: ANN001
    register(Metric(name, flag, _PROPS, unit, I64 if name != "aspect_ratio" else F64, "shape", fn, valid=valid))


def _moment(key: str, unit: str, valid: tuple[float, float] = (-INF, INF)) -> None:
    register(
        Metric(key, key.upper(), _PIXELS, unit, F64, "counts",
               lambda r: r.moments[key], lambda r: r.moments[key], per_channel=True, valid=valid)
    )  # fmt: skip


# --------------------------------------------------------------------- 0.65: properties
_shape("width", "WIDTH", "pixels", lambda s: s.width)
_shape("height", "HEIGHT", "pixels", lambda s: s.height)
_shape("size", "SIZE", "pixels (H·W)", lambda s: s.height * s.width)
_shape("aspect_ratio", "ASPECT_RATIO", "W / H", lambda s: s.width.to(F64) / s.height.to(F64), (0, INF))
_shape("channels", "CHANNELS", "count", lambda s: s.channels)
register(
    Metric("depth", "DEPTH", _PROPS, "bits", I64, "counts", lambda r: r.depth, lambda r: _bucket(r).depth,
           valid=(0, INF))  # 0: an image with negative values
)

# --------------------------------------------------------------------- 0.65: visuals
register(
    Metric("brightness", "BRIGHTNESS", _VISUALS, "mean of scaled pixels, 0–1", F64, "counts",
           lambda r: r.moments["mean"], lambda r: r.moments["mean"], valid=SCALED)
)  # fmt: skip
register(
    Metric("blurriness", "BLURRINESS", _VISUALS, "std of Laplacian", F64, "counts",
           lambda r: _count_blur(r, torch.ones_like(r.hw)), _float_blur, valid=(0, INF))
)  # fmt: skip
register(
    Metric("missing", "MISSING", _VISUALS, "fraction NaN", F64, "counts",
           lambda r: torch.zeros(r.counts.shape[0], dtype=F64, device=r.counts.device),
           lambda r: torch.isnan(_bucket(r).as_float).flatten(1).sum(-1).to(F64) / _hw(r), valid=(0, 1))
)  # fmt: skip
register(
    Metric("zero", "ZERO", _VISUALS, "zero pixels / (H·W)", F64, "counts",
           lambda r: r.counts[:, 0].to(F64) / r.hw.to(F64), lambda r: _float_nzero(r) / _hw(r), valid=(0, INF))
)  # fmt: skip

# --------------------------------------------------------------------- 0.65: pixel statistics
_moment("mean", "scaled pixels, 0–1", SCALED)
_moment("std", "scaled pixels", (0, INF))
_moment("var", "scaled pixels²", (0, INF))
_moment("skew", "unitless")
_moment("kurtosis", "excess, unitless", (-2, INF))  # excess kurtosis: at least -2 (two levels, half each)
register(
    Metric("entropy", "ENTROPY", _PIXELS, "nats", F64, "counts",
           lambda r: r.entropy, lambda r: r.entropy, per_channel=True, valid=(0, INF))
)  # fmt: skip
register(
    Metric("percentiles", "PERCENTILES", _PIXELS, "scaled pixels, 0–1", F64, "counts",
           lambda r: r.percentiles, lambda r: r.percentiles, shape=(5,), per_channel=True)
)  # fmt: skip
register(
    Metric("histogram", "HISTOGRAM", _PIXELS, "pixels per bin", I64, "counts",
           lambda r: r.histogram, lambda r: r.histogram, shape=(256,), per_channel=True)
)  # fmt: skip

# --------------------------------------------------------------------- DataEval 1.x additions
register(
    Metric("darkness", "DARKNESS", _V1, "0–255", F64, "derived",
           lambda v: _p255(v)[:, 3], needs=("percentiles",), valid=(0, 255))
)  # fmt: skip
register(
    Metric("contrast", "CONTRAST", _V1, "0–255", F64, "derived",
           _contrast, needs=("percentiles",), valid=(0, INF))
)  # fmt: skip
register(
    Metric("sharpness", "SHARPNESS", _V1, "0–255", F64, "counts",
           # perceptual 0-255 view: x255 at depth 1, unchanged at depth 8
           lambda r: _count_blur(r, torch.where(r.depth == 1, 255, 1)), _float_sharp, valid=(0, INF))
)  # fmt: skip
register(
    Metric("zeros", "ZEROS", _V1, "fraction of zero pixels", F64, "counts",
           lambda r: r.counts[:, 0].to(F64) / (r.hw * r.channels).to(F64),
           lambda r: _float_nzero(r) / (_hw(r) * _bucket(r).raw.shape[1]), valid=(0, 1))
)  # fmt: skip
