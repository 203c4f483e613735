"""Train ↔ val leakage: validation images that are copies of training images."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DataEvalGPUError, InvalidArgumentError

__all__ = ["DataLeakageError", "DataLeakageWarning", "find_leakage"]


class DataLeakageError(DataEvalGPUError, RuntimeError):
    """Validation images are copies of training images (raised with ``leakage="fail"``)."""


class DataLeakageWarning(UserWarning):
    """Validation images are copies of training images (warned with ``leakage="warn"``)."""


def find_leakage(
    train: Any, val: Any, *, train_audit: Any = None, val_audit: Any = None
) -> dict[int, dict[str, list[int]]]:
    """Validation images that are copies of training images.

    ``train`` and ``val`` are :class:`~dataeval_gpu.audit.AuditReport` s computed with
    ``hashes=True`` (and the same ``hash`` / ``d4``: with ``d4=True`` a mirrored or rotated
    copy matches).  An exact copy has the same xxhash (:meth:`Duplicates.cross_matches
    <dataeval_gpu.detectors.duplicates.Duplicates.cross_matches>`).  A near copy: with the two
    :class:`~dataeval_gpu.audit.DataAudit` s the reports came from (``train_audit`` /
    ``val_audit``, as :class:`DataEvalCallback` passes them), the pairs a scan of both sets would
    put in one near-duplicate group: views within the audit's ``near_radius`` and the scan's pair
    rules (:func:`~dataeval_gpu.index.near_matches.near_matches`, the search of ``--against``, with
    the training rows for the index), so a training photo re-saved as a JPEG is found; with the
    reports alone, the same near hash (radius 0).
    Returns ``{val index: {"exact": [train indices with the same bytes],
    "near": [train indices of near copies, not already exact]}}`` for every val
    image with at least one match (a pair once, by the strongest method, as the scan's
    groups and ``--against`` list it), sorted by val index.
    Images too small for a perceptual hash only match exactly.
    """
    for name, rep in (("train", train), ("val", val)):
        if len(rep.index) and not rep.hashes:
            raise InvalidArgumentError(f"the {name} report has no hashes: audit it with hashes=True")
    from ...detectors.duplicates import Duplicates

    rules = train_audit is not None and val_audit is not None
    matches = Duplicates(find_near=not rules).cross_matches(val.hash_tensors(), train.hash_tensors())
    out: dict[int, dict[str, list[int]]] = {}
    for kind in ("exact", "near"):
        for p, q in matches[kind].tolist():
            out.setdefault(int(val.index[p]), {"exact": [], "near": []})[kind].append(int(train.index[q]))
    if rules:
        for v, t in near_copies(train_audit, val_audit):
            out.setdefault(v, {"exact": [], "near": []})["near"].append(t)
    return {
        i: {"exact": sorted(out[i]["exact"]), "near": sorted(set(out[i]["near"]) - set(out[i]["exact"]))}
        for i in sorted(out)
    }


def near_copies(train_audit: Any, val_audit: Any) -> list[tuple[int, int]]:
    """``[(val index, train index)]``: the near-duplicate pairs a scan of both sets would find
    between them (the views, radius and pair rules of ``val_audit``'s settings), by
    :func:`~dataeval_gpu.index.near_matches.near_matches` with the training rows in memory for
    the index (:class:`_RowsIndex`)."""
    from ...index.near_matches import near_matches

    t_idx, t_rows, _ = train_audit.measured_rows()
    v_idx, v_rows, _ = val_audit.measured_rows()
    if not len(t_idx) or not len(v_idx) or "pchash" not in t_rows or "pchash" not in v_rows:
        return []
    pairs, _, _ = near_matches(
        _RowsIndex(t_rows, train_audit.near_crops), v_rows, val_audit.near_radius, rules="chroma_rg" in v_rows
    )
    return [(int(v_idx[p]), int(t_idx[q])) for p, q in pairs.tolist()]


class _RowsIndex:
    """An audit's measured rows read as :func:`~dataeval_gpu.index.near_matches.near_matches`
    reads a :class:`~dataeval_gpu.index.DatasetIndex` (the hashes, the crops' and strips' hashes,
    the figure columns at given rows), held in memory: no index is written."""

    def __init__(self, rows: dict[str, np.ndarray], near_crops: tuple[float, ...]) -> None:
        n = len(rows["pchash"])
        self._rows = rows
        self.hashes = np.zeros((n, 2), dtype=np.uint64)  # column 1: the near hash, as an index stores it
        self.hashes[:, 1] = np.asarray(rows["pchash"]).astype(np.int64, copy=False).view(np.uint64)
        self.measured = np.ones(n, dtype=bool)  # the rows of measured images only
        self.near_valid = np.asarray(rows["pchash_valid"], dtype=bool).reshape(-1)
        self.settings = {"near_crops": list(near_crops)}

    def _pair(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        if key not in self._rows or f"{key}_valid" not in self._rows:
            return None
        n = len(self.near_valid)
        hashes = np.asarray(self._rows[key]).astype(np.int64, copy=False)
        valid = np.asarray(self._rows[f"{key}_valid"], dtype=bool)
        return hashes.reshape(n, -1), valid.reshape(n, -1)

    def crop_hashes(self) -> tuple[np.ndarray, np.ndarray] | None:
        return self._pair("pchash_crops")

    def strip_hashes(self) -> tuple[np.ndarray, np.ndarray] | None:
        strip = self._pair("pchash_strip")
        return None if strip is None else (strip[0].reshape(-1), strip[1].reshape(-1))

    def take(self, column: str, positions: np.ndarray) -> np.ndarray | None:
        values = self._rows.get(column)
        return None if values is None else np.asarray(values)[np.asarray(positions, dtype=np.int64)]
