"""New images' near copies in an index, by the pair rules of a scan.

A scan of the new and the indexed images together pairs two of them when the near hashes of
two of their views lie within the radius (whole against whole, and a whole image against the
other's 90 % and 80 % centres, both ways) and the pair passes
:func:`~dataeval_gpu.detectors.hash_pairs.hash_pairs_ok` (plain background, thumbnails,
colour cast, grey entropy, pixel spread).  :func:`near_matches` searches the same views across
the two sets (:func:`~dataeval_gpu.functional.hashing.groups.cross_pairs`: chunked XOR +
popcount of the new hashes against the index's memory-mapped ones, block by block, never an
``N x M`` matrix) and applies the same rules, reading the indexed partners' figures and
thumbnails only at the rows found; so a new image and an indexed one are paired here exactly
when that scan would pair them.  A figure the index lacks (an index written before it) skips
the rule that reads it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..functional.hashing import THUMB_SIDE, hamming_distance
from .reader import DatasetIndex

__all__ = ["FIGURE_COLUMNS", "figures_of", "near_matches", "query_figures"]

#: indexed rows searched at once (the hashes of a block are copied into memory: 8 bytes a view)
REF_BLOCK = 1 << 20
#: the statistics the pair rules read (beside the ``pchash_thumbs`` thumbnails)
FIGURE_COLUMNS = (
    "chroma_rg", "chroma_bg", "dark_clipped", "bright_clipped", "grey_entropy", "opacity", "std", "mean", "height", "width",
    "channel_spread",
)  # fmt: skip


def figures_of(cols: dict[str, np.ndarray | None]) -> Any:
    """:class:`~dataeval_gpu.detectors.hash_pairs.PairFigures` from the columns at hand (the
    statistics of :data:`FIGURE_COLUMNS`, ``pchash_thumbs``, ``pchash_colour``; a rule whose figures are missing is skipped)."""
    from ..detectors.hash_pairs import PairFigures, plain_and_entropy

    has = lambda *ks: all(cols.get(k) is not None for k in ks)  # noqa: E731
    f = lambda k: np.asarray(cols[k], dtype=np.float64)  # noqa: E731
    # an image with alpha: its transparent background counted in, as the near hash reads it
    plain, entropy = plain_and_entropy(
        f("dark_clipped") + f("bright_clipped") if has("dark_clipped", "bright_clipped") else None,
        f("grey_entropy") if has("grey_entropy") else None,
        f("opacity") if has("opacity") else None,
    )
    thumbs = cols.get("pchash_thumbs")
    strip_view = None
    if cols.get("strip_view") is not None:  # the strip's thumbnail after the others' (all-zero: none stored)
        strip_view = int(cols["strip_view"])  # type: ignore[arg-type]
        st = cols.get("pchash_strip_thumbs")
        if thumbs is not None:
            t = np.asarray(thumbs).reshape(len(thumbs), -1)
            st = np.zeros((len(t), THUMB_SIDE**2), np.uint8) if st is None else np.asarray(st).reshape(len(t), -1)
            thumbs = np.concatenate([t[:, : strip_view * THUMB_SIDE**2], st], axis=1)
    return PairFigures(
        chroma=np.stack([f("chroma_rg"), f("chroma_bg")], axis=1) if has("chroma_rg", "chroma_bg") else None,
        plain=plain,
        entropy=entropy,
        spread=f("std") if has("std") else None,
        thumbs=thumbs,
        opacity=f("opacity") if has("opacity") else None,
        level=f("mean") if has("mean") else None,
        side=np.minimum(f("height"), f("width")) if has("height", "width") else None,
        hw=np.stack([f("height"), f("width")], axis=1) if has("height", "width") else None,
        strip_view=strip_view,
        colour=f("channel_spread") if has("channel_spread") else None,
        cells=cols.get("pchash_colour"),
    )


def query_figures(rows: dict[str, np.ndarray]) -> Any:
    """The new images' :class:`~dataeval_gpu.detectors.hash_pairs.PairFigures` from their rows."""
    cols = {k: rows.get(k) for k in (*FIGURE_COLUMNS, "pchash_thumbs", "pchash_strip_thumbs", "pchash_colour")}
    if "pchash_strip" in rows:  # the strip: the view after the crops
        cols["strip_view"] = 1 + np.asarray(rows.get("pchash_crops", np.zeros((len(rows["pchash"]), 0)))).reshape(
            len(rows["pchash"]), -1
        ).shape[1]  # type: ignore[assignment]
    return figures_of(cols)


