"""Streaming per-image statistics: feed batches in any loop, get the one-shot results.

:class:`StatsRows` is the accumulator's logic; it runs on two bases with the same API:

* :class:`ImageStatsRows` (a :class:`~dataeval_gpu.accumulators.rowstore.RowStore`): one
  process, no torchmetrics import (``DataAudit`` and the file scan outside ``torch.distributed``);
* :class:`ImageStatsAccumulator` (a ``torchmetrics.Metric``, defined in
  :mod:`~dataeval_gpu.accumulators.stats_metric` and imported from here on first use), so that
  ``.to(device)``, ``reset``, ``merge_state``, ``state_dict`` and ``torch.distributed`` sync
  come from torchmetrics (DDP, Lightning).

Each row carries its dataset index, and ``compute()`` returns rows sorted by index with each
index once (a ``DistributedSampler`` that pads its last shard repeats indices: the repeat is
dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..batching import as_image
from ..errors import InvalidArgumentError
from ..functional import registry
from ..functional.hashing import near_kind
from ..functional.stats import CHANNEL_KEYS, IMAGE_KEYS, image_statistics
from .rowstore import RowStore

__all__ = [  # noqa: F822 - ImageStatsAccumulator is lazy (module __getattr__)
    "ImageStatsAccumulator",
    "ImageStatsRows",
    "StatsRows",
    "HASH_KEYS",
    "CROP_HASH_KEYS",
    "STRIP_HASH_KEYS",
    "images_from_batch",
]

HASH_KEYS = ("xxhash", "pchash", "pchash_valid")
#: with ``crops``: the near hash of each image's central crops, ``(N, len(crops))``, and the
#: grey thumbnails of the image and of its crops that verify hash pairs, ``(N, (1 + len(crops))
#: * 1024)`` uint8 (:mod:`~dataeval_gpu.functional.hashing.thumbs`), and each image's ``4 x 4``
#: cell colours, ``(N, 48)`` uint8 (:mod:`~dataeval_gpu.functional.hashing.colour_cells`), kept
#: with the thumbnails
CROP_HASH_KEYS = ("pchash_crops", "pchash_crops_valid", "pchash_thumbs", "pchash_colour")
#: with ``strip``: the near hash of each image's inverse-shape strip, ``(N,)`` (0 / False where
#: it has none: :func:`~dataeval_gpu.accumulators.hash_rows.strip_view`), and its grey
#: thumbnail, ``(N, 1024)`` uint8
STRIP_HASH_KEYS = ("pchash_strip", "pchash_strip_valid", "pchash_strip_thumbs")


def images_from_batch(images: Any, indices: Sequence[int] | None = None) -> list[torch.Tensor]:
    """A ``(B, C, H, W)`` tensor/array or a sequence of images → list of validated ``(C, H, W)`` tensors.

    ``indices`` (dataset indices of the batch) are only used to name an image in errors.
    """
    if isinstance(images, torch.Tensor) and images.ndim in (2, 3):
        images = [images]
    elif not (hasattr(images, "ndim") and getattr(images, "ndim", 0) == 4) and not isinstance(images, Sequence):
        raise InvalidArgumentError(
            f"update() expects a (B, C, H, W) tensor or a list of images, got {type(images).__name__}"
        )
    names = list(indices) if indices is not None else list(range(len(images)))
    if len(names) != len(images):
        raise InvalidArgumentError(f"got {len(images)} images but {len(names)} indices")
    return [as_image(images[i], int(names[i])) for i in range(len(images))]


def first_of_each(keys: torch.Tensor) -> torch.Tensor:
    """Positions that sort ``keys`` ascending, keeping the first row of each repeated key.

    (A ``DistributedSampler`` pads its last shard by repeating indices: the repeat goes.)
    """
    order = torch.argsort(keys, stable=True)
    ks = keys[order]
    keep = torch.ones_like(ks, dtype=torch.bool)
    keep[1:] = ks[1:] != ks[:-1]
    return order[keep]


class StatsRows:
    """Per-image statistics (and hashes, and per-channel statistics) over a stream of batches:
    the logic of :class:`ImageStatsRows` and :class:`ImageStatsAccumulator` (mixed into a base
    that provides ``add_state``, ``device``, ``reset`` and the ``update`` / ``compute`` wrappers).

    Parameters
    ----------
    per_image : keep the per-image statistics (``IMAGE_KEYS`` less the ``ALL_QUALITY`` group,
        or ``metrics``).
    per_channel : keep the per-channel statistics (``CHANNEL_KEYS``).
    hashes : keep xxhash and a near hash of each image (xxhash reads the CPU bytes: a batch
        on the GPU is copied to the host once for it), computed by the hashing engine
        (:func:`~dataeval_gpu.accumulators.hash_rows.hash_rows`).
    hash, d4 : the near hash kept in the ``pchash`` state: ``"pchash"`` (default, DataEval
        0.65) or ``"dhash"``, and its rotation/flip-invariant form (:attr:`near_kind`).
    metrics : names of the per-image metrics to keep (registry order); all registered ones when None.
    crops : with ``hashes``, central fractions whose near hash is kept too (``pchash_crops``,
        ``pchash_crops_valid``: ``(N, len(crops))``), as :class:`~dataeval_gpu.detectors.NearDuplicates`
        hashes them (so that a crop of 5-10 % per side meets its original).
    thumbs : with ``hashes``, keep the grey thumbnails of each image and of its crops
        (``pchash_thumbs``, 1 KB a view) that verify the hash pairs; default: with ``crops``.
    strip : with ``hashes``, keep the near hash of each image's inverse-shape strip too
        (:data:`STRIP_HASH_KEYS`; its thumbnail with ``thumbs``), as
        :class:`~dataeval_gpu.detectors.NearDuplicates` hashes it; default: with ``crops``.
    """

    full_state_update = False
    higher_is_better = None
    is_differentiable = False

    def __init__(
        self,
        per_image: bool = True,
        per_channel: bool = False,
        hashes: bool = False,
        metrics: Sequence[str] | None = None,
        hash: str = "pchash",
        d4: bool = False,
        crops: Sequence[float] = (),
        thumbs: bool | None = None,
        strip: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if any(not 0.0 < float(f) < 1.0 for f in crops):
            raise InvalidArgumentError(f"crops must be central fractions in (0, 1), got {tuple(crops)!r}")
        if metrics is not None:
            unknown = [m for m in metrics if m not in IMAGE_KEYS]
            if unknown:
                raise InvalidArgumentError(f"metrics: unknown {unknown}; registered: {list(IMAGE_KEYS)}")
        # the quality metrics (ImageStat.ALL_QUALITY) cost ~4x the rest: computed when asked for
        default = tuple(k for k in IMAGE_KEYS if registry.get(k).group != "ALL_QUALITY")
        self.metric_names = default if metrics is None else tuple(k for k in IMAGE_KEYS if k in metrics)
        self.per_image = per_image
        self.per_channel = per_channel
        self.hashes = hashes
        self.near_kind = near_kind(hash, d4)
        self.crops = tuple(float(f) for f in crops) if hashes else ()
        # the thumbnails: with the crops by default; asked for without them where near groups are
        # verified on whole images alone (DataAudit(near_crops=()) as NearDuplicates(crops=()))
        self.thumbs = bool(hashes) and (bool(self.crops) if thumbs is None else bool(thumbs))
        self.strip = bool(hashes) and (bool(self.crops) if strip is None else bool(strip))
        self.hash_keys = (
            HASH_KEYS
            + (CROP_HASH_KEYS[:2] if self.crops else ())
            + (CROP_HASH_KEYS[2:] if self.thumbs else ())
            + (STRIP_HASH_KEYS[: 3 if self.thumbs else 2] if self.strip else ())
            if hashes
            else ()
        )
        self._next_index = 0
        self.add_state("index", default=[], dist_reduce_fx="cat")
        if per_image:
            for key in self.metric_names:
                self.add_state(key, default=[], dist_reduce_fx="cat")
        for key in self.hash_keys:
            self.add_state(key, default=[], dist_reduce_fx="cat")
        if per_channel:
            self.add_state("ch_index", default=[], dist_reduce_fx="cat")
            self.add_state("ch_channel", default=[], dist_reduce_fx="cat")
            for key in CHANNEL_KEYS:
                self.add_state(f"ch_{key}", default=[], dist_reduce_fx="cat")

    def update(  # type: ignore[override]
        self,
        images: Any = None,
        indices: torch.Tensor | Sequence[int] | None = None,
        *,
        rows: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Add a batch: a ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` / ``(H, W)`` images.

        ``indices`` are the dataset indices of the batch's images; without them the images
        are numbered in arrival order.  ``rows`` instead of ``images``: store rows already
        computed by :meth:`batch_rows` for the images with dataset ``indices``.
        """
        if rows is not None:
            if indices is None or images is not None:
                raise InvalidArgumentError("update(rows=...) takes the rows' indices and no images")
            self._store(torch.as_tensor(indices, dtype=torch.int64).reshape(-1).to(self.device), rows)
            return
        if images is None:
            raise InvalidArgumentError("update() needs images (or rows= with their indices)")
        n_in = images.shape[0] if hasattr(images, "ndim") and getattr(images, "ndim", 0) == 4 else (
            1 if isinstance(images, torch.Tensor) else len(images)
        )
        if indices is None:
            idx = torch.arange(self._next_index, self._next_index + n_in, dtype=torch.int64)
        else:
            idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1).cpu()
        imgs = images_from_batch(images, idx.tolist())
        n = len(imgs)
        if n:
            self._next_index = max(self._next_index, int(idx.max()) + 1)
        if n == 0:
            return
        dev = self.device
        imgs = [t.to(dev, non_blocking=True) if t.device != dev else t for t in imgs]
        # compute everything first, append after: a failure (e.g. out of memory) leaves the
        # state untouched, so the caller can split the batch and retry
        self._store(idx.to(dev), self.batch_rows(imgs))

    def batch_rows(self, imgs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The state rows of validated images (on this metric's device), without storing them."""
        rows: dict[str, torch.Tensor] = {}
        st, ch = {}, None
        if self.per_image or self.per_channel:
            st, ch = image_statistics(
                imgs, per_image=self.per_image, per_channel=self.per_channel, metrics=self.metric_names
            )
        if self.per_image:
            for key in self.metric_names:
                rows[key] = st[key]
        if self.hashes:
            from .hash_rows import hash_rows

            hashed = hash_rows(imgs, self.near_kind, crops=self.crops, thumbs=self.thumbs, strip=self.strip)
            rows["xxhash"] = hashed["xxhash"].to(self.device)
            rows["pchash"] = hashed["near"].to(self.device)
            rows["pchash_valid"] = hashed["near_valid"].to(self.device)
            if self.crops:
                rows["pchash_crops"] = hashed["crops"].to(self.device)
                rows["pchash_crops_valid"] = hashed["crops_valid"].to(self.device)
            if self.thumbs:
                rows["pchash_thumbs"] = hashed["thumbs"].to(self.device)
                rows["pchash_colour"] = hashed["colour"].to(self.device)
            if self.strip:
                rows["pchash_strip"] = hashed["strip"].to(self.device)
                rows["pchash_strip_valid"] = hashed["strip_valid"].to(self.device)
                if self.thumbs:
                    rows["pchash_strip_thumbs"] = hashed["strip_thumbs"].to(self.device)
        if self.per_channel and ch is not None:
            rows["_row_image"] = ch["row_image"]
            rows["ch_channel"] = ch["row_channel"]
            for key in CHANNEL_KEYS:
                rows[f"ch_{key}"] = ch[key]
        return rows

    def append_rows(self, idx: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        """Store rows computed by :meth:`batch_rows` for the images with dataset indices ``idx``.

        Goes through :meth:`update` (the base's wrapper drops the cached result and counts
        the update), so a state computed first and stored after behaves as a plain update.
        """
        self.update(indices=idx, rows=rows)

    def _store(self, idx: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        self.index.append(idx)
        for key, val in rows.items():
            if key == "_row_image":
                self.ch_index.append(idx[val])
            else:
                getattr(self, key).append(val)

    def reset(self) -> None:
        super().reset()
        self._next_index = 0

    @staticmethod
    def _cat(state: Any) -> torch.Tensor | None:
        if isinstance(state, torch.Tensor):  # gathered across ranks: no rank held a row, no rows
            return state if state.numel() > 0 else None
        parts = [p for p in state if p.numel() > 0]
        if not parts:
            return None
        return torch.cat(parts)

    def _joined(self, key: str) -> torch.Tensor | None:
        """The state ``key``'s rows as one tensor: in the row store the packed state itself
        (:meth:`RowStore.pack`: no second copy), else a concatenated copy."""
        if isinstance(self, RowStore):
            return self.pack(key)
        return self._cat(getattr(self, key))

    @staticmethod
    def _pick(rows: torch.Tensor | None, sel: torch.Tensor | None) -> torch.Tensor | None:
        """``rows[sel]``; ``sel`` None: the rows are already in order, ``rows`` itself (no copy)."""
        return rows if rows is None or sel is None else rows[sel]

    @staticmethod
    def _order(keys: torch.Tensor) -> torch.Tensor | None:
        """:func:`first_of_each`, or ``None`` when ``keys`` are strictly increasing already (rows
        fed in index order: nothing to reorder or drop)."""
        if keys.numel() < 2 or bool((keys[1:] > keys[:-1]).all()):
            return None
        return first_of_each(keys)

    def compute(self) -> dict[str, torch.Tensor]:
        """Dict of tensors sorted by dataset index, each index once.

        Per-image keys as :data:`IMAGE_KEYS` or ``metrics`` (plus ``HASH_KEYS`` with ``hashes``) with
        ``"index"``; per-channel keys prefixed ``ch_`` with ``ch_index`` and ``ch_channel``.
        In the row store, rows fed in index order are returned as stored (one copy of them).
        """
        out: dict[str, torch.Tensor] = {}
        index = self._joined("index")
        if index is None:
            return {"index": torch.zeros(0, dtype=torch.int64)}
        index = index.to(torch.int64)
        sel = self._order(index)
        out["index"] = self._pick(index, sel)
        keys = (self.metric_names if self.per_image else ()) + self.hash_keys
        for key in keys:
            val = self._pick(self._joined(key), sel)
            if val is not None:
                out[key] = val
        if self.per_channel:
            ci = self._joined("ch_index")
            if ci is not None:
                ci = ci.to(torch.int64)
                cc = self._joined("ch_channel").to(torch.int64)
                sel2 = self._order(ci * 1_000_003 + cc)
                out["ch_index"] = self._pick(ci, sel2)
                out["ch_channel"] = self._pick(cc, sel2)
                for key in CHANNEL_KEYS:
                    out[f"ch_{key}"] = self._pick(self._joined(f"ch_{key}"), sel2)
        return out


class ImageStatsRows(StatsRows, RowStore):
    """:class:`StatsRows` in one process, without torchmetrics (see the module's docstring).

    Examples
    --------
    >>> import torch
    >>> acc = ImageStatsRows()
    >>> acc.update(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), indices=torch.tensor([5, 3]))
    >>> acc.update([torch.full((1, 4, 6), 255, dtype=torch.uint8)], indices=torch.tensor([4]))
    >>> res = acc.compute()
    >>> res["index"].tolist(), res["width"].tolist(), res["mean"].tolist()
    ([3, 4, 5], [8, 6, 8], [0.0, 1.0, 0.0])
    """

    def settings(self) -> dict[str, Any]:
        """The constructor's arguments that made this store."""
        return {
            "per_image": self.per_image,
            "per_channel": self.per_channel,
            "hashes": self.hashes,
            "metrics": list(self.metric_names),
            "hash": self.near_kind,
            "d4": False,  # near_kind already names the D4 form
            "crops": list(self.crops),
            "thumbs": self.thumbs,
            "strip": self.strip,
        }

    def to_metric(self) -> Any:
        """The same settings and rows as an :class:`ImageStatsAccumulator` (torchmetrics; for
        ``torch.distributed``, whose ``compute`` gathers the rows of every rank)."""
        from .stats_metric import ImageStatsAccumulator

        metric = ImageStatsAccumulator(**self.settings()).to(self.device)
        metric.merge_state(self.metric_state)
        metric._update_count = self.update_count  # noqa: SLF001 - torchmetrics' counter, set as update would
        return metric


def __getattr__(name: str) -> Any:
    """``ImageStatsAccumulator`` is imported (with torchmetrics) on first use."""
    if name == "ImageStatsAccumulator":
        from .stats_metric import ImageStatsAccumulator

        return ImageStatsAccumulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
