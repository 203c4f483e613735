"""What ``dataeval-gpu scan`` prints about a dataset index: what ``--index`` measured, kept and
dropped; the copies, outliers and quality issues ``--against`` found against the index (the first
15 of each; all of them in ``findings.json`` and ``results.csv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["print_index"]


def print_index(report: Any) -> None:
    """What ``--index`` measured, kept and dropped; the copies, outliers and quality issues
    ``--against`` found against the index."""
    from .audit.report import format_value

    up = report.config.get("index_update")
    if up:
        print(
            f"\nindex {report.config['index']}: {up['measured']} files measured, {up['kept']} kept, "
            f"{up['dropped']} dropped ({up['files']} files, generation {up['generation']})"
        )
    matches = report.against.get("matches", []) if report.against else []
    if matches:
        print(f"\ncopies in the index {report.against['index']} ({len(matches)}):")
        for m in matches[:15]:
            extra = "".join(f", {k} {m[k]}" for k in ("hamming", "cosine") if m.get(k) is not None)
            extra += f", {m['view']}" if m.get("view") not in (None, "whole") else ""  # a crop matched
            name = Path(report.paths.get(m["image"], str(m["image"]))).name
            print(f"  {m['image']}:{name} = {m['partner_path']} ({'+'.join(m['methods'])}{extra})")
        if len(matches) > 15:
            print(f"  ... and {len(matches) - 15} more (see findings.json)")
    outliers = report.against.get("outliers", {}) if report.against else {}
    if outliers:
        print(f"\noutliers of the index {report.against['index']} ({len(outliers)} images):")
        for i, m in list(outliers.items())[:15]:
            flags = ", ".join(f"{k}={format_value(v)}" for k, v in m.items())
            print(f"  {i}:{Path(report.paths.get(i, str(i))).name}: {flags}")
        if len(outliers) > 15:
            print(f"  ... and {len(outliers) - 15} more (see results.csv, index_outlier_flags)")
    quality = report.against.get("quality", {}) if report.against else {}
    if quality:
        print(f"\nquality issues against the index {report.against['index']} ({len(quality)} images):")
        for i, q in list(quality.items())[:15]:
            print(f"  {i}:{Path(report.paths.get(i, str(i))).name}: {'; '.join(q['why'])}")
        if len(quality) > 15:
            print(f"  ... and {len(quality) - 15} more (see results.csv, index_quality_issues)")
