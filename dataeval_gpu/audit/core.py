"""The streaming audit: :class:`DataAudit`, fed from any loop.

Here its settings, accumulators, feeding and checkpoints; :meth:`DataAudit.compute` and the
detectors it runs on the accumulated rows: :mod:`.results` (:class:`~.results.AuditResults`,
which ``DataAudit`` inherits; :class:`RepeatedIndexWarning` is defined there)."""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..accumulators.rowstore import distributed_world
from ..accumulators.stats import ImageStatsRows, images_from_batch
from ..batching import batch_labels, dataset_indices, load_failures, resolve_device
from ..errors import InvalidArgumentError
from ..flags import ImageStat, to_distinct
from ..functional.hashing import NEAR_HASHES, near_kind
from ..functional.stats import IMAGE_KEYS
from .feed import CheckpointMismatchError, measure
from .presets import PRESETS, resolve_preset
from .results import AuditResults, RepeatedIndexWarning
from .state import load_metric_state, metric_state

__all__ = ["DataAudit", "RepeatedIndexWarning"]

logger = logging.getLogger("dataeval_gpu.audit")

#: the settings (``config()`` keys) that decide what a stored row holds: a checkpoint saved with
#: others is not resumed (its rows and new ones would not compare)
ROW_CONFIG = ("hashes", "hash", "d4", "near_crops", "quality", "channels", "embeddings")


@functools.lru_cache(maxsize=1)
def _metric_digest() -> str:
    """The metric digest an index records (``index.manifest.metric_definitions_digest``), kept in a
    checkpoint: one saved by another version is not resumed (~0.1 s, once a process)."""
    from ..index.manifest import metric_definitions_digest

    return metric_definitions_digest()


