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

What a batch holds (images, labels, dataset indices) is parsed by :mod:`dataeval_gpu.batch_parse`
(:func:`split_batch`, :func:`split_item`, :func:`labels_list`, ...), whose names are importable
from here too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .batch_parse import (
    LoadFailure,
    batch_labels,
    dataset_indices,
    labels_list,
    load_failures,
    split_batch,
    split_item,
    stacks_items,
)
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
    "stacks_items",
    "resolve_device",
]

_NUMPY_PROMOTE = {
    np.dtype(np.uint32): torch.int64,
    np.dtype(np.uint64): torch.float64,
}


def resolve_device(device: str | torch.device | None, default: torch.device | None = None) -> torch.device:
    """``None`` means the default (or the CPU); ``"cuda"`` without a GPU, or a string that is not a
    device name (``"tpu"``), is an :class:`~dataeval_gpu.errors.InvalidArgumentError` naming ``device``."""
    if device is None:
        return default if default is not None else torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):  # torch's own message names no argument
        raise InvalidArgumentError(
            f"device={device!r} is not a device name (accepted: 'cpu', 'cuda', 'cuda:N', a torch.device or None)"
        ) from None
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
        if not x.dtype.isnative:  # big-endian: torch takes native byte order only
            x = x.astype(x.dtype.newbyteorder("="))
        if any(s < 0 for s in x.strides) or not x.flags.writeable:
            # a flipped view (np.fliplr): torch takes no negative strides; a read-only array (a
            # memory map, np.frombuffer): torch warns that the tensor must not be written to, and
            # the batch is the caller's to transform in place (default_collate copies it too)
            x = x.copy()
        return torch.from_numpy(x)
    return x


def _is_dataloader(data: Any) -> bool:
    from torch.utils.data import DataLoader

    return isinstance(data, DataLoader)


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
        pos, stacked = start, stacks_items(data)
        for batch in _loader_batches(data):
            images, labels, indices = split_batch(batch, tuple_indices=tuple_indices, stacked=stacked)
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
