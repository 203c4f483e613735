"""New images against an index: their exact and near copies in the indexed collection, and
the new images that are outliers of the collection's distribution.

* hashes: exact copies by :meth:`Duplicates.cross_matches
  <dataeval_gpu.detectors.duplicates.Duplicates.cross_matches>` on the xxhashes; near copies by
  :func:`~dataeval_gpu.index.near_matches.near_matches`: the views and pair rules of a scan's
  near pairs (whole images and central crops, thumbnails, colour cast, plain background, grey
  entropy, pixel spread) between the new images and the index's memory-mapped hashes, so a new
  and an indexed image pair here exactly when a scan of both together would pair them;
* embeddings (when both sides have them): each new image's nearest indexed neighbours by
  cosine similarity (the stored faiss index, else a chunked matrix product), kept at
  :data:`~dataeval_gpu.detectors.near_duplicates.DEFAULT_EMBEDDING_THRESHOLD` and above;
* outliers: :meth:`Linter.evaluate_against <dataeval_gpu.detectors.linter.Linter.evaluate_against>`
  with the index's reference figures (no indexed row is read);
* quality issues: the relative ones (dark, odd size, odd aspect ratio, grayscale) judged against
  the indexed collection's medians, grey share and sizes (:mod:`~dataeval_gpu.index.quality_ref`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch

from ..flags import to_distinct
from .near_matches import near_matches
from .quality_ref import against_quality
from .reader import DatasetIndex
from .scale_matches import scale_matches
from .store import normalised
from .update import SCAN_PARAMS

__all__ = ["against_index", "against_report", "looks_alike", "query_index", "scan_against"]

#: neighbours looked up per new image in the embedding search
EMBED_K = 5


def _measured_view(words: np.ndarray, measured: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of the measured images (no copy when all are), and their positions (None: all)."""
    if measured.all():
        return words, None
    pos = np.flatnonzero(measured)
    return words[pos], pos


def hash_matches(
    index: DatasetIndex, xx: np.ndarray, near: np.ndarray | None, valid: np.ndarray | None, radius: int
) -> dict[str, np.ndarray]:
    """``{"exact": (P, 2), "near": (Q, 2)}`` pairs ``[query row, indexed row]``."""
    from ..detectors.duplicates import Duplicates, ImageHashes

    kind = index.settings["near_hash"]
    words, pos = _measured_view(index.hashes, index.measured)  # type: ignore[arg-type]
    words = words.view(np.int64)
    ref_valid = index.near_valid if pos is None else index.near_valid[pos]
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    mine = ImageHashes(
        as_t(xx), as_t(near) if near is not None else None, as_t(valid) if valid is not None else None, kind
    )
    ref = ImageHashes(
        as_t(words[:, 0]), as_t(words[:, 1]) if near is not None else None, as_t(ref_valid), kind
    )
    base = kind.removesuffix("_d4")
    out = Duplicates(radius=radius, hash=base, d4=kind.endswith("_d4")).cross_matches(mine, ref)
    res = {}
    for key, pairs in out.items():
        p = pairs.numpy()
        if pos is not None and len(p):
            p = np.stack([p[:, 0], pos[p[:, 1]]], axis=1)
        res[key] = p
    return res


def embedding_matches(index: DatasetIndex, emb: np.ndarray, threshold: float, k: int = EMBED_K) -> np.ndarray:
    """``(P, 3)`` float64 ``[query row, indexed row, cosine]`` with cosine ``>= threshold``."""
    q = normalised(emb)
    measured = index.measured
    ref = index.embeddings
    fa = index.faiss_index()
    kk = min(k, len(ref))  # type: ignore[arg-type]
    if fa is not None:
        sims, ids = fa.search(q, kk + int((~measured).sum()))
    else:
        sims = np.full((len(q), 0), -np.inf, dtype=np.float32)
        ids = np.zeros((len(q), 0), dtype=np.int64)
        qt = torch.from_numpy(q)
        for start in range(0, len(ref), 65536):  # type: ignore[arg-type]
            block = torch.from_numpy(normalised(np.asarray(ref[start : start + 65536])))  # type: ignore[index]
            s = (qt @ block.T).numpy()
            sims = np.concatenate([sims, s], axis=1)
            ids = np.concatenate(
                [ids, np.broadcast_to(np.arange(start, start + s.shape[1]), s.shape)], axis=1
            )
            top = np.argsort(-sims, axis=1, kind="stable")[:, : kk + int((~measured).sum())]
            sims, ids = np.take_along_axis(sims, top, 1), np.take_along_axis(ids, top, 1)
    rows = np.broadcast_to(np.arange(len(q))[:, None], ids.shape)
    ok = (ids >= 0) & (sims >= threshold - 1e-6)
    ok[ok] = measured[ids[ok]]
    return np.stack([rows[ok], ids[ok], sims[ok].astype(np.float64)], axis=1)