def _cross(q: np.ndarray, q_ok: np.ndarray, ref: np.ndarray, ref_ok: np.ndarray, radius: int) -> np.ndarray:
    """``(P, 2)`` ``[query entry, reference entry]`` within ``radius``, the reference searched
    :data:`REF_BLOCK` entries at a time."""
    from ..functional.hashing.groups import cross_pairs

    out = [np.zeros((0, 2), dtype=np.int64)]
    own = lambda a: torch.from_numpy(np.require(a, requirements=["C", "W"]))  # noqa: E731 # copies read-only
    qt, qv = own(q), own(q_ok)
    for j0 in range(0, len(ref), REF_BLOCK):
        ok = np.require(ref_ok[j0 : j0 + REF_BLOCK], requirements=["C", "W"])
        if not ok.any():
            continue
        block = own(ref[j0 : j0 + REF_BLOCK])
        p = cross_pairs(qt, block, radius, valid=qv, reference_valid=torch.from_numpy(ok)).numpy()
        out.append(p + np.array([0, j0]))
    return np.concatenate(out)


def _strips(index: DatasetIndex, rows: dict[str, np.ndarray]) -> Any:
    """``((new hashes, valid), (indexed hashes | None, valid | None))`` of the images'
    inverse-shape strips (``pchash_strip``), or None when the new rows have none; an index
    written before them has none (its images are then not matched by a strip)."""
    if "pchash_strip" not in rows or "pchash_strip_valid" not in rows:
        return None
    q = (np.asarray(rows["pchash_strip"], dtype=np.int64), np.asarray(rows["pchash_strip_valid"], dtype=bool))
    return q, index.strip_hashes() or (None, None)


