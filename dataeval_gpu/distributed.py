"""Audits across processes, GPUs and machines with ``torchrun``.

``torchrun`` starts one process per GPU (or per CPU worker); each process

1. joins the process group (:func:`init_from_env`: ``nccl`` with CUDA, ``gloo`` without),
2. reads its shard of the dataset through a ``DistributedSampler``
   (:func:`shard_loader`), every item carrying its dataset index,
3. feeds a :class:`~dataeval_gpu.audit.DataAudit`, whose ``compute()`` gathers the
   accumulated tensor states (torchmetrics ``cat`` states) and the per-rank Python dicts
   (labels, paths, failures) from every rank, sorts the rows by dataset index and keeps
   each index once (the ``DistributedSampler`` pads the last shard by repeating indices:
   the repeats are dropped).

:func:`distributed_scan` does all three.  The detectors (Linter, Duplicates, Clusterer)
then run on the merged rows, so the report equals the one a single process computes on the
whole dataset.  See ``docs/distributed.md``.

Examples
--------
A single process (no ``torchrun``) is a world of one:

>>> import numpy as np
>>> images = [np.full((1, 12, 10 + i), 10 * i, np.uint8) for i in range(5)]
>>> report = distributed_scan(images, batch_size=2, hashes=False)
>>> report.index.tolist()
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from .batching import LoadFailure, ragged_collate, resolve_device, split_item
from .errors import InvalidArgumentError, short_reason

__all__ = [
    "DistInfo",
    "IndexedDataset",
    "LoadFailure",
    "distributed_scan",
    "init_from_env",
    "is_distributed",
    "known_target",
    "rank_and_world",
    "shard_loader",
]

logger = logging.getLogger(__name__)

_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its global ``rank``, the ``world_size``, its ``local_rank``
    on the machine, the ``device`` it should compute on and the ``backend`` in use
    (``None`` outside a process group)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        """True on global rank 0 (the rank that writes files)."""
        return self.rank == 0


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)`` of the running process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _launched_by_torchrun() -> bool:
    return all(v in os.environ for v in _TORCHRUN_VARS)


def init_from_env(
    backend: str | None = None,
    *,
    device: str | torch.device | None = None,
    timeout_s: float = 1800.0,
) -> DistInfo:
    """Join the process group described by ``torchrun``'s environment variables.

    Parameters
    ----------
    backend : ``"nccl"``, ``"gloo"``, ... (default: ``nccl`` when CUDA is available, else ``gloo``).
    device : the device of this rank (default: ``cuda:LOCAL_RANK`` with CUDA, else the CPU).
    timeout_s : the collectives' timeout.

    Without ``torchrun`` (no ``RANK`` / ``WORLD_SIZE`` / ``MASTER_ADDR`` / ``MASTER_PORT``)
    nothing is initialised and this process is rank 0 of a world of one.  Calling it again
    once the group is up returns the same information.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        dev = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    else:
        dev = resolve_device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # nccl collectives and all_gather_object use the current device
    if not dist.is_available():
        return DistInfo(0, 1, 0, dev, None)
    if not dist.is_initialized():
        if not _launched_by_torchrun():
            return DistInfo(0, 1, local_rank, dev, None)
        chosen = backend or ("nccl" if dev.type == "cuda" else "gloo")
        dist.init_process_group(backend=chosen, timeout=datetime.timedelta(seconds=timeout_s))
        logger.info("rank %d of %d joined (%s) on %s", dist.get_rank(), dist.get_world_size(), chosen, dev)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, dev, str(dist.get_backend()))


