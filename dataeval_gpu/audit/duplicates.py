"""Duplicate groups of an audit from its accumulated hash tensors."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["duplicate_groups"]


def duplicate_groups(
    xx: torch.Tensor, ph: torch.Tensor, valid: torch.Tensor, radius: int, index: np.ndarray, kind: str = "pchash"
) -> dict[str, list[list[int]]]:
    """Exact (xxhash) and near groups (near hash ``kind``) as dataset indices, 0.65 semantics."""
    from ..detectors.duplicates import Duplicates

    base, d4 = kind.removesuffix("_d4"), kind.endswith("_d4")
    out = Duplicates(radius=radius, hash=base, d4=d4).from_hashes(xxhash=xx.cpu(), near=ph.cpu(), valid=valid.cpu())
    to_ds = lambda groups: sorted(sorted(int(index[p]) for p in g) for g in groups)  # noqa: E731
    return {"exact": to_ds(out.exact), "near": to_ds(out.near)}
