"""One self-contained HTML report: summary, tables and plots, images embedded as base64 PNG.

:func:`write_report` renders every plot of :mod:`.plots` into ``out_dir/plots/*.png`` and
writes ``out_dir/report.html``, which embeds those same PNGs (``data:image/png;base64``)
and inline CSS: no script, no font, no link to anything outside the file, so it opens
offline, from a mail attachment or a CI artifact.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..labels import label_stats
from . import plots, tables

__all__ = ["write_report", "figure_html", "table_html", "html_document"]

logger = logging.getLogger(__name__)

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
p.note{color:#4a5868;font-size:13px;margin:4px 0 10px 0}
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
figcaption{font-size:12.5px;color:#4a5868;margin-top:4px}
code{background:#eef2f7;padding:0 3px;border-radius:3px}
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def figure_html(png: str | os.PathLike | bytes, caption: str = "", alt: str = "") -> str:
    """An ``<figure>`` with the PNG (a path or bytes) embedded as base64."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    b64 = base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_esc(alt or caption)}" src="data:image/png;base64,{b64}">{cap}</figure>'


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
    head = (f'<th class="corner">{_esc(corner)}</th>' if index else "") + "".join(
        f'<th class="txt">{_esc(c)}</th>' if shown[c].dtype == object else f"<th>{_esc(c)}</th>"
        for c in shown.columns
    )
    rows = []
    for label, values in zip(shown.index, shown.itertuples(index=False, name=None), strict=True):
        cells = f'<th class="rowname">{_esc(label)}</th>' if index else ""
        cells += "".join(_cell(v, max_chars) for v in values)
        cls = ' class="total"' if total_row and str(label) == "Total" else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    tid = f' id="{_esc(table_id)}"' if table_id else ""
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
        return f'<td class="num">{_fmt_float(float(v))}</td>'
    if v is None:
        return '<td class="txt"></td>'
    text = str(v)
    if len(text) > max_chars:
        return f'<td class="txt" title="{_esc(text)}">{_esc(text[: max_chars - 1])}…</td>'
    return f'<td class="txt">{_esc(text)}</td>'


def _fmt_float(v: float) -> str:
    if v != v:  # NaN
        return ""
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:.4g}"


def _cards(items: Sequence[tuple[str, Any, str, bool]]) -> str:
    out = []
    for key, value, elem_id, warn in items:
        cls = "card warn" if warn else "card"
        out.append(
            f'<div class="{cls}"><div class="v" id="{elem_id}">{_esc(value)}</div><div class="k">{_esc(key)}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def html_document(title: str, subtitle: Sequence[str], sections: Sequence[tuple[str, str, str]]) -> str:
    """The page: header, a navigation bar and one ``<section>`` per ``(anchor, heading, body)``."""
    nav = "".join(f'<a href="#{_esc(a)}">{_esc(h)}</a>' for a, h, _ in sections)
    secs = "\n".join(
        f'<section id="{_esc(a)}"><h2>{_esc(h)}</h2>\n{body}\n</section>' for a, h, body in sections
    )
    sub = "".join(f"<p>{_esc(s)}</p>" for s in subtitle)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>\n<body>"
        f"<header><h1>{_esc(title)}</h1>{sub}</header><nav>{nav}</nav><main>\n{secs}\n</main></body></html>\n"
    )


class _Figures:
    """Saves figures under ``plots/`` (or copies one already drawn) and returns their embedded HTML."""

    def __init__(self, plot_dir: Path, drawn: Mapping[str, str | os.PathLike] | None = None) -> None:
        self.dir = plot_dir
        self.drawn = dict(drawn or {})
        self.written: list[Path] = []

    def add(self, name: str, make: Callable[[Path], Any], caption: str) -> str:
        path = self.dir / f"{name}.png"
        try:
            src = self.drawn.get(name)
            if src is not None and Path(src).is_file():
                if Path(src).resolve() != path.resolve():
                    shutil.copyfile(src, path)
            else:
                make(path)
        except Exception as exc:  # noqa: BLE001 - one failed plot must not lose the report
            logger.warning("plot %s not written: %s", name, exc)
            return f'<p class="note">plot {_esc(name)} could not be drawn: {_esc(exc)}</p>'
        self.written.append(path)
        return figure_html(path, caption, alt=name)


def _no_label(lab: Any) -> bool:
    if lab is None:
        return True
    if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
        return int(lab) == -1
    return False


def _p(text: str) -> str:
    return f'<p class="note">{text}</p>'


