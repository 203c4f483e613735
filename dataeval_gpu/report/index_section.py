"""The report's section on a scan against a dataset index (``dataeval-gpu scan NEW --against
IDX``): the new images' copies in the indexed collection, their outliers and their quality
issues judged against it (``report.against``, :func:`~dataeval_gpu.index.query_index`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..discovery import text_path
from .page import note, table_html

__all__ = ["against_section"]

#: rows shown per table (all of them: findings.json, results.csv)
MAX_ROWS = 300


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows).set_index("image")
    df.index.name = "index"
    return df


def against_section(ctx: Any) -> tuple[str, str, str] | None:
    """``("against", "Against the index", body)``, or None without ``report.against``."""
    report = ctx.report
    ag = report.against
    if not ag:
        return None
    matches, outliers, quality = ag.get("matches", []), ag.get("outliers", {}), ag.get("quality", {})
    # each new image by its path in the scanned folder, as in the other tables (the index's files: in full)
    names = ctx.names({int(m["image"]) for m in matches} | {int(i) for i in outliers} | {int(i) for i in quality})
    name = lambda i: text_path(names.get(int(i), ""))  # noqa: E731
    body = note(
        f"The {ctx.n_images} images of this scan against the dataset index {text_path(str(ag.get('index')))} "
        f"({ag.get('indexed_images')} indexed images; near copies within Hamming radius {ag.get('radius')}): "
        f"{len({m['image'] for m in matches})} images with a copy in it, {len(outliers)} outliers of its "
        f"distribution, {len(quality)} images with quality issues judged against it."
    )
    if matches:
        rows = [
            {
                "image": m["image"],
                "file": name(m["image"]),
                "indexed file": text_path(str(m.get("partner_path", ""))),
                "found by": "+".join(m["methods"]),
                "hamming": "" if m.get("hamming") is None else str(m["hamming"]),
                "view": m.get("view") or "",
                "cosine": "" if m.get("cosine") is None else f"{m['cosine']:.4f}",
            }
            for m in matches
        ]
        df = _frame(rows)
        df = df[[c for c in df.columns if (df[c] != "").any()]]  # no empty column (no embeddings: no cosine)
        body += "<h3>Copies in the index</h3>" + table_html(df, max_rows=MAX_ROWS, total_row=False)
    if outliers:
        rows = [
            {"image": i, "file": name(i), "outlier metrics": ", ".join(f"{k}={v:.4g}" for k, v in m.items())}
            for i, m in sorted(outliers.items())
        ]
        body += "<h3>Outliers of the indexed collection</h3>" + note(
            "The Linter's metrics, method and threshold, measured against the indexed images' figures."
        )
        body += table_html(_frame(rows), max_rows=MAX_ROWS, total_row=False)
    if quality:
        rows = [
            {"image": i, "file": name(i), "issues": ", ".join(q["issues"]), "why": "; ".join(q["why"])}
            for i, q in sorted(quality.items())
        ]
        body += "<h3>Quality issues against the index</h3>" + note(
            "Dark, odd size, odd aspect ratio and grayscale judged against the indexed collection's medians, "
            "sizes and grey share (the Quality issues section above judges the new images among themselves)."
        )
        body += table_html(_frame(rows), max_rows=MAX_ROWS, total_row=False, max_chars=160)
    return ("against", "Against the index", body)
