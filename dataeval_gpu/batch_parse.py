"""The one batch parser: what a batch of any loader holds (its images, labels and dataset
indices: :func:`split_batch`; one dataset item: :func:`split_item`), the per-image labels of a
batch (:func:`labels_list`, :func:`batch_labels`), dataset indices (:func:`dataset_indices`) and
the placeholder of an item that could not be loaded (:class:`LoadFailure`).

Every name here is also importable from :mod:`dataeval_gpu.batching`, which turns the parsed
batches into ragged :class:`~dataeval_gpu.batching.Batch` es.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .errors import ImageShapeError, ImageTypeError, InvalidArgumentError

__all__ = [
    "LoadFailure",
    "batch_labels",
    "dataset_indices",
    "labels_list",
    "load_failures",
    "split_batch",
    "split_item",
    "stacks_items",
]


class LoadFailure:
    """Stands in for an image whose dataset item raised (``reason`` says why); a scan lists it as failed."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"LoadFailure({self.reason!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across DataLoader workers
        return (LoadFailure, (self.reason,))


def load_failures(images: Any) -> dict[int, str]:
    """``{position: reason}`` of the :class:`LoadFailure` markers in a list batch (none in a tensor)."""
    if hasattr(images, "ndim") or not isinstance(images, Sequence):
        return {}
    return {k: obj.reason for k, obj in enumerate(images) if isinstance(obj, LoadFailure)}


def _is_scalar_like(x: Any) -> bool:
    return isinstance(x, (int, float, bool, str)) or x is None


def _is_image_batch(x: Any) -> bool:
    """A ``(B, C, H, W)`` array / tensor, or a list of images (a ragged batch)."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x.ndim == 4
    return (
        isinstance(x, (list, tuple))
        and len(x) > 0
        and (hasattr(x[0], "ndim") or type(x[0]).__module__.startswith("PIL.") or isinstance(x[0], LoadFailure))
    )


def _is_empty(x: Any) -> bool:
    """No images: an empty list / tuple, or a ``(0, C, H, W)`` array / tensor."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x.ndim == 4 and x.shape[0] == 0
    return isinstance(x, (list, tuple)) and len(x) == 0


def _is_one_image(x: Any) -> bool:
    """A single ``(C, H, W)`` / ``(H, W)`` array or tensor, or a PIL image."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x.ndim in (2, 3)
    return type(x).__module__.startswith("PIL.")


def _is_item(first: Any, second: Any) -> bool:
    """``(first, second, ...)`` is one dataset item ``(image, label, ...)``: one image, then
    something that is neither an image nor one label per row of an ``(N, H, W)`` batch."""
    if not _is_one_image(first) or _is_one_image(second):
        return False
    return not _is_grey_batch(first, second)


def _is_3d(x: Any) -> bool:
    return isinstance(x, (torch.Tensor, np.ndarray)) and x.ndim == 3


def _is_grey_batch(first: Any, second: Any) -> bool:
    """``(first, second, ...)`` is a default-collated batch of grey ``(H, W)`` images: an
    ``(N, H, W)`` array / tensor, then one label (or index) per row in a 1-D array / tensor."""
    return (
        isinstance(first, (torch.Tensor, np.ndarray))
        and first.ndim == 3
        and isinstance(second, (torch.Tensor, np.ndarray))
        and second.ndim == 1
        and len(second) == first.shape[0]
    )


def dataset_indices(indices: Any) -> list[int]:
    """``indices`` (a sequence, array or tensor) as a list of dataset indices: whole numbers
    ``>= 0``.  Raises :class:`~dataeval_gpu.errors.InvalidArgumentError` naming the first value
    that is not one and its image (a float index was truncated, a negative one taken as given)."""
    if isinstance(indices, (torch.Tensor, np.ndarray)):
        values = indices.reshape(-1).tolist()
    else:
        values = list(indices)
    for k, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise InvalidArgumentError(f"indices must be whole numbers (dataset indices), got {v!r} (image {k})")
        if v < 0:
            raise InvalidArgumentError(f"indices must be >= 0 (dataset indices), got {v} (image {k})")
    return [int(v) for v in values]


def _as_indices(indices: Any, n: int) -> torch.Tensor | None:
    """``indices`` as an int64 tensor of ``n`` dataset indices, or None when it is something else."""
    if indices is None:
        return None
    try:
        idx = indices if isinstance(indices, torch.Tensor) else torch.as_tensor(indices)
    except (TypeError, ValueError, RuntimeError):
        return None
    if idx.ndim != 1 or idx.numel() != n or idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        return None  # a third field that is not indices (masks, boxes, ...)
    idx = idx.to("cpu", torch.int64)
    if n and (int(idx.min()) < 0 or int(torch.unique(idx).numel()) != n):
        return None  # integers that repeat (a camera id, a class, a year): metadata, not dataset indices
    return idx


def _batch_len(images: Any) -> int:
    return int(images.shape[0]) if isinstance(images, (torch.Tensor, np.ndarray)) else len(images)


def split_item(item: Any) -> tuple[Any, Any]:
    """``(image, label)`` of one dataset item: an image, a tuple / list ``(image, label, ...)``
    or a dict (``"image"`` key, else the first; ``"label"`` / ``"labels"``).  The label is
    ``None`` when there is none."""
    if isinstance(item, dict):
        return _dict_fields(item)[:2]
    if isinstance(item, (tuple, list)) and len(item) > 0 and not _is_scalar_like(item[0]):
        return item[0], (item[1] if len(item) > 1 else None)
    return item, None


def _dict_fields(d: dict) -> tuple[Any, Any, Any]:
    key = next((k for k in ("image", "images") if k in d), None) or next(iter(d))
    labels = d.get("label", d.get("labels"))
    indices = d.get("index", d.get("indices"))
    return d[key], labels, indices


def stacks_items(loader: Any) -> bool:
    """Whether ``loader`` is a DataLoader that stacks its items with the default collate
    (automatic batching, by ``batch_size`` or a ``batch_sampler``, whose loader's ``batch_size`` is
    None): its batch tensors have one more dimension than its items, so a 3-D ``(B, H, W)`` batch
    is B grey ``(H, W)`` images, never one ``(C, H, W)`` image."""
    from torch.utils.data import DataLoader, default_collate

    return isinstance(loader, DataLoader) and loader.batch_sampler is not None and loader.collate_fn is default_collate


def split_batch(batch: Any, tuple_indices: bool = True, stacked: bool = False) -> tuple[Any, Any, torch.Tensor | None]:
    """``(images, labels, indices)`` of one DataLoader batch — the one batch parser.

    A batch is a ``(B, C, H, W)`` tensor / array, a list of images, a tuple / list
    ``(images, labels[, indices, ...])`` whose first field is one of those, or a dict with an
    ``"image"`` / ``"images"`` key (else its first key) and optional ``"label(s)"`` /
    ``"index"`` / ``"indices"``.  ``images`` is returned as given (a tensor stays a tensor);
    ``labels`` as given or ``None``; ``indices`` an int64 CPU tensor, or ``None`` when the batch
    carries none: a third field is taken for indices only when it holds one distinct,
    non-negative integer per image (masks, boxes, or integer metadata that repeats within the
    batch — a camera id in an ``(image, target, metadata)`` item — are not).  With
    ``tuple_indices=False`` a tuple's third field is never taken for indices (only a dict's
    ``"index"`` / ``"indices"``).  A tuple ``(images, labels[, indices])`` whose images are an
    ``(N, H, W)`` array / tensor and whose labels a 1-D array / tensor of N (the default collate of
    grey ``(H, W)`` images) holds N grey images, returned as ``(N, 1, H, W)``.  A single
    ``(C, H, W)`` / ``(H, W)`` image is a batch of one (with ``stacked=True``, a batch of a
    DataLoader that stacks its items, :func:`stacks_items`, a 3-D one is B grey images),
    and so is one dataset item ``(image, label, ...)`` / ``{"image": ..., "label": ...}`` (an
    iterable of items rather than of batches).  An empty batch (``[]``, ``([], labels)``: a
    collate that filtered out every item) is no images.
    """
    if isinstance(batch, dict):
        images, labels, indices = _dict_fields(batch)
        if _is_one_image(images) and not (stacked and _is_3d(images)):  # one item {"image": ..., "label": ...}
            images, labels, indices = [images], (None if labels is None else [labels]), None
    elif not stacked and isinstance(batch, (tuple, list)) and len(batch) > 1 and _is_item(batch[0], batch[1]):
        # one dataset item (image, label, ...) from an iterable of items, not a batch
        images, labels, indices = [batch[0]], [batch[1]], None
    elif isinstance(batch, (tuple, list)) and (len(batch) == 0 or _is_empty(batch[0])):
        # a batch with no images (a collate that filtered out every item): [] or ([], labels)
        images, labels, indices = [], (batch[1] if len(batch) > 1 else None), None
    elif isinstance(batch, (tuple, list)) and (
        (len(batch) > 1 and _is_grey_batch(batch[0], batch[1])) or (stacked and len(batch) > 0 and _is_3d(batch[0]))
    ):
        # (N, H, W) images with one label per row: N grey images, as (N, 1, H, W)
        images = batch[0][:, None]
        labels = batch[1] if len(batch) > 1 else None
        indices = batch[2] if len(batch) > 2 and tuple_indices else None
    elif isinstance(batch, (tuple, list)) and len(batch) > 0 and _is_image_batch(batch[0]):
        images = batch[0]
        labels = batch[1] if len(batch) > 1 else None
        indices = batch[2] if len(batch) > 2 and tuple_indices else None
    elif isinstance(batch, (torch.Tensor, np.ndarray)) or (isinstance(batch, (list, tuple)) and len(batch) > 0):
        images, labels, indices = batch, None, None
    else:
        raise ImageTypeError(
            f"cannot find images in a batch of type {type(batch).__name__}; expected a (B, C, H, W) tensor, "
            "a list of images, an (images, labels[, indices]) tuple or a dict with an 'image' key"
        )
    if stacked and _is_3d(images):
        images = images[:, None]  # the default collate's stack of B grey (H, W) images
    elif isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim in (2, 3):
        images = images[None]  # one image
    elif isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim != 4:
        raise ImageShapeError(
            f"a batch must be (B, C, H, W) or a list of images, got shape {tuple(images.shape)}"
        )
    return images, labels, _as_indices(indices, _batch_len(images))


def labels_list(labels: Any, n: int) -> list[Any] | None:
    """Per-image labels of a batch of ``n`` as a list, or None (absent, or not one per image)."""
    if labels is None:
        return None
    if isinstance(labels, dict):  # default-collated detection targets {"boxes": ..., "labels": (B, K)}
        labels = labels.get("labels", labels.get("label"))
        if labels is None:
            return None
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        if labels.ndim == 0 or labels.shape[0] != n:
            return None
        if labels.ndim > 2:  # one array per image (masks, boxes): kept whole, so that what it is shows
            return list(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
        return labels.tolist() if isinstance(labels, np.ndarray) else labels.detach().cpu().tolist()
    labs = list(labels)
    return labs if len(labs) == n else None


def batch_labels(labels: Any, indices: Sequence[int]) -> list[Any] | None:
    """``DataAudit.update``'s labels: one per image as a report keeps them
    (:func:`~dataeval_gpu.labels.as_label`), ``None`` without labels; a lone label goes with a
    lone image.  Raises :class:`~dataeval_gpu.errors.InvalidArgumentError` for labels that are
    not one per image, or one that is not a class label (naming the image's index)."""
    from .labels import as_label

    if labels is None:
        return None
    n = len(indices)
    if n == 1 and not isinstance(labels, (list, tuple)) and getattr(labels, "ndim", 0) == 0:
        labels = [labels]  # one image's own label (an int, a string, a target dict)
    labs = labels_list(labels, n)
    if labs is None:
        got = len(labels) if hasattr(labels, "__len__") and getattr(labels, "ndim", 1) else "a scalar"
        raise InvalidArgumentError(f"got {n} images but {got} labels")
    return [as_label(lab, i) for lab, i in zip(labs, indices)]
