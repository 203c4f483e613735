"""The per-image results table of an :class:`~dataeval_gpu.audit.report.AuditReport` and the
forms of its columns in each file.

:func:`results_frame` builds the table (``AuditReport.to_pandas``: one row per input, measured
or failed); a failed input's cells are missing, never "no issue": :func:`whole_numbers` and
:func:`known_bools` make such columns nullable, :func:`csv_ready` and :func:`parquet_ready` turn
the table into what ``results.csv`` and ``results.parquet`` can hold.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..discovery import text_path
from .serialize import jsonable

if TYPE_CHECKING:
    from .report import AuditReport

__all__ = ["csv_ready", "known_bools", "label_names", "parquet_ready", "results_frame", "whole_numbers"]


def results_frame(report: AuditReport) -> Any:
    """:meth:`AuditReport.to_pandas <dataeval_gpu.audit.report.AuditReport.to_pandas>`'s table."""
    import pandas as pd

    all_idx = sorted(set(report.index.tolist()) | set(report.failed))
    df = pd.DataFrame(index=pd.Index(all_idx, name="index"))
    pos = {int(i): k for k, i in enumerate(report.index.tolist())}
    rows = [pos.get(i, -1) for i in all_idx]
    ok = np.array([r >= 0 for r in rows], dtype=bool)
    take = np.array([max(r, 0) for r in rows], dtype=np.int64)
    if report.paths or "files" in (report.config or {}):  # a scan of files: a path column, even of no rows
        df["path"] = [text_path(report.paths.get(i, "")) for i in all_idx]
    if report.labels:  # whole-number classes with a failed item's label unknown: Int64, not 0.0 / NaN
        vals = [report.labels.get(i) for i in all_idx]
        whole = None in vals and all(isinstance(v, (int, np.integer)) for v in vals if v is not None)
        df["label"] = pd.array(vals, dtype="Int64") if whole else vals
        if report.class_names:  # a class tree's folders, an index's classes: the name beside the number
            df["label_name"] = label_names(vals, report.class_names)
    df["status"] = np.where(ok, "ok", "failed")
    df["error"] = [report.failed.get(i, "") for i in all_idx]
    if report.notes:
        df["decoder_note"] = [report.notes.get(i, "") for i in all_idx]
    stats, hashes, quality = report.stats, report.hashes, report.quality
    if not len(report.index) and report.config:  # nothing measured: the columns such a scan has
        from .unmeasured import unmeasured_rows

        stats, hashes, quality = unmeasured_rows(report.config)
    for key, val in stats.items():
        if val.ndim == 1 and np.issubdtype(val.dtype, np.integer):
            df[key] = whole_numbers(val[take], ok)
        elif val.ndim == 1:
            col = val[take].astype(np.float64)
            col[~ok] = np.nan
            df[key] = col
        elif key == "percentiles":
            for j, q in enumerate((0, 25, 50, 75, 100)):
                col = val[take, j].astype(np.float64)
                col[~ok] = np.nan
                df[f"p{q}"] = col
    # a failed input was not checked for anything: its hash, flag, finding and group cells
    # are missing (empty in results.csv, null in results.json / Parquet), never "no issue"
    text = lambda values: [v if good else None for v, good in zip(values, ok)]  # noqa: E731
    for key, vals in hashes.items():
        df[key] = text(vals[pos[i]] if i in pos else "" for i in all_idx)
    flagged = {i: ",".join(sorted(m)) for i, m in report.issues.items()}
    df["lint_flags"] = text(flagged.get(i, "") for i in all_idx)
    for issue, scores in quality.get("scores", {}).items():
        col = np.asarray(scores, dtype=np.float64)[take]
        col[~ok] = np.nan
        df[f"{issue}_score"] = col
        df[f"is_{issue}_issue"] = known_bools(np.asarray(quality["flags"][issue], dtype=bool)[take], ok)
    if quality:
        why = report.quality.get("why", {})
        df["quality_issues"] = text(",".join(r.split(":", 1)[0] for r in why.get(i, [])) for i in all_idx)
    # a group column for each kind of duplicate looked for (none without hashes); missing
    # where the image was not compared: failed, or no near hash (under 9 px a side)
    near_key = next((k for k in hashes if k != "xxhash"), None)
    compared = {"exact": ok, "embedding": ok}
    if near_key is not None:
        compared["near"] = ok & (df[near_key].fillna("") != "").to_numpy()
    kinds = [k for k in ("exact", "near", "embedding") if k in report.duplicates and k in compared]
    for kind in kinds:
        gid = {}
        for g, members in enumerate(report.duplicates[kind]):
            for m in members:
                gid[m] = g
        df[f"{kind}_duplicate_group"] = whole_numbers(np.array([gid.get(i, -1) for i in all_idx]), compared[kind])
    if "outliers" in report.clusters:  # the Clusterer ran (not with under 3 finite embeddings)
        # measured but left out of the Clusterer (a non-finite embedding): not checked either
        skipped = set(int(i) for i in report.clusters.get("not_clustered", {}))
        clustered = ok & np.array([i not in skipped for i in all_idx], dtype=bool)
        for key in ("outliers", "potential_outliers"):
            members = set(int(i) for i in report.clusters.get(key, []))
            df[f"cluster_{key}"] = known_bools(np.array([i in members for i in all_idx], dtype=bool), clustered)
    if report.against:
        partners: dict[int, list[str]] = {}
        for m in report.against.get("matches", []):
            partners.setdefault(m["image"], []).append(f"{m['partner_path']} ({'+'.join(m['methods'])})")
        out = {i: ",".join(sorted(m)) for i, m in report.against.get("outliers", {}).items()}
        df["index_matches"] = text("; ".join(partners.get(i, [])) for i in all_idx)
        df["index_outlier_flags"] = text(out.get(i, "") for i in all_idx)
        if report.quality:  # the relative quality issues judged against the indexed collection
            issues = {int(i): ",".join(q["issues"]) for i, q in report.against.get("quality", {}).items()}
            df["index_quality_issues"] = text(issues.get(i, "") for i in all_idx)
    return df


