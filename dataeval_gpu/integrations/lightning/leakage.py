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
    ``hashes=True`` (and the same ``hash`` / ``d4``: with ``d4=True`` a mirrored or rotated
    copy matches).  The matching is :meth:`Duplicates.cross_matches
    <dataeval_gpu.detectors.duplicates.Duplicates.cross_matches>` on the hash tensors.
    Returns ``{val index: {"exact": [train indices with the same bytes],
    "near": [train indices with the same near hash, not already exact]}}`` for every val
    image with at least one match (a pair once, by the strongest method, as the scan's
    groups and ``--against`` list it), sorted by val index.
    Images too small for a perceptual hash only match exactly.
    """
    for name, rep in (("train", train), ("val", val)):
        if len(rep.index) and not rep.hashes:
            raise InvalidArgumentError(f"the {name} report has no hashes: audit it with hashes=True")
    from ...detectors.duplicates import Duplicates

    matches = Duplicates().cross_matches(val.hash_tensors(), train.hash_tensors())
    out: dict[int, dict[str, list[int]]] = {}
    for kind in ("exact", "near"):
        for p, q in matches[kind].tolist():
            out.setdefault(int(val.index[p]), {"exact": [], "near": []})[kind].append(int(train.index[q]))
    return {
        i: {"exact": sorted(out[i]["exact"]), "near": sorted(set(out[i]["near"]) - set(out[i]["exact"]))}
        for i in sorted(out)
    }
