"""The scan over image files: decode and measure where the bytes are read.

On the CPU each DataLoader worker decodes its batch of files and computes the statistics and
hashes of the decoded images right there; only the per-image rows (a few kB per image) travel
to the main process, never the pixels (~1.3 MB per photo), and the main process only stores
rows.  Each worker runs one torch thread (the DataLoader sets it), so ``workers`` processes
use ``workers`` cores and nothing competes with them.

On CUDA the device path is kept: workers read (and, for files nvJPEG cannot take, decode) the
files, the main process decodes the plain JPEGs of a batch on the GPU in one call and measures
the batch on the device.  With an embedding model the pixels are needed in the main process,
so the images are measured there too.

Both paths feed the audit through :class:`~dataeval_gpu.audit.feed.FeedLoop` (same failure policy,
checkpoints every ``checkpoint_every`` batches, ``resume``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from ..batching import LoadFailure, resolve_device
from ..errors import InvalidArgumentError
from ..progress import progress_bar
from .feed import FeedLoop, measure, validate

__all__ = ["AnalysedBatch", "AnalysedFiles", "default_workers", "scan_files"]

#: files a worker decodes and measures at a time (small: the workers' last chunks end together)
WORKER_CHUNK = 16

logger = logging.getLogger("dataeval_gpu.audit")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def default_workers(in_worker_analysis: bool) -> int:
    """DataLoader workers for a file scan: one per core when the workers do all the work
    (decode and measure), else ``min(4, cores)`` decoding beside the main process."""
    cores = available_cores()
    return cores if in_worker_analysis else min(4, cores)


@dataclass
class AnalysedBatch:
    """What a worker sends back for a batch of files: rows, never pixels."""

    indices: list[int]
    labels: list[int]
    paths: list[str]
    chunks: list[tuple[list[int], dict[str, torch.Tensor]]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


class _RowSink:
    """A :class:`~dataeval_gpu.audit.feed.Measurer` on the CPU that keeps the rows it is given."""

    device = torch.device("cpu")

    def __init__(self, acc: Any) -> None:
        self.acc = acc
        self.chunks: list[tuple[list[int], dict[str, torch.Tensor]]] = []

    def batch_rows(self, imgs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.acc.batch_rows(imgs)

    cpu_rows = batch_rows

    def append_rows(self, idx: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        self.chunks.append((idx.tolist(), rows))


class AnalysedFiles(torch.utils.data.Dataset):
    """Image files decoded *and measured* where they are read (a DataLoader worker).

    ``files`` is a :class:`~dataeval_gpu.io.ImageFiles`; ``accumulator`` an empty CPU
    statistics accumulator with the audit's settings
    (:meth:`~dataeval_gpu.audit.DataAudit.make_accumulator`).  A batch of positions gives an
    :class:`AnalysedBatch` (through ``__getitems__``, which the DataLoader calls with a whole
    batch); the failure policy of :mod:`dataeval_gpu.audit.feed` applies inside the worker.
    """

    def __init__(self, files: Any, accumulator: Any) -> None:
        self.files = files
        self.accumulator = accumulator

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> AnalysedBatch:
        return self.__getitems__([i])

    def __getitems__(self, positions: Sequence[int]) -> AnalysedBatch:
        items = [self.files[int(i)] for i in positions]
        out = AnalysedBatch(
            indices=[it.index for it in items], labels=[it.label for it in items], paths=[it.path for it in items]
        )
        images = [it.image if it.image is not None else LoadFailure(it.error or "could not be decoded") for it in items]
        good, good_idx = validate(images, out.indices, out.failed.__setitem__)
        del images, items
        if good:
            sink = _RowSink(self.accumulator)
            with one_thread():
                measure(sink, good, torch.tensor(good_idx, dtype=torch.int64), strict=False, on_failed=out.failed.__setitem__)
            out.chunks = sink.chunks
        return out


@contextmanager
def one_thread() -> Iterator[None]:
    """torch at one intra-op thread meanwhile, as in a DataLoader worker, so that results do not
    depend on where a batch is measured (float reductions split across threads round differently)."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def warm_up(accumulator: Any) -> None:
    """Measure two tiny images here, before the DataLoader forks its workers: the lazily
    imported modules and the compiled kernels (numba, loaded from its disk cache) are then
    inherited by every worker instead of being loaded again in each."""
    with one_thread():
        accumulator.batch_rows([torch.zeros(3, 40, 48, dtype=torch.uint8), torch.zeros(1, 40, 48, dtype=torch.uint8)])


