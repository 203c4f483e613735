"""Batched per-image and per-channel statistics with DataEval 0.65's definitions.

Which metrics exist, and how each is computed, is the metric registry's business
(:mod:`dataeval_gpu.functional.registry`, definitions in
:mod:`dataeval_gpu.functional.stats_metrics`).  This module runs the passes they need over a
ragged batch and assembles one row per image:

* **value counts** (uint8 and bool images): every pixel statistic is a function of the
  per-channel count of each raw value, and blurriness is the population std of a function
  of the integer 3×3 Laplacian of the channel sum, so it too comes from a count of its
  values.  Counting is exact and cheap.
* **direct float pass** (floats, 16-bit and wider integers): float64 reductions over a
  stacked size bucket ``(B, C, H, W)``; percentiles by a sort; the Laplacian with kornia.
* **joint pass** (metrics of all of a pixel's channels at once): over the same stacks.

Two execution plans (``backend``) give the same integers and the same floats to the last
bit: ``"cpu"`` counts each big image straight from its uint8 buffer, images spread over the
thread pool of :mod:`dataeval_gpu.parallel` (torch releases the GIL); ``"cuda"`` (used for
any non-CPU device) stacks images by size and counts a whole stack with one bincount over
``(image·C + c)·256 + value``.  Tests force the ``"cuda"`` plan on CPU tensors.

No Python loop runs over pixels, and the results stay on the input's device.  Outputs are
dicts of tensors with one row per image (``(N,)``, ``(N, 5)``, ``(N, 256)``) or, for the
per-channel set, one row per (image, channel) pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch

from ..errors import InvalidArgumentError
from ..parallel import map_images, single_intra_op_thread
from . import registry, stats_compiled
from .bitdepth import bit_depth
from .registry import Metric
from .stats_kernels import QUARTILES, count_uint8, laplacian
from .stats_passes import Bucket, BucketGroup, CountRows, Shapes

__all__ = [
    "QUARTILES",
    "IMAGE_KEYS",
    "CHANNEL_KEYS",
    "BACKENDS",
    "bit_depth",
    "image_statistics",
    "laplacian",
]

#: keys of :func:`image_statistics`'s per-image output, in the registry's order (DataEval
#: 0.65's first, then 1.x additions, then any metric registered after them)
IMAGE_KEYS = registry.image_keys()
#: keys of the per-channel output (one row per image and channel)
CHANNEL_KEYS = registry.channel_keys()
#: execution plans of :func:`image_statistics`
BACKENDS = ("auto", "cpu", "cuda")

_BIG = 65536  # pixels·channels from which the "cpu" plan counts an image on its own
_STACK = 1 << 22  # most values in one stacked bincount


@dataclass
class _Plan:
    """The metrics to compute, by kind, and the requested output order."""

    order: tuple[str, ...]
    by_kind: dict[str, list[Metric]] = field(default_factory=lambda: defaultdict(list))
    channel: list[Metric] = field(default_factory=list)


def _make_plan(names: Sequence[str] | None, per_image: bool, per_channel: bool) -> _Plan:
    every = registry.metrics()
    known = {m.name: m for m in every}
    if names is None:
        wanted = set(known)
    else:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidArgumentError(f"metrics: unknown {unknown}; registered: {list(known)}")
        wanted = set(names)
    plan = _Plan(order=tuple(m.name for m in every if m.name in wanted) if per_image else ())
    if per_image:
        needed = set(wanted)
        for m in reversed(every):  # needs are registered before their users
            if m.name in needed:
                needed.update(m.needs)
        for m in every:
            if m.name in needed:
                plan.by_kind[m.kind].append(m)
    if per_channel:
        plan.channel = [m for m in every if m.per_channel]
    return plan


def _is_8bit(t: torch.Tensor) -> bool:
    return t.dtype in (torch.uint8, torch.bool)


def _tasks(as_u8: list[torch.Tensor], cpu_plan: bool) -> list[list[int]]:
    """Stacks to count: on the "cpu" plan big images one by one (per-channel uint8 bincount,
    no widening), other images stacked by shape (one widened bincount per stack)."""
    tasks: list[list[int]] = []
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for j, t in enumerate(as_u8):
        if cpu_plan and t.numel() >= _BIG:
            tasks.append([j])
        else:
            groups[tuple(t.shape)].append(j)
    for shape, js in groups.items():
        per = max(1, _STACK // max(1, int(torch.tensor(shape).prod())))
        tasks.extend(js[k : k + per] for k in range(0, len(js), per))
    return tasks


def _eight_bit_rows(
    images: Sequence[torch.Tensor], eight: list[int], shapes: torch.Tensor, plan: _Plan, cpu_plan: bool
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per-image values of the "counts" and "joint" metrics (and the per-channel values) of 8-bit images."""
    dev = images[eight[0]].device
    c_all, h_all, w_all = shapes[:, 0], shapes[:, 1], shapes[:, 2]
    counted = bool(plan.by_kind["counts"] or plan.channel)
    # on the CPU plan the metrics that can finish a batch's buckets together do so (one set of
    # small tensor operations per batch, not per image); the others run per bucket in ``run``
    grouped = [m for m in plan.by_kind["joint"] if cpu_plan and m.compute_group is not None]
    joint = [m for m in plan.by_kind["joint"] if m not in grouped]
    cmax = int(c_all[eight].max())
    as_u8 = [images[i].view(torch.uint8) if images[i].dtype == torch.bool else images[i] for i in eight]
    tasks = _tasks(as_u8, cpu_plan)

    def run(js: list[int]) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, dict[str, torch.Tensor], Bucket]:
        x = as_u8[js[0]].unsqueeze(0) if len(js) == 1 else torch.stack([as_u8[j] for j in js])
        counts = None
        if counted and cpu_plan and len(js) == 1 and x.device.type == "cpu" and stats_compiled.ready():
            counts = stats_compiled.count_image_u8(x[0], cmax)  # one pass, same integers
        elif counted:
            counts = count_uint8(x, cmax, per_row_bincount=cpu_plan and len(js) == 1)
        bucket = Bucket(x)
        return counts, {m.name: m.compute(bucket) for m in joint}, bucket

    results = map_images(run, tasks) if cpu_plan else [run(js) for js in tasks]
    order = torch.tensor([j for js in tasks for j in js], dtype=torch.int64)
    inv_cpu = torch.empty_like(order)
    inv_cpu[order] = torch.arange(order.numel())
    inv = inv_cpu.to(dev)
    values = {m.name: torch.cat([r[1][m.name] for r in results])[inv] for m in joint}
    if grouped:
        group = BucketGroup([r[2] for r in results], map_images)
        values.update({m.name: m.compute_group(group).to(dev)[inv] for m in grouped})  # type: ignore[misc]
    ch_values: dict[str, torch.Tensor] = {}
    if not counted:
        return values, ch_values
    img_counts = torch.cat([r[0][0].sum(1) for r in results])[inv]  # channels pooled
    lap = torch.cat([r[0][1] for r in results])[inv]
    idx8 = torch.tensor(eight, dtype=torch.int64)
    c8 = c_all[idx8].to(dev)
    hw8 = (h_all[idx8] * w_all[idx8]).to(dev)
    nz = img_counts > 0
    maxv = torch.where(nz, torch.arange(256, device=dev).expand_as(img_counts), -1).amax(-1)
    depth8 = bit_depth(torch.zeros_like(maxv), maxv)
    rows = CountRows(img_counts, depth8, hw8, c8, lap, cmax)
    values.update({m.name: m.compute(rows) for m in plan.by_kind["counts"]})
    if plan.channel:
        blocks = [r[0][0][k] for r in results for k in range(r[0][0].shape[0])]
        ch_counts = torch.cat([blocks[i] for i in inv_cpu.tolist()])  # (image, channel) rows; no device sync
        ch = CountRows(ch_counts, torch.repeat_interleave(depth8, c8), torch.repeat_interleave(hw8, c8))
        ch_values = {m.name: m.compute(ch) for m in plan.channel}
    return values, ch_values


