"""Read a written report.html back and compare every count it shows with the files the scan wrote
beside it (findings.json, summary.json, results.csv): ``mismatches(out_dir)`` lists each count that
differs (empty: the page agrees).  Used by tests/test_report_counts.py and on real scans
(``python tests/report_checks.py OUT_DIR``)."""

from __future__ import annotations

import html
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd


def page_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def by_id(page: str, elem_id: str) -> str | None:
    """The text of the element ``id="elem_id"`` (no nested element of the same tag), or None."""
    m = re.search(rf'<(\w+)[^>]*\bid="{re.escape(elem_id)}"[^>]*>(.*?)</\1>', page, flags=re.S)
    return page_text(m.group(2)) if m else None


def table_rows(page: str, table_id: str) -> list[list[str]] | None:
    """The cell texts of one table (header row first), or None when the page has no such table."""
    m = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, flags=re.S)
    if not m:
        return None
    return [
        [page_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, flags=re.S)]
        for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(0), flags=re.S)
    ]


def group_blocks(page: str) -> list[tuple[str, int, int, str]]:
    """Every duplicate group block of the page: (method, group number, size, its text)."""
    out = []
    for m in re.finditer(
        r'<div class="dupgroup" id="dup-(\w+)-(\d+)" data-method="(\w+)" data-size="(\d+)">(.*?)</div>', page, re.S
    ):
        assert m.group(1) == m.group(3)
        out.append((m.group(3), int(m.group(2)), int(m.group(4)), page_text(re.sub(r'src="[^"]*"', "", m.group(5)))))
    return out


def _card(summary: dict[str, Any], kind: str, dups: dict[str, Any]) -> str:
    groups = dups.get(kind)
    if groups is None:
        return "not searched"
    return f"{len(groups)} ({sum(len(g) for g in groups)} images)"


def mismatches(out_dir: str | Path) -> list[str]:
    """Each count of ``out_dir/report.html`` that differs from findings.json / summary.json / results.csv."""
    out = Path(out_dir)
    page = (out / "report.html").read_text(encoding="utf-8")
    findings = json.loads((out / "findings.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    csv = pd.read_csv(out / "results.csv", index_col="index", low_memory=False)
    dups = findings["duplicates"]
    bad: list[str] = []

    def same(what: str, got: Any, want: Any) -> None:
        if str(got) != str(want):
            bad.append(f"{what}: report {got!r}, outputs {want!r}")

    # the summary cards
    same("images", by_id(page, "count-images"), len(csv))
    same("images (summary.json)", by_id(page, "count-images"), summary["images"])
    same("measured", by_id(page, "count-measured"), int((csv["status"] == "ok").sum()))
    same("failed", by_id(page, "count-failed"), len(findings["failed"]))
    same("flagged", by_id(page, "count-flagged"), len(findings["issues"]))
    if "lint_flags" in csv:
        same("flagged (results.csv)", by_id(page, "count-flagged"), int(csv["lint_flags"].fillna("").ne("").sum()))
    if findings.get("quality_thresholds"):
        same("quality", by_id(page, "count-quality"), len(findings["quality"]))
        same("quality (section)", by_id(page, "quality-flagged"), len(findings["quality"]))
        counts = {r[0]: r[2] for r in (table_rows(page, "table-quality-counts") or [])[1:]}
        for issue, n in summary["quality_issues"].items():
            same(f"quality issue {issue}", counts.get(issue), n)
            same(f"quality issue {issue} (results.csv)", counts.get(issue), int(csv[f"is_{issue}_issue"].eq(True).sum()))
    for kind in ("exact", "near"):
        same(f"{kind} card", by_id(page, f"count-{kind}"), _card(summary, kind, dups))
    if "embedding" in dups:
        same("embedding card", by_id(page, "count-embedding"), _card(summary, "embedding", dups))
    # the Linter: per metric
    per_metric = Counter(m for metrics in findings["issues"].values() for m in metrics)
    rows = table_rows(page, "table-metric-counts")
    if per_metric or rows:
        got = {r[0]: int(r[1]) for r in (rows or [])[1:]}
        same("flagged per metric", dict(sorted(got.items())), dict(sorted(per_metric.items())))
    if findings["issues"]:
        same("linter section", by_id(page, "linter-flagged"), len(findings["issues"]))
    rows = table_rows(page, "table-metric-summary")
    if rows:
        col = rows[0].index("flagged")
        got = {r[0]: int(r[col]) for r in rows[1:]}
        same("statistics summary: flagged", got, {k: m["flagged"] for k, m in summary["metrics"].items()})
    # every duplicate group, by method, with its members' count; the groups table; results.csv's columns
    blocks = group_blocks(page)
    for kind, groups in dups.items():
        mine = [(n, size) for k, n, size, _ in blocks if k == kind]
        same(f"{kind} groups shown", mine, [(n, len(g)) for n, g in enumerate(groups)])
        same(f"{kind} groups (section)", by_id(page, f"dup-count-{kind}"), len(groups))
        same(f"{kind} images (section)", by_id(page, f"dup-images-{kind}"), len({i for g in groups for i in g}))
        col = f"{kind}_duplicate_group"
        if col in csv:
            in_csv = csv[col].dropna().astype(int)
            same(f"{kind} groups (results.csv)", in_csv[in_csv >= 0].nunique(), len(groups))
            same(f"{kind} images (results.csv)", int((in_csv >= 0).sum()), sum(len(g) for g in groups))
    table = table_rows(page, "table-duplicate-groups")
    n_groups = sum(len(g) for g in dups.values())
    same("groups table rows", len(table) - 1 if table else 0, n_groups)
    # the Clusterer
    clusters = findings.get("clusters", {})
    if "outliers" in clusters:
        same("cluster outliers", by_id(page, "count-outliers"), len(clusters["outliers"]))
        same("cluster outliers (section)", by_id(page, "cluster-outliers"), len(clusters["outliers"]))
        same("potential outliers", by_id(page, "count-potential"), len(clusters["potential_outliers"]))
        if "cluster_outliers" in csv:
            same("cluster outliers (results.csv)", by_id(page, "count-outliers"), int(csv["cluster_outliers"].eq(True).sum()))
    return bad


if __name__ == "__main__":
    found = mismatches(sys.argv[1])
    print("\n".join(found) or "report.html agrees with findings.json, summary.json and results.csv")
    sys.exit(1 if found else 0)