def _view_pairs(index: DatasetIndex, rows: dict[str, np.ndarray], radius: int, crops: bool) -> np.ndarray:
    """``(P, 5)`` int64 ``[new image, its view, indexed row, its view, hamming]`` (view 0: the
    whole image, ``1 + k``: its ``k``-th central crop) of every view pair within ``radius``."""
    q = np.asarray(rows["pchash"], dtype=np.int64)
    q_ok = np.asarray(rows["pchash_valid"], dtype=bool)
    whole = index.hashes[:, 1].view(np.int64)  # type: ignore[index] # strided: copied block by block
    whole_ok = index.measured & index.near_valid
    stored = index.crop_hashes() if crops and "pchash_crops" in rows else None
    n, k = len(q), 0
    if stored is not None:
        qc = np.asarray(rows["pchash_crops"], dtype=np.int64).reshape(n, -1)
        k = qc.shape[1]
        q_all = np.concatenate([q, qc.reshape(-1)])
        q_all_ok = np.concatenate([q_ok, np.asarray(rows["pchash_crops_valid"], dtype=bool).reshape(-1)])
    else:
        q_all, q_all_ok = q, q_ok
    # the new whole images and their crops (entry n + r: image r // k, crop r % k) against the
    # indexed whole images, in one pass over the index ...
    p = _cross(q_all, q_all_ok, whole, whole_ok, radius)
    r = np.maximum(p[:, 0] - n, 0)
    new_crop = p[:, 0] >= n
    img, view = np.where(new_crop, r // max(k, 1), p[:, 0]), np.where(new_crop, 1 + r % max(k, 1), 0)
    parts = [np.stack([img, view, p[:, 1], 0 * img], axis=1)]
    if stored is not None:
        ch, cv = stored
        c = ch.shape[1]
        # ... and the new whole images against the indexed crops (entry r: row r // c, crop r % c)
        p = _cross(q, q_ok, ch.reshape(-1), cv.reshape(-1), radius)
        parts.append(np.stack([p[:, 0], 0 * p[:, 0], p[:, 1] // c, 1 + p[:, 1] % c], axis=1))
    qc_all = np.asarray(rows.get("pchash_crops", np.zeros((len(q), 0), np.int64)), dtype=np.int64)
    qh = np.concatenate([q[:, None], qc_all.reshape(len(q), -1)], 1)
    strips = _strips(index, rows) if crops else None
    if strips is not None:  # the strips (view S = 1 + the crops): new ones against indexed wholes, and back
        (qs, qs_ok), (rs, rs_ok) = strips
        sq, sr = qh.shape[1], 1 + (stored[0].shape[1] if stored is not None else 0)
        p = _cross(qs, qs_ok, whole, whole_ok, radius)
        parts.append(np.stack([p[:, 0], 0 * p[:, 0] + sq, p[:, 1], 0 * p[:, 0]], axis=1))
        if rs is not None:
            p = _cross(q, q_ok, rs, rs_ok, radius)
            parts.append(np.stack([p[:, 0], 0 * p[:, 0], p[:, 1], 0 * p[:, 0] + sr], axis=1))
        qh = np.concatenate([qh, qs[:, None]], 1)
    pairs = np.concatenate(parts).astype(np.int64)
    if not len(pairs):
        return np.zeros((0, 5), dtype=np.int64)
    rh = np.zeros(len(pairs), dtype=np.int64)
    w = pairs[:, 3] == 0
    rh[w] = whole[pairs[w, 2]]
    s_at = (pairs[:, 3] > 0) & (pairs[:, 3] == (sr if strips is not None else -1))
    if s_at.any():
        rh[s_at] = strips[1][0][pairs[s_at, 2]]  # type: ignore[index]
    c_at = ~w & ~s_at
    if c_at.any():
        rh[c_at] = stored[0][pairs[c_at, 2], pairs[c_at, 3] - 1]  # type: ignore[index]
    dist = hamming_distance(torch.from_numpy(qh[pairs[:, 0], pairs[:, 1]]), torch.from_numpy(rh)).numpy()
    return np.concatenate([pairs, dist[:, None]], axis=1)


def near_matches(
    index: DatasetIndex, rows: dict[str, np.ndarray], radius: int, *, rules: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The new images' near copies in ``index``: ``(pairs, hamming, view)``, ``pairs`` ``(P, 2)``
    ``[new image's row, indexed row]`` sorted, ``hamming`` the distance of the closest view pair
    kept and ``view`` which views matched (``"whole"``, ``"indexed crop 0.9"``, ``"new crop
    0.8"``, ...).  ``rows``: the new images' rows as :meth:`DataAudit.measured_rows
    <dataeval_gpu.audit.DataAudit.measured_rows>` gives them (``pchash``, ``pchash_valid``; the
    crops' hashes and thumbnails and the statistics of :data:`FIGURE_COLUMNS` where measured).

    ``rules``: the scan's rules (the audit's quality issues on: crops, thumbnails, figures);
    off, whole images within ``radius`` only, as a scan without them pairs.
    """
    from ..detectors.hash_pairs import hash_pairs_ok

    empty = np.zeros((0, 2), dtype=np.int64)
    if index.hashes is None or "pchash" not in rows or not len(rows["pchash"]):
        return empty, np.zeros(0, dtype=np.int64), []
    vp = _view_pairs(index, rows, radius, crops=rules)
    if rules and len(vp):
        partners, at = np.unique(vp[:, 2], return_inverse=True)
        cols = {k: index.take(k, partners) for k in (*FIGURE_COLUMNS, "pchash_thumbs", "pchash_strip_thumbs", "pchash_colour")}
        if "pchash_strip" in rows:  # the indexed strips: the view after the indexed crops
            stored = index.crop_hashes()
            cols["strip_view"] = 1 + (stored[0].shape[1] if stored is not None else 0)  # type: ignore[assignment]
        mine = rows.get("pchash_thumbs")
        if cols["pchash_thumbs"] is None and mine is not None:
            # an index made before the thumbnails: its rows cannot verify a pair, so, as when such
            # rows are restored into a scan (all-zero thumbnails), their pairs count only within
            # UNVERIFIED_RADIUS
            cols["pchash_thumbs"] = np.zeros((len(partners), np.asarray(mine).reshape(len(mine), -1).shape[1]), np.uint8)
        ok = hash_pairs_ok(query_figures(rows), figures_of(cols), vp[:, 0], vp[:, 1], at, vp[:, 3], vp[:, 4], radius)
        vp = vp[ok]
    if not len(vp):
        return empty, np.zeros(0, dtype=np.int64), []
    # one entry per image pair: its closest view pair (then the whole image first)
    vp = vp[np.lexsort((vp[:, 3], vp[:, 1], vp[:, 4], vp[:, 2], vp[:, 0]))]
    first = np.ones(len(vp), dtype=bool)
    first[1:] = (vp[1:, 0] != vp[:-1, 0]) | (vp[1:, 2] != vp[:-1, 2])
    vp = vp[first]
    fractions = list(index.settings.get("near_crops") or [])
    names = [_view_name(int(a), int(b), fractions) for a, b in vp[:, [1, 3]]]
    return vp[:, [0, 2]], vp[:, 4], names


def _view_name(new_view: int, indexed_view: int, fractions: list[float]) -> str:
    if new_view == len(fractions) + 1 or indexed_view == len(fractions) + 1:
        return f"{'new' if new_view else 'indexed'} strip"
    if new_view:
        return f"new crop {fractions[new_view - 1] if new_view <= len(fractions) else new_view}"
    if indexed_view:
        return f"indexed crop {fractions[indexed_view - 1] if indexed_view <= len(fractions) else indexed_view}"
    return "whole"