def write_report(
    report: Any,
    out_dir: str | os.PathLike,
    images: Any = None,
    max_grid: int = 12,
    *,
    channel_stats: Any = None,
    title: str | None = None,
    seed: int = 0,
    extra_figures: Sequence[tuple[str, str | os.PathLike, str]] = (),
    notes: Sequence[str] = (),
    drawn: Mapping[str, str | os.PathLike] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and the PNGs it embeds (``out_dir/plots/``); return the HTML path.

    ``out_dir/plots/`` belongs to the report: PNGs left there by an earlier report are removed.

    Parameters
    ----------
    report : an :class:`~dataeval_gpu.audit.AuditReport` (statistics, linter issues,
        duplicates, cluster findings, labels, class names, paths).  A label of ``-1`` or
        ``None`` means "no label" (the audit's convention for flat folders and file lists).
    images : where the grids get their pixels: ``get_image(index) -> (C, H, W)``, or a
        sequence / Dataset indexed by dataset index.  Default: decode ``report.paths``.
        Without either, the image grids are left out (the rest of the report is written).
    max_grid : images per grid (flagged-metric samples, outliers); duplicate grids show up to
        ``max(2, max_grid // 2)`` groups.
    channel_stats : per-channel statistics (``channelstats`` output) when ``report.channel_stats``
        is empty.
    title, seed : the page title; the seed of every random sample shown.
    extra_figures : ``(heading, png path, caption)`` shown in an "Additional figures" section.
    notes : paragraphs (plain text) shown under the summary.
    drawn : PNGs already drawn by the same plot calls, by plot name (``histograms``,
        ``histograms_log``, ``channel_histograms``, ``class_samples``, ``flagged_<metric>``,
        ...): copied into ``plots/`` instead of drawn again.
    """
    out = Path(out_dir)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    figs = _Figures(plot_dir, drawn)
    get_image = plots.image_getter(images, report)
    # -1 is the audit's "no label" (a flat folder, a file list): such images are unlabelled
    labels = {i: lab for i, lab in (report.labels or {}).items() if not _no_label(lab)}
    class_names = list(report.class_names) if report.class_names else None
    summary = report.summary_dict()
    n_images = summary["images"]
    issues = report.issues or {}
    by_metric = tables.flagged_by_metric(issues)
    ls = label_stats(labels, class_names) if labels else None
    sections: list[tuple[str, str, str]] = []

    # ------------------------------------------------------------------ summary
    searched = bool(report.duplicates) or bool(report.hashes)

    def dup_card(kind: str) -> str:
        if not searched:
            return "not run"
        return f"{summary[f'{kind}_duplicate_groups']} ({summary[f'{kind}_duplicate_images']} images)"

    cards = [
        ("images", n_images, "count-images", False),
        ("measured", summary["measured"], "count-measured", False),
        ("failed to load / measure", summary["failed"], "count-failed", summary["failed"] > 0),
        ("flagged by the Linter", summary["flagged_images"], "count-flagged", summary["flagged_images"] > 0),
        ("exact duplicate groups", dup_card("exact"), "count-exact", summary["exact_duplicate_groups"] > 0),
        ("near duplicate groups", dup_card("near"), "count-near", summary["near_duplicate_groups"] > 0),
    ]
    if report.clusters:
        scores = report.clusters.get("outlier_score")
        n_clustered = len(scores) if isinstance(scores, Mapping) else 0
        out_label = "cluster outliers"
        if 0 < n_clustered < n_images:
            out_label += f" (of {n_clustered} clustered)"
        cards += [
            (
                out_label,
                summary["cluster_outliers"],
                "count-outliers",
                summary["cluster_outliers"] > 0,
            ),
            ("potential outliers", summary["cluster_potential_outliers"], "count-potential", False),
        ]
    if ls is not None:
        cards.append(("classes", ls.class_count, "count-classes", False))
    body = _cards(cards)
    body += "".join(_p(_esc(n)) for n in notes)
    if by_metric:
        body += "<h3>Images flagged per metric</h3>" + table_html(
            tables.metric_counts_table(issues, n_images), total_row=False, table_id="table-metric-counts"
        )
    if report.stats:
        body += "<h3>Statistics summary</h3>" + _p(
            "min / median / max over the measured images, and how many images the Linter flagged for each metric."
        )
        body += table_html(
            tables.metric_summary_table(report), total_row=False, table_id="table-metric-summary"
        )
    sections.append(("summary", "Summary", body))

    # ------------------------------------------------------------------ labels
    if ls is not None:
        body = _p(
            "Objects per class, images containing each class (an image with several objects counts once per "
            "class), share of the images. Imbalance here carries into everything below: compare flagged "
            "counts with the class sizes."
        )
        body += table_html(ls.to_pandas(), table_id="table-labels")
        if ls.images_without_labels:
            body += _p(f"{len(ls.images_without_labels)} image(s) have no object.")
        if ls.is_multilabel:
            per = pd.Series(ls.label_counts_per_image)
            body += _p(
                f"Objects per image: min {per.min()}, median {per.median():g}, max {per.max()}, mean {per.mean():.2f}."
            )
        body += figs.add(
            "labels", lambda p: plots.label_counts_plot(ls, path=p), "Objects and images per class."
        )
        if get_image is not None:
            body += figs.add(
                "class_samples",
                lambda p: plots.class_samples_grid(ls.image_indices_per_class, get_image, seed=seed, path=p),
                f"One random image of each class (seed {seed}): the variety of backgrounds, brightness, framing.",
            )
        sections.append(("labels", "Labels", body))

    # ------------------------------------------------------------------ statistics
    if report.stats:
        body = _p(
            "Each metric's distribution, once with a linear and once with a log count axis: the log axis shows "
            "the few extreme images a linear axis hides. Look for long tails, gaps before the edge bins and "
            "isolated bars."
        )
        body += figs.add(
            "histograms",
            lambda p: plots.metric_histograms(report.stats, path=p),
            "Metric histograms (linear).",
        )
        body += figs.add(
            "histograms_log",
            lambda p: plots.metric_histograms(report.stats, log=True, path=p),
            "Metric histograms (log y axis).",
        )
        ch = report.channel_stats if getattr(report, "channel_stats", None) else channel_stats
        if ch is not None and plots.group_channel_stats(ch):
            body += "<h3>Per-channel statistics</h3>" + _p(
                "Grouped by channel count. Channels whose shapes differ point to processing errors or a "
                "colour bias."
            )
            body += figs.add(
                "channel_histograms",
                lambda p: plots.channel_histograms(ch, path=p),
                "Per-channel histograms.",
            )
        sections.append(("statistics", "Statistics", body))

    # ------------------------------------------------------------------ linter
    if report.stats:
        method = report.config.get("outlier_method", "modzscore") if report.config else "modzscore"
        body = _p(
            f'The Linter ({_esc(method)}) flagged <b id="linter-flagged">{len(issues)}</b> of {n_images} images '
            f"across {len(by_metric)} metrics. A flag marks an image that stands out, not a bad image: look at "
            "them and ask whether such images are expected in operation."
        )
        if labels and issues:
            body += "<h3>Flagged images by class and metric</h3>" + _p(
                "Cells: images of the class flagged for the metric. <i>Total</i> column: the row's flags (an "
                "image flagged for two metrics counts twice); <i>flagged images</i>: distinct images; "
                "<i>Total</i> row: distinct images."
            )
            body += table_html(
                tables.class_wise_table(issues, labels, class_names), table_id="table-class-wise"
            )
        if issues:
            if get_image is not None:
                for metric, idx in sorted(by_metric.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                    body += f"<h3>{_esc(metric)}</h3>" + figs.add(
                        f"flagged_{metric}",
                        lambda p, m=metric: plots.flagged_metric_grid(
                            issues,
                            m,
                            get_image,
                            labels=labels or None,
                            class_names=class_names,
                            n=max_grid,
                            seed=seed,
                            path=p,
                        ),  # fmt: skip
                        f"{len(idx)} image(s) flagged for {metric}; sample ordered by value.",
                    )
            else:
                body += _p("No image source was given: the sample grids are left out.")
            body += "<h3>Flagged images</h3>" + table_html(
                tables.flagged_images_table(issues, labels or None, class_names, report.paths or None),
                max_rows=300,
                total_row=False,
                table_id="table-flagged",
            )
        sections.append(("linter", "Linter", body))

    # ------------------------------------------------------------------ duplicates
    dups = report.duplicates or {}
    if dups or report.hashes:
        n_exact, n_near = len(dups.get("exact", [])), len(dups.get("near", []))
        body = _p(
            f"Exact duplicates (identical bytes, xxhash): <b>{n_exact}</b> group(s); near duplicates (same "
            f"perceptual hash, not already exact): <b>{n_near}</b> group(s). A group whose images carry "
            "different labels (<i>mixed</i>) is a copy labelled two ways."
        )
        if labels and (n_exact or n_near):
            body += "<h3>Duplicates by class</h3>" + table_html(
                tables.duplicates_by_class_table(dups, labels, class_names), table_id="table-duplicates-class"
            )
        if n_exact or n_near:
            body += "<h3>Groups</h3>" + table_html(
                tables.duplicate_groups_table(dups, labels or None, class_names, report.paths or None),
                max_rows=300,
                total_row=False,
                index=False,
                table_id="table-duplicate-groups",
            )
            if get_image is not None:
                for kind in ("exact", "near"):
                    groups = dups.get(kind, [])
                    if groups:
                        body += figs.add(
                            f"duplicates_{kind}",
                            lambda p, g=groups, k=kind: plots.duplicates_grid(
                                g,
                                get_image,
                                labels=labels or None,
                                class_names=class_names,
                                kind=k,
                                max_groups=max(2, max_grid // 2),
                                path=p,
                            ),  # fmt: skip
                            f"{kind.capitalize()} duplicate groups, one per row (first {min(len(groups), max(2, max_grid // 2))}"
                            f" of {len(groups)}).",
                        )
        sections.append(("duplicates", "Duplicates", body))

    # ------------------------------------------------------------------ clusterer
    cl = report.clusters or {}
    if cl:
        outl = list(cl.get("outliers", []))
        pot = list(cl.get("potential_outliers", []))
        body = _p(
            f'In the embedding space the Clusterer found <b id="cluster-outliers">{len(outl)}</b> outlier(s) and '
            f"{len(pot)} potential outlier(s), {len(cl.get('duplicates', []))} duplicate group(s) and "
            f"{len(cl.get('potential_duplicates', []))} potential duplicate group(s). Judge an outlier against "
            "its own class: an under-represented kind of image, or one that does not belong?"
        )
        if labels:
            body += "<h3>Cluster findings by class</h3>" + table_html(
                tables.cluster_by_class_table(cl, labels, class_names), table_id="table-cluster-class"
            )
        scores = cl.get("outlier_score") if isinstance(cl.get("outlier_score"), dict) else None
        if get_image is not None:
            for key, name in (
                ("outliers", "Clusterer outliers"),
                ("potential_outliers", "Potential outliers"),
            ):
                idx = list(cl.get(key, []))
                if idx:
                    body += figs.add(
                        f"cluster_{key}",
                        lambda p, i=idx, t=name: plots.outliers_grid(
                            i,
                            get_image,
                            labels=labels or None,
                            class_names=class_names,
                            scores=scores,
                            n=max_grid,
                            seed=seed,
                            title=t,
                            path=p,
                        ),  # fmt: skip
                        f"{name}: {len(idx)}, shown with their labels.",
                    )
            for key in ("duplicates", "potential_duplicates"):
                groups = cl.get(key, [])
                if groups:
                    body += figs.add(
                        f"cluster_{key}",
                        lambda p, g=groups, k=key: plots.duplicates_grid(
                            g,
                            get_image,
                            labels=labels or None,
                            class_names=class_names,
                            kind=k.replace("_", " "),
                            max_groups=max(2, max_grid // 2),
                            path=p,
                        ),  # fmt: skip
                        f"Embedding {key.replace('_', ' ')}: {len(groups)} group(s).",
                    )
        sections.append(("clusters", "Clusterer", body))

    # ------------------------------------------------------------------ extras, failures, settings
    if extra_figures:
        body = "".join(f"<h3>{_esc(h)}</h3>" + figure_html(p, cap, alt=h) for h, p, cap in extra_figures)
        sections.append(("extra", "Additional figures", body))
    if report.failed:
        df = pd.DataFrame(
            [
                {"index": i, "file": report.paths.get(i, ""), "reason": r}
                for i, r in sorted(report.failed.items())
            ]
        ).set_index("index")
        sections.append(
            (
                "failed",
                "Failed",
                _p(f"{len(report.failed)} input(s) could not be measured.") + table_html(df, total_row=False),
            )
        )
    if report.config:
        cfg = pd.DataFrame({"value": [str(v) for v in report.config.values()]}, index=list(report.config))
        cfg.index.name = "setting"
        sections.append(("settings", "Settings", table_html(cfg, total_row=False)))

    from .. import __version__

    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    dataset = report.config.get("dataset") if report.config else None
    subtitle = [
        f"{n_images} images" + (f" · {dataset}" if dataset else "") + f" · dataeval-gpu {__version__} · {now}"
    ]
    page = html_document(title or "Data cleaning report", subtitle, sections)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    written = {p.resolve() for p in figs.written}
    for old in plot_dir.glob("*.png"):  # plots/ is the report's: drop the PNGs of an earlier report
        if old.resolve() not in written:
            old.unlink()
    logger.info("report written to %s (%d plots)", path, len(figs.written))
    return path