def looks_alike(
    index: DatasetIndex,
    mine: Any,
    rows: np.ndarray,
    partners: np.ndarray,
    cosines: np.ndarray | None = None,
    sides: np.ndarray | None = None,
    figures: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """``(P,)`` bool: which embedding matches (new image ``rows[p]``, indexed image
    ``partners[p]``, cosine ``cosines[p]``) pass the rules a scan holds its embedding pairs to
    (:func:`~dataeval_gpu.detectors.embedding_pairs.embedding_pairs_ok`, the one copy): they look
    alike on their grey thumbnails (``mine``: the new images' ``pchash_thumbs``; not checked
    where either side kept none, as a scan without them), and a pair the thumbnails cannot compare
    whose shapes differ (``sides``: the new images' ``(N, 2)`` heights and widths, beside the
    index's) has a cosine of at least ``SHAPE_COSINE``.  ``figures``: the new images' statistics;
    with ``sides``, their ``chroma_rg`` / ``chroma_bg`` (two plain pictures agree in colour) and
    ``opacity`` (an image showing under ``EMPTY_SHARE`` of its frame pairs only where the
    thumbnails compared it; two with a transparent ground agree in detail), beside the index's,
    as a scan passes them where its rows hold them."""
    from ..detectors.embedding_pairs import embedding_pairs_ok

    n = 0 if mine is None else len(mine)
    cos = np.ones(len(rows)) if cosines is None else np.asarray(cosines, dtype=np.float64)
    thumbs = None
    theirs = index.take("pchash_thumbs", partners) if mine is not None and len(rows) else None
    if theirs is not None:
        a = np.asarray(mine).reshape(n, -1)
        b = np.asarray(theirs).reshape(len(partners), -1)
        thumbs = np.concatenate([a, b]) if a.shape[1] == b.shape[1] else None
    hw = None
    if sides is not None and len(rows):
        h, w = index.take("height", partners), index.take("width", partners)
        if h is not None and w is not None:
            n = len(sides)
            hw = np.concatenate([np.asarray(sides, dtype=np.float64).reshape(n, 2), np.stack([h, w], 1)])
    if thumbs is not None and hw is not None and len(hw) != len(thumbs):
        hw = None  # not one row per image on both sides: the shape rule cannot be told
    both = lambda keys: _both_sides(index, figures, keys, partners) if hw is not None else None  # noqa: E731
    chroma, opacity = both(("chroma_rg", "chroma_bg")), both(("opacity",))
    return embedding_pairs_ok(
        rows, n + np.arange(len(partners)), cos, thumbs, hw, chroma, None if opacity is None else opacity[:, 0]
    )


def _both_sides(
    index: DatasetIndex, figures: dict[str, np.ndarray] | None, keys: tuple[str, ...], partners: np.ndarray
) -> np.ndarray | None:
    """``(N + P, len(keys))`` float64: the new images' ``figures[keys]`` then the indexed
    ``partners``' (None when either side lacks one, as a scan whose rows lack it)."""
    if figures is None or any(figures.get(k) is None for k in keys):
        return None
    theirs = [index.take(k, partners) if k in index.columns else None for k in keys]
    if any(t is None for t in theirs):
        return None
    mine = np.stack([np.asarray(figures[k], dtype=np.float64).reshape(-1) for k in keys], 1)
    return np.concatenate([mine, np.stack([np.asarray(t, dtype=np.float64) for t in theirs], 1)])


def _add(found: dict[tuple[int, int], dict[str, Any]], q: int, j: int, method: str, **extra: Any) -> None:
    """Record ``method`` (with the figures ``extra`` not None) for new image ``q`` and indexed row ``j``."""
    entry = found.setdefault((q, j), {"methods": [], "hamming": None, "view": None, "cosine": None})
    if method not in entry["methods"]:
        entry["methods"].append(method)
    entry.update({k: v for k, v in extra.items() if v is not None})


def _hash_copies(
    index: DatasetIndex, rows: dict[str, np.ndarray], stats: dict[str, np.ndarray], radius: int, found: dict
) -> None:
    """The exact copies, the near copies by the scan's views and pair rules (where the quality
    metrics were measured, as a scan applies them) and the copies at another scale (a small
    image and one 1.5x larger or more: :func:`~dataeval_gpu.index.scale_matches.scale_matches`)."""
    for q, j in hash_matches(index, rows["xxhash"], None, None, radius)["exact"].tolist():
        _add(found, q, j, "exact")
    figures = {**stats, **rows}
    rules = "chroma_rg" in figures
    pairs, dist, views = near_matches(index, figures, radius, rules=rules)
    for (q, j), d, v in zip(pairs.tolist(), dist.tolist(), views):
        if (q, j) not in found:  # a byte-identical pair is exact only, as in a scan of both sets
            _add(found, q, j, "near", hamming=int(d), view=v)
    for q, j in (scale_matches(index, figures) if rules else np.zeros((0, 2), np.int64)).tolist():
        if (q, j) not in found:  # found at scale only: its hashes at the small image's size
            _add(found, q, j, "near", view="scale")


def _embedding_copies(
    index: DatasetIndex,
    rows: dict[str, np.ndarray],
    stats: dict[str, np.ndarray],
    embeddings: np.ndarray,
    threshold: float | None,
    found: dict,
) -> None:
    """The embedding neighbours at ``threshold`` (default: the scan's) that pass a scan's rules."""
    from ..detectors.near_duplicates import DEFAULT_EMBEDDING_THRESHOLD

    t = DEFAULT_EMBEDDING_THRESHOLD if threshold is None else float(threshold)
    emb = embedding_matches(index, embeddings, t)
    q_rows, partners = emb[:, 0].astype(np.int64), emb[:, 1].astype(np.int64)
    sides = np.stack([stats["height"], stats["width"]], 1) if "height" in stats and "width" in stats else None
    emb = emb[looks_alike(index, rows.get("pchash_thumbs"), q_rows, partners, emb[:, 2], sides, stats)]  # as a scan
    for q, j, c in emb.tolist():
        _add(found, int(q), int(j), "embedding", cosine=round(float(c), 4))


def _outliers(
    index: DatasetIndex,
    stats: dict[str, np.ndarray],
    method: str,
    threshold: float | None,
    linted: Collection[str] | None,
    rare: bool,
    stored_065: bool,
) -> tuple[dict[int, dict[str, float]], dict[str, dict[str, float]], dict[str, Any]]:
    """``(issues by row, the reference figures they were judged by, the ranges the flags lie
    outside)``: the Linter against the index's reference; ``stored_065``: both sides' float16
    statistics rounded as DataEval 0.65 stores them (:func:`~dataeval_gpu.detectors.linter.as_stored_by_065`,
    :attr:`DatasetIndex.reference_065`).  With ``rare`` the ranges of the flagged metrics under the
    default preset's rule (:func:`~dataeval_gpu.report.linter_ranges.against_ranges`):
    ``{"ranges": {metric: [low, high]}, "ranges_zero": {channels: [low, high]}}``; else ``{}``."""
    from ..audit.lint_rules import LOG_TESTED, far_threshold, rare_against
    from ..detectors.linter import Linter, as_stored_by_065
    from ..report.linter_ranges import against_ranges

    lint = Linter(outlier_method=method, outlier_threshold=threshold)  # type: ignore[arg-type]
    linted_stats = {k: v for k, v in stats.items() if linted is None or k in linted}
    if stored_065:  # as the scan of --preset dataeval-0.65 lints them
        linted_stats = as_stored_by_065(linted_stats)
    reference = index.reference_065 if stored_065 else index.reference  # the manifest read once
    issues = lint.evaluate_against(linted_stats, reference).issues
    if rare:  # a value off a constant reference: 0.65's Linter skips the metric, a scan of both flags it
        issues = _off_constant(issues, linted_stats, reference)
    flagged = sorted({m for found in issues.values() for m in found})
    # the log-scale metrics are tested whatever 0.65's linear test flagged (a scan tests them so)
    logged = sorted(LOG_TESTED & set(linted_stats) & set(index.columns)) if rare else []
    if rare and (flagged or logged):  # the default preset's rule: rare in the index too (far out on the robust scale)
        # zero is judged per channel: both sides' channel counts with it, as a scan has them; and
        # not on the new images with transparent parts (their opacity, as a scan reads it)
        extra = ["channels"] if "zero" in flagged and "channels" in stats and "channels" in index.columns else []
        seen = ["opacity"] if "zero" in flagged and "opacity" in stats else []
        indexed = index.rows(sorted({*flagged, *logged, *extra}))
        mine = {**linted_stats, **{k: stats[k] for k in (*extra, *seen)}}
        indexed = {k: v[index.measured] for k, v in indexed.items()}
        issues = rare_against(issues, mine, indexed, far=far_threshold(method, threshold))
        ranges, zero = against_ranges(reference, indexed, stats.get("channels"), method, threshold)
        shown = {m for found in issues.values() for m in found}
        return issues, reference, {
            "ranges": {k: [lo, hi] for k, (lo, hi) in ranges.items() if k in shown},
            "ranges_zero": {c: [lo, hi] for c, (lo, hi) in zero.items()} if "zero" in shown else {},
        }
    return issues, reference, {}


def _off_constant(
    issues: dict[int, dict[str, float]], stats: dict[str, np.ndarray], reference: dict[str, dict[str, float]]
) -> dict[int, dict[str, float]]:
    """``issues`` plus, on each metric whose ``reference`` is one value (spread 0: DataEval 0.65's
    ``evaluate_against`` does not lint it), the new images whose value differs from it: as a scan of
    both sets flags them on the Linter's infinite score (the rare rule then judges them)."""
    out = {i: dict(m) for i, m in issues.items()}
    for name, values in stats.items():
        ref = reference.get(name)
        if ref is None or ref.get("std") != 0.0 or not isinstance(values, np.ndarray) or values.ndim != 1:
            continue
        v = values.astype(np.float64)
        for i in np.flatnonzero(np.isfinite(v) & (v != ref["median"])):
            out.setdefault(int(i), {})[name] = float(np.round(v[i], 2))
    return dict(sorted(out.items()))


def query_index(
    index: DatasetIndex,
    query_index_values: np.ndarray,
    rows: dict[str, np.ndarray],
    stats: dict[str, np.ndarray],
    embeddings: np.ndarray | None = None,
    *,
    radius: int = 0,
    outlier_method: str = "modzscore",
    outlier_threshold: float | None = None,
    embedding_threshold: float | None = None,
    linted: Collection[str] | None = None,
    quality_thresholds: dict[str, float] | None = None,
    rare: bool = False,
    stored_065: bool = False,
) -> dict[str, Any]:
    """The findings of new images against ``index``.

    ``query_index_values``: the new images' dataset indices; ``rows``: their hash rows
    (``xxhash``, ``pchash``, ``pchash_valid``, and where measured the crops' ``pchash_crops``,
    ``pchash_crops_valid`` and the ``pchash_thumbs``, as :meth:`DataAudit.measured_rows
    <dataeval_gpu.audit.DataAudit.measured_rows>` gives); ``stats``: {metric: values}.  With the
    quality metrics measured (``chroma_rg`` ...) the near copies follow the scan's pair rules
    (:func:`~dataeval_gpu.index.near_matches.near_matches`, and the pairs at another scale of
    :func:`~dataeval_gpu.index.scale_matches.scale_matches`), each rule where its figures are at
    hand on both sides; without them, whole images within ``radius``, as such a scan pairs them.

    With the quality metrics in ``stats`` (and in the index), the relative quality issues are
    judged against the indexed collection (:func:`~dataeval_gpu.index.quality_ref.against_quality`,
    at ``quality_thresholds``): ``quality`` {image: {"issues", "why"}}.

    Returns ``{"index", "indexed_images", "radius", "matches", "outliers", "reference", "quality"}``: ``matches`` a list
    of ``{"image", "partner", "partner_path", "methods", "hamming", "view", "cosine"}`` (one per
    new image and indexed partner; an exact copy is ``exact``, not also ``near``, as a scan of
    both sets puts it in an exact group only; ``hamming`` and ``view`` those of the closest matching views,
    ``"whole"`` or e.g. ``"indexed crop 0.9"``; ``"scale"``, no ``hamming``: a small image and a larger copy),
    ``outliers`` {image: {metric: value}} against
    the collection, of the metrics ``linted`` (the scan's Linter flags; default: every metric; with
    ``rare``, the default preset's rule: a flag must also be far out (at the user's modified z-score
    threshold) and rare among the indexed values, on the metric's robust scale,
    :func:`~dataeval_gpu.audit.lint_rules.rare_against`; ``stored_065``, the
    ``dataeval-0.65`` preset's: the statistics rounded to float16 as DataEval 0.65 stores them, on both sides),
    ``reference`` the index's Linter reference figures they were judged by
    (:attr:`DatasetIndex.reference`: the printout's ranges come from it, the index not read again);
    with ``rare``, ``ranges`` / ``ranges_zero``: the ranges the flags lie outside under that rule
    (per flagged metric; ``zero``'s per channel count where the new images' counts differ), which the
    printout shows instead.
    """
    t0 = time.perf_counter()
    found: dict[tuple[int, int], dict[str, Any]] = {}
    if index.hashes is not None and "xxhash" in rows and len(query_index_values):
        _hash_copies(index, rows, stats, radius, found)
    if embeddings is not None and index.embeddings is not None and len(embeddings):
        _embedding_copies(index, rows, stats, embeddings, embedding_threshold, found)
    keys = sorted(found)
    partner_paths = index.paths(np.array([j for _, j in keys], dtype=np.int64)) if keys else []
    matches = [
        {"image": int(query_index_values[q]), "partner": int(j), "partner_path": p, **found[(q, j)]}
        for (q, j), p in zip(keys, partner_paths)
    ]
    issues, reference, ranges = _outliers(index, stats, outlier_method, outlier_threshold, linted, rare, stored_065)
    quality: dict[int, dict[str, list[str]]] = {}
    if "grey_p99" in stats and len(query_index_values):
        indexed = np.zeros(len(query_index_values), dtype=bool)  # an exact copy: already in the index
        indexed[[q for (q, _), e in found.items() if "exact" in e["methods"]]] = True
        quality = against_quality(stats, query_index_values, index.quality_reference, quality_thresholds, indexed)
    return {
        "index": str(index.folder),
        "indexed_images": int(index.measured.sum()),
        "radius": int(radius),
        "matches": matches,
        "outliers": {int(query_index_values[p]): m for p, m in issues.items()},
        "reference": reference,
        **ranges,
        "quality": quality,
        "elapsed_s": round(time.perf_counter() - t0, 4),
    }


def against_index(audit: Any, index: DatasetIndex | str | os.PathLike, report: Any = None) -> Any:
    """Add the findings of ``audit``'s images against ``index`` to its report (``report.against``).

    ``audit``: a :class:`~dataeval_gpu.audit.DataAudit` fed with the new images (with the
    index's hash settings); ``report``: its ``compute()`` (computed here when None).
    """
    idx = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
    idx.check(audit, embeddings_optional=True)
    report = audit.compute() if report is None else report
    qidx, rows, emb = audit.measured_rows()
    stats = {k: v for k, v in rows.items() if v.ndim == 1 and k not in ("xxhash", "pchash", "pchash_valid")}
    report.against = query_index(
        idx,
        qidx,
        rows,
        stats,
        emb,
        radius=audit.near_radius,
        outlier_method=audit.outlier_method,
        outlier_threshold=audit.outlier_threshold,
        linted=set(to_distinct(audit.linter_flags).values()),  # the metrics a scan lints
        quality_thresholds=audit.quality_thresholds if audit.quality else None,
        rare=audit.preset == "default",
        stored_065=audit.preset == "dataeval-0.65",  # the scan lints 0.65's float16 values
    )
    return report


def against_report(report: Any, index: DatasetIndex | str | os.PathLike, *, radius: int | None = None) -> Any:
    """:func:`against_index` from an :class:`~dataeval_gpu.audit.AuditReport` alone (its hashes
    and statistics; no embeddings): sets and returns ``report.against``.  ``radius`` defaults
    to the report's ``near_radius``; the report's near hash must be the index's.  A report keeps
    the whole images' hashes and the statistics but not the crops' hashes nor the thumbnails:
    its near copies are the whole-image pairs that pass the plain-background, colour-cast,
    grey-entropy and pixel-spread rules, unverified (a superset of what :func:`against_index`
    keeps of those pairs; crop matches and copies at another scale are not found)."""
    from ..functional.hashing import NEAR_HASHES
    from .manifest import IndexMismatchError, index_grey

    idx = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
    rows: dict[str, np.ndarray] = {}
    if report.hashes and len(report.index):
        ht = report.hash_tensors()
        if ht.near is not None and ht.kind != idx.settings.get("near_hash"):
            raise IndexMismatchError(
                f"the index in {idx.folder} holds {idx.settings.get('near_hash')!r} hashes, the report {ht.kind!r}"
            )
        grey = NEAR_HASHES[ht.kind].grey if ht.near is not None and ht.kind in NEAR_HASHES else None
        if grey is not None and index_grey(idx.settings) not in (None, grey):
            # an index written before the D4 hashes read luma: the same name, hashes of another grey
            raise IndexMismatchError(
                f"the index in {idx.folder} holds {ht.kind!r} hashes of the {index_grey(idx.settings)} grey image "
                f"(written before the D4 hashes read luma), the report's read the {grey} grey: rebuild the index "
                "(scan its files again with --index NEW_FOLDER, or save_index into a new folder)"
            )
        rows = {"xxhash": ht.xxhash.numpy()}
        if ht.near is not None:
            rows.update(pchash=ht.near.numpy(), pchash_valid=ht.near_valid.numpy())
    cfg = report.config
    report.against = query_index(
        idx,
        np.asarray(report.index),
        rows,
        {k: v for k, v in report.stats.items() if v.ndim == 1},
        radius=int(cfg.get("near_radius", 0)) if radius is None else radius,
        outlier_method=cfg.get("outlier_method", "modzscore"),
        outlier_threshold=cfg.get("outlier_threshold"),
        linted=cfg.get("linter_flags"),
        quality_thresholds=cfg.get("quality_thresholds"),
        rare=cfg.get("preset", "default") == "default",
        stored_065=cfg.get("preset") == "dataeval-0.65",
    )
    return report


def scan_against(
    folder: str | os.PathLike,
    files: Sequence[str],
    labels: Sequence[int] | None = None,
    **scan_kwargs: Any,
) -> Any:
    """Scan ``files`` as :func:`~dataeval_gpu.audit.scan_files` does (same report: their own
    statistics, findings and duplicates) and add their findings against the index in
    ``folder`` (``report.against``, see :func:`query_index`).  The hash settings (``hash``,
    ``d4``) and metric definitions must be the index's (else ``IndexMismatchError``);
    ``audit``: feed this :class:`~dataeval_gpu.audit.DataAudit` (its rows stay readable)."""
    from ..audit import DataAudit, scan_files
    from ..batching import resolve_device

    index = DatasetIndex(folder)
    kw = {k: v for k, v in scan_kwargs.items() if k not in SCAN_PARAMS}
    audit = scan_kwargs.pop("audit", None) or DataAudit(device=resolve_device(scan_kwargs.get("device")), **kw)
    index.check(audit, embeddings_optional=True)  # before anything is scanned
    report = scan_files(files, labels, audit=audit, **scan_kwargs)
    return against_index(audit, index, report)
