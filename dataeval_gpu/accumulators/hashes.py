"""Streaming hashes: xxhash and one near hash of every image, as a torchmetrics ``Metric``.

:class:`HashAccumulator` is the one hashing engine under ``Duplicates``, ``imagestats``
(``ALL_HASHES``), ``DataAudit`` and the scan: each row is one image with its dataset index
(``cat`` states: ``.to(device)``, ``reset``, ``merge_state``, ``state_dict`` and
``torch.distributed`` sync come from torchmetrics).  CPU batches stream through the
compiled kernels (:class:`~dataeval_gpu.functional.hashing.CpuHasher`): ``update`` queues
the images and returns, only the 8-byte hashes are kept, and the rows land in the states
at the next :meth:`HashAccumulator.flush` (``compute``, ``sync``, ``state_dict``,
``merge_state`` flush first).  Other devices hash each batch at once through the device's
kernel of :func:`~dataeval_gpu.functional.hashing.near_hash`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics import Metric

from ..errors import InvalidArgumentError
from ..functional.hashing import (
    NEAR_HASHES,
    CpuHasher,
    CpuPlan,
    compiled_ready,
    near_kind,
)
from .hash_rows import centre_crop, hash_rows
from .sync import RowSync

__all__ = ["HashAccumulator", "centre_crop", "hash_rows"]


class HashAccumulator(RowSync, Metric):
    """xxhash and a near hash of each image over a stream of batches.

    Args:
        xxhash: keep the xxh3_64 of each image's bytes (exact duplicates).
        hash: the near hash, ``"pchash"`` (DataEval 0.65) or ``"dhash"``; None for none.
        d4: its rotation/flip-invariant form.
        max_in_flight: CPU images queued at once (bounds the memory of pending work).

    Example:
        >>> import torch
        >>> acc = HashAccumulator(hash="dhash", d4=True)
        >>> img = torch.arange(3 * 20 * 30, dtype=torch.int64).reshape(3, 20, 30).to(torch.uint8)
        >>> acc.update([img, img.flip(-1)], indices=[7, 2])
        >>> out = acc.compute()
        >>> out["index"].tolist(), bool(out["near"][0] == out["near"][1]), out["near_valid"].tolist()
        ([2, 7], True, [True, True])
    """

    full_state_update = False
    higher_is_better = None
    is_differentiable = False

    def __init__(
        self,
        xxhash: bool = True,
        hash: str | None = "pchash",
        d4: bool = False,
        *,
        max_in_flight: int = 256,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.exact = bool(xxhash)
        self.kind = near_kind(hash, d4) if hash is not None else None
        if not self.exact and self.kind is None:
            raise InvalidArgumentError("HashAccumulator needs xxhash=True or a near hash")
        self.max_in_flight = max_in_flight
        self._next_index = 0
        self._hasher: CpuHasher | None = None
        self._hasher_index = array("q")
        self.add_state("index", default=[], dist_reduce_fx="cat")
        if self.exact:
            self.add_state("xxhash", default=[], dist_reduce_fx="cat")
        if self.kind:
            self.add_state("near", default=[], dist_reduce_fx="cat")
            self.add_state("near_valid", default=[], dist_reduce_fx="cat")

    def update(  # type: ignore[override]
        self,
        images: Any,
        indices: torch.Tensor | Sequence[int] | None = None,
        sources: Sequence[Any] | None = None,
    ) -> None:
        """Add a batch: a ``(B, C, H, W)`` tensor or a list of ``(C, H, W)`` / ``(H, W)`` images.

        ``indices``: dataset indices (default: arrival order).  ``sources``: what xxhash
        reads per image (e.g. the original numpy arrays, in their own dtype and byte
        order); default the tensors.
        """
        from .stats import images_from_batch

        n_in = images.shape[0] if getattr(images, "ndim", 0) == 4 else (1 if isinstance(images, torch.Tensor) else len(images))
        if indices is None:
            idx = torch.arange(self._next_index, self._next_index + n_in, dtype=torch.int64)
        else:
            idx = torch.as_tensor(indices, dtype=torch.int64).reshape(-1).cpu()
        imgs = images_from_batch(images, idx.tolist())
        if not imgs:
            return
        if sources is not None and len(sources) != len(imgs):
            raise InvalidArgumentError(f"got {len(imgs)} images but {len(sources)} byte sources")
        self._next_index = max(self._next_index, int(idx.max()) + 1)
        if all(t.device.type == "cpu" for t in imgs) and compiled_ready():
            if self._hasher is None:
                plan = CpuPlan(NEAR_HASHES[self.kind]) if self.kind else None
                self._hasher = CpuHasher(self.exact, plan, max_in_flight=self.max_in_flight)
            self._hasher.submit(imgs if sources is None else sources, imgs, start=int(idx[0]))
            self._hasher_index.extend(idx.tolist())
            return
        self._append(idx, hash_rows(imgs, self.kind, self.exact, sources))

    def _append(self, idx: torch.Tensor, rows: dict[str, torch.Tensor]) -> None:
        dev = self.device
        self.index.append(idx.to(dev))
        for key, val in rows.items():
            getattr(self, key).append(val.to(dev))

    def flush(self) -> None:
        """Wait for the queued CPU images and store their rows."""
        if self._hasher is None or not len(self._hasher):
            return
        xx, near, ok = self._hasher.result()
        idx = torch.from_numpy(np.frombuffer(self._hasher_index, dtype=np.int64).copy())
        self._hasher_index = array("q")
        rows = {"xxhash": xx, "near": near, "near_valid": ok}
        self._append(idx, {k: v for k, v in rows.items() if v is not None})

    def sync(self, *args: Any, **kwargs: Any) -> None:
        self.flush()
        super().sync(*args, **kwargs)

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return super().state_dict(*args, **kwargs)

    def merge_state(self, incoming_state: Any) -> None:
        self.flush()
        if isinstance(incoming_state, HashAccumulator):
            incoming_state.flush()
        super().merge_state(incoming_state)

    def reset(self) -> None:
        super().reset()
        self._hasher = None
        self._hasher_index = array("q")
        self._next_index = 0

    def compute(self) -> dict[str, torch.Tensor]:
        """``{"index", "xxhash", "near", "near_valid"}`` (those kept) sorted by dataset index,
        each index once (a padded ``DistributedSampler`` repeat is dropped)."""
        from .stats import first_of_each

        self.flush()
        index = _cat(self.index)
        dev = self.device
        if index is None:
            empty = torch.zeros(0, dtype=torch.int64, device=dev)
            out = {"index": empty}
            if self.exact:
                out["xxhash"] = empty
            if self.kind:
                out["near"] = empty
                out["near_valid"] = empty.bool()
            return out
        sel = first_of_each(index)
        out = {"index": index[sel]}
        for key in ("xxhash", "near", "near_valid"):
            if hasattr(self, key) and key in self._defaults:
                out[key] = _cat(getattr(self, key))[sel]  # type: ignore[index]
        return out


def _cat(state: Any) -> torch.Tensor | None:
    if isinstance(state, torch.Tensor):  # gathered across ranks: no rank held a row, no rows
        return state.reshape(-1) if state.numel() > 0 else None
    parts = [p.reshape(-1) for p in state if p.numel() > 0]
    return torch.cat(parts) if parts else None
