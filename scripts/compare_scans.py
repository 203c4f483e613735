#!/usr/bin/env python
"""Compare two `dataeval-gpu scan` output folders of the same files (e.g. CPU and CUDA).

Usage: ``python scripts/compare_scans.py OUT_A OUT_B [--rtol 1e-4]``

Prints, for ``results.csv``: the rows (same paths, same failed files), each numeric column's
largest absolute and relative difference (the columns past ``--rtol`` first), the hash columns
that differ; for ``findings.json``: the exact / near duplicate groups and the Linter's and the
quality issues' flagged images of each side, and what only one side has.  Exits 1 when the
rows, the exact duplicates or the failed files differ (the device path must read every file the
CPU reads), else 0: float metrics and the near groups may differ within rounding (float32 on the
device), which the lines say.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _groups(findings: dict, kind: str) -> set[tuple[str, ...]]:
    dup = findings.get("duplicates", {}).get(kind, [])
    return {tuple(sorted(str(x) for x in g)) for g in dup}


def _flagged(df: pd.DataFrame) -> dict[str, set[str]]:
    out = {}
    for col in df.columns:
        if col.startswith("is_") and col.endswith("_issue") or col in ("flagged", "linter_flagged"):
            vals = df[col].fillna(False).astype(bool)
            out[col] = set(df.loc[vals, "path"].astype(str))
    return out


def _text_differences(x: pd.Series, y: pd.Series) -> int:
    """Rows whose values differ as text; a value missing on both sides (an empty cell: no error,
    no flag) is the same (pandas 3's ``astype(str)`` keeps NaN, and NaN != NaN)."""
    both_missing = x.isna().to_numpy() & y.isna().to_numpy()
    same = x.astype(object).astype(str).to_numpy() == y.astype(object).astype(str).to_numpy()
    return int((~(both_missing | same)).sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--strict-rtol", type=float, default=None,
                    help="also exit 1 when a numeric column has more than --strict-share of its rows (at "
                         "least one) past this tolerance (min of absolute and relative difference), or a "
                         "value finite on one side only (the device check: 1e-3)")
    ap.add_argument("--strict-share", type=float, default=0.01)
    args = ap.parse_args()
    a, b = Path(args.a), Path(args.b)
    ra, rb = pd.read_csv(a / "results.csv"), pd.read_csv(b / "results.csv")
    bad = 0
    if list(ra["path"]) != list(rb["path"]):
        print(f"rows differ: {len(ra)} vs {len(rb)} (paths not the same list)")
        return 1
    print(f"rows: {len(ra)} on both sides")
    if "status" in ra.columns:
        fa, fb = set(ra.loc[ra["status"] != "ok", "path"]), set(rb.loc[rb["status"] != "ok", "path"])
        print(f"failed: {len(fa)} vs {len(fb)}" + ("" if fa == fb else f"; only A {sorted(fa - fb)[:5]}, only B {sorted(fb - fa)[:5]}"))
        bad |= fa != fb
    lines = []
    strict_bad: list[str] = []
    for side, cols in (("A", ra.columns.difference(rb.columns)), ("B", rb.columns.difference(ra.columns))):
        for col in cols:  # e.g. decoder_note on one side only: a difference, not a KeyError
            lines.append((1.0, f"  {col}: a column of {side} only"))
    for col in ra.columns.intersection(rb.columns, sort=False):
        numeric = pd.api.types.is_numeric_dtype(ra[col]) and pd.api.types.is_numeric_dtype(rb[col])
        if col == "path" or not numeric or pd.api.types.is_bool_dtype(ra[col]):
            if col != "path" and not ra[col].equals(rb[col]):
                n = _text_differences(ra[col], rb[col])
                if n:
                    lines.append((1.0, f"  {col}: {n} rows differ (text)"))
            continue
        x, y = ra[col].to_numpy(np.float64), rb[col].to_numpy(np.float64)
        both = np.isfinite(x) & np.isfinite(y)
        nan_diff = int((np.isfinite(x) != np.isfinite(y)).sum())
        if not both.any():
            if nan_diff:
                lines.append((1.0, f"  {col}: finite on one side only {nan_diff}"))
            continue
        d = np.abs(x[both] - y[both])
        rel = d / np.maximum(np.abs(x[both]), 1e-12)
        worst = float(np.max(np.minimum(d, rel)))
        if args.strict_rtol is not None:
            over = int((np.minimum(d, rel) > args.strict_rtol).sum())
            if nan_diff or over > args.strict_share * len(x):
                strict_bad.append(f"{col} ({over} rows past {args.strict_rtol:g}, {nan_diff} finite on one side only)")
        if worst > 0 or nan_diff:
            lines.append((worst, f"  {col}: max abs {d.max():.3g}, max rel {rel.max():.3g}, rows over rtol "
                                 f"{int((np.minimum(d, rel) > args.rtol).sum())}, finite on one side only {nan_diff}"))
    lines.sort(key=lambda t: -t[0])
    print(f"columns that differ: {len(lines)} of {len(ra.columns.union(rb.columns)) - 1}")
    for _, line in lines[:25]:
        print(line)
    ja, jb = json.loads((a / "findings.json").read_text()), json.loads((b / "findings.json").read_text())
    for kind in ("exact", "near"):
        ga, gb = _groups(ja, kind), _groups(jb, kind)
        print(f"{kind} duplicate groups: {len(ga)} vs {len(gb)}, common {len(ga & gb)}")
        for g in sorted(ga - gb)[:3]:
            print(f"    only A: {g}")
        for g in sorted(gb - ga)[:3]:
            print(f"    only B: {g}")
        if kind == "exact":
            bad |= ga != gb
    ia, ib = set(ja.get("issues", {})), set(jb.get("issues", {}))
    print(f"Linter outliers: {len(ia)} vs {len(ib)} images, only A {len(ia - ib)}, only B {len(ib - ia)}")
    qa, qb = set(ja.get("quality", {})), set(jb.get("quality", {}))
    print(f"quality issues: {len(qa)} vs {len(qb)} images, only A {len(qa - qb)}, only B {len(qb - qa)}")
    fa, fb = _flagged(ra), _flagged(rb)
    for col in sorted(set(fa) | set(fb)):
        sa, sb = fa.get(col, set()), fb.get(col, set())
        if sa != sb:
            print(f"  {col}: {len(sa)} vs {len(sb)} flagged, only A {len(sa - sb)}, only B {len(sb - sa)}")
    print("verdict:", "DIFFERENT rows / failed files / exact duplicates" if bad else "same rows, failed files, exact duplicates")
    if strict_bad:
        print(f"MISMATCH: {len(strict_bad)} columns past --strict-rtol: " + "; ".join(strict_bad[:8]))
    return int(bool(bad) or bool(strict_bad))


if __name__ == "__main__":
    sys.exit(main())