def label_names(labels: list[Any], class_names: Any) -> list[str | None]:
    """Each label's class name (``results.csv``'s ``label_name``): a whole number its entry of
    ``class_names``, a list of object classes their names ``-`` joined (:func:`~dataeval_gpu.labels.class_name`);
    ``None`` (a failed input's unknown label) and ``-1`` (no label) stay missing.

    >>> label_names([1, None, -1, 0, 7], ["cat", "dog"])
    ['dog', None, None, 'cat', '7']
    """
    from ..labels import class_name

    names = [str(n) for n in class_names]
    out: list[str | None] = []
    for v in labels:  # one dict look-up a row where the label is a class number (a class tree)
        if v is None or (isinstance(v, (int, np.integer)) and int(v) == -1):
            out.append(None)
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out.append(names[int(v)] if 0 <= int(v) < len(names) else str(int(v)))
        else:
            out.append(class_name(v, names))
    return out


def whole_numbers(values: np.ndarray, ok: np.ndarray) -> Any:
    """An integer column (``width``, ``height``, ``size``, ``channels``, ``depth``): ``int64``,
    or pandas' nullable ``Int64`` with ``<NA>`` where ``ok`` is False (a failed input): an empty
    cell in ``results.csv``, ``null`` in ``results.json``, as for a float column's NaN."""
    import pandas as pd

    col = values.astype(np.int64)
    if ok.all():
        return col
    return pd.arrays.IntegerArray(col, ~np.asarray(ok, dtype=bool))  # mask: True where missing


def parquet_ready(df: Any) -> Any:
    """``df`` with each object column that mixes kinds of value (labels ``0`` and ``"cat"``, or
    object lists and a plain class) as text (``"0"``, ``"[0, 1]"``; missing stays missing):
    Parquet columns hold one type, and pyarrow refused the table.  Other columns as they are."""
    import pandas as pd

    mixed = {}
    for col in df.select_dtypes(include="object").columns:
        if not pd.api.types.infer_dtype(df[col], skipna=True).startswith("mixed"):
            continue  # one kind (text: paths, hashes, flags): as it is, without a Python pass
        kinds = {_value_kind(v) for v in df[col] if not _missing(v)}
        if len(kinds) > 1:
            mixed[col] = [None if _missing(v) else (v if isinstance(v, str) else _text(v)) for v in df[col]]
    return df.assign(**mixed) if mixed else df


def _missing(v: Any) -> bool:
    import pandas as pd

    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def _value_kind(v: Any) -> str:
    if isinstance(v, str):
        return "text"
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        return "list"
    return "number" if isinstance(v, (int, float, np.integer, np.floating)) else type(v).__name__


def _text(v: Any) -> str:
    if isinstance(v, np.ndarray):
        v = v.tolist()
    return json.dumps(v, default=jsonable) if isinstance(v, (list, tuple, dict)) else str(v)


def csv_ready(df: Any) -> Any:
    """``df`` with a failed row's cells of each nullable yes / no column (``is_<issue>_issue``,
    ``cluster_*``) ``False``: a CSV has no typed missing yes / no, and pandas read an empty cell
    among ``True`` / ``False`` as an ``object`` column (``status`` says the row was not checked).
    Such a column with no other missing cell is plain ``bool``; a measured image left out of the
    Clusterer keeps its empty ``cluster_*`` cells.  Other columns as they are."""
    nullable = [c for c in df.columns if str(df[c].dtype) == "boolean"]
    if not nullable or "status" not in df.columns:
        return df
    failed = (df["status"] == "failed").to_numpy()
    out = {}
    for c in nullable:
        col = df[c].mask(failed, False)
        out[c] = col if col.isna().any() else col.astype(bool)
    return df.assign(**out)


def known_bools(values: np.ndarray, ok: np.ndarray) -> Any:
    """A yes / no column (``is_<issue>_issue``, ``cluster_outliers``): ``bool``, or pandas'
    nullable ``boolean`` with ``<NA>`` where ``ok`` is False (an input that was not checked: a
    failed one): ``null`` in ``results.json`` / Parquet, not ``False``; ``results.csv`` writes ``False``
    there (:func:`csv_ready`: a CSV column of ``True`` / ``False`` reads back as ``bool``)."""
    import pandas as pd

    col = np.asarray(values, dtype=bool)
    if ok.all():
        return col
    return pd.arrays.BooleanArray(col & ok, ~np.asarray(ok, dtype=bool))
