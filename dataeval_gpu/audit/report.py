"""The report of an audit: :class:`AuditReport` (tables, findings, summary, files)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..discovery import text_path
from ..functional import registry
from ..wording import counted
from .serialize import jsonable, write_with_records

__all__ = ["AuditReport", "CLUSTER_KEYS", "SUMMARY_KEYS", "csv_ready", "format_value", "known_bools", "whole_numbers"]

logger = logging.getLogger("dataeval_gpu.audit")
#: rows of the results table turned into JSON records at a time (``to_json``)
JSON_CHUNK = 2_000

#: metrics the summary table shows (the registry's scalar metrics: 0.65 names, then 1.x, then later ones)
SUMMARY_KEYS = registry.scalar_names()

#: the Clusterer findings kept in findings.json
CLUSTER_KEYS = ("outliers", "potential_outliers", "duplicates", "potential_duplicates")


@dataclass
class AuditReport:
    """What :meth:`DataAudit.compute` found.

    Attributes
    ----------
    index : dataset indices measured (sorted).
    stats : {metric: array aligned with ``index``} (``percentiles`` (N, 5), ``histogram`` (N, 256)).
    hashes : {"xxhash": [hex], <near hash>: [hex or ""]} aligned with ``index``; the near
        key is the hash's name (``"pchash"`` by default, else ``"dhash"``, ``"pchash_d4"``,
        ``"dhash_d4"``).
    issues : Linter output {index: {metric: value}}.
    duplicates : {"exact": [[i, ...]], "near": [[i, ...]]}, plus ``"embedding"`` groups with
        embedding duplicates on.
    quality : the quality issues (empty when off): ``scores`` / ``flags`` {issue: array aligned
        with ``index``}, ``thresholds`` {issue: value}, ``reference`` (dataset values of the
        relative issues) and ``why`` {index: ["<issue>: score s > threshold t ...", ...]}.
    clusters : Clusterer findings (outliers, potential_outliers, duplicates, potential_duplicates) or {}.
    failed : {index: reason} for inputs that could not be measured.
    labels, paths : {index: label} / {index: path} when known.
    config : the settings of the run.
    against : the findings against a dataset index (:func:`dataeval_gpu.index.against_index`):
        ``matches`` (new image, indexed partner and its path, the methods that matched) and
        ``outliers`` against the indexed collection; {} without an index.
    thumbnails : {index: (C, H, W) uint8 array} small pictures the file scan made from the
        pixels it measured (the largest images only), for the HTML report; not written out.
    embeddings : {index: embedding row} of the images in embedding duplicate groups only, for
        the HTML report's cosine similarities; not written out.
    notes : {index: text} what the image decoder warned about while reading the file (libpng's
        ``iCCP: known incorrect sRGB profile``, ...; caught instead of printed): the
        ``decoder_note`` column of :meth:`to_pandas` when any image has one.
    """

    index: np.ndarray
    stats: dict[str, np.ndarray]
    hashes: dict[str, list[str]] = field(default_factory=dict)
    issues: dict[int, dict[str, float]] = field(default_factory=dict)
    duplicates: dict[str, list[list[int]]] = field(default_factory=dict)
    clusters: dict[str, Any] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    labels: dict[int, Any] = field(default_factory=dict)
    paths: dict[int, str] = field(default_factory=dict)
    class_names: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    channel_stats: dict[str, np.ndarray] = field(default_factory=dict)
    against: dict[str, Any] = field(default_factory=dict)
    thumbnails: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    quality: dict[str, Any] = field(default_factory=dict)
    embeddings: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    notes: dict[int, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.index) + len(self.failed)

    def to_pandas(self) -> Any:
        """One row per input index (measured or failed), with every scalar metric and the findings."""
        import pandas as pd

        all_idx = sorted(set(self.index.tolist()) | set(self.failed))
        df = pd.DataFrame(index=pd.Index(all_idx, name="index"))
        pos = {int(i): k for k, i in enumerate(self.index.tolist())}
        rows = [pos.get(i, -1) for i in all_idx]
        ok = np.array([r >= 0 for r in rows], dtype=bool)
        take = np.array([max(r, 0) for r in rows], dtype=np.int64)
        if self.paths or "files" in (self.config or {}):  # a scan of files: a path column, even of no rows
            df["path"] = [text_path(self.paths.get(i, "")) for i in all_idx]
        if self.labels:
            df["label"] = [self.labels.get(i) for i in all_idx]
        df["status"] = np.where(ok, "ok", "failed")
        df["error"] = [self.failed.get(i, "") for i in all_idx]
        if self.notes:
            df["decoder_note"] = [self.notes.get(i, "") for i in all_idx]
        stats, hashes, quality = self.stats, self.hashes, self.quality
        if not len(self.index) and self.config:  # nothing measured: the columns such a scan has
            from .unmeasured import unmeasured_rows

            stats, hashes, quality = unmeasured_rows(self.config)
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
        flagged = {i: ",".join(sorted(m)) for i, m in self.issues.items()}
        df["lint_flags"] = text(flagged.get(i, "") for i in all_idx)
        for issue, scores in quality.get("scores", {}).items():
            col = np.asarray(scores, dtype=np.float64)[take]
            col[~ok] = np.nan
            df[f"{issue}_score"] = col
            df[f"is_{issue}_issue"] = known_bools(np.asarray(quality["flags"][issue], dtype=bool)[take], ok)
        if quality:
            why = self.quality.get("why", {})
            df["quality_issues"] = text(",".join(r.split(":", 1)[0] for r in why.get(i, [])) for i in all_idx)
        # a group column for each kind of duplicate looked for (none without hashes); missing
        # where the image was not compared: failed, or no near hash (under 9 px a side)
        near_key = next((k for k in hashes if k != "xxhash"), None)
        compared = {"exact": ok, "embedding": ok}
        if near_key is not None:
            compared["near"] = ok & (df[near_key].fillna("") != "").to_numpy()
        kinds = [k for k in ("exact", "near", "embedding") if k in self.duplicates and k in compared]
        for kind in kinds:
            gid = {}
            for g, members in enumerate(self.duplicates[kind]):
                for m in members:
                    gid[m] = g
            df[f"{kind}_duplicate_group"] = whole_numbers(np.array([gid.get(i, -1) for i in all_idx]), compared[kind])
        if "outliers" in self.clusters:  # the Clusterer ran (not with under 3 finite embeddings)
            # measured but left out of the Clusterer (a non-finite embedding): not checked either
            skipped = set(int(i) for i in self.clusters.get("not_clustered", {}))
            clustered = ok & np.array([i not in skipped for i in all_idx], dtype=bool)
            for key in ("outliers", "potential_outliers"):
                members = set(int(i) for i in self.clusters.get(key, []))
                df[f"cluster_{key}"] = known_bools(np.array([i in members for i in all_idx], dtype=bool), clustered)
        if self.against:
            partners: dict[int, list[str]] = {}
            for m in self.against.get("matches", []):
                partners.setdefault(m["image"], []).append(f"{m['partner_path']} ({'+'.join(m['methods'])})")
            out = {i: ",".join(sorted(m)) for i, m in self.against.get("outliers", {}).items()}
            df["index_matches"] = text("; ".join(partners.get(i, [])) for i in all_idx)
            df["index_outlier_flags"] = text(out.get(i, "") for i in all_idx)
            if self.quality:  # the relative quality issues judged against the indexed collection
                issues = {int(i): ",".join(q["issues"]) for i, q in self.against.get("quality", {}).items()}
                df["index_quality_issues"] = text(issues.get(i, "") for i in all_idx)
        return df

    def issue_values(self, issues: Mapping[int, Mapping[str, Any]] | None = None) -> dict[int, dict[str, float]]:
        """``issues`` (default the Linter's; or e.g. ``against["outliers"]``) with each flagged
        metric's measured value instead of the Linter's.

        The Linter rounds its values to 2 decimals, as DataEval 0.65 does, so that an image
        flagged for ``zero`` at 0.0036 reads ``zero=0.0``; for showing a flag, this takes the
        value from ``stats`` (the Linter's own value where ``stats`` has no such column).
        """
        pos = {int(i): k for k, i in enumerate(self.index.tolist())}
        out: dict[int, dict[str, float]] = {}
        for i, flagged in (self.issues if issues is None else issues).items():
            k = pos.get(int(i))
            row = {}
            for metric, value in flagged.items():
                col = self.stats.get(metric)
                usable = k is not None and col is not None and np.ndim(col) == 1
                row[metric] = float(col[k]) if usable else value
            out[i] = row
        return out

    def hash_tensors(self) -> Any:
        """The report's hashes as :class:`~dataeval_gpu.detectors.duplicates.ImageHashes`
        (packed int64 tensors aligned with ``index``), for
        :meth:`Duplicates.cross_matches <dataeval_gpu.detectors.duplicates.Duplicates.cross_matches>`."""
        from ..detectors.duplicates import ImageHashes
        from ..functional.hashing import hex_to_hash

        near_key = next((k for k in self.hashes if k != "xxhash"), None)
        xx = hex_to_hash(self.hashes["xxhash"])[0] if self.hashes.get("xxhash") else None
        near, ok = hex_to_hash(self.hashes[near_key]) if near_key else (None, None)
        return ImageHashes(xxhash=xx, near=near, near_valid=ok, kind=near_key or "pchash")

    def findings(self) -> dict[str, Any]:
        """The JSON-able findings: linter issues, duplicate groups, cluster findings, failures."""
        return {
            "issues": {str(i): m for i, m in self.issues.items()},
            "duplicates": self.duplicates,
            "quality": {str(i): r for i, r in self.quality.get("why", {}).items()},
            "quality_thresholds": dict(self.quality.get("thresholds", {})),
            "clusters": {
                k: jsonable(v) for k, v in self.clusters.items() if k in (*CLUSTER_KEYS, "method", "not_clustered")
            },
            "failed": {str(i): r for i, r in self.failed.items()},
            **({"against": jsonable(self.against)} if self.against else {}),
        }

    def summary_dict(self) -> dict[str, Any]:
        """Counts and per-metric summaries (min / median / max / flagged)."""
        per_metric = {}
        flagged_by_metric: dict[str, int] = {}
        for metrics in self.issues.values():
            for m in metrics:
                flagged_by_metric[m] = flagged_by_metric.get(m, 0) + 1
        for key in SUMMARY_KEYS:
            if key not in self.stats:
                continue
            v = self.stats[key].astype(np.float64)
            finite = v[np.isfinite(v)]
            whole = int if np.issubdtype(self.stats[key].dtype, np.integer) else float  # min / max as the column
            per_metric[key] = {
                "min": whole(finite.min()) if finite.size else None,
                "median": float(np.median(finite)) if finite.size else None,
                "max": whole(finite.max()) if finite.size else None,
                "flagged": flagged_by_metric.get(key, 0),
            }
        dup = self.duplicates
        scored = bool(self.quality) or bool(self.config.get("quality"))
        clustered = bool(self.clusters) or bool(self.config.get("embeddings"))
        crop = (self.config or {}).get("crop_search") or {}
        return {
            "images": self.total,
            "measured": int(len(self.index)),
            "failed": len(self.failed),
            "flagged_images": len(self.issues),
            # None (null in summary.json): not searched (no hashes), never "0 groups"
            "exact_duplicate_groups": len(dup["exact"]) if "exact" in dup else None,
            "exact_duplicate_images": sum(len(g) for g in dup["exact"]) if "exact" in dup else None,
            "near_duplicate_groups": len(dup["near"]) if "near" in dup else None,
            "near_duplicate_images": sum(len(g) for g in dup["near"]) if "near" in dup else None,
            "embedding_duplicate_groups": len(dup["embedding"]) if "embedding" in dup else None,
            # the off-centre crop search's plan and what it means (None: that search did not run)
            "crop_search_plan": crop.get("plan"),
            "crop_search_note": crop.get("note"),
            # None as well where the quality issues were not scored / no Clusterer ran (--no-quality, no embeddings)
            "quality_flagged_images": len(self.quality.get("why", {})) if scored else None,
            "quality_issues": {k: int(np.sum(v)) for k, v in self.quality.get("flags", {}).items()} if scored else None,
            "cluster_outliers": len(self.clusters.get("outliers", [])) if clustered else None,
            "cluster_potential_outliers": len(self.clusters.get("potential_outliers", [])) if clustered else None,
            "cluster_duplicate_groups": len(self.clusters.get("duplicates", [])) if clustered else None,
            "cluster_method": self.clusters.get("method"),
            **(self._against_counts() if self.against else {}),
            "metrics": per_metric,
        }

    def _against_counts(self) -> dict[str, Any]:
        matches = self.against.get("matches", [])
        with_method = lambda m: len({x["image"] for x in matches if m in x["methods"]})  # noqa: E731
        return {
            "against_index": self.against.get("index"),
            "against_indexed_images": self.against.get("indexed_images"),
            "against_exact_copies": with_method("exact"),
            "against_near_copies": with_method("near"),
            "against_embedding_neighbours": with_method("embedding"),
            "against_outliers": len(self.against.get("outliers", {})),
            "against_quality_flagged_images": len(self.against.get("quality", {})),
        }

    def summary(self) -> str:
        """A short text summary: counts, then one line per metric."""
        s = self.summary_dict()
        lines = [
            f"images: {s['images']}  measured: {s['measured']}  failed: {s['failed']}  "
            f"flagged by the linter: {s['flagged_images']}",
            f"exact duplicates: {counted(s['exact_duplicate_groups'], 'group')} ({counted(s['exact_duplicate_images'], 'image')})  "
            f"near duplicates: {counted(s['near_duplicate_groups'], 'group')} ({counted(s['near_duplicate_images'], 'image')})"
            if s["exact_duplicate_groups"] is not None
            else "exact and near duplicates: not searched (hashes off)",
        ]
        if (self.config or {}).get("crop_search", {}).get("partial"):  # the rotated plan: said where it is read
            lines.append(f"near duplicates: {s['crop_search_note']}")
        if s["quality_flagged_images"] is not None:
            counts = ", ".join(f"{k} {v}" for k, v in s["quality_issues"].items() if v)
            lines.append(f"quality issues: {counted(s['quality_flagged_images'], 'image')} ({counts or 'none'})")
        else:  # as the duplicates without hashes: said, never left out (--no-quality, --preset dataeval-0.65)
            lines.append("quality issues: not checked (quality off)")
        if "embedding" in self.duplicates:
            lines.append(f"embedding near duplicates: {counted(s['embedding_duplicate_groups'], 'group')}")
        if self.clusters and s["cluster_method"] is None:  # under 3 images with a finite embedding
            left = len(self.clusters.get("not_clustered", {}))
            lines.append(
                "cluster outliers: not searched (under 3 images with a finite embedding"
                + (f"; {counted(left, 'image')} with a non-finite one left out)" if left else ")")
            )
        elif self.clusters:
            lines.append(
                f"cluster outliers: {s['cluster_outliers']}  potential: {s['cluster_potential_outliers']}  "
                f"Clusterer duplicate groups: {s['cluster_duplicate_groups']}  (clusterer: {s['cluster_method']})"
            )
        if self.against:
            lines.append(
                f"against the index {s['against_index']} ({counted(s['against_indexed_images'], 'image')}): "
                f"{counted(s['against_exact_copies'], 'exact copy', 'exact copies')}, "
                f"{counted(s['against_near_copies'], 'near copy', 'near copies')}, "
                f"{counted(s['against_embedding_neighbours'], 'embedding neighbour')}, {counted(s['against_outliers'], 'outlier')}, "
                f"{s['against_quality_flagged_images']} with quality issues"
            )
        if s["metrics"]:
            w = max(14, 2 + max(len(k) for k in s["metrics"]))  # the name column fits the longest name
            lines.append(f"{'metric':<{w}}{'min':>12}{'median':>12}{'max':>12}{'flagged':>9}")
            for k, m in s["metrics"].items():
                lines.append(
                    f"{k:<{w}}{format_value(m['min']):>12}{format_value(m['median']):>12}{format_value(m['max']):>12}{m['flagged']:>9}"
                )
        return "\n".join(lines)

    def to_json(
        self, path: str | os.PathLike | None = None, *, frame: Any = None, on_rows: Callable[[int, int], Any] | None = None
    ) -> str:
        """Summary, findings and per-image rows as JSON: the text, or with ``path`` the file
        written chunk by chunk (:data:`JSON_CHUNK` rows at a time; memory stays flat with the
        number of images) and its path; ``frame``: :meth:`to_pandas`'s table when the caller
        already has it; ``on_rows(done, total)`` is called after each chunk of rows."""
        df = self.to_pandas() if frame is None else frame
        doc = {
            "summary": self.summary_dict(),
            "findings": self.findings(),
            "config": self.config,
            "class_names": self.class_names,
        }

        def chunks() -> Iterator[Any]:
            # the per-image records a chunk of rows at a time: json.dumps(doc, indent=1, ...)'s
            # text without the whole table as Python dicts (a million images' rows)
            for s in range(0, len(df), JSON_CHUNK):
                yield json.loads(df.iloc[s : s + JSON_CHUNK].reset_index().to_json(orient="records"))
                if on_rows is not None:
                    on_rows(min(s + JSON_CHUNK, len(df)), len(df))

        if path is None:
            parts: list[str] = []
            write_with_records(parts.append, doc, "images", chunks(), default=jsonable)
            return "".join(parts)
        with open(path, "w", encoding="utf-8") as f:
            write_with_records(f.write, doc, "images", chunks(), default=jsonable)
        return str(path)

    def save(
        self, out_dir: str | os.PathLike, formats: Sequence[str] = ("csv", "json"), progress: bool | None = False
    ) -> dict[str, str]:
        """Write ``results.csv`` (and/or ``.parquet``, ``.json``), ``findings.json``, ``summary.json``,
        ``config.json`` and, with the quality issues, their table in the tabular formats asked for
        (``quality_issues.csv`` with ``csv``, ``quality_issues.parquet`` with ``parquet``; the issues
        are in ``findings.json`` whatever the formats); ``progress``: show the files being written on
        a bar (stderr; ``None``: on a terminal)."""
        from ..progress import phase_steps

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        files = [f"results.{f}" for f in ("csv", "parquet", "json") if f in formats]
        tables = [f"quality_issues.{f}" for f in ("csv", "parquet") if f in formats and self.quality]
        steps = ["table", *files, "findings.json", *tables]
        with phase_steps("save", steps, enable=progress) as step:
            step("table")
            df = self.to_pandas()
            if "csv" in formats:
                step("results.csv")
                csv_ready(df).to_csv(out / "results.csv")
                written["results"] = str(out / "results.csv")
            if "parquet" in formats:
                step("results.parquet")
                try:
                    parquet_ready(df).to_parquet(out / "results.parquet")
                    written["parquet"] = str(out / "results.parquet")
                except ImportError:
                    logger.warning("pyarrow is not installed: results.parquet not written (pip install pyarrow)")
            if "json" in formats:
                step("results.json")
                self.to_json(out / "results.json", frame=df, on_rows=lambda k, n: step.detail(f"{k:,}/{n:,} rows"))
                written["json"] = str(out / "results.json")
            step("findings.json")
            (out / "findings.json").write_text(json.dumps(self.findings(), indent=1, default=jsonable))
            (out / "summary.json").write_text(json.dumps(self.summary_dict(), indent=1, default=jsonable))
            (out / "config.json").write_text(json.dumps(self.config, indent=1, default=jsonable))
            written.update(
                findings=str(out / "findings.json"), summary=str(out / "summary.json"), config=str(out / "config.json")
            )
            for name in tables:  # the formats asked for: --formats parquet writes no CSV
                step(name)
                if name.endswith(".csv"):
                    self.quality_table().to_csv(out / name, index=False)
                    written["quality"] = str(out / name)
                    continue
                try:
                    parquet_ready(self.quality_table()).to_parquet(out / name, index=False)
                    written["quality_parquet"] = str(out / name)
                except ImportError:
                    logger.warning("pyarrow is not installed: %s not written (pip install pyarrow)", name)
        return written

    def quality_table(self) -> Any:
        """One row per (image, quality issue) flagged: index, path, issue, score, threshold, why."""
        import pandas as pd

        rows = []
        pos = {int(i): k for k, i in enumerate(self.index.tolist())}
        for i, reasons in sorted(self.quality.get("why", {}).items()):
            for reason in reasons:
                issue = reason.split(":", 1)[0]
                rows.append(
                    {
                        "index": i,
                        "path": text_path(self.paths.get(i, "")),
                        "issue": issue,
                        "score": float(self.quality["scores"][issue][pos[i]]),
                        "threshold": float(self.quality["thresholds"][issue]),
                        "why": reason,
                    }
                )
        return pd.DataFrame(rows, columns=["index", "path", "issue", "score", "threshold", "why"])


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


def format_value(v: float | None) -> str:
    """A summary-table number: 4 significant digits, or 3 in scientific notation when large or small."""
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if abs(v) >= 9999.5:  # 5 digits in full: ".4g" writes 20000 as "2e+04"
        return f"{v:.0f}"
    return f"{v:.4g}"
