"""The scan over image files: decode and measure where the bytes are read.

On the CPU each worker process decodes a chunk of files and computes the statistics and
hashes of the decoded images right there; only the per-image rows (a few kB per image) travel
to the main process, never the pixels (~1.3 MB per photo), and the main process only stores
rows (and the thumbnails of the largest images, for the report).  The workers are forked
(:func:`~dataeval_gpu.audit.workers.run_in_workers`; a worker killed for memory loses only
the file it was measuring, failed with the reason) and each takes the next chunk when it is idle, so a chunk of huge
photos does not leave the other cores waiting, as a DataLoader's turn-by-turn hand-out does;
the rows are fed in file order.  Each worker runs one torch thread, so ``workers`` processes
use ``workers`` cores and nothing competes with them.  Where processes cannot be forked a
DataLoader does the same work.

On CUDA the device path is kept: workers read and decode the files as on the CPU (Pillow's
pixels) and the main process measures the batch on the device; with ``gpu_decode=True`` the
workers read the plain JPEGs as bytes (decoding only those nvJPEG cannot take) and the main
process decodes them on the GPU in one call.  With an embedding model the pixels are needed in the main process,
so the images are measured there too.

Both paths feed the audit through :class:`~dataeval_gpu.audit.feed.FeedLoop` (same failure policy,
checkpoints every ``checkpoint_every`` batches, ``resume``).
"""

from __future__ import annotations

import heapq
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from ..batching import LoadFailure, resolve_device
from ..errors import ImageTypeError, InvalidArgumentError
from ..kernel_warmup import compile_ahead, counting_compiles
from ..progress import COMPILE_NOTE_S, progress_bar
from ..report.images import THUMB_FROM_PIXELS, scan_thumbnail
from .feed import FeedLoop, measure, validate
from .workers import LOST_REASON, can_fork, items_ahead, run_alone, run_in_workers

__all__ = [
    "AnalysedBatch",
    "AnalysedFiles",
    "can_fork",
    "default_workers",
    "feed_decoded",
    "items_ahead",
    "run_in_workers",
    "scan_files",
    "worker_chunk",
]

#: files a worker decodes and measures at a time (small: the workers' last chunks end together)
WORKER_CHUNK = 16
#: most report thumbnails a scan keeps (those of the largest images; ~150 kB each)
MAX_THUMBNAILS = 256

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


