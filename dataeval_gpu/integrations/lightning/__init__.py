"""A Lightning callback that audits the training and validation data when training starts.

:class:`DataEvalCallback` runs a :class:`~dataeval_gpu.audit.DataAudit` over the train and
val data of ``Trainer.fit``, logs a few figures through the trainer's loggers, writes both
reports under ``<log dir>/dataeval/`` and checks whether validation images leak from the
training set (an exact copy: same xxhash; or a near copy: same perceptual hash).

Two modes:

* ``mode="fit_start"`` (default): at ``on_fit_start``, before any training step, the
  datasets behind the train and val dataloaders are read once with the dataloaders' own
  batch size and worker count (not the training sampler: every dataset index once; under
  DDP each rank reads its ``DistributedSampler`` shard and the audit's ``compute()`` merges
  the shards).  Report indices are dataset indices.
* ``mode="first_epoch"``: no extra pass over the data; the batches the model sees during the
  first training epoch (and its validation run) are audited as they arrive
  (``on_train_batch_start`` / ``on_validation_batch_start``) and the findings come at the
  end of that epoch.  A batch is an ``(images, labels[, indices, ...])`` tuple / list, a
  ``(B, C, H, W)`` tensor, a list of images, or a dict with an ``"image"`` key (and
  ``"label"`` / ``"index"``).  Report indices are dataset indices when the batch carries them
  (a third tuple item, or ``"index"``, e.g. with
  :class:`~dataeval_gpu.distributed.IndexedDataset`), else the order of arrival
  (interleaved across ranks under DDP: ``position * world_size + rank``); for a shuffling
  DataLoader the latter are not dataset indices, and an :class:`ArrivalOrderWarning` (and the
  leakage warning) says so.

The figures logged (``trainer.loggers``, step = ``trainer.global_step``) are
``dataeval/{train,val}_{images,failed,flagged,exact_duplicate_groups,near_duplicate_groups}``
and ``dataeval/leaked_images`` (val images with a copy in train), ``dataeval/leaked_exact``,
``dataeval/leaked_near`` (same perceptual hash, different bytes).  Only global rank 0 logs and
writes files; every rank computes the same merged reports, so ``leakage="fail"`` raises on
every rank alike.

Needs the ``lightning`` extra (``pip install dataeval_gpu[lightning]``); the older
``pytorch_lightning`` package works too.
"""

from __future__ import annotations

from .callback import ArrivalOrderWarning, DataEvalCallback
from .leakage import DataLeakageError, DataLeakageWarning, find_leakage

__all__ = ["ArrivalOrderWarning", "DataEvalCallback", "DataLeakageError", "DataLeakageWarning", "find_leakage"]
