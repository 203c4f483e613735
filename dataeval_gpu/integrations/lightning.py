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
  (interleaved across ranks under DDP: ``position * world_size + rank``).

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

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import DataEvalGPUError, InvalidArgumentError, missing_dependency

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - exercised only without the extra
    try:
        from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef]
    except ImportError as exc:
        raise missing_dependency("lightning", "lightning") from exc

__all__ = ["DataEvalCallback", "DataLeakageError", "DataLeakageWarning", "find_leakage"]

logger = logging.getLogger(__name__)

_MODES = ("fit_start", "first_epoch")
_POLICIES = ("warn", "fail", "ignore")


class DataLeakageError(DataEvalGPUError, RuntimeError):
    """Validation images are copies of training images (raised with ``leakage="fail"``)."""


class DataLeakageWarning(UserWarning):
    """Validation images are copies of training images (warned with ``leakage="warn"``)."""


def find_leakage(train: Any, val: Any) -> dict[int, dict[str, list[int]]]:
    """Validation images whose xxhash or perceptual hash equals that of a training image.

    ``train`` and ``val`` are :class:`~dataeval_gpu.audit.AuditReport` s computed with
    ``hashes=True`` (and the same ``hash`` / ``d4``: with ``d4=True`` a mirrored or rotated
    copy matches).  The matching is :meth:`Duplicates.cross_matches
    <dataeval_gpu.detectors.duplicates.Duplicates.cross_matches>` on the hash tensors.
    Returns ``{val index: {"exact": [train indices with the same bytes],
    "near": [train indices with the same near hash]}}`` for every val image with at
    least one match (an exact copy usually matches both ways), sorted by val index.
    Images too small for a perceptual hash only match exactly.
    """
    for name, rep in (("train", train), ("val", val)):
        if len(rep.index) and not rep.hashes:
            raise InvalidArgumentError(f"the {name} report has no hashes: audit it with hashes=True")
    from ..detectors.duplicates import Duplicates

    matches = Duplicates().cross_matches(val.hash_tensors(), train.hash_tensors())
    out: dict[int, dict[str, list[int]]] = {}
    for kind in ("exact", "near"):
        for p, q in matches[kind].tolist():
            out.setdefault(int(val.index[p]), {"exact": [], "near": []})[kind].append(int(train.index[q]))
    return {i: {k: sorted(v) for k, v in out[i].items()} for i in sorted(out)}


def _flatten_loaders(obj: Any) -> list[Any]:
    """A DataLoader, a list / tuple / dict of them or a CombinedLoader → a flat list."""
    if obj is None:
        return []
    flattened = getattr(obj, "flattened", None)  # lightning's CombinedLoader
    if isinstance(flattened, list):
        return [x for x in flattened if x is not None]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _flatten_loaders(v)]
    if isinstance(obj, (list, tuple)):
        return [x for v in obj for x in _flatten_loaders(v)]
    return [obj]


def _requested_loaders(trainer: Any, stage: str) -> list[Any]:
    """The dataloaders ``Trainer.fit`` was given for ``stage`` ("train" / "val"), asked for now.

    They come from where the trainer will take them: loaders passed to ``fit``, the
    datamodule's or the LightningModule's ``*_dataloader()`` hook.
    """
    loop = trainer.fit_loop if stage == "train" else trainer.fit_loop.epoch_loop.val_loop
    source = getattr(loop, "_data_source", None)
    if source is not None and getattr(source, "instance", None) is not None:
        try:
            if source.is_defined():
                return _flatten_loaders(source.dataloader())
        except NotImplementedError:
            pass
        return []
    for owner in (getattr(trainer, "datamodule", None), getattr(trainer, "lightning_module", None)):
        hook = getattr(owner, f"{stage}_dataloader", None)
        if callable(hook):
            try:
                return _flatten_loaders(hook())
            except NotImplementedError:
                continue
    return []


def _is_map_style(dataset: Any) -> bool:
    from torch.utils.data import IterableDataset

    return (
        dataset is not None
        and not isinstance(dataset, IterableDataset)
        and hasattr(dataset, "__len__")
        and hasattr(dataset, "__getitem__")
    )


