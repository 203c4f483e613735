"""The one feed loop under every entry point, and its failure policy.

:func:`~dataeval_gpu.audit.scan`, the file scan (:func:`~dataeval_gpu.audit.scan_files`, the
``dataeval-gpu scan`` command), :func:`~dataeval_gpu.distributed.distributed_scan` (torchrun)
and the Lightning callback all feed their :class:`~dataeval_gpu.audit.DataAudit` through
:class:`FeedLoop`, so a bad input is treated alike everywhere.

Failure policy — every input fed is in the report, measured or in ``report.failed`` with a reason:

1. An input that could not be loaded (a dataset item that raised, a file that could not be
   read or decoded: a :class:`~dataeval_gpu.batching.LoadFailure`) is listed as failed with
   the loader's reason.
2. Each image is validated once (:func:`~dataeval_gpu.batching.as_image`); one that is not an
   image (wrong shape, complex or object dtype, a side of 0) is listed as failed with the
   validation message, and the rest of its batch is measured.
3. Out of memory (CUDA or the CPU allocator) while measuring: the batch is split in halves
   and retried, down to single images; one image that still does not fit on the GPU is
   measured on the CPU; one that does not fit on the CPU is listed as failed.
4. Any other error while measuring a batch: its images are measured one by one, and each
   image that fails alone is listed as failed (``"TypeName: message"``); the others are
   measured.  A bug therefore shows as failed images with one shared reason (and a logged
   warning), never as a silently shorter report.

:meth:`DataAudit.update <dataeval_gpu.audit.DataAudit.update>`, the API for your own loop, is
strict instead: it raises for an invalid image and for errors other than out of memory, and a
batch that raised leaves no rows (rules 1 and 3 apply to it too).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ..batching import LoadFailure, as_image, dataset_indices, labels_list
from ..errors import DataEvalGPUError, InvalidArgumentError, short_reason

#: A checkpoint holds every row so far, so each save costs more than the last: one that took
#: longer than SAVE_SLOW_S is followed by the next only after SAVE_GAP_FACTOR times its cost
#: (saving then takes at most ~10 % of the scan; before, 20,000 8 x 8 PNGs scanned with the
#: default checkpoint every 20 batches spent most of their time re-writing the growing state).
SAVE_SLOW_S = 0.25
SAVE_GAP_FACTOR = 9.0

__all__ = [
    "FeedLoop",
    "LabelWarning",
    "Measurer",
    "checkpoint_position",
    "is_out_of_memory",
    "measure",
    "CheckpointMismatchError",
]

logger = logging.getLogger("dataeval_gpu.audit")


class LabelWarning(UserWarning):
    """A label that is not a class label (a segmentation mask, a box array; labels not one per
    image) was left out of the report's labels; the images are measured all the same."""