def _keep(batch: Any) -> Any:
    """``collate_fn`` that keeps a batch as the dataset returned it (picklable for spawn)."""
    return batch


def scan_files(
    files: Sequence[str],
    labels: Sequence[int] | None = None,
    *,
    class_names: Sequence[str] = (),
    device: str | torch.device | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool | None = None,
    measure_in_workers: bool | None = None,
    audit: Any = None,
    **audit_kwargs: Any,
) -> Any:
    """Audit image files; every file is in the report, measured or failed with its reason.

    Parameters
    ----------
    files, labels : the files (any format :func:`~dataeval_gpu.io.decode_bytes` reads) and a
        label per file (``-1``: none); ``class_names`` names the labels.
    device : where the statistics are computed (default: the CPU).
    batch_size, workers : files per batch, DataLoader workers (default: one per core on the
        CPU, where the workers decode and measure; ``min(4, cores)`` on CUDA).
    checkpoint, checkpoint_every, resume : save the audit every ``checkpoint_every`` batches to
        ``checkpoint``; with ``resume`` continue from it (raises
        :class:`~dataeval_gpu.audit.feed.CheckpointMismatchError` if it was made for other files).
        The checkpoint is left in place: remove it once the results are written.
    measure_in_workers : measure in the DataLoader workers (default: on the CPU without an
        embedding model); False measures in this process, as on CUDA (the device path).
    audit_kwargs : :class:`~dataeval_gpu.audit.DataAudit` settings (``hashes``, ``near_radius``, ...).
    audit : feed this :class:`~dataeval_gpu.audit.DataAudit` (its rows stay readable) instead of a new one.

    ``report.config`` gets ``elapsed_s`` (the loop, without ``compute()``), ``images_per_s``,
    ``workers`` and ``measured_in`` (``"workers"`` or ``"main process"``).
    """
    from torch.utils.data import DataLoader

    from ..io import ImageFiles, file_collate, gpu_decode
    from .core import DataAudit

    files = [str(f) for f in files]
    labs = list(labels) if labels is not None else [-1] * len(files)
    dev = resolve_device(device)
    audit = DataAudit(device=dev, **audit_kwargs) if audit is None else audit
    audit.class_names = list(class_names)
    in_workers = dev.type == "cpu" and not audit.embeddings
    if measure_in_workers is not None:
        if measure_in_workers and not in_workers:
            raise InvalidArgumentError("measure_in_workers=True needs device='cpu' and no embeddings")
        in_workers = measure_in_workers
    # workers take small chunks (the last ones then end together), checkpoints still count batches
    chunk = min(batch_size, WORKER_CHUNK) if in_workers else batch_size
    per_batch = -(-batch_size // chunk)
    loop = FeedLoop(
        audit, checkpoint=checkpoint, checkpoint_every=checkpoint_every * per_batch, meta={"files": files}
    )
    start = loop.resume() if resume else 0
    n_workers = default_workers(in_workers) if workers is None else int(workers)
    decoded = ImageFiles(files, labs, gpu_jpeg=dev.type == "cuda")
    dataset: Any = AnalysedFiles(decoded, audit.make_accumulator("cpu")) if in_workers else decoded
    if in_workers and n_workers > 0:
        warm_up(dataset.accumulator)
    loader = DataLoader(
        dataset,
        batch_size=chunk,
        sampler=range(start, len(files)),
        num_workers=n_workers,
        collate_fn=_keep if in_workers else file_collate,
        persistent_workers=False,
    )
    t0 = time.perf_counter()
    with progress_bar(total=len(files), desc="scan", enable=progress) as bar:
        bar.update(start)
        for batch in loader:
            if in_workers:
                fed = loop.feed_rows(batch.chunks, batch.failed, batch.indices, batch.labels, batch.paths)
            else:
                if dev.type == "cuda":
                    gpu_decode(batch, dev)
                fed = loop.feed(
                    [it.image if it.image is not None else LoadFailure(it.error or "could not be decoded") for it in batch],
                    [it.index for it in batch],
                    labels=[it.label for it in batch],
                    paths=[it.path for it in batch],
                )
            bar.update(fed)
    elapsed = time.perf_counter() - t0
    report = audit.compute()
    report.config.update(
        {
            "files": len(files),
            "elapsed_s": round(elapsed, 3),
            "images_per_s": round((len(files) - start) / max(elapsed, 1e-9), 2),
            "workers": n_workers,
            "measured_in": "workers" if in_workers and n_workers > 0 else "main process",
        }
    )
    return report
