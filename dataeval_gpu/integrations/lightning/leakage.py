"""Train ↔ val leakage: validation images that are copies of training images."""

from __future__ import annotations

from typing import Any

from ...errors import DataEvalGPUError, InvalidArgumentError

__all__ = ["DataLeakageError", "DataLeakageWarning", "find_leakage"]


class DataLeakageError(DataEvalGPUError, RuntimeError):
    """Validation images are copies of training images (raised with ``leakage="fail"``)."""


class DataLeakageWarning(UserWarning):
    """Validation images are copies of training images (warned with ``leakage="warn"``)."""


def find_leakage(train: Any, val: Any) -> dict[int, dict[str, list[int]]]:
    """Validation images whose xxhash or perceptual hash equals that of a training image.

    ``train`` and ``val`` are :class:`~dataeval_gpu.audit.AuditReport` s computed with
    ``hashes=True``.  Returns ``{val index: {"exact": [train indices with the same bytes],
    "near": [train indices with the same perceptual hash]}}`` for every val image with at
    least one match (an exact copy usually matches both ways), sorted by val index.
    Images too small for a perceptual hash only match exactly.
    """
    for name, rep in (("train", train), ("val", val)):
        if len(rep.index) and not rep.hashes:
            raise InvalidArgumentError(f"the {name} report has no hashes: audit it with hashes=True")
    by_hash: dict[str, dict[str, list[int]]] = {"xxhash": {}, "pchash": {}}
    for kind in by_hash:
        for i, h in zip(train.index.tolist(), train.hashes.get(kind, []), strict=True):
            if h:
                by_hash[kind].setdefault(h, []).append(int(i))
    out: dict[int, dict[str, list[int]]] = {}
    for pos, i in enumerate(val.index.tolist()):
        exact = by_hash["xxhash"].get(val.hashes["xxhash"][pos], []) if val.hashes.get("xxhash") else []
        ph = val.hashes["pchash"][pos] if val.hashes.get("pchash") else ""
        near = by_hash["pchash"].get(ph, []) if ph else []
        if exact or near:
            out[int(i)] = {"exact": sorted(exact), "near": sorted(near)}
    return out
