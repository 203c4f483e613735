"""How images of any size and dtype travel through the package.

Everything that takes images accepts the same inputs:

* a sequence of images (numpy arrays, torch tensors or PIL images), each ``(C, H, W)`` or
  ``(H, W)``; a 4-D array ``(N, C, H, W)`` or 3-D array ``(N, H, W)`` is a sequence too;
* a torch ``Dataset`` (anything with ``__len__`` and ``__getitem__``) whose items are an
  image or a tuple / list / dict whose first item (or ``"image"`` key) is the image;
* a ``DataLoader`` (any iterable of batches): a batch is a ``(B, C, H, W)`` tensor, a list
  of ``(C, H, W)`` tensors (see :func:`ragged_collate`), or a tuple whose first item is one
  of those (labels follow).

Images of different sizes are never padded to a common size for statistics: a batch is a
Python list of ``(C, H, W)`` tensors (a "ragged batch") plus an int64 tensor of dataset
indices.  The pixel work over a ragged batch is done with batched tensor ops (bincount
over flat buffers, size buckets), never a Python loop over pixels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .errors import ChannelsLastWarning, ImageShapeError, ImageTypeError, InvalidArgumentError, short_reason

__all__ = [
    "Batch",
    "LoadFailure",
    "load_failures",
    "as_image",
    "batch_labels",
    "dataset_indices",
    "iter_batches",
    "labels_list",
    "ragged_collate",
    "split_batch",
    "split_item",
    "resolve_device",
]

_NUMPY_PROMOTE = {
    np.dtype(np.uint32): torch.int64,
    np.dtype(np.uint64): torch.float64,
}


def resolve_device(device: str | torch.device | None, default: torch.device | None = None) -> torch.device:
    """``None`` means the default (or the CPU); ``"cuda"`` without a GPU is a clear error."""
    if device is None:
        return default if default is not None else torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(f"device={str(device)!r} was asked for but CUDA is not available here")
    return dev


def _describe(obj: Any) -> str:
    shape = getattr(obj, "shape", None)
    return f"{type(obj).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def as_image(obj: Any, index: int) -> torch.Tensor:
    """Validate one image and return it as a ``(C, H, W)`` tensor (no copy where possible).

    Accepted: numpy arrays, torch tensors and PIL images; ``(H, W)`` gets a channel axis,
    leading axes of size 1 are dropped (``(1, C, H, W)``).  PIL images are ``(H, W, C)`` and
    are transposed to ``(C, H, W)`` and converted by the same mode rules as files
    (:func:`~dataeval_gpu.io.pil_array`: palette → RGB(A), CMYK / YCbCr / HSV / LAB → RGB,
    1-bit → 0/255, 16-bit → uint16).  Raises :class:`~dataeval_gpu.errors.ImageShapeError`
    or :class:`~dataeval_gpu.errors.ImageTypeError` naming ``index`` otherwise.
    """
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "c":
            raise ImageTypeError(f"image {index}: complex dtype {obj.dtype} cannot be measured")
        if obj.dtype.kind not in "biuf":
            raise ImageTypeError(
                f"image {index}: expected a numeric array, got dtype {obj.dtype} ({_describe(obj)})"
            )
        arr = obj
        if arr.dtype.byteorder not in "=|":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:  # long double: torch has no such dtype
            arr = arr.astype(np.float64)
        if any(s < 0 for s in arr.strides):  # a flipped view (img[:, ::-1]): torch takes no negative strides
            arr = arr.copy()  # (not ascontiguousarray: it keeps a size-1 axis's negative stride)
        if arr.dtype in _NUMPY_PROMOTE:
            t = torch.from_numpy(np.ascontiguousarray(arr)).to(_NUMPY_PROMOTE[arr.dtype])
        elif not arr.flags.writeable:  # read-only input (memmap, frombuffer): never written to
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                t = torch.from_numpy(arr)
        else:
            t = torch.from_numpy(arr)
    elif type(obj).__module__.startswith("PIL."):
        from .io import pil_array  # the mode rules of a file read: palette -> RGB(A), CMYK -> RGB, ...

        t = torch.from_numpy(np.ascontiguousarray(pil_array(obj)))
        if t.ndim == 3:
            t = t.permute(2, 0, 1)
    else:
        raise ImageTypeError(
            f"image {index}: expected a numpy array, torch tensor or PIL image, got {type(obj).__name__}"
        )

    if t.is_complex():
        raise ImageTypeError(f"image {index}: complex dtype {t.dtype} cannot be measured")
    while t.ndim > 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise ImageShapeError(
            f"image {index}: expected an image as (C, H, W) or (H, W), got shape {tuple(t.shape)}"
        )
    if min(t.shape) == 0:
        raise ImageShapeError(f"image {index}: every side must be at least 1, got shape {tuple(t.shape)}")
    if t.shape[0] > 4 and t.shape[1] > 4 and t.shape[2] in (1, 3, 4) and not type(obj).__module__.startswith("PIL."):
        _warn_channels_last(index, tuple(t.shape))
    return t


_channels_last_warned = False  # once per process: a dataset of (H, W, C) arrays warns once, not per image


def _warn_channels_last(index: int, shape: tuple[int, ...]) -> None:
    """Warn (once) that an image looks like ``(H, W, C)``: it is measured as given, as DataEval does."""
    global _channels_last_warned
    if _channels_last_warned:
        return
    _channels_last_warned = True
    warnings.warn(
        f"image {index}: shape {shape} looks like (H, W, C), and images are read as (C, H, W): it is "
        f"measured as {shape[0]} channels of {shape[1]} x {shape[2]} pixels; transpose such arrays first "
        "(np.transpose(img, (2, 0, 1)) or torch's img.permute(2, 0, 1)). Shown once.",
        ChannelsLastWarning,
        stacklevel=3,
    )


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


@dataclass
class Batch:
    """A ragged batch: images of any size with their dataset indices (and labels if any)."""

    images: list[torch.Tensor]
    indices: torch.Tensor
    labels: list[Any] | None = None
    raw: list[Any] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


def ragged_collate(items: Sequence[Any]) -> Any:
    """A ``collate_fn`` for a DataLoader whose images differ in size.

    Items that are images give a list of ``(C, H, W)`` tensors; items that are tuples
    ``(image, label, ...)`` give a tuple ``(list_of_images, labels, ...)`` with the other
    fields collated by torch's default collate where possible (a list otherwise).
    """
    from torch.utils.data import default_collate

    first = items[0]
    if isinstance(first, (tuple, list)):
        columns = list(zip(*items))
        out: list[Any] = [[_to_tensor(x) for x in columns[0]]]
        for col in columns[1:]:
            try:
                out.append(default_collate(list(col)))
            except (TypeError, RuntimeError):
                out.append(list(col))
        return tuple(out)
    if isinstance(first, dict):
        keys = list(first)
        image_key = "image" if "image" in first else keys[0]
        out_d: dict[str, Any] = {image_key: [_to_tensor(it[image_key]) for it in items]}
        for k in keys:
            if k == image_key:
                continue
            col = [it[k] for it in items]
            try:
                out_d[k] = default_collate(col)
            except (TypeError, RuntimeError):
                out_d[k] = col
        return out_d
    return [_to_tensor(x) for x in items]


def _to_tensor(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return torch.from_numpy(x)
    return x


def _is_scalar_like(x: Any) -> bool:
    return isinstance(x, (int, float, bool, str)) or x is None


def _is_dataloader(data: Any) -> bool:
    from torch.utils.data import DataLoader

    return isinstance(data, DataLoader)


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
    per_row = isinstance(second, (torch.Tensor, np.ndarray)) and second.ndim == 1
    return not (per_row and isinstance(first, (torch.Tensor, np.ndarray)) and len(second) == first.shape[0])


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


def split_batch(batch: Any, tuple_indices: bool = True) -> tuple[Any, Any, torch.Tensor | None]:
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
    ``"index"`` / ``"indices"``).  A single ``(C, H, W)`` / ``(H, W)`` image is a batch of one,
    and so is one dataset item ``(image, label, ...)`` / ``{"image": ..., "label": ...}`` (an
    iterable of items rather than of batches).  An empty batch (``[]``, ``([], labels)``: a
    collate that filtered out every item) is no images.
    """
    if isinstance(batch, dict):
        images, labels, indices = _dict_fields(batch)
        if _is_one_image(images):  # one dataset item {"image": ..., "label": ...}
            images, labels, indices = [images], (None if labels is None else [labels]), None
    elif isinstance(batch, (tuple, list)) and len(batch) > 1 and _is_item(batch[0], batch[1]):
        # one dataset item (image, label, ...) from an iterable of items, not a batch
        images, labels, indices = [batch[0]], [batch[1]], None
    elif isinstance(batch, (tuple, list)) and (len(batch) == 0 or _is_empty(batch[0])):
        # a batch with no images (a collate that filtered out every item): [] or ([], labels)
        images, labels, indices = [], (batch[1] if len(batch) > 1 else None), None
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
    if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim in (2, 3):
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


