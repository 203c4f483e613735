"""Streaming embeddings: feed batches inside your own loop, get (N, D) in index order.

>>> import numpy as np, torch
>>> acc = EmbeddingAccumulator()
>>> acc.update([np.zeros((3, 32, 48), np.uint8), np.ones((1, 40, 40), np.uint8)], torch.tensor([1, 0]))
>>> acc.compute().shape
torch.Size([2, 1280])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from ..embeddings.embed import Embedder
from ..errors import InvalidArgumentError
from .rowstore import distributed_world
from .stats import first_of_each
from .sync import RowSync

__all__ = ["EmbeddingAccumulator"]


class EmbeddingAccumulator(RowSync, Metric):
    """Embeddings of streamed images, each row kept with its dataset index.

    ``update(images, indices)`` embeds a batch (a list of ``(C, H, W)`` images of any sizes
    or a ``(B, C, H, W)`` tensor) with ``model`` (default: EfficientNet-Lite0) on the
    metric's device; ``compute()`` returns the ``(N, D)`` float32 embeddings sorted by dataset
    index (an index seen twice, as ``DistributedSampler`` padding does, is kept once).
    States are ``cat``-reduced, so ``merge_state`` and ``torch.distributed`` sync work.

    The model is not a registered submodule (it stays out of ``state_dict``); it follows the
    metric's device at each ``update``.
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None

    embeddings: list[torch.Tensor] | torch.Tensor
    indices: list[torch.Tensor] | torch.Tensor

    def __init__(self, model: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("embeddings", default=[], dist_reduce_fx="cat")
        self.add_state("indices", default=[], dist_reduce_fx="cat")
        object.__setattr__(self, "_user_model", model)
        object.__setattr__(self, "_embedder", None)
        object.__setattr__(self, "_seen", 0)
        object.__setattr__(self, "_gathered", None)  # (update count, rows) gathered across ranks

    def _get_embedder(self) -> Embedder:
        emb = self._embedder
        if emb is None or emb.device != self.device:
            emb = Embedder(self._user_model, self.device)
            object.__setattr__(self, "_embedder", emb)
        return emb

    def update(self, images: Any, indices: Any = None) -> None:  # type: ignore[override]
        """Embed one batch; ``indices`` (B,) are the images' dataset indices.

        Without ``indices`` the images are numbered on from the last call (this process only).
        """
        if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4:
            images = list(images)
        images = list(images)
        b = len(images)
        if indices is None:
            idx = torch.arange(self._seen, self._seen + b, dtype=torch.int64)
        else:
            idx = torch.as_tensor(np.asarray(indices) if not isinstance(indices, torch.Tensor) else indices)
            idx = idx.reshape(-1).to(torch.int64)
            if idx.numel() != b:
                raise InvalidArgumentError(
                    f"indices must have one entry per image: {b} images, {idx.numel()} indices"
                )
        object.__setattr__(self, "_seen", self._seen + b)
        if b == 0:
            return
        first = int(idx.min()) if idx.numel() else 0
        rows = self._get_embedder()(images, first_index=first)
        self.embeddings.append(rows.to(self.device))  # type: ignore[union-attr]
        self.indices.append(idx.to(self.device))  # type: ignore[union-attr]

    def batch_rows(self, images: list[torch.Tensor]) -> torch.Tensor:
        """Embeddings ``(B, D)`` of validated images, without storing them (see :meth:`append_rows`)."""
        return self._get_embedder()(images).to(self.device)

    def append_rows(self, idx: torch.Tensor, rows: torch.Tensor) -> None:
        """Store rows from :meth:`batch_rows` for the dataset indices ``idx``."""
        self._computed = None
        self._update_count += 1
        self.embeddings.append(rows.to(self.device))  # type: ignore[union-attr]
        self.indices.append(idx.to(torch.int64).to(self.device))  # type: ignore[union-attr]
        object.__setattr__(self, "_seen", max(self._seen, int(idx.max()) + 1 if idx.numel() else 0))

    def state(self) -> dict[str, torch.Tensor | None]:
        """The accumulated rows on the CPU (for checkpoints)."""
        if isinstance(self.embeddings, list) and not self.embeddings:
            return {"embeddings": None, "indices": None}
        return {
            "embeddings": dim_zero_cat(self.embeddings).cpu(),
            "indices": dim_zero_cat(self.indices).cpu(),
        }

    def load_state(self, st: dict[str, torch.Tensor | None]) -> None:
        """Replace the accumulated rows with :meth:`state` output."""
        self.reset()
        if st.get("embeddings") is not None:
            self.append_rows(st["indices"], st["embeddings"])  # type: ignore[arg-type]

    def _sorted(self) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(self.embeddings, list) and not self.embeddings:
            raise InvalidArgumentError("EmbeddingAccumulator.compute() called before any update()")
        one = lambda v: v[0] if isinstance(v, list) and len(v) == 1 else dim_zero_cat(v)  # noqa: E731 - cat copies even one
        emb, idx = one(self.embeddings), one(self.indices)
        if isinstance(self.embeddings, list) and len(self.embeddings) > 1 and not self._syncing():
            # keep the rows as the one joined part: the fed parts freed, the next compute joins nothing
            self.embeddings, self.indices = [emb], [idx]
        if idx.numel() < 2 or bool((idx[1:] > idx[:-1]).all()):
            return idx, emb  # in order, each index once (one process): the rows as they are, not a copy
        sel = first_of_each(idx)
        return idx[sel], emb[sel]

    def _syncing(self) -> bool:
        """Inside torchmetrics' sync (the states are the gathered ranks' for a moment)."""
        return bool(getattr(self, "_is_synced", False))

    def compute(self) -> torch.Tensor:
        """``(N, D)`` float32 embeddings in dataset-index order."""
        return self._sorted()[1]

    def compute_with_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(indices (N,), embeddings (N, D))``, for index sets with gaps (gathered across ranks).

        Under ``torch.distributed`` the gathered rows are kept until the next ``update`` /
        ``append_rows`` / ``merge_state`` / ``reset`` / ``load_state_dict`` (and follow ``.to()``),
        as torchmetrics keeps ``compute``'s result:
        a second call (e.g. by rank 0 alone, saving a dataset index) gathers nothing again."""
        kept = self._gathered
        if kept is not None and kept[0] == self._update_count:
            return kept[1]
        with self.sync_context(should_sync=True):
            out = self._sorted()
        if distributed_world() > 1:
            object.__setattr__(self, "_gathered", (self._update_count, out))
        return out

    def merge_state(self, incoming_state: Any) -> None:
        object.__setattr__(self, "_gathered", None)
        super().merge_state(incoming_state)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        object.__setattr__(self, "_gathered", None)  # the rows replaced without an update
        super()._load_from_state_dict(*args, **kwargs)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        this = super()._apply(fn, *args, **kwargs)  # the kept rows follow .to() as compute's result does
        kept = this._gathered
        if kept is not None:
            object.__setattr__(this, "_gathered", (kept[0], tuple(fn(t) for t in kept[1])))
        return this

    def reset(self) -> None:
        super().reset()
        object.__setattr__(self, "_gathered", None)
        object.__setattr__(self, "_seen", 0)