def _split_batch(batch: Any) -> tuple[Any, Any, Any]:
    """(images, labels, indices) of a training batch; labels / indices ``None`` when absent."""
    if isinstance(batch, dict):
        key = "image" if "image" in batch else ("images" if "images" in batch else next(iter(batch)))
        labels = batch.get("label", batch.get("labels"))
        indices = batch.get("index", batch.get("indices"))
        return batch[key], labels, indices
    if isinstance(batch, torch.Tensor):
        return batch, None, None
    if isinstance(batch, (tuple, list)) and batch:
        first = batch[0]
        if isinstance(first, torch.Tensor) and first.ndim == 4:
            images = first
        elif isinstance(first, (list, tuple)) and first and hasattr(first[0], "ndim"):
            images = first  # a ragged batch: list of (C, H, W) images
        else:
            return list(batch), None, None  # a list of images
        labels = batch[1] if len(batch) > 1 else None
        indices = batch[2] if len(batch) > 2 else None
        if indices is not None:
            idx = torch.as_tensor(indices) if not isinstance(indices, torch.Tensor) else indices
            n = images.shape[0] if isinstance(images, torch.Tensor) else len(images)
            if idx.ndim != 1 or idx.numel() != n or idx.is_floating_point():
                indices = None  # the third item is something else (masks, boxes, ...)
        return images, labels, indices
    raise InvalidArgumentError(
        f"DataEvalCallback: cannot find images in a batch of type {type(batch).__name__}; expected a "
        "(B, C, H, W) tensor, a list of images, an (images, labels[, indices]) tuple or a dict with 'image'"
    )


def _labels_list(labels: Any, n: int) -> list[Any] | None:
    if labels is None:
        return None
    if isinstance(labels, torch.Tensor):
        if labels.ndim == 0 or labels.shape[0] != n:
            return None
        return labels.detach().cpu().tolist()
    labs = list(labels)
    return labs if len(labs) == n else None


