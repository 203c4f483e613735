"""The metric registry: one definition per per-image metric, everything else derives from it.

A :class:`Metric` names the metric, its ``ImageStat`` flag and group, its unit, dtype and
shape, and how it is computed.  From the registry come: the output keys of
:func:`~dataeval_gpu.functional.stats.image_statistics` and their order (``IMAGE_KEYS``,
``CHANNEL_KEYS``), the members of :class:`~dataeval_gpu.flags.ImageStat`, the fields of
:class:`~dataeval_gpu.metrics.stats.StatsOutput`, the flags the ``Linter`` accepts, the
audit's summary keys, and the report's plotted metrics and axis units.

How a metric is computed (``kind``)
-----------------------------------
``"shape"``
    ``compute(shapes)`` from the image sizes only (:class:`~dataeval_gpu.functional.stats_passes.Shapes`).
``"counts"``
    From the per-channel value counts of 8-bit images: ``compute(rows)`` gets a
    :class:`~dataeval_gpu.functional.stats_passes.CountRows` (one row per image, its
    channels pooled, or per (image, channel) for ``per_channel`` metrics).  Images of other
    dtypes take the *direct float pass*: ``compute_float(rows)`` gets a
    :class:`~dataeval_gpu.functional.stats_passes.FloatRows` of the same rows as float64
    values.  Both must give the same definition.
``"joint"``
    From all of an image's pixels at once (e.g. the (R, G, B) triple of each pixel), over a
    stack of same-size images: ``compute(bucket)`` gets a
    :class:`~dataeval_gpu.functional.stats_passes.Bucket` holding ``(B, C, H, W)`` raw
    pixels (any dtype), their bit depth and the 0.65-scaled float64 values, and returns
    ``(B, *shape)``.  Runs on the thread pool with the value counting on the CPU.  A metric
    may also give ``compute_group``: the CPU plan then hands it a batch's buckets at once
    (several sizes), so that its per-image arithmetic runs once per batch.
``"derived"``
    ``compute(values)`` from other metrics of the same images (named in ``needs``), e.g.
    darkness from the percentiles.

How to add a metric
-------------------
1. Write its batched function (torch, no Python loop over images or pixels; results on
   the input's device) in the module of its kind: ``functional/stats_kernels.py`` helpers,
   ``functional/stats_passes.py`` contexts.
2. Add one ``register(Metric(...))`` to :mod:`dataeval_gpu.functional.stats_metrics`
   (or to a module listed in :data:`DEFINITION_MODULES`).  The flag is created on the
   ``ImageStat`` enum from ``flag``; a new ``group`` name becomes a new ``ImageStat``
   group flag (e.g. ``"ALL_QUALITY"``).
3. Add a float64 numpy reference of it to ``tests/reference.py`` and a test comparing them
   (and, for a ``"joint"`` or ``"counts"`` metric, one with ``backend="cuda"`` forced on
   CPU tensors).
Nothing else changes: imagestats, StatsOutput, the Linter, DataAudit's summary and the
report pick it up.  Registration must happen before :mod:`dataeval_gpu.flags` is imported
(the first read of the registry freezes it), which the module list guarantees.

Examples
--------
>>> [m.name for m in metrics()][:4]
['width', 'height', 'size', 'aspect_ratio']
>>> get("brightness").flag, get("brightness").group, get("brightness").kind
('BRIGHTNESS', 'ALL_VISUALS', 'counts')
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..errors import InvalidArgumentError

__all__ = [
    "Metric",
    "Kind",
    "DEFINITION_MODULES",
    "V065_FIELDS",
    "GUIDE_PLOT_ORDER",
    "register",
    "metrics",
    "get",
    "image_keys",
    "channel_keys",
    "output_names",
    "scalar_names",
    "units",
    "valid_ranges",
]

Kind = Literal["shape", "counts", "joint", "derived"]
_KINDS = ("shape", "counts", "joint", "derived")

#: modules whose import registers metrics, in order (the built-ins first)
DEFINITION_MODULES = ("dataeval_gpu.functional.stats_metrics", "dataeval_gpu.functional.quality_stats")

#: DataEval 0.65's ``StatsOutput`` field order (the hashes and ``ch_idx_map`` are not metrics)
V065_FIELDS = (
    "xxhash", "pchash", "width", "height", "channels", "size", "aspect_ratio", "depth",
    "brightness", "blurriness", "missing", "zero", "mean", "std", "var", "skew", "kurtosis",
    "percentiles", "histogram", "entropy", "ch_idx_map",
)  # fmt: skip

#: the metrics the Data Cleaning Guide plots, in its order
GUIDE_PLOT_ORDER = (
    "size", "aspect_ratio", "channels", "mean", "std", "var", "skew", "kurtosis",
    "zero", "brightness", "blurriness", "entropy",
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """One per-image metric.

    Attributes
    ----------
    name : output key (lower case), also the ``StatsOutput`` field.
    flag : its ``ImageStat`` member name (upper case).
    group : the ``ImageStat`` group flag it belongs to (``"ALL_VISUALS"``, ...), or None.
    unit : axis label unit of the report's plots.
    dtype : output dtype (``torch.float64`` or ``torch.int64``).
    kind : ``"shape"``, ``"counts"``, ``"joint"`` or ``"derived"`` (module docstring).
    compute : the batched function of its kind.
    compute_float : ``"counts"`` metrics: the same metric from float rows (images that are
        not 8-bit).
    shape : trailing shape of one image's value (``()`` scalar, ``(5,)``, ``(256,)``).
    per_channel : also computed per channel (``channelstats``); ``"counts"`` metrics only.
    needs : ``"derived"`` metrics: the metrics ``compute`` reads.
    compute_group : ``"joint"`` metrics, optional: the values of several buckets at once, in
        order (a :class:`~dataeval_gpu.functional.stats_passes.BucketGroup`: the CPU plan's
        buckets of one batch), equal to ``compute`` of each bucket concatenated.
    valid : ``(lowest, highest)`` value the metric can take (``width`` at least 1, ``brightness``
        0-1; unbounded by default): the report shows no Linter bound beyond it (``valid_ranges``).
    """

    name: str
    flag: str
    group: str | None
    unit: str
    dtype: torch.dtype
    kind: Kind
    compute: Callable[[Any], torch.Tensor]
    compute_float: Callable[[Any], torch.Tensor] | None = None
    shape: tuple[int, ...] = ()
    per_channel: bool = False
    needs: tuple[str, ...] = ()
    compute_group: Callable[[Any], torch.Tensor] | None = None
    valid: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise InvalidArgumentError(f"metric name must be a lower-case identifier, got {self.name!r}")
        if not self.flag.isidentifier() or self.flag != self.flag.upper():
            raise InvalidArgumentError(
                f"metric {self.name}: flag must be an upper-case identifier, got {self.flag!r}"
            )
        if self.kind not in _KINDS:
            raise InvalidArgumentError(f"metric {self.name}: kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "counts" and self.compute_float is None:
            raise InvalidArgumentError(
                f"metric {self.name}: a 'counts' metric needs compute_float (non-8-bit images)"
            )
        if self.per_channel and self.kind != "counts":
            raise InvalidArgumentError(f"metric {self.name}: only 'counts' metrics can be per_channel")
        if self.compute_group is not None and self.kind != "joint":
            raise InvalidArgumentError(f"metric {self.name}: only 'joint' metrics have compute_group")
        if not self.valid[0] < self.valid[1]:
            raise InvalidArgumentError(f"metric {self.name}: valid must be (lowest, highest), got {self.valid!r}")
        if self.kind == "derived" and not self.needs:
            raise InvalidArgumentError(f"metric {self.name}: a 'derived' metric names the metrics it needs")


_lock = threading.Lock()
_registry: dict[str, Metric] = {}
_state = {"loaded": False, "loading": False, "frozen": False}


def _load() -> None:
    """Import the definition modules once (they call :func:`register`)."""
    with _lock:
        if _state["loaded"] or _state["loading"]:
            return
        _state["loading"] = True
    try:
        for mod in DEFINITION_MODULES:
            importlib.import_module(mod)
    finally:
        _state["loading"] = False
    _state["loaded"] = True


def register(metric: Metric) -> Metric:
    """Add ``metric`` after the ones registered so far; returns it.

    Raises ``InvalidArgumentError`` for a repeated name or flag, a ``derived`` metric whose
    ``needs`` are not registered yet, or a registry already read (frozen).
    """
    _load()
    with _lock:
        if _state["frozen"]:
            raise InvalidArgumentError(
                f"metric {metric.name}: the registry was already read (dataeval_gpu.flags built ImageStat); "
                "register metrics from a module in DEFINITION_MODULES or before importing the rest of the package"
            )
        if metric.name in _registry:
            raise InvalidArgumentError(f"metric {metric.name!r} is already registered")
        if any(m.flag == metric.flag for m in _registry.values()):
            raise InvalidArgumentError(f"metric {metric.name}: flag {metric.flag} is already used")
        missing = [n for n in metric.needs if n not in _registry]
        if missing:
            raise InvalidArgumentError(
                f"metric {metric.name} needs {missing}, which are not registered before it"
            )
        _registry[metric.name] = metric
    return metric


def metrics() -> tuple[Metric, ...]:
    """All registered metrics in registration order (reading freezes the registry)."""
    _load()
    if not _state["loading"]:
        _state["frozen"] = True
    return tuple(_registry.values())


def get(name: str) -> Metric:
    """The metric called ``name``."""
    for m in metrics():
        if m.name == name:
            return m
    raise InvalidArgumentError(f"unknown metric {name!r}; registered: {[m.name for m in metrics()]}")


def image_keys() -> tuple[str, ...]:
    """Per-image output keys, in registration order."""
    return tuple(m.name for m in metrics())


def channel_keys() -> tuple[str, ...]:
    """Per-channel output keys, in registration order."""
    return tuple(m.name for m in metrics() if m.per_channel)


def output_names() -> tuple[str, ...]:
    """Metric names in ``StatsOutput`` order: 0.65's fields first, then the others as registered."""
    names = image_keys()
    return tuple(n for n in V065_FIELDS if n in names) + tuple(n for n in names if n not in V065_FIELDS)


def scalar_names() -> tuple[str, ...]:
    """The one-value-per-image metrics, in ``StatsOutput`` order (the summary and the plots)."""
    by_name = {m.name: m for m in metrics()}
    return tuple(n for n in output_names() if by_name[n].shape == ())


def units() -> dict[str, str]:
    """{metric: axis unit}."""
    return {m.name: m.unit for m in metrics()}


def valid_ranges() -> dict[str, tuple[float, float]]:
    """{metric: (lowest, highest) value it can take} (:attr:`Metric.valid`)."""
    return {m.name: m.valid for m in metrics()}