def _loader_batches(data: Iterable[Any]) -> Iterator[Any]:
    """The batches of a DataLoader (any iterable); torch's default collate meeting a
    :class:`LoadFailure` (``TypeError: expected Tensor as element 3 ..., but got LoadFailure``)
    or images of different sizes (``RuntimeError: stack expects each tensor to be equal size``)
    becomes an error that says what happened and what to do."""
    it = iter(data)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except RuntimeError as exc:
            said = [line.strip() for line in str(exc).splitlines() if "stack expects each tensor to be equal" in line]
            if not said:  # (a worker's error carries torch's message on a line of its traceback)
                raise
            raise InvalidArgumentError(
                "the DataLoader's collate_fn cannot stack tensors of different sizes (images, or per-image "
                "targets such as detection labels): give the DataLoader "
                "collate_fn=dataeval_gpu.batching.ragged_collate, which keeps the images and the targets of a "
                f"batch as lists, or pass the Dataset itself ({said[-1].removeprefix('RuntimeError: ')})"
            ) from exc
        except TypeError as exc:
            if "LoadFailure" not in str(exc):
                raise
            raise InvalidArgumentError(
                "an item of the DataLoader could not be loaded (IndexedDataset(on_error='mark') made it a "
                "LoadFailure) and the DataLoader's collate_fn cannot batch it with images: give the DataLoader "
                "collate_fn=dataeval_gpu.batching.ragged_collate, which keeps it, so that the scan lists the "
                f"item as failed ({short_reason(exc).splitlines()[0]})"
            ) from exc
        yield batch


