"""The torch-native facade: :class:`DataAudit` fed from any loop, and the one-call :func:`scan`.

``DataAudit`` holds the streaming accumulators (statistics, hashes, optionally embeddings);
``compute()`` runs the detectors on what was accumulated (Linter on the statistics,
Duplicates on the hashes, Clusterer on the embeddings) and returns an :class:`AuditReport`.
Tensors stay on the device until ``compute()``; the report is numpy / pandas / JSON.

Every index is accounted for: each one that was fed is in the statistics table, and each
one that could not be measured is in ``report.failed`` with the reason.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .accumulators.stats import ImageStatsAccumulator, images_from_batch
from .batching import iter_batches, resolve_device
from .errors import DataEvalGPUError, InvalidArgumentError
from .flags import ImageStat, to_distinct
from .functional import registry
from .functional.stats import IMAGE_KEYS
from .progress import progress_bar

__all__ = ["DataAudit", "AuditReport", "scan", "is_out_of_memory"]

logger = logging.getLogger(__name__)

#: metrics the summary table shows (the registry's scalar metrics: 0.65 names, then 1.x, then later ones)
SUMMARY_KEYS = registry.scalar_names()

# test hook: a callable(batch_len) that may raise to simulate running out of memory
_FAULT_INJECTOR: Any = None


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA / CPU allocation failures (the errors a smaller batch can avoid)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError) or isinstance(exc, MemoryError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    msg = str(exc).lower()
    # CUDA: "CUDA out of memory"; the CPU allocator: "DefaultCPUAllocator: can't allocate memory"
    return "out of memory" in msg or "can't allocate memory" in msg


@dataclass
class AuditReport:
    """What :meth:`DataAudit.compute` found.

    Attributes
    ----------
    index : dataset indices measured (sorted).
    stats : {metric: array aligned with ``index``} (``percentiles`` (N, 5), ``histogram`` (N, 256)).
    hashes : {"xxhash": [hex], "pchash": [hex or ""]} aligned with ``index``.
    issues : Linter output {index: {metric: value}}.
    duplicates : {"exact": [[i, ...]], "near": [[i, ...]]}.
    clusters : Clusterer findings (outliers, potential_outliers, duplicates, potential_duplicates) or {}.
    failed : {index: reason} for inputs that could not be measured.
    labels, paths : {index: label} / {index: path} when known.
    config : the settings of the run.
    """

    index: np.ndarray
    stats: dict[str, np.ndarray]
    hashes: dict[str, list[str]] = field(default_factory=dict)
    issues: dict[int, dict[str, float]] = field(default_factory=dict)
    duplicates: dict[str, list[list[int]]] = field(default_factory=dict)
    clusters: dict[str, Any] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    labels: dict[int, Any] = field(default_factory=dict)
    paths: dict[int, str] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    channel_stats: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.index) + len(self.failed)

    def to_pandas(self) -> Any:
        """One row per input index (measured or failed), with every scalar metric and the findings."""
        import pandas as pd

        all_idx = sorted(set(self.index.tolist()) | set(self.failed))
        df = pd.DataFrame(index=pd.Index(all_idx, name="index"))
        pos = {int(i): k for k, i in enumerate(self.index.tolist())}
        rows = [pos.get(i, -1) for i in all_idx]
        ok = np.array([r >= 0 for r in rows], dtype=bool)
        take = np.array([max(r, 0) for r in rows], dtype=np.int64)
        if self.paths:
            df["path"] = [self.paths.get(i, "") for i in all_idx]
        if self.labels:
            df["label"] = [self.labels.get(i) for i in all_idx]
        df["status"] = np.where(ok, "ok", "failed")
        df["error"] = [self.failed.get(i, "") for i in all_idx]
        for key, val in self.stats.items():
            if val.ndim == 1:
                col = val[take].astype(np.float64)
                col[~ok] = np.nan
                df[key] = col
            elif key == "percentiles":
                for j, q in enumerate((0, 25, 50, 75, 100)):
                    col = val[take, j].astype(np.float64)
                    col[~ok] = np.nan
                    df[f"p{q}"] = col
        for key, vals in self.hashes.items():
            df[key] = [vals[pos[i]] if i in pos else "" for i in all_idx]
        flagged = {i: ",".join(sorted(m)) for i, m in self.issues.items()}
        df["lint_flags"] = [flagged.get(i, "") for i in all_idx]
        for kind in ("exact", "near"):
            gid = {}
            for g, members in enumerate(self.duplicates.get(kind, [])):
                for m in members:
                    gid[m] = g
            df[f"{kind}_duplicate_group"] = [gid.get(i, -1) for i in all_idx]
        for key in ("outliers", "potential_outliers"):
            members = set(int(i) for i in self.clusters.get(key, []))
            if self.clusters:
                df[f"cluster_{key}"] = [i in members for i in all_idx]
        return df

    def findings(self) -> dict[str, Any]:
        """The JSON-able findings: linter issues, duplicate groups, cluster findings, failures."""
        return {
            "issues": {str(i): m for i, m in self.issues.items()},
            "duplicates": self.duplicates,
            "clusters": {k: _jsonable(v) for k, v in self.clusters.items() if k in _CLUSTER_KEYS},
            "failed": {str(i): r for i, r in self.failed.items()},
        }

    def summary_dict(self) -> dict[str, Any]:
        """Counts and per-metric summaries (min / median / max / flagged)."""
        per_metric = {}
        flagged_by_metric: dict[str, int] = {}
        for metrics in self.issues.values():
            for m in metrics:
                flagged_by_metric[m] = flagged_by_metric.get(m, 0) + 1
        for key in SUMMARY_KEYS:
            if key not in self.stats:
                continue
            v = self.stats[key].astype(np.float64)
            finite = v[np.isfinite(v)]
            per_metric[key] = {
                "min": float(finite.min()) if finite.size else None,
                "median": float(np.median(finite)) if finite.size else None,
                "max": float(finite.max()) if finite.size else None,
                "flagged": flagged_by_metric.get(key, 0),
            }
        dup = self.duplicates
        return {
            "images": self.total,
            "measured": int(len(self.index)),
            "failed": len(self.failed),
            "flagged_images": len(self.issues),
            "exact_duplicate_groups": len(dup.get("exact", [])),
            "exact_duplicate_images": sum(len(g) for g in dup.get("exact", [])),
            "near_duplicate_groups": len(dup.get("near", [])),
            "near_duplicate_images": sum(len(g) for g in dup.get("near", [])),
            "cluster_outliers": len(self.clusters.get("outliers", [])),
            "cluster_potential_outliers": len(self.clusters.get("potential_outliers", [])),
            "cluster_duplicate_groups": len(self.clusters.get("duplicates", [])),
            "metrics": per_metric,
        }

    def summary(self) -> str:
        """A short text summary: counts, then one line per metric."""
        s = self.summary_dict()
        lines = [
            f"images: {s['images']}  measured: {s['measured']}  failed: {s['failed']}  "
            f"flagged by the linter: {s['flagged_images']}",
            f"exact duplicates: {s['exact_duplicate_groups']} groups ({s['exact_duplicate_images']} images)  "
            f"near duplicates: {s['near_duplicate_groups']} groups ({s['near_duplicate_images']} images)",
        ]
        if self.clusters:
            lines.append(
                f"cluster outliers: {s['cluster_outliers']}  potential: {s['cluster_potential_outliers']}  "
                f"embedding duplicate groups: {s['cluster_duplicate_groups']}"
            )
        if s["metrics"]:
            lines.append(f"{'metric':<14}{'min':>12}{'median':>12}{'max':>12}{'flagged':>9}")
            for k, m in s["metrics"].items():
                lines.append(
                    f"{k:<14}{_fmt(m['min']):>12}{_fmt(m['median']):>12}{_fmt(m['max']):>12}{m['flagged']:>9}"
                )
        return "\n".join(lines)

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """Summary, findings and per-image rows as JSON (written to ``path`` when given)."""
        df = self.to_pandas()
        doc = {
            "summary": self.summary_dict(),
            "findings": self.findings(),
            "config": self.config,
            "class_names": self.class_names,
            "images": json.loads(df.reset_index().to_json(orient="records")),
        }
        text = json.dumps(doc, indent=1, default=_jsonable)
        if path is not None:
            Path(path).write_text(text)
        return text

    def save(self, out_dir: str | os.PathLike, formats: Sequence[str] = ("csv", "json")) -> dict[str, str]:
        """Write ``results.csv`` (and/or ``.parquet``), ``findings.json``, ``summary.json``, ``config.json``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        df = self.to_pandas()
        if "csv" in formats:
            df.to_csv(out / "results.csv")
            written["results"] = str(out / "results.csv")
        if "parquet" in formats:
            try:
                df.to_parquet(out / "results.parquet")
                written["parquet"] = str(out / "results.parquet")
            except ImportError:
                logger.warning("pyarrow is not installed: results.parquet not written (pip install pyarrow)")
        if "json" in formats:
            self.to_json(out / "results.json")
            written["json"] = str(out / "results.json")
        (out / "findings.json").write_text(json.dumps(self.findings(), indent=1, default=_jsonable))
        (out / "summary.json").write_text(json.dumps(self.summary_dict(), indent=1, default=_jsonable))
        (out / "config.json").write_text(json.dumps(self.config, indent=1, default=_jsonable))
        written.update(findings=str(out / "findings.json"), summary=str(out / "summary.json"))
        return written


