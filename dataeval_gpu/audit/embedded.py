"""The audit's findings on embeddings: the Clusterer's lists and embedding near duplicates,
keyed by dataset index.  An image with NaN / inf pixels has a non-finite embedding: it is
listed in ``not_clustered`` and left out (the Clusterer refuses non-finite data)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

__all__ = ["cluster_findings", "embedding_duplicate_groups", "group_embeddings", "positions"]

logger = logging.getLogger("dataeval_gpu.audit")

NOT_FINITE = "embedding not finite (NaN or inf pixels): not clustered"


def positions(keys: Any, wanted: np.ndarray) -> np.ndarray:
    """``(len(wanted),)`` int64: the position of each of ``wanted`` in ``keys`` (the last one where
    a key repeats), -1 where it is not there; sorted searches, not a dict of every key (a million
    rows).

    >>> positions(np.array([7, 3, 9, 3]), np.array([3, 9, 4])).tolist()
    [3, 2, -1]
    """
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    wanted = np.asarray(wanted, dtype=np.int64).reshape(-1)
    if not keys.size:
        return np.full(wanted.size, -1, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    at = np.maximum(np.searchsorted(ordered, wanted, side="right") - 1, 0)  # the last equal key
    return np.where(ordered[at] == wanted, order[at], -1).astype(np.int64)


def first_few(idx: list[int], shown: int = 5) -> str:
    """``"index 3"``, ``"indices 1, 4, 9"``, ``"indices 1, 2, 3, 4, 5, ... (12 in all)"``."""
    head = ", ".join(str(i) for i in idx[:shown])
    more = f", ... ({len(idx)} in all)" if len(idx) > shown else ""
    return f"{'index' if len(idx) == 1 else 'indices'} {head}{more}"


def cluster_findings(emb_idx: np.ndarray, emb: np.ndarray) -> dict[str, Any]:
    """The Clusterer's findings (``method="auto"``: exact, 0.65's lists, when small; kNN above)
    on the embeddings ``emb`` of the dataset indices ``emb_idx``; ``{}`` under 3 images."""
    from ..detectors.clusterer import Clusterer

    finite = np.isfinite(emb).all(axis=1)
    skipped = {int(i): NOT_FINITE for i in emb_idx[~finite]}
    if skipped:
        logger.warning(
            "%d image(s) with a non-finite embedding left out of the Clusterer: %s",
            len(skipped),
            first_few(sorted(skipped)),
        )
    emb_idx, emb = emb_idx[finite], emb[finite]
    if len(emb_idx) < 3:
        return {"not_clustered": skipped} if skipped else {}
    out = Clusterer(np.asarray(emb), method="auto").evaluate()
    to_ds = lambda xs: [int(emb_idx[i]) for i in xs]  # noqa: E731
    res: dict[str, Any] = {
        "method": out.method,
        "outliers": to_ds(out.outliers),
        "potential_outliers": to_ds(out.potential_outliers),
        "duplicates": [sorted(to_ds(g)) for g in out.duplicates],
        "potential_duplicates": [sorted(to_ds(g)) for g in out.potential_duplicates],
    }
    for extra in ("outlier_score", "cluster_label"):
        if getattr(out, extra, None) is not None:
            res[extra] = dict(zip(emb_idx.tolist(), np.asarray(getattr(out, extra)).tolist()))
    if skipped:
        res["not_clustered"] = skipped
    return res


def embedding_duplicate_groups(
    emb_idx: torch.Tensor,
    emb: torch.Tensor,
    thumbs: torch.Tensor | None = None,
    thumb_index: np.ndarray | None = None,
    rows: dict | None = None,
    row_index: np.ndarray | None = None,
) -> list[list[int]]:
    """Groups of dataset indices whose embeddings are near duplicates (non-finite rows match nothing).
    ``thumbs``: the hashes' ``pchash_thumbs`` rows of the dataset indices ``thumb_index``; with
    them a pair must also look alike (:func:`~dataeval_gpu.detectors.near_duplicates.look_alike`;
    an index without a row counts as without a thumbnail).  ``rows``: the scan's rows of
    ``thumb_index``; their ``height`` and ``width`` give the shape rule of a pair the thumbnails
    cannot compare (:data:`~dataeval_gpu.detectors.near_duplicates.ASPECT_TOLERANCE`), their
    ``chroma_rg`` / ``chroma_bg`` the colour of two plain pictures, their ``opacity`` the images that
    show next to nothing; ``row_index``:
    their dataset indices where not ``thumb_index``'s (``scan --embeddings FILE.npy``)."""
    from ..detectors.near_duplicates import embedding_groups

    finite = torch.isfinite(emb).all(dim=1)
    idx = emb_idx[finite].cpu().numpy()
    thumb_rows = None
    if thumbs is not None and thumb_index is not None and len(thumb_index) == thumbs.shape[0]:
        t = thumbs.cpu().numpy().reshape(thumbs.shape[0], -1)
        at = positions(thumb_index, idx)
        if t.dtype == np.uint8 and np.array_equal(at, np.arange(len(t))):  # the same rows, in order: no copy
            thumb_rows = t.view()
            thumb_rows.flags.writeable = False
        else:
            thumb_rows = np.zeros((idx.size, t.shape[1]), dtype=np.uint8)
            thumb_rows[at >= 0] = t[at[at >= 0]]
    sides, chroma, opacity = None, None, None
    row_index = thumb_index if row_index is None else row_index
    cpu = lambda v: v.cpu() if isinstance(v, torch.Tensor) else v  # noqa: E731
    pair = lambda keys: np.stack([np.asarray(cpu(rows[k]), dtype=np.float64).reshape(-1) for k in keys], 1)  # noqa: E731
    if rows is not None and row_index is not None and all(k in rows for k in ("height", "width")):
        hw = pair(("height", "width"))
        at = positions(row_index, idx)
        if len(hw) == len(row_index) and (at >= 0).all():
            sides = hw[at]
            if all(k in rows for k in ("chroma_rg", "chroma_bg")):  # two plain pictures: one colour
                chroma = pair(("chroma_rg", "chroma_bg"))[at]
            if "opacity" in rows:  # an image that shows next to nothing, embedded as a grey square
                opacity = pair(("opacity",))[at, 0]
    groups = embedding_groups(
        emb[finite], device=emb.device, thumbs=thumb_rows, sides=sides, chroma=chroma, opacity=opacity
    )
    return sorted(sorted(int(idx[i]) for i in g) for g in groups)


def group_embeddings(groups: list[list[int]], emb_idx: Any, emb: Any) -> dict[int, np.ndarray]:
    """``{dataset index: embedding row}`` of the images in ``groups`` only (the embedding near
    duplicate groups): what the HTML report needs for each group's cosine similarities
    (:func:`~dataeval_gpu.report.dup_groups.cosine_nearest`), without keeping every row.
    ``emb_idx``, ``emb``: the dataset indices and ``(N, D)`` rows (tensors on any device, or arrays)."""
    members = sorted({int(i) for g in groups for i in g})
    if not members:
        return {}
    idx = emb_idx.cpu().numpy() if isinstance(emb_idx, torch.Tensor) else np.asarray(emb_idx)
    at = positions(idx.reshape(-1), np.asarray(members, dtype=np.int64))
    members = [i for i, p in zip(members, at.tolist(), strict=True) if p >= 0]
    pos = at[at >= 0].tolist()
    if isinstance(emb, torch.Tensor):
        rows = emb[torch.as_tensor(pos, dtype=torch.long, device=emb.device)].cpu().numpy()
    else:
        rows = np.asarray(emb)[pos]
    return dict(zip(members, rows, strict=True))