def iter_batches(
    data: Any,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    start: int = 0,
    keep_raw: bool = False,
    validate: bool = True,
    batch_indices: bool = False,
    tuple_indices: bool = True,
) -> Iterator[Batch]:
    """Iterate any supported input as ragged :class:`Batch` es on ``device``.

    Indices count from ``start`` in iteration order (for a DataLoader: the order its
    batches arrive, unless the batches carry their dataset indices).  With ``keep_raw`` the
    original objects are kept (for byte hashing).  With ``validate=False`` the images are
    passed on as they come (the audit's feed loop validates them, listing the bad ones), and
    a dataset item that raises becomes a :class:`LoadFailure` instead of stopping the loop.
    With ``batch_indices`` a DataLoader batch that carries its dataset indices (a third
    field, or an ``"index"`` key: see :func:`split_batch`; ``tuple_indices=False``: the key
    only) keeps them.
    """
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    dev = torch.device(device) if device is not None else None

    def finish(objs: list[Any], idx0: int, labels: Any, indices: torch.Tensor | None = None) -> Batch:
        imgs = []
        for k, o in enumerate(objs):
            if not validate:
                imgs.append(o)
                continue
            t = as_image(o, idx0 + k)
            if dev is not None and t.device != dev:
                t = t.to(dev, non_blocking=True)
            imgs.append(t)
        return Batch(
            images=imgs,
            indices=indices if indices is not None else torch.arange(idx0, idx0 + len(imgs), dtype=torch.int64),
            labels=labels,
            raw=list(objs) if keep_raw else [],
        )

    if isinstance(data, (np.ndarray, torch.Tensor)):
        if data.ndim not in (3, 4):
            raise ImageShapeError(
                "expected a sequence of images; an array input must be (N, C, H, W) or (N, H, W), "
                f"got shape {tuple(data.shape)}"
            )
    if _is_dataloader(data) or (not hasattr(data, "__getitem__") and isinstance(data, Iterable)):
        pos = start
        for batch in _loader_batches(data):
            images, labels, indices = split_batch(batch, tuple_indices=tuple_indices)
            objs = list(images)
            yield finish(objs, pos, labels_list(labels, len(objs)), indices if batch_indices else None)
            pos += len(objs)
        return
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise ImageTypeError(
            f"expected a sequence of images, a Dataset or a DataLoader, got {type(data).__name__}"
        )
    n = len(data)
    for b0 in range(0, n, batch_size):
        objs, labels, any_label = [], [], False
        for i in range(b0, min(n, b0 + batch_size)):
            try:
                img, lab = split_item(data[i])
            except Exception as exc:  # noqa: BLE001 - without validation a bad item is listed, not fatal
                if validate:
                    if hasattr(exc, "add_note"):  # Python >= 3.11: the traceback names the item
                        exc.add_note(
                            f"dataeval_gpu: raised by dataset item {i} (dataeval_gpu.audit.scan lists such an "
                            "item as failed and measures the rest)"
                        )
                    raise
                img, lab = LoadFailure(short_reason(exc)), None
            objs.append(img)
            labels.append(lab)
            any_label |= lab is not None
        yield finish(objs, start + b0, labels if any_label else None)
