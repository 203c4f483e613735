"""The report of an audit: :class:`AuditReport` (tables, findings, summary, files).

The per-image results table and its columns' forms in each file are built in
:mod:`~dataeval_gpu.audit.table` (``csv_ready``, ``known_bools``, ``parquet_ready``,
``whole_numbers`` importable from here too)."""

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
from .table import csv_ready, known_bools, parquet_ready, results_frame, whole_numbers  # re-exported

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
        return results_frame(self)

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

    def summary(self, most_metrics: int | None = None) -> str:
        """A short text summary: counts, then one line per metric (min, median, max, images flagged).

        ``most_metrics``: only the metrics that flagged an image, most flagged first, at most this
        many (the printout's first look: ``dataeval-gpu scan`` without ``--verbose``); ``None``: every metric.
        """
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
        lines += _metric_lines(s["metrics"], most_metrics)
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


def format_value(v: float | None) -> str:
    """A summary-table number: 4 significant digits, or 3 in scientific notation when large or small."""
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if abs(v) >= 9999.5:  # 5 digits in full: ".4g" writes 20000 as "2e+04"
        return f"{v:.0f}"
    return f"{v:.4g}"


def _metric_lines(metrics: dict[str, dict[str, Any]], most: int | None) -> list[str]:
    """The summary's metric table: every metric (``most=None``), or the ``most`` most flagging of
    those that flagged an image, then how many more did."""
    rows = list(metrics.items())
    more = 0
    if most is not None:
        flagging = sorted((kv for kv in rows if kv[1]["flagged"]), key=lambda kv: -kv[1]["flagged"])  # stable
        rows, more = flagging[:most], max(0, len(flagging) - most)
        if not rows:
            return [f"metrics: none of the {len(metrics)} flagged an image"] if metrics else []
    if not rows:
        return []
    w = max(14, 2 + max(len(k) for k, _ in rows))  # the name column fits the longest name
    lines = [f"{'metric':<{w}}{'min':>12}{'median':>12}{'max':>12}{'flagged':>9}"]
    for k, m in rows:
        lines.append(
            f"{k:<{w}}{format_value(m['min']):>12}{format_value(m['median']):>12}{format_value(m['max']):>12}{m['flagged']:>9}"
        )
    if more:
        lines.append(f"... and {more} more metric{'s' if more > 1 else ''} that flagged images (see summary.json)")
    return lines