def worker_chunk(batch_size: int, n_files: int, n_workers: int) -> int:
    """Files a worker takes at a time: :data:`WORKER_CHUNK` (at most ``batch_size``), and
    fewer when the scan has fewer than 4 chunks a worker, so that a short scan of large images is
    shared among the workers (20 wallpapers in chunks of 16 left one worker 4 files and the
    other 16: the scan took 16 files' time where 10 would do)."""
    share = -(-n_files // (4 * max(1, n_workers)))
    return max(1, min(batch_size, WORKER_CHUNK, share))


@dataclass
class AnalysedBatch:
    """What a worker sends back for a batch of files: rows, never pixels."""

    indices: list[int]
    labels: list[int | None]
    paths: list[str]
    chunks: list[tuple[list[int], dict[str, torch.Tensor]]] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    thumbnails: dict[int, tuple[int, Any]] = field(default_factory=dict)  # index -> (pixels, (C, h, w) uint8)
    notes: dict[int, str] = field(default_factory=dict)  # index -> the decoder's warnings (DecodedItem.note)


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
    """Image files decoded *and measured* where they are read (a worker process).

    ``files`` is a :class:`~dataeval_gpu.io.ImageFiles`; ``accumulator`` an empty CPU
    statistics accumulator with the audit's settings
    (:meth:`~dataeval_gpu.audit.DataAudit.make_accumulator`).  A batch of positions gives an
    :class:`AnalysedBatch` (through ``__getitems__``, which the DataLoader calls with a whole
    batch); the failure policy of :mod:`dataeval_gpu.audit.feed` applies inside the worker.
    With ``thumbnails``, images of at least
    :data:`~dataeval_gpu.report.images.THUMB_FROM_PIXELS` pixels also get their report
    thumbnail made from the decoded pixels (decoding them again for the report costs more).
    """

    def __init__(self, files: Any, accumulator: Any, thumbnails: bool = False) -> None:
        self.files = files
        self.accumulator = accumulator
        self.thumbnails = thumbnails

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
        out.notes = {it.index: it.note for it in items if it.note}
        good, good_idx = validate(images, out.indices, out.failed.__setitem__)
        del images, items
        if good and self.thumbnails:
            out.thumbnails = _thumbnails(good, good_idx)
        if good:
            sink = _RowSink(self.accumulator)
            with one_thread():
                measure(sink, good, torch.tensor(good_idx, dtype=torch.int64), strict=False, on_failed=out.failed.__setitem__)
            out.chunks = sink.chunks
        return out


def _thumbnails(images: list[torch.Tensor], indices: list[int]) -> dict[int, tuple[int, Any]]:
    """Report thumbnails of the large uint8 images among ``images`` (see :class:`AnalysedFiles`),
    with each image's pixel count.  ``report.images`` is imported with this module, so that the
    forked workers inherit it instead of each importing it again."""
    out = {}
    for img, i in zip(images, indices, strict=True):
        pixels = int(img.shape[-1] * img.shape[-2])
        if img.dtype == torch.uint8 and img.device.type == "cpu" and img.ndim == 3 and pixels >= THUMB_FROM_PIXELS:
            try:
                thumb = scan_thumbnail(img)
            except Exception:  # noqa: BLE001 - the report decodes the file itself instead
                continue
            if thumb is not None:
                out[i] = (pixels, thumb)
    return out


class _Thumbnails:
    """The :data:`MAX_THUMBNAILS` thumbnails of the largest images seen (a min-heap by size)."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_THUMBNAILS if limit is None else limit
        self.heap: list[tuple[int, int]] = []
        self.kept: dict[int, Any] = {}

    def add(self, thumbs: dict[int, tuple[int, Any]]) -> None:
        for i, (pixels, thumb) in thumbs.items():
            item = (pixels, i)
            if len(self.heap) < self.limit:
                heapq.heappush(self.heap, item)
            elif item > self.heap[0]:
                _, dropped = heapq.heapreplace(self.heap, item)
                self.kept.pop(dropped, None)
            else:
                continue
            self.kept[i] = thumb


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


def warm_up(accumulator: Any, timing: dict[str, Any] | None = None) -> float:
    """Measure two small images (64 x 72) here, before the DataLoader forks its workers: the lazily
    imported modules and the compiled kernels (numba, loaded from its disk cache) are then
    inherited by every worker instead of being loaded again in each (the decoders' planar copy
    :func:`~dataeval_gpu.functional.stats_compiled.planes_u8` too).  Pillow's format plugins
    (``Image.open`` reads each file's header, TIFF reads a JPEG's EXIF) are loaded here too.
    numba's array-math registry is imported first with scipy's BLAS hidden
    (:func:`~dataeval_gpu.functional.stats_compiled.preload_numba_without_blas`: no
    ``scipy.linalg`` / ``numpy.f2py`` import, 0.15-0.3 s of CPU time).  The first time (numba's
    cache empty) the kernels are compiled on several cores at once: :func:`compile_ahead`.
    Returns its seconds: ~0.4 s with numba's cache filled, 10-25 s of CPU the first time (and sets
    ``timing["kernels_compiled"]``: whether any kernel was compiled, here or in a forked child; on a
    busy machine loading them alone can take seconds)."""
    from PIL import Image, TiffImagePlugin  # noqa: F401 - imported for the workers

    t0 = time.perf_counter()

    import numpy as np

    from ..functional.stats_compiled import planes_u8, preload_numba_without_blas

    preload_numba_without_blas()
    Image.preinit()
    # 64 px a side: the motion kernel runs on images of MOTION_MIN_SIDE px or more only (at 40 x 48 it
    # was left to load from numba's cache in each worker on its first photo)
    images = [torch.zeros(3, 64, 72, dtype=torch.uint8), torch.zeros(1, 64, 72, dtype=torch.uint8)]
    forked = 0
    with one_thread(), counting_compiles() as compiled:
        if available_cores() >= 2 and can_fork():  # the first run: compiled on the cores at once
            forked = compile_ahead(accumulator, images)
        accumulator.batch_rows(images)
        planes_u8(np.zeros((2, 2, 3), np.uint8))  # the decoders' interleaved pixels to planes (io)
    seconds = time.perf_counter() - t0
    if timing is not None:
        timing["kernels_compiled"] = bool(forked or compiled[0])
    if seconds > COMPILE_NOTE_S and (forked or compiled[0]):
        logger.info("compiled the CPU kernels in %.1f s (once: numba caches them for the next scans)", seconds)
    return seconds


def _batches(
    dataset: Any, chunks: list[list[int]], n_workers: int, in_workers: bool, timing: dict[str, float]
) -> Iterator[Any]:
    """The scan's batches: measured in forked workers that each take the next chunk when idle
    (:func:`run_in_workers`), else through a DataLoader (no fork, no workers, or the device path).
    ``timing`` gets ``warm_up_s`` (:func:`warm_up`) where the kernels are loaded before the fork."""
    from torch.utils.data import DataLoader

    from ..io import file_collate

    if in_workers and n_workers > 0:
        timing["warm_up_s"] = round(warm_up(dataset.accumulator, timing), 3)
        if can_fork():
            task = partial(_numpy_rows, dataset)
            lost = partial(_lost_chunk, task, dataset)  # a worker killed (memory): each file again alone
            return (_tensor_rows(b) for b in run_in_workers(task, chunks, n_workers, on_lost=lost))
    loader = DataLoader(
        dataset,
        batch_sampler=chunks,
        num_workers=n_workers,
        collate_fn=_keep if in_workers else file_collate,
        persistent_workers=False,
    )
    return iter(loader)


def _started(batches: Iterator[Any], on_started: Callable[[], Any] | None) -> Iterator[Any]:
    """``batches``, calling ``on_started`` once the first one is back: the workers are forked by
    then (the command line imports what it needs after the scan meanwhile, in a thread)."""
    for k, batch in enumerate(batches):
        if k == 0 and on_started is not None:
            on_started()
        yield batch


def _numpy_rows(dataset: AnalysedFiles, positions: Sequence[int]) -> AnalysedBatch:
    """A worker's batch with its rows as numpy arrays: they cross the process boundary as plain
    bytes (a torch tensor would go through a shared-memory segment of its own)."""
    batch = dataset.__getitems__(positions)
    batch.chunks = [(idx, {k: v.numpy() for k, v in rows.items()}) for idx, rows in batch.chunks]
    return batch


def _lost_chunk(
    task: Callable[[Any], Any], dataset: AnalysedFiles, positions: Sequence[int], reason: str = LOST_REASON
) -> AnalysedBatch:
    """A chunk whose worker died twice (:func:`~dataeval_gpu.audit.workers.run_in_workers`):
    each of its files run alone, the one that kills its worker again failed with ``reason``
    (:func:`~dataeval_gpu.audit.workers.lost_reason`: killed, out of memory?, or crashed); one
    batch of them all."""
    if len(positions) == 1:
        p = int(positions[0])
        label, path = dataset.files.labels[p], dataset.files.files[p]
        return AnalysedBatch(indices=[p], labels=[label], paths=[path], failed={p: reason})
    parts = [run_alone(task, [p], partial(_lost_chunk, task, dataset)) for p in positions]
    out = AnalysedBatch(indices=[], labels=[], paths=[])
    for b in parts:
        out.indices += b.indices
        out.labels += b.labels
        out.paths += b.paths
        out.chunks += b.chunks
        out.failed.update(b.failed)
        out.thumbnails.update(b.thumbnails)
        out.notes.update(b.notes)
    return out


def _tensor_rows(batch: AnalysedBatch) -> AnalysedBatch:
    batch.chunks = [(idx, {k: torch.from_numpy(v) for k, v in rows.items()}) for idx, rows in batch.chunks]
    return batch


def _keep(batch: Any) -> Any:
    """``collate_fn`` that keeps a batch as the dataset returned it (picklable for spawn)."""
    return batch


def _in_workers(dev: torch.device, embeddings: bool, measure_in_workers: bool | None, gpu_decode: bool) -> bool:
    """Whether :func:`scan_files` measures in the worker processes; checks the two settings."""
    if gpu_decode and dev.type != "cuda":
        raise InvalidArgumentError(f"gpu_decode=True needs a CUDA device, got {dev}")
    in_workers = dev.type == "cpu" and not embeddings
    if measure_in_workers and not in_workers:
        raise InvalidArgumentError("measure_in_workers=True needs device='cpu' and no embeddings")
    return in_workers if measure_in_workers is None else measure_in_workers


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
    thumbnails: bool = True,
    on_started: Callable[[], Any] | None = None,
    gpu_decode: bool = False,
    findings: bool = True,
    **audit_kwargs: Any,
) -> Any:
    """Audit image files; every file is in the report, measured or failed with its reason.

    Parameters
    ----------
    files, labels, class_names : the files (what :func:`~dataeval_gpu.io.decode_bytes` reads),
        a label each (``-1``: none), the labels' names.
    device : where the statistics are computed (default: the CPU).
    batch_size, workers : files per batch, workers (default: one per core on the CPU, where
        they decode and measure; ``min(4, cores)`` on CUDA).
    checkpoint, checkpoint_every, resume : save the audit every ``checkpoint_every`` batches to
        ``checkpoint``; with ``resume`` continue from it (raises
        :class:`~dataeval_gpu.audit.feed.CheckpointMismatchError` if made for other files); it is
        left in place: remove it once the results are written.
    measure_in_workers : measure in the worker processes (default: on the CPU without an
        embedding model); False measures in this process, as on CUDA (the device path).
    thumbnails : in workers, keep the report thumbnails of the :data:`MAX_THUMBNAILS` largest
        images (:data:`~dataeval_gpu.report.images.THUMB_FROM_PIXELS` pixels or more) in
        ``report.thumbnails``, made from the measured pixels (the report decodes them once).
    audit_kwargs : :class:`~dataeval_gpu.audit.DataAudit` settings (``hashes``, ``near_radius``, ...).
    audit, findings : feed this :class:`~dataeval_gpu.audit.DataAudit` (its rows stay readable) instead of
        a new one; ``findings=False``: measure only, return the fed audit (no ``compute()``).
    on_started : called once when the first batch is back (the workers are forked and busy).
    gpu_decode : on CUDA, decode plain JPEGs on the GPU (nvJPEG: faster, but not Pillow's pixels).

    ``report.config`` gets ``elapsed_s`` (the loop, :func:`warm_up` included), ``images_per_s``,
    ``workers``, ``measured_in``, ``warm_up_s`` where the workers measure.
    """
    from ..io import ImageFiles
    from .core import DataAudit

    if isinstance(files, (str, bytes, os.PathLike)):  # not one missing file per character of the path
        path = os.fsdecode(files)
        raise ImageTypeError(
            f"scan_files takes a list of file paths, got the path {path!r}: for a folder use "
            f"dataeval_gpu.audit.scan_files(dataeval_gpu.discovery.find_inputs({path!r}).files), "
            f"for one file scan_files([{path!r}])"
        )
    files = [str(f) for f in files]
    labs = list(labels) if labels is not None else [-1] * len(files)
    dev = resolve_device(device)
    audit = DataAudit(device=dev, **audit_kwargs) if audit is None else audit
    audit.class_names = list(class_names)
    audit.reserve(len(files))  # the row store allocates for every file at once
    in_workers = _in_workers(dev, bool(audit.embeddings), measure_in_workers, gpu_decode)
    n_workers = default_workers(in_workers) if workers is None else int(workers)
    # workers take small chunks (the last ones then end together), checkpoints still count batches
    chunk = worker_chunk(batch_size, len(files), n_workers) if in_workers else batch_size
    per_batch = -(-batch_size // chunk)
    loop = FeedLoop(audit, checkpoint=checkpoint, checkpoint_every=checkpoint_every * per_batch, meta={"files": files})
    start = loop.resume() if resume else 0
    decoded = ImageFiles(files, labs, gpu_jpeg=gpu_decode)
    dataset: Any = AnalysedFiles(decoded, audit.make_accumulator("cpu"), thumbnails) if in_workers else decoded
    thumbs, notes = _Thumbnails(), {}  # the report's thumbnails, the decoders' warnings by input
    t0 = time.perf_counter()
    chunks = [list(range(s, min(s + chunk, len(files)))) for s in range(start, len(files), chunk)]
    loader = _started(_batches(dataset, chunks, n_workers, in_workers, timing := {}), on_started)
    with progress_bar(total=len(files), desc="scan", enable=progress) as bar:
        bar.update(start)
        for batch in loader:
            bar.update(_feed(loop, batch, in_workers, dev, thumbs, notes))
    elapsed = time.perf_counter() - t0
    if not findings:
        return audit
    report = audit.compute(progress=progress)
    report.thumbnails = {i: thumbs.kept[i] for i in sorted(thumbs.kept) if i in report.paths}
    where = "workers" if in_workers and n_workers > 0 else "main process"
    report.config.update(
        {
            "files": len(files),
            "elapsed_s": round(elapsed, 3),
            # the inputs a checkpoint held were not measured again: the rate counts this run's only
            "images_per_s": round((len(files) - start) / max(elapsed, 1e-9), 2),
            "workers": n_workers,
            "measured_in": where,
            **timing,
            **({"resumed_from": start} if resume else {}),
        }
    )
    _add_notes(report, notes)
    return report


def _feed(
    loop: FeedLoop, batch: Any, in_workers: bool, device: torch.device, thumbs: _Thumbnails, notes: dict[int, str]
) -> int:
    """Feed one batch of the scan: a workers' :class:`AnalysedBatch` (its rows, failures and
    thumbnails) or decoded files (:func:`feed_decoded`); the decoders' warnings go to ``notes``.
    Returns the number of files fed."""
    if not in_workers:
        notes.update((it.index, it.note) for it in batch if it.note)
        return feed_decoded(loop, batch, device)
    notes.update(batch.notes)
    fed = loop.feed_rows(batch.chunks, batch.failed, batch.indices, batch.labels, batch.paths)
    thumbs.add(batch.thumbnails)
    return fed


def _add_notes(report: Any, notes: dict[int, str]) -> None:
    """The decoders' warnings: ``report.notes`` and, when any, config's ``decoder_warnings``."""
    report.notes = dict(sorted(notes.items()))
    if notes:
        report.config["decoder_warnings"] = note_summary(notes)


def note_summary(notes: dict[int, str], top: int = 3) -> str:
    """``"127 images (59 × libpng warning: sBIT: bad length, ...)"``: the decoder warnings, by kind,
    each count first (after the text, ``bKGD: invalid gray level 4`` read as the gray level)."""
    from collections import Counter

    kinds = Counter(k for text in notes.values() for k in dict.fromkeys(text.split("; ")))
    shown = ", ".join(f"{n} × {k}" for k, n in kinds.most_common(top)) + (", ..." if len(kinds) > top else "")
    return f"{len(notes)} image{'s' if len(notes) != 1 else ''} ({shown})"


def feed_decoded(loop: FeedLoop, batch: Sequence[Any], device: torch.device) -> int:
    """Feed a batch of decoded files (:class:`~dataeval_gpu.io.ImageFiles` items) to ``loop`` to
    be measured in this process: a file that could not be decoded goes in as a
    :class:`~dataeval_gpu.batching.LoadFailure` with its reason (listed as failed); on CUDA the
    plain JPEGs read as bytes are decoded on the GPU first.  Returns the number fed."""
    if device.type == "cuda":
        from ..io import gpu_decode

        gpu_decode(batch, device)
    return loop.feed(
        [it.image if it.image is not None else LoadFailure(it.error or "could not be decoded") for it in batch],
        [it.index for it in batch],
        labels=[it.label for it in batch],
        paths=[it.path for it in batch],
    )