class IndexedDataset(Dataset):
    """Wrap a map-style dataset so that item ``i`` is ``(image, label, i)``.

    The wrapped items may be an image, a tuple / list ``(image, label, ...)`` or a dict
    (``"image"`` key, ``"label"`` / ``"labels"``); ``label`` is ``None`` when there is none.
    With ``on_error="mark"`` an item that raises becomes ``(LoadFailure(reason), None, i)``
    instead of stopping the loader (a scan lists it as failed).
    """

    def __init__(self, dataset: Any, on_error: str = "raise") -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            hint = " (give the DataLoader's .dataset: the shards are sampled from it)" if isinstance(dataset, DataLoader) else ""
            raise InvalidArgumentError(
                f"dataset must be map-style (__len__ and __getitem__), got {type(dataset).__name__}{hint}"
            )
        if on_error not in ("raise", "mark"):
            raise InvalidArgumentError(f"on_error must be 'raise' or 'mark', got {on_error!r}")
        self.dataset = dataset
        self.on_error = on_error

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Any, Any, int]:
        i = int(i)
        try:
            item = self.dataset[i]
            if hasattr(item, "image") and hasattr(item, "error"):  # io.DecodedItem
                img = (
                    item.image
                    if item.image is not None
                    else LoadFailure(item.error or "could not be decoded")
                )
                return img, getattr(item, "label", None), i
            img, label = split_item(item)
        except Exception as exc:  # noqa: BLE001 - reported as a failed index with on_error="mark"
            if self.on_error == "raise":
                raise
            return LoadFailure(short_reason(exc)), known_target(self.dataset, i), i
        return img, label, i


def known_target(dataset: Any, i: int) -> Any:
    """The class of item ``i`` without loading it, where the dataset lists its classes (torchvision's
    ``ImageFolder`` / ``DatasetFolder``: ``targets``, one whole number per item): a file that cannot be
    read keeps its class folder's label, as in ``dataeval-gpu scan``.  ``None`` otherwise."""
    targets = getattr(dataset, "targets", None)
    try:
        if targets is None or len(targets) != len(dataset):
            return None
        value = targets[i]
        if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_floating_point():
            value = int(value)
        return int(value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else None
    except Exception:  # noqa: BLE001 - a dataset's own attribute named targets: no label rather than a crash
        return None


def _add_file_notes(report: Any, notes: dict[int, str], world_size: int) -> None:
    """The decoders' warnings of every rank's files (libpng's ``iCCP: ...``): ``report.notes`` and
    config's ``decoder_warnings``, as :func:`~dataeval_gpu.audit.scan_files` gives them (collective)."""
    from .audit.files import note_summary

    if world_size > 1 and dist.is_available() and dist.is_initialized():
        gathered: list[Any] = [None] * world_size
        dist.all_gather_object(gathered, notes)
        notes = {int(i): text for part in gathered for i, text in (part or {}).items()}
    report.notes = dict(sorted(notes.items()))
    if notes:
        report.config["decoder_warnings"] = note_summary(notes)


def shard_loader(
    dataset: Any,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    *,
    num_replicas: int | None = None,
    rank: int | None = None,
    on_error: str = "raise",
    pin_memory: bool = False,
    **loader_kwargs: Any,
) -> DataLoader:
    """This rank's shard of ``dataset`` as batches ``(images, labels, indices)``.

    ``images`` is a list of per-image objects (tensors of any size; see
    :func:`~dataeval_gpu.batching.ragged_collate`), ``labels`` a tensor or a list (``None``
    entries without labels), ``indices`` an int64 tensor of **dataset** indices.  The
    ``DistributedSampler`` gives each of the ``num_replicas`` ranks (default: the process
    group's world size and rank, or one rank without a group) every ``num_replicas``-th index
    of the (``seed``-shuffled when ``shuffle``) order, padding the last shard by repeating
    indices so every rank gets the same number of batches; a ``DataAudit`` drops the repeats
    at ``compute()``.

    ``dataset`` may already be an :class:`IndexedDataset`; otherwise it is wrapped in one
    (with ``on_error``).  Extra keyword arguments go to the ``DataLoader``.
    """
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    ds = dataset if isinstance(dataset, IndexedDataset) else IndexedDataset(dataset, on_error=on_error)
    g_rank, g_world = rank_and_world()
    replicas = g_world if num_replicas is None else int(num_replicas)
    this_rank = g_rank if rank is None else int(rank)
    sampler = DistributedSampler(
        ds, num_replicas=replicas, rank=this_rank, shuffle=shuffle, seed=seed, drop_last=False
    )
    loader_kwargs.setdefault("collate_fn", ragged_collate)
    if num_workers > 0:
        loader_kwargs.setdefault("persistent_workers", False)
    return DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        **loader_kwargs,
    )


