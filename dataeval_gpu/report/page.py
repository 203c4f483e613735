"""HTML building blocks of the report page: CSS, tables, figures, cards and the page itself.

The page is self-contained: inline CSS, images embedded as ``data:image/png;base64``, no
script, no font, no link to anything outside the file.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["figure_html", "table_html", "html_document", "cards", "note", "esc"]

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px 0;font-size:24px}
header p{margin:2px 0;color:#d5e2f2;font-size:13px}
nav{background:#fff;border-bottom:1px solid #dde2e8;padding:8px 32px;font-size:13px;position:sticky;top:0;z-index:2}
nav a{margin-right:14px;color:#1f5fa8;text-decoration:none}
main{padding:8px 32px 48px 32px;max-width:1400px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:14px 20px;margin:16px 0}
h2{font-size:20px;margin:4px 0 10px 0;color:#1f3a5f}
h3{font-size:16px;margin:16px 0 6px 0}
p.note,ul.note{color:#4a5868;font-size:13px;margin:4px 0 10px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #dde2e8;border-radius:6px;padding:8px 14px;min-width:150px;background:#fbfcfd}
.card .v{font-size:24px;font-weight:600}
.card .k{font-size:12px;color:#4a5868}
.card.warn .v{color:#b8541c}
.tablewrap{overflow:auto;max-height:560px;border:1px solid #e4e8ee;margin:6px 0 12px 0}
table.df{border-collapse:collapse;font-size:12.5px}
table.df th,table.df td{border-bottom:1px solid #e8ebef;padding:3px 8px;white-space:nowrap}
table.df thead th{background:#eef2f7;position:sticky;top:0;text-align:right}
table.df thead th.corner,table.df thead th.txt{text-align:left}
table.df tbody th{text-align:left;background:#f6f8fb}
table.df td.num{text-align:right;font-variant-numeric:tabular-nums}
table.df td.txt{text-align:left}
table.df tr.total td,table.df tr.total th{font-weight:600;border-top:2px solid #c9d1db}
figure{margin:8px 0 18px 0}
figure img{max-width:100%;border:1px solid #e4e8ee;background:#fff}
.cells{position:relative;display:inline-block;max-width:100%;line-height:0}
.cells img{display:block}
.cells>span{position:absolute}
figcaption{font-size:12.5px;color:#4a5868;margin-top:4px}
code{background:#eef2f7;padding:0 3px;border-radius:3px}
.dupgrid{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:flex-start}
.dupgroup{border:1px solid #e4e8ee;border-radius:4px;padding:2px 8px;max-width:100%}
.dupgroup figure{margin:2px 0 6px 0;display:table}
.dupgroup figcaption{display:table-caption;caption-side:bottom;word-break:break-all}
p.duphead{font-size:13px;margin:4px 0 2px 0}
"""


def esc(text: Any) -> str:
    """``text`` escaped for HTML (quotes included)."""
    return html.escape(str(text), quote=True)


#: the media types of the figure files a page embeds, by suffix
MIME_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def figure_html(png: str | os.PathLike | bytes, caption: str = "", alt: str = "", overlay: str = "") -> str:
    """An ``<figure>`` with the image embedded as base64: a PNG given as bytes, or a file
    (``.png``, ``.jpg``, ``.svg``: the type follows the suffix); ``overlay``: HTML laid over the
    picture (absolutely placed elements: a grid's tooltips), both in a ``<span class="cells">``."""
    if isinstance(png, bytes):
        data, mime = png, "image/png"
    else:
        data, mime = Path(png).read_bytes(), MIME_TYPES.get(Path(png).suffix.lower(), "image/png")
    b64 = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    img = f'<img alt="{esc(alt or caption)}" src="data:{mime};base64,{b64}">'
    if overlay:
        img = f'<span class="cells">{img}{overlay}</span>'  # a span: no </div> inside a section's blocks
    return f"<figure>{img}{cap}</figure>"


def table_html(
    df: pd.DataFrame,
    *,
    max_rows: int | None = None,
    total_row: bool = True,
    index: bool = True,
    table_id: str = "",
    max_chars: int = 90,
) -> str:
    """A DataFrame as an HTML table in a scrolling box.

    Numbers are right-aligned, text left-aligned and cut at ``max_chars`` (the full text in
    the cell's tooltip); a last row labelled ``Total`` is bold when ``total_row``.
    """
    shown = df if max_rows is None or len(df) <= max_rows else df.head(max_rows)
    corner = "" if shown.index.name is None else str(shown.index.name)
    head = (f'<th class="corner">{esc(corner)}</th>' if index else "") + "".join(
        f'<th class="txt">{esc(c)}</th>' if shown[c].dtype == object else f"<th>{esc(c)}</th>"
        for c in shown.columns
    )
    rows = []
    for label, values in zip(shown.index, shown.itertuples(index=False, name=None), strict=True):
        cells = f'<th class="rowname">{esc(label)}</th>' if index else ""
        cells += "".join(_cell(v, max_chars) for v in values)
        cls = ' class="total"' if total_row and str(label) == "Total" else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    tid = f' id="{esc(table_id)}"' if table_id else ""
    body = f'<table class="df"{tid}><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    more = ""
    if len(shown) < len(df):
        more = f'<p class="note">first {len(shown)} of {len(df)} rows shown (all rows: the CSV / JSON outputs)</p>'
    return f'<div class="tablewrap">{body}</div>{more}'


def _cell(v: Any, max_chars: int) -> str:
    if isinstance(v, (bool, np.bool_)):
        return f'<td class="txt">{"yes" if v else "no"}</td>'
    if isinstance(v, (int, np.integer)):
        return f'<td class="num">{int(v)}</td>'
    if isinstance(v, (float, np.floating)):
        return f'<td class="num">{format_number(float(v))}</td>'
    if v is None:
        return '<td class="txt"></td>'
    text = str(v)
    if len(text) > max_chars:
        return f'<td class="txt" title="{esc(text)}">{esc(text[: max_chars - 1])}…</td>'
    return f'<td class="txt">{esc(text)}</td>'


def format_number(v: float) -> str:
    """A table number: 4 significant digits, 3 in scientific notation when large (>= 1e5) or
    small; 5-digit numbers in full (``.4g`` wrote 20000 as ``2e+04``); NaN as nothing."""
    if v != v:  # NaN
        return ""
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    if abs(v) >= 9999.5:
        return f"{v:.0f}"
    return f"{v:.4g}"


def cards(items: Sequence[tuple[str, Any, str, bool]]) -> str:
    """The summary cards: ``(label, value, element id, warn)`` each; a warning card shows its value in orange."""
    out = []
    for key, value, elem_id, warn in items:
        cls = "card warn" if warn else "card"
        out.append(
            f'<div class="{cls}"><div class="v" id="{elem_id}">{esc(value)}</div><div class="k">{esc(key)}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def html_document(title: str, subtitle: Sequence[str], sections: Sequence[tuple[str, str, str]]) -> str:
    """The page: header, a navigation bar and one ``<section>`` per ``(anchor, heading, body)``."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _ in sections)
    secs = "\n".join(
        f'<section id="{esc(a)}"><h2>{esc(h)}</h2>\n{body}\n</section>' for a, h, body in sections
    )
    sub = "".join(f"<p>{esc(s)}</p>" for s in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body>"
        f"<header><h1>{esc(title)}</h1>{sub}</header><nav>{nav}</nav><main>\n{secs}\n</main></body></html>\n"
    )


def note(text: str) -> str:
    """A paragraph of explanatory text (``text`` is HTML: escape plain text with :func:`esc`)."""
    return f'<p class="note">{text}</p>'
