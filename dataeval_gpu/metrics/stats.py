"""The Data Cleaning Guide's ``imagestats`` and ``channelstats`` (DataEval 0.65 names and shapes).

Same call, same output fields and order, numpy at the edge; the pixel work runs batched on
the chosen device through :class:`~dataeval_gpu.accumulators.stats.ImageStatsAccumulator`.
Values are float64 (0.65 rounds its floats to float16; ours are not rounded).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import field, fields, make_dataclass
from typing import Any

import numpy as np
import torch

from ..batching import iter_batches, resolve_device
from ..flags import METRIC_FLAGS, ImageStat, to_distinct, verify_supported
from ..functional import registry
from ..output import OutputMetadata, set_metadata
from ..progress import progress_bar

__all__ = ["StatsOutput", "imagestats", "channelstats", "compute_stats"]

logger = logging.getLogger(__name__)

_INT_KEYS = {m.name for m in registry.metrics() if m.dtype == torch.int64}


def _fields() -> list[tuple[str, Any, Any]]:
    """StatsOutput's fields: DataEval 0.65's in its order, then every other registered metric."""
    names = registry.image_keys()
    out: list[tuple[str, Any, Any]] = []
    for name in registry.V065_FIELDS + tuple(n for n in registry.output_names() if n not in registry.V065_FIELDS):
        if name in ("xxhash", "pchash"):
            out.append((name, list, field(default_factory=list)))
        elif name == "ch_idx_map":
            out.append((name, dict, field(default_factory=dict)))
        elif name in names:
            out.append((name, Any, field(default_factory=lambda: np.array([]))))
    return out


def _dict(self: Any) -> dict[str, Any]:
    """The non-empty fields, in order (as 0.65's ``StatsOutput.dict()``)."""
    out = {}
    for f in fields(self):
        v = getattr(self, f.name)
        if len(v) > 0:
            out[f.name] = v
    return out


StatsOutput = make_dataclass(
    "StatsOutput", _fields(), bases=(OutputMetadata,), frozen=True, namespace={"dict": _dict}
)
StatsOutput.__module__ = __name__
StatsOutput.__doc__ = """Output of :func:`imagestats` / :func:`channelstats`, fields in DataEval 0.65's order.

For :func:`imagestats`, each metric is an ``(N,)`` array (``percentiles`` ``(N, 5)``,
``histogram`` ``(N, 256)``), ``xxhash`` / ``pchash`` lists of hex strings (``""`` for an
image too small for a perceptual hash: 0.65 raises there).  For :func:`channelstats`,
each metric is ``{C: array}`` with ``(C, N_C)`` scalars, ``(5, C, N_C)`` percentiles and
``(256, C, N_C)`` histograms, and ``ch_idx_map[C]`` lists the indices of those images.
After 0.65's fields come the other registered metrics (DataEval 1.x's ``darkness``,
``contrast``, ``sharpness``, ``zeros``, then any later one), filled when their flags are asked for.
"""

#: the flags channelstats accepts: the metrics computed per channel
_CHANNEL_FLAGS = ImageStat(0)
for _name in registry.channel_keys():
    _CHANNEL_FLAGS |= ImageStat[registry.get(_name).flag]


def compute_stats(
    images: Any,
    per_image: bool = True,
    per_channel: bool = False,
    hashes: bool = False,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, torch.Tensor]:
    """Run :class:`ImageStatsAccumulator` over any supported input; tensors sorted by index.

    ``metrics``: the per-image metrics to compute (names; all registered ones when None).
    The hashes (``xxhash``, ``pchash``, ``pchash_valid``) come from the streaming hashing
    engine (:class:`~dataeval_gpu.accumulators.hashes.HashAccumulator`), fed the same batches.
    """
    from ..accumulators.hashes import HashAccumulator  # torchmetrics: imported when used (start-up)
    from ..accumulators.stats import ImageStatsAccumulator

    dev = resolve_device(device)
    want_stats = per_image or per_channel or not hashes
    acc = (
        ImageStatsAccumulator(per_image=per_image, per_channel=per_channel, metrics=metrics).to(dev)
        if want_stats
        else None
    )
    hacc = HashAccumulator(max_in_flight=4 * batch_size).to(dev) if hashes else None
    total = len(images) if hasattr(images, "__len__") else None
    with progress_bar(total=total, desc="stats", enable=progress) as bar:
        for batch in iter_batches(images, batch_size=batch_size):
            imgs = [t.to(dev) for t in batch.images]
            if acc is not None:
                acc.update(imgs, batch.indices)
            if hacc is not None:
                hacc.update(imgs, batch.indices)
            bar.update(len(batch))
    # nothing fed (an empty input): no compute(), which would only warn that nothing was updated
    out: dict[str, torch.Tensor] = acc.compute() if acc is not None and acc.update_count else {}
    if hacc is not None and hacc.update_count:
        h = hacc.compute()
        out.update(index=h["index"], xxhash=h["xxhash"], pchash=h["near"], pchash_valid=h["near_valid"])
    # torchmetrics squeezes one-element results to 0-d: one image must stay one row
    return {k: v.reshape(1) if v.ndim == 0 else v for k, v in out.items()}


def _np(t: torch.Tensor, key: str) -> np.ndarray:
    arr = t.detach().cpu().numpy()
    return arr.astype(np.int64) if key in _INT_KEYS else arr


@set_metadata("dataeval_gpu.metrics")
def imagestats(
    images: Any,
    flags: ImageStat = ImageStat.ALL_STATS,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> StatsOutput:
    """Image and pixel statistics of each image (DataEval 0.65's ``imagestats``).

    Parameters
    ----------
    images : a sequence of ``(C, H, W)`` / ``(H, W)`` arrays or tensors, a Dataset or a DataLoader.
    flags : which statistics (``ImageStat``); default ``ALL_STATS``.  ``ALL_HASHES`` adds
        xxhash and pchash; ``ALL_V1`` adds DataEval 1.x's darkness, contrast, sharpness, zeros;
        any registered metric's flag is accepted (``flags.METRIC_FLAGS``).
    batch_size, device, progress : how to run it (device defaults to the CPU).

    Examples
    --------
    >>> import numpy as np
    >>> out = imagestats([np.zeros((3, 16, 16), np.uint8), np.full((1, 8, 4), 255, np.uint8)])
    >>> out.width.tolist(), out.mean.tolist(), list(out.dict())[:3]
    ([16, 4], [0.0, 1.0], ['width', 'height', 'channels'])
    """
    verify_supported(flags, ImageStat.ALL_HASHES | METRIC_FLAGS)
    wanted = to_distinct(flags)
    hashes = bool(flags & ImageStat.ALL_HASHES)
    names = [n for n in wanted.values() if n in registry.image_keys()]
    res = compute_stats(
        images, per_image=bool(names), hashes=hashes, batch_size=batch_size, device=device, progress=progress,
        metrics=names,
    )  # fmt: skip
    out: dict[str, Any] = {}
    if "index" not in res or res["index"].numel() == 0:  # no images: every statistic empty, as 0.65
        for name in wanted.values():
            empty = np.zeros(0, np.int64 if name in _INT_KEYS else np.float64)
            out[name] = [] if name in ("xxhash", "pchash") else empty
        return StatsOutput(**out)
    for name in wanted.values():
        if name == "xxhash":
            from ..functional.hashing import hash_hex

            out[name] = hash_hex(res["xxhash"].cpu(), strip=False)
        elif name == "pchash":
            from ..functional.hashing import hash_hex

            hx = hash_hex(res["pchash"].cpu(), strip=True)
            valid = res["pchash_valid"].cpu().tolist()
            if not all(valid):
                logger.warning("%d image(s) smaller than 9x9 have no perceptual hash", valid.count(False))
            out[name] = [h if v else "" for h, v in zip(hx, valid)]
        else:
            out[name] = _np(res[name], name)
    return StatsOutput(**out)


@set_metadata("dataeval_gpu.metrics")
def channelstats(
    images: Any,
    flags: ImageStat = ImageStat.ALL_PIXELSTATS,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool | None = None,
) -> StatsOutput:
    """Pixel statistics of each channel of each image (DataEval 0.65's ``channelstats``).

    Output ``out.<metric>[C]`` holds the images with ``C`` channels: ``(C, N_C)`` for the
    scalar statistics, ``(5, C, N_C)`` percentiles, ``(256, C, N_C)`` histograms;
    ``out.ch_idx_map[C]`` lists their dataset indices.

    Examples
    --------
    >>> import numpy as np
    >>> out = channelstats([np.zeros((3, 4, 4), np.uint8), np.ones((1, 4, 4), np.uint8)])
    >>> out.mean[3].shape, out.ch_idx_map
    ((3, 1), {3: [0], 1: [1]})
    """
    verify_supported(flags, _CHANNEL_FLAGS)
    wanted = to_distinct(flags)
    res = compute_stats(images, per_image=False, per_channel=True, batch_size=batch_size, device=device, progress=progress)
    if "index" not in res or res["index"].numel() == 0:
        return StatsOutput()
    ci = res["ch_index"].cpu()
    # channel count of each image, in index order; group images by it (first-seen order)
    uniq, counts = torch.unique_consecutive(ci, return_counts=True)
    groups: dict[int, list[int]] = {}
    for idx, c in zip(uniq.tolist(), counts.tolist()):
        groups.setdefault(int(c), []).append(int(idx))
    out: dict[str, Any] = {}
    row_c = torch.repeat_interleave(counts, counts)
    for name in wanted.values():
        vals = res[f"ch_{name}"].cpu().numpy()
        per_c = {}
        for c, idxs in groups.items():
            sel = (row_c == c).numpy()
            block = vals[sel].reshape(len(idxs), c, *vals.shape[1:])  # (N_C, C, ...)
            per_c[c] = np.moveaxis(block, 0, -1) if block.ndim == 2 else np.moveaxis(np.moveaxis(block, 0, -1), 1, 0)
        out[name] = per_c
    out["ch_idx_map"] = groups
    return StatsOutput(**out)
