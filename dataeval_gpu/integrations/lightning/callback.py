"""The callback: audits the train / val data of ``Trainer.fit`` (see the package docstring)."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ...batching import labels_list, resolve_device, split_batch, stacks_items
from ...errors import InvalidArgumentError, missing_dependency
from .leakage import DataLeakageError, DataLeakageWarning, find_leakage
from .loaders import flatten_loaders, is_map_style, requested_loaders

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - exercised only without the extra
    try:
        from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef]
    except ImportError as exc:
        raise missing_dependency("lightning", "lightning") from exc

__all__ = ["ArrivalOrderWarning", "DataEvalCallback"]

logger = logging.getLogger(__name__)


class ArrivalOrderWarning(UserWarning):
    """``mode="first_epoch"`` over a shuffling DataLoader whose batches carry no dataset index:
    the reports (and the leakage check) number its images in their order of arrival."""

_MODES = ("fit_start", "first_epoch")
_POLICIES = ("warn", "fail", "ignore")


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
    against_index : a dataset index folder (e.g. of the training set, built by
        ``dataeval-gpu scan TRAIN --index DIR``): the val images are also checked against it
        (``val_report.against``); its copies count as leakage under the ``leakage`` policy.
    save_index : a folder: the train audit is saved there as a dataset index
        (:func:`dataeval_gpu.index.save_index`, written by global rank 0), for a later
        ``against_index`` or ``dataeval-gpu scan NEW --against DIR``.
    audit_kwargs : more :class:`~dataeval_gpu.audit.DataAudit` settings (``near_radius``,
        ``hash``, ``d4``, ``outlier_method``, ``linter_flags``, ``embeddings``, ...);
        DataAudit's defaults apply (D4 hashes: the leakage check finds mirrored / rotated
        copies; quality issues); ``{"preset": "dataeval-0.65"}`` gives DataEval 0.65's findings.

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
        against_index: str | os.PathLike | None = None,
        save_index: str | os.PathLike | None = None,
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
        if device is not None:
            resolve_device(device)  # device="cuda" without CUDA: said now, not when fit starts
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
        own = sorted({"device", "hashes"} & set(self.audit_kwargs))
        if own:  # the callback passes these itself: DataAudit would get them twice when fit starts
            raise InvalidArgumentError(
                f"audit_kwargs: {', '.join(own)} is set by the callback's own argument of that name; "
                "pass it to DataEvalCallback(...) instead"
            )
        from ...audit import DataAudit

        DataAudit(hashes=hashes, **self.audit_kwargs)  # a wrong setting fails here, not when fit starts
        self.against_index = against_index
        self.save_index = save_index
        self._train_audit: Any = None
        self.train_report: Any = None
        self.val_report: Any = None
        self.leaks: dict[int, dict[str, list[int]]] = {}
        self.metrics: dict[str, float] = {}
        self.written: dict[str, str] = {}
        self._loops: dict[str, Any] = {}  # stage → FeedLoop of the first_epoch mode
        self._seen: dict[str, int] = {}
        self._arrival: set[str] = set()  # stages numbered in the order of arrival of a shuffling loader
        self._val_done = False
        self._first_epoch: int | None = None
        self._finished = False

    # ---------------------------------------------------------------- helpers
    def _new_audit(self, pl_module: Any) -> Any:
        from ...audit import DataAudit

        dev = torch.device(self.device) if self.device is not None else pl_module.device
        return DataAudit(device=dev, hashes=self.hashes, **self.audit_kwargs)

    def _audit_loaders(self, trainer: Any, pl_module: Any, stage: str) -> Any:
        """Read every dataset behind the ``stage`` dataloaders once (this rank's shard)."""
        from ...audit import FeedLoop
        from ...distributed import shard_loader

        audit = self._new_audit(pl_module)
        loop = FeedLoop(audit)  # the failure policy of dataeval_gpu.audit.feed: bad items are listed
        offset = 0
        sizes = []
        for loader in requested_loaders(trainer, stage):
            dataset = getattr(loader, "dataset", None)
            bs = self.batch_size or getattr(loader, "batch_size", None) or 64
            workers = self.num_workers if self.num_workers is not None else getattr(loader, "num_workers", 0)
            if is_map_style(dataset):
                shard = shard_loader(
                    dataset,
                    batch_size=bs,
                    num_workers=workers,
                    num_replicas=trainer.world_size,
                    rank=trainer.global_rank,
                    on_error="mark",
                )
                for images, labels, indices in shard:
                    loop.feed(images, indices + offset, labels=labels)
                offset += len(dataset)
                sizes.append(len(dataset))
            else:
                # an iterable dataset has no indices to shard by: every rank reads the whole
                # stream in order (the same on every rank), repeated indices merge at compute()
                pos = offset
                stacked = stacks_items(loader)  # the default collate's (B, H, W): B grey images
                for batch in loader:
                    images, labels, _ = split_batch(batch, stacked=stacked)
                    n = len(images)
                    loop.feed(list(images), range(pos, pos + n), labels=labels_list(labels, n))
                    pos += n
                sizes.append(pos - offset)
                offset = pos
        audit_cfg = {"loader_sizes": sizes}
        return audit, audit_cfg

    def _update_from_batch(self, trainer: Any, pl_module: Any, stage: str, batch: Any, dataloader_idx: int = 0) -> None:
        from ...audit import FeedLoop

        # a tuple's third field is the dataset index only from an IndexedDataset: in other
        # (image, target, metadata) items it is metadata (a camera id would merge rows)
        images, labels, indices = split_batch(
            batch,
            tuple_indices=_indexed_loader(trainer, stage, dataloader_idx),
            stacked=_stacking_loader(trainer, stage, dataloader_idx),  # (B, H, W): B grey images
        )
        n = len(images)
        if n == 0:
            return
        loop = self._loops.get(stage)
        if loop is None:
            loop = self._loops[stage] = FeedLoop(self._new_audit(pl_module))
        if indices is not None and dataloader_idx:
            # each val loader's dataset indices start at 0: offset them by the loaders before it,
            # as the fit_start pass does (two loaders' images must not share rows)
            indices = indices + _loader_offset(trainer, stage, dataloader_idx)
        if indices is None and stage not in self._arrival and _shuffles(trainer, stage, dataloader_idx):
            self._arrival.add(stage)
            warnings.warn(
                f"DataEvalCallback(mode='first_epoch'): the {stage} DataLoader shuffles and its batches carry no "
                f"dataset index, so the {stage} report and the leakage check number its images in the order "
                "they arrive in the first epoch, not by dataset index; wrap the dataset in "
                "dataeval_gpu.distributed.IndexedDataset (or use mode='fit_start') to get dataset indices",
                ArrivalOrderWarning,
                stacklevel=2,
            )
        if indices is None:
            pos = self._seen.get(stage, 0)
            world, rank = max(trainer.world_size, 1), trainer.global_rank
            indices = torch.arange(pos, pos + n, dtype=torch.int64) * world + rank
            self._seen[stage] = pos + n
        imgs = [t.detach() if isinstance(t, torch.Tensor) else t for t in images]
        loop.feed(imgs, indices, labels=labels_list(labels, n))  # a bad image is listed as failed

    # ---------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._reset_state()
        if self.mode != "fit_start":
            return
        reports, cfgs, audits = {}, {}, {}
        for stage, wanted in (("train", self.audit_train), ("val", self.audit_val)):
            if not wanted:
                continue
            audit, cfg = self._audit_loaders(trainer, pl_module, stage)
            reports[stage] = audit.compute()  # collective under DDP
            audits[stage] = audit
            if stage == "train":
                self._train_audit = audit
            cfgs[stage] = cfg
        for stage, cfg in cfgs.items():
            reports[stage].config.update(cfg)
        self._finish(trainer, reports, audits)

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
            self._update_from_batch(trainer, pl_module, "val", batch, dataloader_idx)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not trainer.sanity_checking and "val" in self._loops:
            self._val_done = True  # one validation run is enough (val_check_interval < 1 runs several)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not self._finished:
            self._finish_first_epoch(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.mode == "first_epoch" and not self._finished:
            self._finish_first_epoch(trainer)  # training stopped inside the first epoch

    def _reset_state(self) -> None:
        self._loops, self._seen, self._arrival = {}, {}, set()
        self._val_done, self._first_epoch, self._finished = False, None, False
        self.train_report = self.val_report = self._train_audit = None
        self.leaks, self.metrics, self.written = {}, {}, {}

    def _finish_first_epoch(self, trainer: Any) -> None:
        reports, audits = {}, {}
        for stage, wanted in (("train", self.audit_train), ("val", self.audit_val)):
            # under DDP every rank takes part in compute(): a rank that saw no batch of a
            # stage another rank saw joins with an empty audit (and all skip it together)
            if not wanted or not _any_rank(stage in self._loops):
                continue
            loop = self._loops.get(stage)
            audit = loop.audit if loop is not None else self._new_audit(trainer.lightning_module)
            reports[stage] = audit.compute()
            audits[stage] = audit
            if stage == "train":
                self._train_audit = audit
        self._loops = {}
        self._finish(trainer, reports, audits)

    # ---------------------------------------------------------------- results
    def _finish(self, trainer: Any, reports: dict[str, Any], audits: dict[str, Any]) -> None:
        self._finished = True
        self.train_report = reports.get("train")
        self.val_report = reports.get("val")
        self.leaks = {}
        if self.hashes and self.train_report is not None and self.val_report is not None:
            # near copies by the scan's rules across the two sets (a JPEG re-save of a training photo)
            self.leaks = find_leakage(
                self.train_report, self.val_report, train_audit=audits.get("train"), val_audit=audits.get("val")
            )
        index_copies = self._check_index()
        self.metrics = self._figures()
        out = self._out_dir(trainer)  # collective (trainer.log_dir broadcasts): every rank
        if trainer.is_global_zero:
            self._log(trainer)
            self._write(out)
            self._save_index()
        self._train_audit = None  # saved (or not wanted): its rows need not stay alive
        for stage, rep in (("train", self.train_report), ("val", self.val_report)):
            if rep is not None:
                logger.info("DataEval audit of the %s data:\n%s", stage, rep.summary())
        if index_copies and self.leakage != "ignore":
            msg = (
                f"{len(index_copies)} validation image(s) are copies of images in the index {self.against_index}: "
                + ", ".join(f"val {i} ~ {p[0]}" for i, p in list(index_copies.items())[:5])
            )
            if self.leakage == "fail":
                raise DataLeakageError(msg)
            if trainer.is_global_zero:
                warnings.warn(msg, DataLeakageWarning, stacklevel=2)
        if self.leaks and self.leakage != "ignore":
            n_exact = sum(1 for m in self.leaks.values() if m["exact"])
            arrival = " ".join(
                f"{stage} indices are positions in the first epoch's shuffled order;" for stage in sorted(self._arrival)
            )
            shown = ", ".join(
                f"val {i} ~ train {m['exact'] or m['near']}" for i, m in list(self.leaks.items())[:5]
            ) + (f" ({arrival[:-1]})" if arrival else "")
            msg = (
                f"{len(self.leaks)} validation image(s) are copies of training images "
                f"({n_exact} byte-identical, {len(self.leaks) - n_exact} near copies as a scan groups them): "
                f"{shown}{' ...' if len(self.leaks) > 5 else ''}"
                + (f"; see {out / 'leakage.json'}" if out is not None else "")
            )
            if self.leakage == "fail":
                raise DataLeakageError(msg)
            if trainer.is_global_zero:
                warnings.warn(msg, DataLeakageWarning, stacklevel=2)

    def _save_index(self) -> None:
        """Save the train audit as the index in ``save_index`` (global rank 0)."""
        if self.save_index is None or self._train_audit is None:
            return
        from ...index import save_index

        save_index(self._train_audit, self.save_index)
        self.written["index"] = str(self.save_index)

    def _check_index(self) -> dict[int, list[str]]:
        """Check the val report against ``against_index``: {val index: [indexed copies' paths]}."""
        if self.against_index is None or self.val_report is None:
            return {}
        from ...index import against_report

        against_report(self.val_report, self.against_index)
        copies: dict[int, list[str]] = {}
        for m in self.val_report.against["matches"]:
            copies.setdefault(m["image"], []).append(m["partner_path"] or f"row {m['partner']}")
        return copies

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
        from ...audit import jsonable

        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=jsonable))
        written["summary"] = str(out / "summary.json")
        self.written = written