def distributed_scan(
    dataset: Any,
    *,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device | None = None,
    paths: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    all_ranks: bool = True,
    progress: bool | None = None,
    **audit_kwargs: Any,
) -> Any:
    """Audit ``dataset`` with every rank of the process group; the merged :class:`AuditReport`.

    Run it under ``torchrun`` (the process group is joined with :func:`init_from_env` when
    ``torchrun``'s variables are set and no group exists yet; a group that is already up,
    e.g. Lightning's, is used as it is) or in a single process (a world of one).

    Each rank reads its ``DistributedSampler`` shard of ``dataset`` (a map-style dataset or a
    sequence of images; items as :class:`IndexedDataset` accepts); an item that raises is
    listed in ``report.failed`` rather than stopping the scan.  ``compute()`` is collective:
    **every rank receives the same complete report** (the detectors run on each rank); with
    ``all_ranks=False`` only rank 0 gets it and the other ranks get ``None``.  Writing files
    is left to the caller, on rank 0.  The process group stays up (destroy it with
    ``torch.distributed.destroy_process_group()`` when done).

    ``paths`` (one per dataset item) and ``class_names`` are attached to the report.
    ``device`` defaults to this rank's GPU (``cuda:LOCAL_RANK``) or the CPU; the remaining
    keyword arguments go to :class:`~dataeval_gpu.audit.DataAudit` (``hashes``,
    ``near_radius``, ``outlier_method``, ...).
    """
    from .audit import DataAudit, FeedLoop
    from .progress import progress_bar

    info = init_from_env(device=device)
    dev = info.device
    if info.backend == "nccl" and dev.type != "cuda":
        raise InvalidArgumentError(f"the nccl process group needs a CUDA device, got device={str(dev)!r}")
    from .io import ImageFiles, file_collate

    files = isinstance(dataset, ImageFiles)  # batches of DecodedItems: each file's decoder warnings kept
    loader: Any = shard_loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        num_workers=num_workers,
        on_error="mark",
        pin_memory=dev.type == "cuda",
    )
    if files:  # the same shard of the files themselves (ImageFiles never raises: a bad file is an item)
        kw = {"persistent_workers": False} if num_workers > 0 else {}
        loader = DataLoader(dataset, batch_size, sampler=loader.sampler, num_workers=num_workers,
                            collate_fn=file_collate, **kw)  # fmt: skip
    notes: dict[int, str] = {}
    audit = DataAudit(device=dev, **audit_kwargs)
    if class_names:
        audit.class_names = list(class_names)
    shard = len(loader.sampler)  # type: ignore[arg-type]
    with progress_bar(
        total=shard, desc=f"scan rank {info.rank}", enable=progress if info.is_main else False
    ) as bar:
        loop = FeedLoop(audit)  # the failure policy of dataeval_gpu.audit.feed: bad items are listed
        for batch in loader:
            if files:  # as IndexedDataset feeds them, and each file's decoder warnings kept
                notes.update((it.index, it.note) for it in batch if it.note)
                why = [it.error or "could not be decoded" for it in batch]
                images = [LoadFailure(w) if it.image is None else it.image for it, w in zip(batch, why)]
                batch = (images, [it.label for it in batch], [it.index for it in batch])
            bar.update(loop.feed(batch[0], batch[2], labels=batch[1]))
    report = audit.compute()  # collective: gathers every rank's rows and dicts
    if files:
        _add_file_notes(report, notes, info.world_size)
    report.config.update(
        {"world_size": info.world_size, "backend": info.backend, "shuffle": shuffle, "seed": seed}
    )
    if paths is not None:
        all_idx = sorted(set(report.index.tolist()) | set(report.failed))
        report.paths = {i: str(paths[i]) for i in all_idx}
    if not all_ranks and info.rank != 0:
        return None
    return report
