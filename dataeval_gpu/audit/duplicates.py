"""Duplicate groups of an audit from its accumulated hash tensors."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["duplicate_groups"]


def duplicate_groups(
    xx: torch.Tensor,
    ph: torch.Tensor,
    valid: torch.Tensor,
    radius: int,
    index: np.ndarray,
    kind: str = "pchash",
    near: bool = True,
) -> dict[str, list[list[int]]]:
    """Exact (xxhash) and near groups (near hash ``kind``) as dataset indices, 0.65 semantics.
    ``near=False``: the exact groups only (``near`` empty; the audit with quality figures forms
    its near groups with the pair checks instead, so this radius search would be thrown away)."""
    from ..detectors.duplicates import Duplicates

    base, d4 = kind.removesuffix("_d4"), kind.endswith("_d4")
    dup = Duplicates(radius=radius, hash=base, d4=d4)
    out = dup.from_hashes(xxhash=xx.cpu(), near=ph.cpu(), valid=valid.cpu()) if near else dup.from_hashes(xxhash=xx.cpu())
    to_ds = lambda groups: sorted(sorted(int(index[p]) for p in g) for g in groups)  # noqa: E731
    return {"exact": to_ds(out.exact), "near": to_ds(out.near)}