def _batch_loaders(trainer: Any, stage: str, dataloader_idx: int) -> list[Any]:
    """The ``stage`` dataloader(s) that gave the batch."""
    source = trainer.train_dataloader if stage == "train" else trainer.val_dataloaders
    loaders = flatten_loaders(source)
    return loaders if stage == "train" else loaders[dataloader_idx : dataloader_idx + 1]


def _indexed_loader(trainer: Any, stage: str, dataloader_idx: int) -> bool:
    """Whether the ``stage`` dataloader that gave the batch reads an
    :class:`~dataeval_gpu.distributed.IndexedDataset` (its batches' third field is dataset indices)."""
    from ...distributed import IndexedDataset

    loaders = _batch_loaders(trainer, stage, dataloader_idx)
    return bool(loaders) and all(isinstance(getattr(ld, "dataset", None), IndexedDataset) for ld in loaders)


def _stacking_loader(trainer: Any, stage: str, dataloader_idx: int) -> bool:
    """Whether the ``stage`` dataloader that gave the batch stacks its items with the default collate
    (:func:`~dataeval_gpu.batching.stacks_items`: a 3-D batch is B grey ``(H, W)`` images)."""
    loaders = _batch_loaders(trainer, stage, dataloader_idx)
    return bool(loaders) and all(stacks_items(ld) for ld in loaders)