def _direct_rows(
    images: Sequence[torch.Tensor], idxs: list[int], plan: _Plan
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per-image (and per-channel) values of a stack of same-size images that are not 8-bit."""
    bucket = Bucket(torch.stack([images[i] for i in idxs]))
    values = {m.name: m.compute_float(bucket.image_rows) for m in plan.by_kind["counts"]}  # type: ignore[misc]
    values.update({m.name: m.compute(bucket) for m in plan.by_kind["joint"]})
    ch_values = {m.name: m.compute_float(bucket.channel_rows) for m in plan.channel}  # type: ignore[misc]
    return values, ch_values


def image_statistics(
    images: Sequence[torch.Tensor],
    per_image: bool = True,
    per_channel: bool = False,
    *,
    metrics: Sequence[str] | None = None,
    backend: str = "auto",
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Per-image (and optionally per-channel) statistics of a ragged batch.

    Parameters
    ----------
    images : sequence of ``(C, H, W)`` tensors, any real dtype, all on one device.
    per_image : compute the per-image set (:data:`IMAGE_KEYS`, or ``metrics``).
    per_channel : also compute the per-channel set (:data:`CHANNEL_KEYS`), one row per
        (image, channel) in image order, plus ``"row_image"`` (position in ``images``) and
        ``"row_channel"``.
    metrics : names of the per-image metrics to compute (registry order kept); all when None.
    backend : ``"auto"`` (the device's plan), ``"cpu"`` or ``"cuda"`` (the stacked plan of
        non-CPU devices, runnable on CPU tensors); both give the same values.

    Returns
    -------
    (image_stats, channel_stats): dicts of tensors on the images' device; scalars are
    ``(N,)`` float64 (int64 for the properties), ``percentiles`` ``(N, 5)``, ``histogram``
    ``(N, 256)`` int64.  ``channel_stats`` is None unless asked for.

    Examples
    --------
    >>> import torch
    >>> img = torch.tensor([[[0, 255], [255, 0]]], dtype=torch.uint8)
    >>> st, _ = image_statistics([img])
    >>> float(st["mean"][0]), float(st["zero"][0]), int(st["depth"][0])
    (0.5, 0.5, 8)
    """
    if backend not in BACKENDS:
        raise InvalidArgumentError(f"backend must be one of {BACKENDS}, got {backend!r}")
    plan = _make_plan(metrics, per_image, per_channel)
    n = len(images)
    if n == 0:
        return {}, ({} if per_channel else None)
    dev = images[0].device
    cpu_plan = backend == "cpu" or (backend == "auto" and dev.type == "cpu")
    shapes = torch.tensor([list(t.shape) for t in images], dtype=torch.int64)

    rows: dict[str, list[tuple[list[int], torch.Tensor]]] = defaultdict(list)
    ch_rows: dict[str, list[tuple[list[int], torch.Tensor]]] = defaultdict(list)
    pixel_work = bool(plan.by_kind["counts"] or plan.by_kind["joint"] or plan.channel)
    eight = [i for i, t in enumerate(images) if _is_8bit(t)]
    parts: list[tuple[list[int], tuple[dict, dict]]] = []
    if eight and pixel_work:
        parts.append((eight, _eight_bit_rows(images, eight, shapes, plan, cpu_plan)))
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(images):
        if not _is_8bit(t):  # stacks of one shape and dtype: torch.stack would promote (or refuse uint16)
            groups[(tuple(t.shape), t.dtype)].append(i)
    if pixel_work and groups:
        # one intra-op thread on the CPU: float reductions (kornia's convolution, sums) split
        # across threads round differently, and a row must not depend on where it is measured
        # (a DataLoader worker runs one thread, the main process several)
        with single_intra_op_thread() if dev.type == "cpu" else nullcontext():
            parts.extend((idxs, _direct_rows(images, idxs, plan)) for idxs in groups.values())
    for idxs, (values, ch_values) in parts:
        for key, val in values.items():
            rows[key].append((idxs, val))
        for key, val in ch_values.items():
            ch_rows[key].append((idxs, val))

    out: dict[str, torch.Tensor] = {}
    if per_image:
        c_all, h_all, w_all = (shapes[:, k].to(dev) for k in range(3))
        values = {m.name: m.compute(Shapes(c_all, h_all, w_all)) for m in plan.by_kind["shape"]}
        dtypes = {m.name: m.dtype for ms in plan.by_kind.values() for m in ms}
        values.update({key: _scatter_rows(p, n, dev, dtypes[key]) for key, p in rows.items()})
        for m in plan.by_kind["derived"]:
            values[m.name] = m.compute(values)
        out = {key: values[key] for key in plan.order}
    return out, (_channel_output(ch_rows, shapes[:, 0], dev) if per_channel else None)


def _channel_output(
    ch_rows: dict[str, list[tuple[list[int], torch.Tensor]]], c_all: torch.Tensor, dev: torch.device
) -> dict[str, torch.Tensor]:
    """Per-channel rows in image order: each part covers whole images, C rows each."""
    ch_out: dict[str, torch.Tensor] = {}
    first = next(iter(ch_rows.values()))
    order_parts = [torch.repeat_interleave(torch.tensor(idxs), c_all[idxs]) for idxs, _ in first]
    row_image = torch.cat(order_parts)
    perm = torch.argsort(row_image, stable=True).to(dev)
    for key, parts in ch_rows.items():
        ch_out[key] = torch.cat([v for _, v in parts])[perm]
    ch_out["row_image"] = row_image[perm.cpu()].to(dev)
    ch_out["row_channel"] = torch.cat([torch.arange(int(c)) for c in c_all]).to(dev)
    return ch_out


def _scatter_rows(
    parts: list[tuple[list[int], torch.Tensor]], n: int, dev: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    first = parts[0][1]
    res = torch.empty((n,) + tuple(first.shape[1:]), dtype=dtype, device=dev)
    for idxs, val in parts:
        res[torch.tensor(idxs, device=dev)] = val.to(dtype)
    return res