class DataEvalCallback(Callback):
    """Audit the train and val data of ``Trainer.fit``; log, save, and check train↔val leakage.

    Parameters
    ----------
    mode : ``"fit_start"`` (read the datasets once before training) or ``"first_epoch"``
        (audit the batches of the first epoch as they are seen).
    leakage : what to do when val images are copies of train images: ``"warn"``
        (:class:`DataLeakageWarning`, default), ``"fail"`` (raise :class:`DataLeakageError`,
        which stops ``fit``) or ``"ignore"`` (still counted and saved).
    hashes : compute hashes and duplicate groups (needed for the leakage check).
    out_dir : where the reports go (default ``<trainer.log_dir or default_root_dir>/dataeval``).
    save_formats : formats of ``AuditReport.save`` (``"csv"``, ``"json"``, ``"parquet"``).
    batch_size : batch size of the ``fit_start`` pass (default: each dataloader's own, or 64).
    num_workers : workers of the ``fit_start`` pass (default: each dataloader's own).
    device : where the audit computes (default: the module's device).
    audit_train, audit_val : which splits to audit.
    audit_kwargs : more :class:`~dataeval_gpu.audit.DataAudit` settings (``near_radius``,
        ``hash``, ``d4``, ``outlier_method``, ``linter_flags``, ``embeddings``, ...);
        ``{"d4": True}`` makes the leakage check find mirrored / rotated copies.

    After the audit, ``train_report`` / ``val_report`` hold the
    :class:`~dataeval_gpu.audit.AuditReport` s (on every rank), ``leaks`` the
    :func:`find_leakage` result, ``metrics`` the logged figures and ``written`` the files.
    """

    def __init__(
        self,
        mode: str = "fit_start",
        leakage: str = "warn",
        *,
        hashes: bool = True,
        out_dir: str | os.PathLike | None = None,
        save_formats: Sequence[str] = ("csv", "json"),
        batch_size: int | None = None,
        num_workers: int | None = None,
        device: str | torch.device | None = None,
        audit_train: bool = True,
        audit_val: bool = True,
        audit_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise InvalidArgumentError(f"mode must be one of {_MODES}, got {mode!r}")
        if leakage not in _POLICIES:
            raise InvalidArgumentError(f"leakage must be one of {_POLICIES}, got {leakage!r}")
        if leakage != "ignore" and not hashes:
            raise InvalidArgumentError(f"leakage={leakage!r} needs hashes=True (or leakage='ignore')")
        if batch_size is not None and batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
        self.mode = mode
        self.leakage = leakage
        self.hashes = hashes
        self.out_dir = out_dir
        self.save_formats = tuple(save_formats)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.device = device
        self.audit_train = audit_train
        self.audit_val = audit_val
        self.audit_kwargs = dict(audit_kwargs or {})
        self.train_report: Any = None
        self.val_report: Any = None
        self.leaks: dict[int, dict[str, list[int]]] = {}
        self.metrics: dict[str, float] = {}
        self.written: dict[str, str] = {}
        self._audits: dict[str, Any] = {}
        self._seen: dict[str, int] = {}
        self._val_done = False
        self._first_epoch: int | None = None
        self._finished = False

    # ---------------------------------------------------------------- helpers
    def _new_audit(self, pl_module: Any) -> Any:
        from ..audit import DataAudit

        dev = torch.device(self.device) if self.device is not None else pl_module.device
        return DataAudit(device=dev, hashes=self.hashes, **self.audit_kwargs)

    def _audit_loaders(self, trainer: Any, pl_module: Any, stage: str) -> Any:
        """Read every dataset behind the ``stage`` dataloaders once (this rank's shard)."""
        from ..distributed import _feed, shard_loader

        audit = self._new_audit(pl_module)
        offset = 0
        sizes = []
        for loader in _requested_loaders(trainer, stage):
            dataset = getattr(loader, "dataset", None)
            bs = self.batch_size or getattr(loader, "batch_size", None) or 64
            workers = self.num_workers if self.num_workers is not None else getattr(loader, "num_workers", 0)
            if _is_map_style(dataset):
                shard = shard_loader(
                    dataset,
                    batch_size=bs,
                    num_workers=workers,
                    num_replicas=trainer.world_size,
                    rank=trainer.global_rank,
                    on_error="mark",
                )
                for images, labels, indices in shard:
                    _feed(audit, images, labels, indices + offset)
                offset += len(dataset)
                sizes.append(len(dataset))
            else:
                # an iterable dataset has no indices to shard by: every rank reads the whole
                # stream in order (the same on every rank), repeated indices merge at compute()
                pos = offset
                for batch in loader:
                    images, labels, _ = _split_batch(batch)
                    n = images.shape[0] if isinstance(images, torch.Tensor) else len(images)
                    idx = torch.arange(pos, pos + n)
                    _feed(audit, list(images), _labels_list(labels, n) or [None] * n, idx)
                    pos += n
                sizes.append(pos - offset)
                offset = pos
        audit_cfg = {"loader_sizes": sizes}
        return audit, audit_cfg

    def _update_from_batch(self, trainer: Any, pl_module: Any, stage: str, batch: Any) -> None:
        images, labels, indices = _split_batch(batch)
        n = images.shape[0] if isinstance(images, torch.Tensor) else len(images)
        if n == 0:
            return
        audit = self._audits.get(stage)
        if audit is None:
            audit = self._audits[stage] = self._new_audit(pl_module)
        if indices is None:
            pos = self._seen.get(stage, 0)
            world, rank = max(trainer.world_size, 1), trainer.global_rank
            indices = torch.arange(pos, pos + n, dtype=torch.int64) * world + rank
            self._seen[stage] = pos + n
        from ..distributed import _feed

        imgs = [t.detach() if isinstance(t, torch.Tensor) else t for t in images]
        labs = _labels_list(labels, n) or [None] * n
        _feed(audit, imgs, labs, torch.as_tensor(indices).reshape(-1))  # a bad image is listed as failed

    # ---------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._reset_state()
        if self.mode != "fit_start":
            return
        reports, cfgs = {}, {}
        for stage, wanted in (("train", self.audit_train), ("val", self.audit_val)):
            if not wanted:
                continue
            audit, cfg = self._audit_loaders(trainer, pl_module, stage)
            reports[stage] = audit.compute()  # collective under DDP
            cfgs[stage] = cfg
        for stage, cfg in cfgs.items():
            reports[stage].config.update(cfg)
        self._finish(trainer, reports)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if self._first_epoch is None:
            self._first_epoch = trainer.current_epoch

    def _collecting(self, trainer: Any) -> bool:
        return (
            self.mode == "first_epoch"
            and not self._finished
            and not trainer.sanity_checking
            and (self._first_epoch is None or trainer.current_epoch == self._first_epoch)
        )

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.audit_train and self._collecting(trainer):
            self._update_from_batch(trainer, pl_module, "train", batch)

    def on_validation_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self.audit_val and not self._val_done and self._collecting(trainer):
            self._update_from_batch(trainer, pl_module, "val", batch)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not trainer.sanity_checking and "val" in self._audits:
            self._val_done = True  # one validation run is enough (val_check_interval < 1 runs several)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not self._finished:
            self._finish_first_epoch(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not self._finished:
            self._finish_first_epoch(trainer)  # training stopped inside the first epoch

    def _reset_state(self) -> None:
        self._audits, self._seen = {}, {}
        self._val_done, self._first_epoch, self._finished = False, None, False
        self.train_report = self.val_report = None
        self.leaks, self.metrics, self.written = {}, {}, {}

    def _finish_first_epoch(self, trainer: Any) -> None:
        reports = {}
        for stage, wanted in (("train", self.audit_train), ("val", self.audit_val)):
            # under DDP every rank takes part in compute(): a rank that saw no batch of a
            # stage another rank saw joins with an empty audit (and all skip it together)
            if not wanted or not _any_rank(stage in self._audits):
                continue
            audit = self._audits.get(stage) or self._new_audit(trainer.lightning_module)
            reports[stage] = audit.compute()
        self._audits = {}
        self._finish(trainer, reports)

    # ---------------------------------------------------------------- results
    def _finish(self, trainer: Any, reports: dict[str, Any]) -> None:
        self._finished = True
        self.train_report = reports.get("train")
        self.val_report = reports.get("val")
        self.leaks = {}
        if self.hashes and self.train_report is not None and self.val_report is not None:
            self.leaks = find_leakage(self.train_report, self.val_report)
        self.metrics = self._figures()
        out = self._out_dir(trainer)  # collective (trainer.log_dir broadcasts): every rank
        if trainer.is_global_zero:
            self._log(trainer)
            self._write(out)
        for stage, rep in (("train", self.train_report), ("val", self.val_report)):
            if rep is not None:
                logger.info("DataEval audit of the %s data:\n%s", stage, rep.summary())
        if self.leaks and self.leakage != "ignore":
            n_exact = sum(1 for m in self.leaks.values() if m["exact"])
            shown = ", ".join(
                f"val {i} ~ train {m['exact'] or m['near']}" for i, m in list(self.leaks.items())[:5]
            )
            msg = (
                f"{len(self.leaks)} validation image(s) are copies of training images "
                f"({n_exact} byte-identical, {len(self.leaks) - n_exact} with the same perceptual hash): "
                f"{shown}{' ...' if len(self.leaks) > 5 else ''}"
                + (f"; see {out / 'leakage.json'}" if out is not None else "")
            )
            if self.leakage == "fail":
                raise DataLeakageError(msg)
            if trainer.is_global_zero:
                warnings.warn(msg, DataLeakageWarning, stacklevel=2)

    def _figures(self) -> dict[str, float]:
        m: dict[str, float] = {}
        for stage, rep in (("train", self.train_report), ("val", self.val_report)):
            if rep is None:
                continue
            s = rep.summary_dict()
            m[f"dataeval/{stage}_images"] = float(s["images"])
            m[f"dataeval/{stage}_failed"] = float(s["failed"])
            m[f"dataeval/{stage}_flagged"] = float(s["flagged_images"])
            if self.hashes:
                m[f"dataeval/{stage}_exact_duplicate_groups"] = float(s["exact_duplicate_groups"])
                m[f"dataeval/{stage}_near_duplicate_groups"] = float(s["near_duplicate_groups"])
        if self.hashes and self.train_report is not None and self.val_report is not None:
            exact = sum(1 for v in self.leaks.values() if v["exact"])
            m["dataeval/leaked_images"] = float(len(self.leaks))
            m["dataeval/leaked_exact"] = float(exact)
            m["dataeval/leaked_near"] = float(len(self.leaks) - exact)
        return m

    def _out_dir(self, trainer: Any) -> Path | None:
        if self.out_dir is not None:
            return Path(self.out_dir)
        base = trainer.log_dir or trainer.default_root_dir
        return Path(base) / "dataeval" if base else None

    def _log(self, trainer: Any) -> None:
        if not self.metrics:
            return
        for lg in trainer.loggers:
            lg.log_metrics(dict(self.metrics), step=trainer.global_step)
            lg.save()

    def _write(self, out: Path | None) -> None:
        if out is None:
            return
        out.mkdir(parents=True, exist_ok=True)
        written: dict[str, str] = {}
        summary: dict[str, Any] = {"mode": self.mode, "leakage_policy": self.leakage, "figures": self.metrics}
        for stage, rep in (("train", self.train_report), ("val", self.val_report)):
            if rep is None:
                continue
            for k, v in rep.save(out / stage, formats=self.save_formats).items():
                written[f"{stage}_{k}"] = v
            summary[stage] = rep.summary_dict()
        if self.train_report is not None and self.val_report is not None and self.hashes:
            leak_doc = {
                "leaked_images": len(self.leaks),
                "val_to_train": {str(i): m for i, m in self.leaks.items()},
            }
            (out / "leakage.json").write_text(json.dumps(leak_doc, indent=1))
            written["leakage"] = str(out / "leakage.json")
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=_default))
        written["summary"] = str(out / "summary.json")
        self.written = written


def _default(v: Any) -> Any:
    from ..audit import _jsonable

    return _jsonable(v)


def _any_rank(flag: bool) -> bool:
    """True when ``flag`` is True on any rank (``flag`` itself outside a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, bool(flag))
    return any(gathered)