def _shuffles(trainer: Any, stage: str, dataloader_idx: int) -> bool:
    """Whether the ``stage`` dataloader that gave the batch draws its items in a random order
    (a ``RandomSampler``, or a sampler with ``shuffle=True`` such as DDP's ``DistributedSampler``)."""
    from torch.utils.data import RandomSampler

    source = trainer.train_dataloader if stage == "train" else trainer.val_dataloaders
    loaders = flatten_loaders(source)
    if stage != "train":
        loaders = loaders[dataloader_idx : dataloader_idx + 1]
    samplers = [getattr(ld, "sampler", None) for ld in loaders]
    samplers += [getattr(getattr(ld, "batch_sampler", None), "sampler", None) for ld in loaders]
    return any(isinstance(s, RandomSampler) or getattr(s, "shuffle", False) is True for s in samplers)


def _loader_offset(trainer: Any, stage: str, dataloader_idx: int) -> int:
    """The number of dataset items in the ``stage`` dataloaders before ``dataloader_idx`` (the
    offset of its dataset indices, as :meth:`DataEvalCallback._audit_loaders` numbers them)."""
    source = trainer.train_dataloader if stage == "train" else trainer.val_dataloaders
    loaders = flatten_loaders(source)[:dataloader_idx]
    sizes = (len(ld.dataset) if is_map_style(getattr(ld, "dataset", None)) else 0 for ld in loaders)
    return sum(sizes)


def _any_rank(flag: bool) -> bool:
    """True when ``flag`` is True on any rank (``flag`` itself outside a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, bool(flag))
    return any(gathered)
