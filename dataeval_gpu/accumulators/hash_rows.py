"""The hashes of one batch at once (the hashing engine's entry point for row accumulators).

Kept apart from :mod:`~dataeval_gpu.accumulators.hashes` (the torchmetrics ``HashAccumulator``)
so that measuring a batch does not import torchmetrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..functional.hashing import NEAR_HASHES, CpuHasher, CpuPlan, compiled_ready, near_hash, xxhash64

__all__ = ["hash_rows"]


def hash_rows(
    images: list[torch.Tensor], kind: str | None, exact: bool = True, sources: Sequence[Any] | None = None
) -> dict[str, torch.Tensor]:
    """Hashes of one batch of validated ``(C, H, W)`` tensors on one device, at once.

    Args:
        images: the batch.
        kind: the near hash (a ``NEAR_HASHES`` name) or None.
        exact: also the xxhash of each image's bytes.
        sources: what xxhash reads per image (default: the tensors).

    Returns:
        ``{"xxhash", "near", "near_valid"}`` (those asked for), ``(B,)`` CPU tensors.
    """
    sources = list(images) if sources is None else list(sources)
    out: dict[str, torch.Tensor] = {}
    on_cpu = all(t.device.type == "cpu" for t in images)
    if on_cpu and compiled_ready():
        hasher = CpuHasher(exact, CpuPlan(NEAR_HASHES[kind]) if kind else None, max_in_flight=len(images) + 1)
        hasher.submit(sources, images)
        xx, near, ok = hasher.result()
    else:
        xx = xxhash64(sources, device="cpu") if exact else None
        near = ok = None
        if kind:
            near, ok = near_hash(images, kind)
            near, ok = near.cpu(), ok.cpu()
    if exact:
        out["xxhash"] = xx  # type: ignore[assignment]
    if kind:
        out["near"] = near  # type: ignore[assignment]
        out["near_valid"] = ok  # type: ignore[assignment]
    return out
