"""The one-call audit of images in memory, a Dataset or a DataLoader."""

from __future__ import annotations

import os
from typing import Any

import torch

from ..batching import iter_batches, resolve_device
from ..errors import DataEvalGPUError, ImageTypeError
from ..progress import progress_bar
from .core import DataAudit
from .feed import FeedLoop
from .report import AuditReport

__all__ = ["AuditError", "scan"]


def scan(
    data: Any,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
    **audit_kwargs: Any,
) -> AuditReport:
    """One call: audit a sequence of images, a Dataset or a DataLoader (labels taken when present).

    Fed through :class:`~dataeval_gpu.audit.FeedLoop`: an item that raises or is not an image
    is listed in ``report.failed`` with the reason (see the failure policy there).

    The report's index is the dataset index for a Dataset or a sequence.  For a DataLoader it
    is the order in which the images arrive, unless the batches carry dataset indices: a
    DataLoader over :class:`~dataeval_gpu.distributed.IndexedDataset` (``(image, label,
    index)`` items) or dict batches with an ``"index"`` key.  The third field of other
    ``(image, target, metadata)`` items is metadata, never taken for indices.

    Examples
    --------
    >>> import numpy as np
    >>> imgs = [np.random.default_rng(i).integers(0, 256, (3, 16, 16), dtype=np.uint8) for i in range(6)]
    >>> imgs.append(imgs[0].copy())
    >>> scan(imgs).duplicates["exact"]
    [[0, 6]]

    A folder or a file's path (or a list of paths) is refused with an error that names
    :func:`~dataeval_gpu.audit.scan_files`, which reads files.
    """
    _refuse_paths(data)
    audit = DataAudit(device=resolve_device(device), **audit_kwargs)
    loop = FeedLoop(audit)
    total = _image_count(data)
    audit.reserve(total or 0)
    with progress_bar(total=total, desc="audit", enable=progress) as bar:
        batches = iter_batches(
            data, batch_size=batch_size, validate=False, batch_indices=True, tuple_indices=_indexed(data)
        )
        for batch in batches:
            bar.update(loop.feed(batch.images, batch.indices, labels=batch.labels))
    return audit.compute(progress=progress)


def _refuse_paths(data: Any) -> None:
    """``scan("photos/")`` or ``scan(["a.jpg", ...])``: an error naming the call that reads files, not
    a report of one failed image per character of the path (or per path)."""
    if isinstance(data, (str, os.PathLike)):
        what = f"the path {os.fspath(data)!r}"
    elif isinstance(data, (list, tuple)) and data and all(isinstance(x, (str, os.PathLike)) for x in data):
        what = f"a list of {len(data)} path" + ("s" if len(data) > 1 else "")
    else:
        return
    raise ImageTypeError(
        f"scan takes images, a Dataset or a DataLoader, got {what}: for image files use "
        "dataeval_gpu.audit.scan_files(dataeval_gpu.discovery.find_inputs(path).files) or the command "
        "'dataeval-gpu scan PATH'"
    )


class AuditError(DataEvalGPUError, RuntimeError):
    """A scan could not run (not a bad image: those are listed in the report)."""


def _indexed(data: Any) -> bool:
    """Whether ``data`` is a DataLoader over an :class:`~dataeval_gpu.distributed.IndexedDataset`
    (its batches' third field is the dataset indices)."""
    from ..distributed import IndexedDataset

    return isinstance(getattr(data, "dataset", None), IndexedDataset)


def _image_count(data: Any) -> int | None:
    """How many images ``data`` holds, for the progress bar (a DataLoader's length counts batches)."""
    from torch.utils.data import DataLoader

    if isinstance(data, DataLoader):
        sampler = getattr(data, "sampler", None)
        return len(sampler) if data.batch_size is not None and hasattr(sampler, "__len__") else None  # type: ignore[arg-type]
    return len(data) if hasattr(data, "__len__") else None