class DataAudit(AuditResults):
    """Feed batches from your own loop; get statistics, lint flags, duplicates (and cluster outliers).

    Parameters
    ----------
    device : where the work runs (default: the CPU, or the device of the first batch).
    hashes : compute xxhash / pchash and find duplicates.
    linter_flags, outlier_method, outlier_threshold : the Linter's settings.
    preset : ``None`` / ``"default"``: the best-quality settings (quality issues, D4 hashes,
        embedding duplicates); ``"0.65"`` / ``"dataeval-0.65"``: DataEval 0.65's findings exactly
        (no quality issues, no D4, no embedding duplicates).  ``quality``, ``d4`` and
        ``embedding_duplicates`` given explicitly override the preset.
    near_radius : Hamming radius for near duplicates (0 = DataEval 0.65's exact pchash match);
        preset default (2 with the quality issues on, else 0).
    near_crops : central fractions of each image also hashed, so that a crop of 5-10 % per side
        meets its original (whole image against another's crops, as
        :class:`~dataeval_gpu.detectors.NearDuplicates`); preset default ((0.9, 0.8) with the
        quality issues on - the crop pairs go through their colour check - else none).
    hash : the near-duplicate hash, ``"pchash"`` (DataEval 0.65) or ``"dhash"``.
    d4 : use its rotation/flip-invariant form (finds mirrored / rotated copies); preset default.
    quality : score every image for the quality issues (dark, light, blurry, noisy, grayscale,
        ...; :class:`~dataeval_gpu.detectors.QualityIssues`); preset default.
    quality_thresholds : per-issue threshold overrides of the quality issues.
    embeddings : also embed every image (default model, offline weights) and run the Clusterer.
    embedding_duplicates : with embeddings, also group near duplicates by embedding cosine
        similarity (:func:`~dataeval_gpu.detectors.near_duplicates.embedding_groups`); preset default.
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
        near_radius: int | None = None,
        hash: str = "pchash",
        d4: bool | None = None,
        embeddings: bool = False,
        embed_model: torch.nn.Module | None = None,
        embed_batch_size: int = 64,
        channels: bool = False,
        preset: str | None = None,
        quality: bool | None = None,
        quality_thresholds: dict[str, float] | None = None,
        embedding_duplicates: bool | None = None,
        near_crops: Sequence[float] | None = None,
    ) -> None:
        self.preset = resolve_preset(preset)
        chosen = PRESETS[self.preset]
        d4 = chosen["d4"] if d4 is None else d4
        self.quality = bool(chosen["quality"] if quality is None else quality)
        self.embedding_duplicates = bool(
            chosen["embedding_duplicates"] if embedding_duplicates is None else embedding_duplicates
        )
        self.quality_thresholds = dict(quality_thresholds or {})
        if self.quality:
            from ..detectors.quality import QualityIssues

            QualityIssues(thresholds=self.quality_thresholds)  # raises for an unknown issue / bad value
        self.device = resolve_device(device) if device is not None else None
        self.hashes = hashes
        self.linter_flags = linter_flags
        if outlier_method not in ("zscore", "modzscore", "iqr"):
            raise InvalidArgumentError(f"outlier_method must be 'zscore', 'modzscore' or 'iqr', got {outlier_method!r}")
        if outlier_threshold is not None and not (math.isfinite(outlier_threshold) and outlier_threshold >= 0):
            # 0 is the method's own threshold, as in 0.65's Linter ("threshold if threshold")
            raise InvalidArgumentError(f"outlier_threshold must be a finite number >= 0, got {outlier_threshold!r}")
        self.outlier_method = outlier_method
        self.outlier_threshold = outlier_threshold
        # the preset's radius and crops rely on the colour check (quality metrics): without it, 0.65's
        keep = self.quality and hashes
        self.near_radius = int((chosen["near_radius"] if keep else 0) if near_radius is None else near_radius)
        crops = (chosen["near_crops"] if keep else ()) if near_crops is None else near_crops
        if any(not 0.0 < float(f) < 1.0 for f in crops):
            raise InvalidArgumentError(f"near_crops must be central fractions in (0, 1), got {tuple(crops)!r}")
        self.near_crops = tuple(float(f) for f in crops) if hashes else ()
        self.hash = near_kind(hash)  # raises for an unknown hash
        self.d4 = bool(d4)
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
        self._inputs = 0  # inputs stored (rows appended + failures marked): a repeated index shows at compute()
        self._expected = 0  # images expected in all (reserve)
        self._stats: Any = None  # ImageStatsRows, or ImageStatsAccumulator under torch.distributed
        self._embed: Any = None
        if self.device is not None:
            self._init_accumulators(self.device)

    # -------------------------------------------------------------- state
    @property
    def near_search(self) -> Any:
        """The near-duplicate hash search's settings (:class:`~dataeval_gpu.detectors.near_search.NearSearch`)
        from the options (``near_radius``, ``hash``, ``d4``) as they are now (``compute`` sets its
        ``progress``): what the CLI, torchrun and the Lightning callback chose, and the radius the
        exact / 0.65 groups read too (one built in ``__init__`` kept an old radius set afterwards)."""
        from ..detectors.near_search import NearSearch

        return NearSearch.for_hash(self.near_radius, near_kind(self.hash, self.d4))

    def _init_accumulators(self, device: torch.device) -> None:
        self.device = device
        self._stats = self.make_accumulator(device)
        getattr(self._stats, "reserve", lambda n: None)(self._expected)  # the row store's (not torchmetrics')
        if self.embeddings:
            from ..accumulators.embeddings import EmbeddingAccumulator

            self._embed = EmbeddingAccumulator(model=self.embed_model).to(device)

    def config(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "hashes": self.hashes,
            "linter_flags": [n for n in to_distinct(self.linter_flags).values()],
            "outlier_method": self.outlier_method,
            "outlier_threshold": self.outlier_threshold,
            "near_radius": self.near_radius,
            "near_crops": list(self.near_crops),
            "hash": self.hash,
            "d4": self.d4,
            "embeddings": self.embeddings,
            "channels": self.channels,
            "preset": self.preset,
            "quality": self.quality,
            "quality_thresholds": dict(self.quality_thresholds),
            "embedding_duplicates": self.embedding_duplicates,
        }

    def reserve(self, images: int) -> None:
        """Expect about ``images`` inputs (a hint): the row store allocates its rows once for that
        many instead of growing (a growth copies the rows so far: twice them for a moment)."""
        self._expected = max(0, int(images))
        getattr(self._stats, "reserve", lambda n: None)(self._expected)  # once the accumulator exists

    def reset(self) -> None:
        if self._stats is not None:
            self._stats.reset()
        if self._embed is not None:
            self._embed.reset()
        self.failed.clear()
        self.labels.clear()
        self.paths.clear()
        self._next_index = 0
        self._inputs = 0

    # -------------------------------------------------------------- feeding
    def update(
        self,
        images: Any,
        indices: torch.Tensor | Sequence[int] | None = None,
        labels: Any = None,
        paths: Sequence[str] | None = None,
    ) -> None:
        """Add a batch: a ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` images (any sizes);
        a single ``(C, H, W)`` or ``(H, W)`` array / tensor is a batch of one image.

        ``indices``: dataset indices (default: arrival order).  ``labels``: one per image
        (an int, or a list of object classes for detection data).  Out-of-memory errors split
        the batch and retry; a single image that does not fit on the GPU runs on the CPU.
        A :class:`~dataeval_gpu.batching.LoadFailure` in a list (an item that
        ``IndexedDataset(on_error="mark")`` could not load) is listed as failed with its reason.
        """
        hint = ""
        if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim in (2, 3):
            if images.ndim == 3 and images.shape[0] > 1:
                m = images.shape[0]
                hint = (
                    f" (a {tuple(images.shape)} array is one (C, H, W) image; a batch of {m} grey"
                    f" images is ({m}, 1, H, W): pass images[:, None])"
                )
            images = [images]  # one (C, H, W) / (H, W) image, a batch of one (as split_batch reads it)
        n = images.shape[0] if hasattr(images, "ndim") and getattr(images, "ndim", 0) == 4 else len(images)
        if indices is None:
            idx = torch.arange(self._next_index, self._next_index + n, dtype=torch.int64)
        else:
            idx = torch.tensor(dataset_indices(indices), dtype=torch.int64)
            if idx.numel() != n:
                raise InvalidArgumentError(f"got {n} images but {idx.numel()} indices{hint}")
        if n == 0:
            return
        idx_list = idx.tolist()
        if len(set(idx_list)) != n:
            repeated = sorted({i for i in idx_list if idx_list.count(i) > 1})
            raise InvalidArgumentError(
                f"indices must be distinct within a batch (one per image), got {repeated[:5]} more than once"
            )
        failures = load_failures(images)  # IndexedDataset(on_error="mark")'s unloadable items
        keep = [k for k in range(n) if k not in failures]
        imgs = images_from_batch([images[k] for k in keep] if failures else images, [idx_list[k] for k in keep])
        try:
            labs = batch_labels(labels, idx_list)  # raises naming the image
        except InvalidArgumentError as exc:
            if hint and str(exc).startswith(f"got {n} images but"):
                raise InvalidArgumentError(f"{exc}{hint}") from None
            raise
        if paths is not None and len(paths) != n:
            raise InvalidArgumentError(f"got {n} images but {len(paths)} paths")
        if imgs:
            self.prepare(imgs)
            measure(self, imgs, idx[keep] if failures else idx, strict=True)
        # after the measured ones: a batch that raised leaves nothing (no failures, labels or
        # paths of images not in the report, and the next batch's default indices start here)
        for k, reason in failures.items():
            self.mark_failed(idx_list[k], reason)
        self.annotate(idx_list, None, paths)
        if labs is not None:  # an image without a label (None) gets none, as in FeedLoop.feed
            known = [(i, lab) for i, lab in zip(idx_list, labs) if lab is not None]
            self.annotate([i for i, _ in known], [lab for _, lab in known])

    def annotate(
        self, indices: Sequence[int], labels: Sequence[Any] | None = None, paths: Sequence[str] | None = None
    ) -> None:
        """Record the labels / paths of the inputs ``indices`` (measured or not)."""
        if len(indices):
            self._next_index = max(self._next_index, max(indices) + 1)
        if labels is not None:  # an input without a label (None) gets none, as in update()
            self.labels.update((i, lab) for i, lab in zip(indices, labels) if lab is not None)
        if paths is not None:
            self.paths.update(zip(indices, paths))

    def prepare(self, imgs: list[torch.Tensor]) -> torch.device:
        """Create the accumulators on first use (on the device of ``imgs[0]`` when none was given)."""
        if self._stats is None:
            self._init_accumulators(imgs[0].device if self.device is None else self.device)
        return self._stats.device  # type: ignore[union-attr]

    def make_accumulator(self, device: str | torch.device = "cpu") -> Any:
        """A new, empty statistics accumulator with this audit's settings (for measuring elsewhere,
        e.g. in a DataLoader worker; its rows go to :meth:`append_rows`).

        One process: an :class:`~dataeval_gpu.accumulators.stats.ImageStatsRows` (no
        torchmetrics import: start-up); under an initialised ``torch.distributed`` group the
        torchmetrics :class:`~dataeval_gpu.accumulators.stats.ImageStatsAccumulator`, whose
        ``compute`` gathers every rank's rows.
        """
        metrics = None
        if self.quality:  # every registered metric, the quality group included
            metrics = list(IMAGE_KEYS)
        acc = ImageStatsRows(
            per_channel=self.channels,
            hashes=self.hashes,
            hash=self.hash,
            d4=self.d4,
            metrics=metrics,
            crops=self.near_crops,
            thumbs=bool(self.near_crops) or self.quality,  # the near groups verify pairs on them
            strip=bool(self.near_crops),  # the inverse-shape strip: a phone crop of a wallpaper
        )
        return (acc.to_metric() if distributed_world() > 1 else acc).to(device)

    def batch_rows(self, imgs: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], Any]:
        """The rows of validated images on this audit's device (nothing stored yet)."""
        dev = self.prepare(imgs)
        moved = [t.to(dev, non_blocking=True) for t in imgs]
        rows = self._stats.batch_rows(moved)  # type: ignore[union-attr]
        emb = self._embed.batch_rows(moved) if self._embed is not None else None
        return rows, emb

    def cpu_rows(self, imgs: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], Any]:
        """:meth:`batch_rows` computed on the CPU (for an image too big for the device), on the device."""
        dev = self.prepare(imgs)
        rows = self.make_accumulator("cpu").batch_rows([t.cpu() for t in imgs])
        emb = self._embed.batch_rows(imgs) if self._embed is not None else None
        return {k: v.to(dev) for k, v in rows.items()}, emb

    def append_rows(self, idx: torch.Tensor, rows: Any) -> None:
        """Store rows from :meth:`batch_rows` (or ``(statistics rows, None)`` / a statistics row dict
        made by :meth:`make_accumulator`) for the images with dataset indices ``idx``."""
        stat_rows, emb = rows if isinstance(rows, tuple) else (rows, None)
        if self._stats is None:
            self._init_accumulators(self.device or torch.device("cpu"))
        dev = self._stats.device  # type: ignore[union-attr]
        self._stats.append_rows(idx.to(dev), {k: v.to(dev) for k, v in stat_rows.items()})  # type: ignore[union-attr]
        self._inputs += int(idx.numel())
        if self._embed is not None and emb is not None:
            self._embed.append_rows(idx, emb)

    def mark_failed(self, index: int, reason: str, path: str | None = None, label: Any = None) -> None:
        """Record an input that could not be measured (it is listed in ``report.failed``)."""
        self.failed[int(index)] = reason
        self._inputs += 1
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
            "inputs": self._inputs,
            "config": self.config(),
            "near_grey": self.hash_grey(),
            "metric_digest": _metric_digest(),
        }
        if self._stats is not None:
            st["stats"] = metric_state(self._stats)
        if self._embed is not None:
            st["embed"] = self._embed.state()
        return st

    def hash_grey(self) -> str | None:
        """The grey image this audit's near hashes read (``"mean"`` / ``"luma"``; None without hashes)."""
        return NEAR_HASHES[near_kind(self.hash, self.d4)].grey if self.hashes else None

    def _check_row_settings(self, st: dict[str, Any]) -> None:
        """Raise :class:`CheckpointMismatchError` naming the settings of :data:`ROW_CONFIG` that differ
        between the state's run and this one: its rows and new ones would hold other things (a
        resume with ``--hash dhash`` put dHashes beside the saved pHashes, silently)."""
        saved, mine = st.get("config", {}), self.config()
        keys = [k for k in ROW_CONFIG if k in saved and saved[k] != mine[k]]
        if not saved.get("hashes", True) and not mine["hashes"]:  # no hashes either side: their kind is moot
            keys = [k for k in keys if k not in ("hash", "d4", "near_crops")]
        if keys:
            said = ", ".join(f"{k} {saved[k]!r} (this run {mine[k]!r})" for k in keys)
            raise CheckpointMismatchError(
                f"the checkpoint was saved by a run with other settings: {said}; resume with the options it was "
                "saved with, or delete it and scan again"
            )
        if "stats" in st and st.get("metric_digest", _metric_digest()) != _metric_digest():
            raise CheckpointMismatchError(
                "the checkpoint was saved by another version of dataeval_gpu, whose metrics or hashes compute "
                "other values (its rows and this version's would not compare): delete it and scan again"
            )

    def load_state(self, st: dict[str, Any]) -> None:
        """Restore :meth:`state` output (the accumulated rows replace the current ones).

        Raises:
            CheckpointMismatchError: the state was saved with other row settings (:data:`ROW_CONFIG`:
                other hashes, crops, metrics or embeddings) or by another version's metrics (its
                ``metric_digest``), or its near hashes read another grey image (a state saved
                before it was recorded read the channel mean), or its rows have thumbnails but not
                the cell colours (``pchash_colour``, saved before them): its rows and new ones would
                not compare.
        """
        self._check_row_settings(st)
        saved = st.get("near_grey", "mean" if st.get("config", {}).get("hashes", True) else None)
        if "stats" in st and self.hash_grey() is not None and saved not in (None, self.hash_grey()):
            raise CheckpointMismatchError(
                f"the checkpoint's near hashes read the {saved} grey image and this run's the {self.hash_grey()} "
                "(a checkpoint saved before the D4 hashes read luma): delete it and scan again"
            )
        if "stats" in st and "pchash_thumbs" in st["stats"] and "pchash_colour" not in st["stats"]:
            raise CheckpointMismatchError(
                "the checkpoint's rows lack the cell colours the near-duplicate pair rules compare (saved by an "
                "older version): delete it and scan again"
            )
        self.failed = dict(st["failed"])
        self.labels = dict(st["labels"])
        self.paths = dict(st["paths"])
        self._next_index = int(st["next_index"])
        if "stats" in st:
            if self._stats is None:
                self._init_accumulators(self.device or torch.device("cpu"))
            load_metric_state(self._stats, st["stats"])  # type: ignore[arg-type]
        self._inputs = int(st.get("inputs", 0))  # 0 for a state saved before the count: repeats unseen
        if "embed" in st and self._embed is not None:
            self._embed.load_state(st["embed"])

    def measured_rows(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None]:
        """The accumulated per-image rows, sorted by dataset index: ``(index, {state key: array},
        embeddings or None)``; the keys are the statistics accumulator's (metrics and hashes).
        :meth:`append_rows` takes them back (as tensors), so stored rows can be fed again."""
        if distributed_world() > 1:  # collective: a rank fed nothing still joins the gather
            if self._stats is None:
                self._init_accumulators(self.device or torch.device("cpu"))
            elif isinstance(self._stats, ImageStatsRows):  # made before the group: as compute() does
                self._stats = self._stats.to_metric()
        elif self._stats is None or self._stats.update_count == 0:
            return np.zeros(0, dtype=np.int64), {}, None
        with warnings.catch_warnings():  # a rank fed nothing is not a problem to warn of
            warnings.filterwarnings("ignore", message=r"The ``compute`` method of metric", category=UserWarning)
            res = self._stats.compute()
        res = {k: v.reshape(1) if v.ndim == 0 else v for k, v in res.items() if not k.startswith("ch_")}
        index = res.pop("index").cpu().numpy()
        rows = {k: v.cpu().numpy() for k, v in res.items()}  # for the index code, which only reads them
        emb = None
        if self._embed is not None and len(index):
            emb_idx, emb_t = self._embed.compute_with_indices()
            pos = {int(i): k for k, i in enumerate(emb_idx.cpu().tolist())}
            emb = emb_t.cpu().numpy()[[pos[int(i)] for i in index]]
        return index, rows, emb