_CLUSTER_KEYS = ("outliers", "potential_outliers", "duplicates", "potential_duplicates")


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, torch.Tensor):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, Path):
        return str(v)
    return v


class DataAudit:
    """Feed batches from your own loop; get statistics, lint flags, duplicates (and cluster outliers).

    Parameters
    ----------
    device : where the work runs (default: the CPU, or the device of the first batch).
    hashes : compute xxhash / pchash and find duplicates.
    linter_flags, outlier_method, outlier_threshold : the Linter's settings.
    near_radius : Hamming radius for near duplicates (0 = DataEval 0.65's exact pchash match).
    embeddings : also embed every image (default model, offline weights) and run the Clusterer.
    embed_model : an ``nn.Module`` mapping (B, 3, H, W) to (B, D) instead of the default.
    channels : also keep per-channel statistics.

    Examples
    --------
    >>> import torch
    >>> audit = DataAudit()
    >>> for b in range(3):
    ...     images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    ...     audit.update(images, indices=torch.arange(4 * b, 4 * b + 4), labels=torch.tensor([0, 1, 0, 1]))
    >>> report = audit.compute()
    >>> report.total, len(report.to_pandas())
    (12, 12)
    """

    def __init__(
        self,
        *,
        device: str | torch.device | None = None,
        hashes: bool = True,
        linter_flags: ImageStat = ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS,
        outlier_method: str = "modzscore",
        outlier_threshold: float | None = None,
        near_radius: int = 0,
        embeddings: bool = False,
        embed_model: torch.nn.Module | None = None,
        embed_batch_size: int = 64,
        channels: bool = False,
    ) -> None:
        self.device = resolve_device(device) if device is not None else None
        self.hashes = hashes
        self.linter_flags = linter_flags
        self.outlier_method = outlier_method
        self.outlier_threshold = outlier_threshold
        self.near_radius = int(near_radius)
        if not 0 <= self.near_radius <= 64:
            raise InvalidArgumentError(f"near_radius must be within 0..64, got {near_radius}")
        self.embeddings = embeddings
        self.embed_model = embed_model
        self.embed_batch_size = embed_batch_size
        self.channels = channels
        self.failed: dict[int, str] = {}
        self.labels: dict[int, Any] = {}
        self.paths: dict[int, str] = {}
        self.class_names: list[str] = []
        self._next_index = 0
        self._stats: ImageStatsAccumulator | None = None
        self._embed: Any = None
        if self.device is not None:
            self._init_accumulators(self.device)

    # -------------------------------------------------------------- state
    def _init_accumulators(self, device: torch.device) -> None:
        self.device = device
        self._stats = ImageStatsAccumulator(per_channel=self.channels, hashes=self.hashes).to(device)
        if self.embeddings:
            from .accumulators.embeddings import EmbeddingAccumulator

            self._embed = EmbeddingAccumulator(model=self.embed_model).to(device)

    def config(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "hashes": self.hashes,
            "linter_flags": [n for n in to_distinct(self.linter_flags).values()],
            "outlier_method": self.outlier_method,
            "outlier_threshold": self.outlier_threshold,
            "near_radius": self.near_radius,
            "embeddings": self.embeddings,
            "channels": self.channels,
        }

    def reset(self) -> None:
        if self._stats is not None:
            self._stats.reset()
        if self._embed is not None:
            self._embed.reset()
        self.failed.clear()
        self.labels.clear()
        self.paths.clear()
        self._next_index = 0

    # -------------------------------------------------------------- feeding
    def update(
        self,
        images: Any,
        indices: torch.Tensor | Sequence[int] | None = None,
        labels: Any = None,
        paths: Sequence[str] | None = None,
    ) -> None:
        """Add a batch: a ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` images (any sizes).

        ``indices``: dataset indices (default: arrival order).  ``labels``: one per image
        (an int, or a list of object classes for detection data).  Out-of-memory errors split
        the batch and retry; a single image that does not fit on the GPU runs on the CPU.
        """
        n = images.shape[0] if hasattr(images, "ndim") and getattr(images, "ndim", 0) == 4 else len(images)
        if indices is None:
            idx = torch.arange(self._next_index, self._next_index + n, dtype=torch.int64)
        else:
            idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1).cpu()
            if idx.numel() != n:
                raise InvalidArgumentError(f"got {n} images but {idx.numel()} indices")
        if n == 0:
            return
        self._next_index = max(self._next_index, int(idx.max()) + 1)
        idx_list = idx.tolist()
        imgs = images_from_batch(images, idx_list)
        if self._stats is None:
            self._init_accumulators(imgs[0].device if self.device is None else self.device)
        if labels is not None:
            labs = labels.tolist() if isinstance(labels, torch.Tensor) else list(labels)
            if len(labs) != n:
                raise InvalidArgumentError(f"got {n} images but {len(labs)} labels")
            self.labels.update(zip(idx_list, labs))
        if paths is not None:
            self.paths.update(zip(idx_list, paths))
        self._update_split(imgs, idx)

    def _update_split(self, imgs: list[torch.Tensor], idx: torch.Tensor) -> None:
        dev = self._stats.device  # type: ignore[union-attr]
        try:
            if _FAULT_INJECTOR is not None:
                _FAULT_INJECTOR(len(imgs))
            moved = [t.to(dev, non_blocking=True) for t in imgs]
            rows = self._stats.batch_rows(moved)  # type: ignore[union-attr]
            emb = self._embed.batch_rows(moved) if self._embed is not None else None
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is retried
            if not is_out_of_memory(exc):
                raise
            if dev.type == "cuda":
                torch.cuda.empty_cache()
            if len(imgs) > 1:
                half = len(imgs) // 2
                logger.info("out of memory on a batch of %d: splitting and retrying", len(imgs))
                self._update_split(imgs[:half], idx[:half])
                self._update_split(imgs[half:], idx[half:])
                return
            if dev.type != "cpu":
                logger.warning("image %d does not fit on %s: measuring it on the CPU", int(idx[0]), dev)
                cpu_rows = _cpu_rows(self._stats, imgs)  # type: ignore[arg-type]
                rows = {k: v.to(dev) for k, v in cpu_rows.items()}
                emb = self._embed.batch_rows([imgs[0]]) if self._embed is not None else None
            else:
                raise
        self._stats.append_rows(idx.to(dev), rows)  # type: ignore[union-attr]
        if self._embed is not None and emb is not None:
            self._embed.append_rows(idx, emb)

    def mark_failed(self, index: int, reason: str, path: str | None = None, label: Any = None) -> None:
        """Record an input that could not be measured (it is listed in ``report.failed``)."""
        self.failed[int(index)] = reason
        self._next_index = max(self._next_index, int(index) + 1)
        if path is not None:
            self.paths[int(index)] = path
        if label is not None:
            self.labels[int(index)] = label

    # -------------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything accumulated so far, as tensors and plain Python (for ``torch.save``)."""
        st: dict[str, Any] = {
            "failed": dict(self.failed),
            "labels": dict(self.labels),
            "paths": dict(self.paths),
            "next_index": self._next_index,
            "config": self.config(),
        }
        if self._stats is not None:
            st["stats"] = {
                name: (self._stats._cat(getattr(self._stats, name)) if getattr(self._stats, name) else None)
                for name in self._stats._defaults
            }
            st["stats"] = {k: (v.cpu() if v is not None else None) for k, v in st["stats"].items()}
        if self._embed is not None:
            st["embed"] = self._embed.state()
        return st

    def load_state(self, st: dict[str, Any]) -> None:
        """Restore :meth:`state` output (the accumulated rows replace the current ones)."""
        self.failed = dict(st["failed"])
        self.labels = dict(st["labels"])
        self.paths = dict(st["paths"])
        self._next_index = int(st["next_index"])
        if "stats" in st:
            if self._stats is None:
                self._init_accumulators(self.device or torch.device("cpu"))
            for name, val in st["stats"].items():
                setattr(self._stats, name, [val.to(self._stats.device)] if val is not None else [])  # type: ignore[union-attr]
        if "embed" in st and self._embed is not None:
            self._embed.load_state(st["embed"])

    # -------------------------------------------------------------- results
    def compute(self) -> AuditReport:
        """Run the detectors on everything fed so far."""
        from .detectors.linter import Linter
        from .metrics.stats import StatsOutput

        self._gather_python_state()
        if self._stats is None:
            return AuditReport(index=np.zeros(0, dtype=np.int64), stats={}, failed=dict(self.failed), config=self.config())
        res = self._stats.compute()  # torchmetrics gathers the tensor states across ranks
        # torchmetrics squeezes one-element results to 0-d: one measured image must stay one row
        res = {k: v.reshape(1) if v.ndim == 0 else v for k, v in res.items()}
        index = res["index"].cpu().numpy()
        measured = set(index.tolist())
        failed = {i: r for i, r in self.failed.items() if i not in measured}
        stats = {k: res[k].cpu().numpy() for k in IMAGE_KEYS if k in res}
        report = AuditReport(
            index=index,
            stats=stats,
            failed=failed,
            labels={i: self.labels[i] for i in sorted(self.labels)},
            paths={i: self.paths[i] for i in sorted(self.paths)},
            class_names=list(self.class_names),
            config=self.config(),
        )
        if self.channels:
            report.channel_stats = {k: v.cpu().numpy() for k, v in res.items() if k.startswith("ch_")}
        if len(index) == 0:
            return report
        # Linter on the accumulated statistics (positions → dataset indices)
        wanted = {name for name in to_distinct(self.linter_flags).values()}
        lint = Linter(self.linter_flags, outlier_method=self.outlier_method, outlier_threshold=self.outlier_threshold)  # type: ignore[arg-type]
        linted = lint.evaluate_stats(StatsOutput(**{k: v for k, v in stats.items() if k in wanted}))
        report.issues = {int(index[p]): m for p, m in linted.issues.items()}
        if self.hashes:
            from .functional.hashing import hash_hex

            valid = res["pchash_valid"]
            report.hashes = {
                "xxhash": hash_hex(res["xxhash"].cpu(), strip=False),
                "pchash": [h if v else "" for h, v in zip(hash_hex(res["pchash"].cpu(), strip=True), valid.cpu().tolist())],
            }
            report.duplicates = _duplicate_groups(res["xxhash"], res["pchash"], valid, self.near_radius, index)
        if self._embed is not None:
            report.clusters = self._cluster(index)
        return report

    def _gather_python_state(self) -> None:
        """Under torch.distributed, merge the per-rank failed / labels / paths dicts (all ranks get all)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        local = (self.failed, self.labels, self.paths, self.class_names)
        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, local)
        for failed, labels, paths, names in gathered:
            self.failed.update(failed)
            self.labels.update(labels)
            self.paths.update(paths)
            self.class_names = self.class_names or list(names)
        if self._stats is None:  # a rank that saw no data still takes part in the sync
            self._init_accumulators(self.device or torch.device("cpu"))

    def _cluster(self, index: np.ndarray) -> dict[str, Any]:
        from .detectors.clusterer import Clusterer

        emb_idx_t, emb_t = self._embed.compute_with_indices()  # type: ignore[union-attr]
        emb_idx, emb = emb_idx_t.cpu().numpy(), emb_t.cpu().numpy()
        if len(emb_idx) < 3:
            return {}
        out = Clusterer(np.asarray(emb)).evaluate()
        to_ds = lambda xs: [int(emb_idx[i]) for i in xs]  # noqa: E731
        res: dict[str, Any] = {
            "outliers": to_ds(out.outliers),
            "potential_outliers": to_ds(out.potential_outliers),
            "duplicates": [sorted(to_ds(g)) for g in out.duplicates],
            "potential_duplicates": [sorted(to_ds(g)) for g in out.potential_duplicates],
        }
        for extra in ("outlier_score", "cluster_label"):
            if hasattr(out, extra):
                res[extra] = dict(zip(emb_idx.tolist(), np.asarray(getattr(out, extra)).tolist()))
        return res


def _cpu_rows(acc: ImageStatsAccumulator, imgs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    cpu_acc = ImageStatsAccumulator(per_image=acc.per_image, per_channel=acc.per_channel, hashes=acc.hashes)
    return cpu_acc.batch_rows([t.cpu() for t in imgs])


def _duplicate_groups(
    xx: torch.Tensor, ph: torch.Tensor, valid: torch.Tensor, radius: int, index: np.ndarray
) -> dict[str, list[list[int]]]:
    """Exact (xxhash) and near (pchash) groups as dataset indices, 0.65 semantics."""
    from .detectors.duplicates import Duplicates

    out = Duplicates(radius=radius).from_hashes(xxhash=xx.cpu(), pchash=ph.cpu(), valid=valid.cpu())
    to_ds = lambda groups: sorted(sorted(int(index[p]) for p in g) for g in groups)  # noqa: E731
    return {"exact": to_ds(out.exact), "near": to_ds(out.near)}


def scan(
    data: Any,
    *,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
    **audit_kwargs: Any,
) -> AuditReport:
    """One call: audit a sequence of images, a Dataset or a DataLoader (labels taken when present).

    Examples
    --------
    >>> import numpy as np
    >>> imgs = [np.random.default_rng(i).integers(0, 256, (3, 16, 16), dtype=np.uint8) for i in range(6)]
    >>> imgs.append(imgs[0].copy())
    >>> scan(imgs).duplicates["exact"]
    [[0, 6]]
    """
    audit = DataAudit(device=resolve_device(device), **audit_kwargs)
    total = len(data) if hasattr(data, "__len__") else None
    with progress_bar(total=total, desc="audit", enable=progress) as bar:
        for batch in iter_batches(data, batch_size=batch_size):
            labels = batch.labels if batch.labels is not None and all(x is not None for x in batch.labels) else None
            audit.update(batch.images, batch.indices, labels=labels)
            bar.update(len(batch))
    return audit.compute()


class AuditError(DataEvalGPUError, RuntimeError):
    """A scan could not run (not a bad image: those are listed in the report)."""