class CheckpointMismatchError(DataEvalGPUError, ValueError):
    """A checkpoint was made for other inputs (another file list) than the ones being resumed."""


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA / CPU allocation failures (the errors a smaller batch can avoid)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError) or isinstance(exc, MemoryError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    msg = str(exc).lower()
    # CUDA: "CUDA out of memory"; the CPU allocator: "DefaultCPUAllocator: can't allocate memory"
    return "out of memory" in msg or "can't allocate memory" in msg


def _inject_fault(n: int) -> None:
    """The test hook ``dataeval_gpu.audit._FAULT_INJECTOR``: a callable(batch_len) that may raise."""
    hook = getattr(sys.modules.get("dataeval_gpu.audit"), "_FAULT_INJECTOR", None)
    if hook is not None:
        hook(n)


class Measurer(Protocol):
    """What :func:`measure` drives: compute rows of validated images, and store them."""

    device: torch.device  # where batch_rows computes (set before measure() is called)

    def batch_rows(self, imgs: list[torch.Tensor]) -> Any: ...

    def cpu_rows(self, imgs: list[torch.Tensor]) -> Any: ...

    def append_rows(self, idx: torch.Tensor, rows: Any) -> None: ...


def measure(
    target: Measurer,
    imgs: list[torch.Tensor],
    idx: torch.Tensor,
    *,
    strict: bool,
    on_failed: Callable[[int, str], None] | None = None,
) -> None:
    """Measure validated images (dataset indices ``idx``, a CPU tensor) under the failure policy.

    ``strict=True``: only out-of-memory is handled (split and retry; one image on the CPU);
    anything else propagates.  ``strict=False``: rules 3 and 4 of the module's policy, each
    image that cannot be measured is passed to ``on_failed(index, reason)``.
    """
    try:
        _inject_fault(len(imgs))
        rows = target.batch_rows(imgs)
    except Exception as exc:  # noqa: BLE001 - sorted out below by the policy
        if not is_out_of_memory(exc):
            if strict:
                raise
            _isolate(target, imgs, idx, exc, on_failed)
            return
        if target.device.type == "cuda":
            torch.cuda.empty_cache()
        if len(imgs) > 1:
            half = len(imgs) // 2
            logger.info("out of memory on a batch of %d: splitting and retrying", len(imgs))
            measure(target, imgs[:half], idx[:half], strict=strict, on_failed=on_failed)
            measure(target, imgs[half:], idx[half:], strict=strict, on_failed=on_failed)
            return
        if target.device.type == "cpu":
            if strict or on_failed is None:
                raise
            logger.warning("image %d does not fit in memory: not measured", int(idx[0]))
            on_failed(int(idx[0]), short_reason(exc))
            return
        logger.warning("image %d does not fit on %s: measuring it on the CPU", int(idx[0]), target.device)
        try:
            rows = target.cpu_rows(imgs)
        except Exception as cpu_exc:  # noqa: BLE001 - the last resort failed too
            if strict or on_failed is None:
                raise
            on_failed(int(idx[0]), short_reason(cpu_exc))
            return
    target.append_rows(idx, rows)


def _isolate(
    target: Measurer,
    imgs: list[torch.Tensor],
    idx: torch.Tensor,
    exc: Exception,
    on_failed: Callable[[int, str], None] | None,
) -> None:
    """Rule 4: measure the images of a failed batch one by one; list those that fail alone."""
    if on_failed is None:
        raise exc
    if len(imgs) == 1:
        logger.warning("image %d not measured: %s", int(idx[0]), short_reason(exc))
        on_failed(int(idx[0]), short_reason(exc))
        return
    logger.warning("a batch of %d failed (%s): measuring its images one by one", len(imgs), short_reason(exc))
    for k in range(len(imgs)):
        measure(target, imgs[k : k + 1], idx[k : k + 1], strict=False, on_failed=on_failed)


def validate(
    images: Sequence[Any], indices: Sequence[int], on_failed: Callable[[int, str], None]
) -> tuple[list[torch.Tensor], list[int]]:
    """Rules 1 and 2: the valid ``(C, H, W)`` tensors and their indices; the rest to ``on_failed``."""
    good, good_idx = [], []
    for obj, i in zip(images, indices, strict=True):
        if isinstance(obj, LoadFailure):
            on_failed(i, obj.reason)
            continue
        try:
            good.append(as_image(obj, i))
        except DataEvalGPUError as exc:
            on_failed(i, str(exc))
            continue
        good_idx.append(i)
    return good, good_idx


class FeedLoop:
    """Feed a :class:`~dataeval_gpu.audit.DataAudit` batch by batch under the failure policy.

    Parameters
    ----------
    audit : the audit fed.
    checkpoint : a file to save the audit's state to every ``checkpoint_every`` batches
        (a save that took over ``SAVE_SLOW_S`` puts the next one off until ``SAVE_GAP_FACTOR``
        times its cost has passed, so that re-writing the growing state stays a small share of
        the scan; written atomically: a kill leaves the old file or the new one), with ``meta`` (e.g.
        the file list) stored alongside so that :meth:`resume` can refuse a checkpoint made
        for other inputs.

    ``position`` counts the inputs fed so far (measured or failed), from the resumed position.

    Examples
    --------
    >>> import numpy as np
    >>> from dataeval_gpu.audit import DataAudit
    >>> audit = DataAudit(hashes=False)
    >>> loop = FeedLoop(audit)
    >>> loop.feed([np.zeros((1, 8, 8), np.uint8), np.zeros((2, 2, 2, 2)), LoadFailure("OSError")], [0, 1, 2])
    3
    >>> sorted(audit.compute().failed)
    [1, 2]
    """

    def __init__(
        self,
        audit: Any,
        *,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 0,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if checkpoint_every < 0:
            raise InvalidArgumentError(f"checkpoint_every must be >= 0, got {checkpoint_every}")
        self.audit = audit
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.checkpoint_every = int(checkpoint_every)
        self.meta = dict(meta or {})
        self.position = 0
        self.batches = 0
        self._next_save_at = 0.0  # perf_counter time before which a due save is put off (slow saves)
        self.label_warned = False  # a label that is not a class label was reported (once per loop)

    # ---------------------------------------------------------------- feeding
    def feed(
        self,
        images: Sequence[Any],
        indices: torch.Tensor | Sequence[int],
        labels: Any = None,
        paths: Sequence[str] | None = None,
    ) -> int:
        """Feed one batch: images (any accepted object, or a ``LoadFailure`` for an input that
        could not be loaded) with their dataset indices, labels and paths.
        Returns the number of inputs fed."""
        idx = _index_list(indices)
        if len(idx) != len(images):
            raise InvalidArgumentError(f"got {len(images)} images but {len(idx)} indices")
        if paths is not None and len(paths) != len(idx):
            raise InvalidArgumentError(f"got {len(images)} images but {len(paths)} paths")
        labs = self._labels(labels, idx)
        self.audit.annotate(idx, None, paths)
        if labs is not None:  # inputs without a label (None) get none
            known = [(i, lab) for i, lab in zip(idx, labs) if lab is not None]
            self.audit.annotate([i for i, _ in known], [lab for _, lab in known])
        good, good_idx = validate(images, idx, self.audit.mark_failed)
        if good:
            self.audit.prepare(good)
            measure(
                self.audit,
                good,
                torch.tensor(good_idx, dtype=torch.int64),
                strict=False,
                on_failed=self.audit.mark_failed,
            )
        return self._advance(len(idx))

    def _labels(self, labels: Any, idx: list[int]) -> list[Any] | None:
        """The batch's labels as the report keeps them (:func:`~dataeval_gpu.labels.as_label`);
        what is not a class label (a segmentation mask, a target without labels, not one per
        image) is left out, and said once per loop (:class:`LabelWarning`)."""
        from ..labels import as_label

        if labels is None:
            return None
        labs = labels_list(labels, len(idx))
        if labs is None:
            self._warn_labels(f"the labels of the batch of images {idx[0]}..{idx[-1]} are not one per image "
                              f"({type(labels).__name__}{tuple(getattr(labels, 'shape', ()))})" if idx else "")
            return None
        out = []
        for i, lab in zip(idx, labs):
            try:
                out.append(as_label(lab, i))
            except InvalidArgumentError as exc:
                self._warn_labels(str(exc))
                out.append(None)
        return out

    def _warn_labels(self, reason: str) -> None:
        if reason and not self.label_warned:
            self.label_warned = True
            warnings.warn(
                f"{reason}: left out of the report's labels (and the labels of any other image like it)",
                LabelWarning,
                stacklevel=4,
            )

    def feed_rows(
        self,
        chunks: Sequence[tuple[Sequence[int], Any]],
        failed: dict[int, str],
        indices: Sequence[int],
        labels: Sequence[Any] | None = None,
        paths: Sequence[str] | None = None,
    ) -> int:
        """Feed a batch measured elsewhere (in a DataLoader worker, see
        :func:`~dataeval_gpu.audit.scan_files`): ``chunks`` of (dataset indices, rows) and the
        ``failed`` inputs with their reasons; ``indices`` / ``labels`` / ``paths`` of every input."""
        idx = _index_list(indices)
        self.audit.annotate(idx, list(labels) if labels is not None else None, paths)
        for i, reason in failed.items():
            self.audit.mark_failed(int(i), reason)
        for chunk_idx, rows in chunks:
            self.audit.append_rows(torch.as_tensor(list(chunk_idx), dtype=torch.int64), rows)
        return self._advance(len(idx))

    def _advance(self, n: int) -> int:
        self.position += n
        self.batches += 1
        if self.checkpoint is not None and self.checkpoint_every and self.batches % self.checkpoint_every == 0:
            if time.perf_counter() >= self._next_save_at:  # a slow last save: this one waits
                self.save()
        return n

    # ---------------------------------------------------------------- checkpoints
    def save(self) -> None:
        """Write the checkpoint now (the audit's state, ``position`` and ``meta``)."""
        if self.checkpoint is None:
            raise InvalidArgumentError("this FeedLoop has no checkpoint file")
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".tmp")
        start = time.perf_counter()
        torch.save({"position": self.position, "meta": self.meta, "audit": self.audit.state()}, tmp)
        os.replace(tmp, self.checkpoint)  # atomic: a kill leaves the old or the new one, never half
        end = time.perf_counter()
        cost = end - start
        self._next_save_at = end + SAVE_GAP_FACTOR * cost if cost > SAVE_SLOW_S else 0.0

    def resume(self) -> int:
        """Load the checkpoint when it exists; returns the position to continue from (0 without one).

        Raises :class:`CheckpointMismatchError` when it was made with other ``meta`` (other inputs).
        """
        if self.checkpoint is None or not self.checkpoint.exists():
            return self.position
        ck = torch.load(self.checkpoint, weights_only=False)
        if ck.get("meta") != self.meta:
            raise CheckpointMismatchError(
                f"the checkpoint {self.checkpoint} was made for different inputs (a different file list)"
            )
        try:
            self.audit.load_state(ck["audit"])
        except CheckpointMismatchError as err:  # other settings: name the file
            raise CheckpointMismatchError(f"{self.checkpoint}: {err}") from None
        self.position = int(ck["position"])
        logger.info("resuming at input %d", self.position)
        return self.position

    def finish(self) -> None:
        """Remove the checkpoint (the run finished: the results are in the report)."""
        if self.checkpoint is not None and self.checkpoint.exists():
            self.checkpoint.unlink()


def checkpoint_position(checkpoint: str | os.PathLike | None) -> int:
    """How many inputs the checkpoint ``FeedLoop.save`` wrote holds (0 when there is none), without
    restoring it: what a resumed run took from it.  Its tensors are memory-mapped, not read."""
    if checkpoint is None or not Path(checkpoint).exists():
        return 0
    return int(torch.load(checkpoint, weights_only=False, mmap=True)["position"])


def _index_list(indices: torch.Tensor | Sequence[int]) -> list[int]:
    return dataset_indices(indices.cpu() if isinstance(indices, torch.Tensor) else indices)
