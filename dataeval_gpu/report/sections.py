"""The report's sections, one function each: ``section(ctx) -> (anchor, heading, body) | None``.

Each builds its HTML from the :class:`~.context.ReportContext` (what every section reads: the
audit report, labels, flagged images, the image source) and asks ``ctx.figs`` for its figures.
This module holds the summary, labels, statistics and closing sections and the page's order
(:data:`SECTIONS`); the findings have modules of their own (:mod:`.linter_section`: the Linter
and the quality issues, :mod:`.duplicates_section`, :mod:`.cluster_section`, :mod:`.index_section`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..discovery import text_path
from . import histograms, tables
from .cluster_section import clusters_section
from .context import ReportContext, Section, grid_figure, make_context, svg_figure
from .duplicates_section import duplicates_section
from .grids import class_samples_left_out, class_samples_spec, label_counts_plot
from .index_section import against_section
from .linter_section import linter_section, quality_section
from .page import cards, esc, figure_html, note, table_html
from .svgcharts import metric_histograms_svg

__all__ = ["ReportContext", "SECTIONS", "make_context"]


# ----------------------------------------------------------------------------- summary
def summary_section(ctx: ReportContext) -> Section:
    report, summary, n_images = ctx.report, ctx.summary, ctx.n_images

    def dup_card(kind: str) -> str:
        if summary[f"{kind}_duplicate_groups"] is None:  # no hashes: not searched (not "0")
            return "not searched"
        return f"{summary[f'{kind}_duplicate_groups']} ({summary[f'{kind}_duplicate_images']} images)"

    items = [
        ("images", n_images, "count-images", False),
        ("measured", summary["measured"], "count-measured", False),
        ("failed to load / measure", summary["failed"], "count-failed", summary["failed"] > 0),
        ("flagged by the Linter", summary["flagged_images"], "count-flagged", summary["flagged_images"] > 0),
        ("exact duplicate groups", dup_card("exact"), "count-exact", (summary["exact_duplicate_groups"] or 0) > 0),
        ("near duplicate groups", dup_card("near"), "count-near", (summary["near_duplicate_groups"] or 0) > 0),
    ]
    if "embedding" in (report.duplicates or {}):  # embedding near duplicates looked for (--embeddings)
        emb = report.duplicates["embedding"]
        n_emb = f"{len(emb)} ({len({i for g in emb for i in g})} images)"
        items.append(("embedding near duplicate groups", n_emb, "count-embedding", len(emb) > 0))
    if getattr(report, "quality", None):  # the scored quality issues (on by default in the scan)
        n_quality = summary.get("quality_flagged_images", 0)
        items.insert(4, ("with quality issues", n_quality, "count-quality", n_quality > 0))
    if report.clusters:
        scores = report.clusters.get("outlier_score")
        n_clustered = len(scores) if isinstance(scores, Mapping) else 0
        out_label = "cluster outliers"
        if 0 < n_clustered < ctx.n_measured:
            out_label += f" (of {n_clustered} clustered)"
        outliers = summary["cluster_outliers"]
        items += [
            (out_label, outliers, "count-outliers", outliers > 0),
            ("potential outliers", summary["cluster_potential_outliers"], "count-potential", False),
        ]
    if ctx.label_stats is not None:
        named = len(ctx.class_names or ())  # a class folder with no image is a class too (the printout's count)
        empty = named - ctx.label_stats.class_count if named > ctx.label_stats.class_count else 0
        label = f"classes ({empty} with no image)" if empty else "classes"
        items.append((label, ctx.label_stats.class_count + empty, "count-classes", empty > 0))
    body = cards(items)
    if n_images == 0:  # an empty folder (or one of other files only): the cards alone read as a scan of nothing
        body += note(
            "No image to scan: the input held no file named or encoded like an image (hidden entries, "
            "metadata and other files are left out; docs/inputs.md)."
        )
    config = report.config or {}
    body += "".join(note(esc(n)) for n in [*left_out(config), *decoder_warned(config), *ctx.notes])
    steps = next_steps(ctx)
    if steps:
        body += "<h3>What to do next</h3><ul class=\"note\">" + "".join(f"<li>{esc(s)}</li>" for s in steps) + "</ul>"
    if ctx.by_metric:
        body += "<h3>Images flagged per metric</h3>" + table_html(
            tables.metric_counts_table(ctx.issues, ctx.n_measured), total_row=False, table_id="table-metric-counts"
        )
    if report.stats:
        body += "<h3>Statistics summary</h3>" + note(
            "min / median / max over the measured images, and how many images the Linter flagged for each metric."
        )
        body += table_html(
            tables.metric_summary_table(report), total_row=False, table_id="table-metric-summary"
        )
    return ("summary", "Summary", body)


def left_out(config: Mapping) -> list[str]:
    """What the scanned folder held that is not in this report (the scan's ``config``), so that
    every file is accounted for: the files skipped as not images, the metadata beside the images,
    a dataset index, the inputs past ``--limit``."""
    said = []
    if config.get("skipped_not_images"):
        said.append(f"Skipped as neither named nor encoded like an image: {config['skipped_not_images']}.")
    if config.get("metadata_not_scanned"):
        said.append(f"Not scanned: metadata beside the images, {config['metadata_not_scanned']}.")
    if config.get("index_not_scanned"):
        said.append(f"Not scanned: the dataset index {config['index_not_scanned']}.")
    found, files = config.get("inputs_found"), config.get("files")
    if found and files is not None:
        said.append(f"Not scanned: {found - files} more inputs past --limit {files} ({found} found).")
    return said


def decoder_warned(config: Mapping) -> list[str]:
    """The images whose decoder warned (libpng's ``iCCP: known incorrect sRGB profile``, a PNG read
    by Pillow instead), as the printout's last lines say it: the settings table alone held it."""
    noted = config.get("decoder_warnings")
    if not noted:
        return []
    return [f"Decoder warnings: {noted}; the images were read, each one's warnings in results.csv's decoder_note."]


def next_steps(ctx: ReportContext) -> list[str]:
    """The findings to act on before training, most certain first, each with where its rows are."""
    report, summary = ctx.report, ctx.summary
    exact = (report.duplicates or {}).get("exact", [])
    sets = ctx.label_sets
    mixed = sum(len(tables.group_label_counts(sets, g)) > 1 for g in exact) if sets else 0
    steps = []
    if mixed:
        steps.append(
            f"Fix the labels of {mixed} exact duplicate group(s) whose copies carry different labels "
            "(one picture under two classes), then keep one copy."
        )
    if len(exact) > mixed:
        steps.append(
            f"Keep one image of each exact duplicate group ({len(exact) - mixed} group(s)): the copies add "
            "nothing and can leak between a training and a test split (results.csv: exact_duplicate_group)."
        )
    if summary.get("near_duplicate_groups"):
        steps.append(
            "Look at the near duplicate groups: resized, re-encoded or cropped copies of one picture "
            "(results.csv: near_duplicate_group)."
        )
    if summary.get("failed"):
        steps.append(
            f"Repair or remove the {summary['failed']} file(s) that could not be read (see Failed; results.csv: "
            "status failed, error the reason)."
        )
    if summary.get("quality_flagged_images") or summary.get("flagged_images"):
        steps.append(
            "Look at the images with quality issues and those the Linter flagged: a flag marks an image that "
            "stands out, not a bad one; drop it only if such images are not expected in operation "
            "(results.csv: quality_issues, lint_flags)."
        )
    return steps


# ----------------------------------------------------------------------------- labels
def labels_section(ctx: ReportContext) -> Section | None:
    ls = ctx.label_stats
    if ls is None:
        return None
    body = note(
        "Objects per class, images containing each class (an image with several objects counts once per "
        "class), share of the images. Imbalance here carries into everything below: compare flagged "
        "counts with the class sizes."
    )
    body += table_html(ls.to_pandas(), table_id="table-labels")
    if ls.images_without_labels:
        body += note(f"{len(ls.images_without_labels)} image(s) have no object.")
    if ls.is_multilabel:
        per = pd.Series(ls.label_counts_per_image)
        body += note(
            f"Objects per image: min {per.min()}, median {per.median():g}, max {per.max()}, mean {per.mean():.2f}."
        )
    body += ctx.figs.add("labels", lambda p: label_counts_plot(ls, path=p), "Objects and images per class.")
    if ctx.get_image is not None:
        body += grid_figure(
            ctx,
            "class_samples",
            # from the measured images: a file that failed to load has no picture to show
            class_samples_spec(
                {c: [i for i in idx if i not in ctx.report.failed] for c, idx in ls.image_indices_per_class.items()},
                seed=ctx.seed,
            ),
            f"One random image of each class (seed {ctx.seed}): the variety of backgrounds, brightness, framing.",
        )
        left_out = class_samples_left_out(ls.image_indices_per_class, ctx.report.failed)
        body += note(esc(left_out)) if left_out else ""  # a class whose every file failed: said, not dropped
    return ("labels", "Labels", body)


# ----------------------------------------------------------------------------- statistics
def statistics_section(ctx: ReportContext) -> Section | None:
    report = ctx.report
    if not report.stats:
        return None
    body = note(
        "Each metric's distribution, once with a linear and once with a log count axis: the log axis shows "
        "the few extreme images a linear axis hides. Look for long tails, gaps before the edge bins and "
        "isolated bars."
    )
    body += svg_figure(
        ctx, "histograms", lambda: metric_histograms_svg(report.stats), "Metric histograms (linear)."
    )
    body += svg_figure(
        ctx,
        "histograms_log",
        lambda: metric_histograms_svg(report.stats, log=True),
        "Metric histograms (log y axis).",
    )
    ch = report.channel_stats if getattr(report, "channel_stats", None) else ctx.channel_stats
    if ch is not None and histograms.group_channel_stats(ch):
        body += "<h3>Per-channel statistics</h3>" + note(
            "Grouped by channel count. Channels whose shapes differ point to processing errors or a "
            "colour bias."
        )
        body += ctx.figs.add(
            "channel_histograms",
            lambda p: histograms.channel_histograms(ch, path=p),
            "Per-channel histograms.",
        )
    return ("statistics", "Statistics", body)


# ----------------------------------------------------------------------------- extras, failures, settings
def extra_section(ctx: ReportContext) -> Section | None:
    if not ctx.extra_figures:
        return None
    body = "".join(f"<h3>{esc(h)}</h3>" + figure_html(p, cap, alt=h) for h, p, cap in ctx.extra_figures)
    return ("extra", "Additional figures", body)


def failed_section(ctx: ReportContext) -> Section | None:
    report = ctx.report
    if not report.failed:
        return None
    # each file by its path in the scanned folder, as in the other tables (not the absolute path)
    names = ctx.names(report.failed)
    rows = [{"index": i, "file": names.get(int(i), ""), "reason": r} for i, r in sorted(report.failed.items())]
    df = pd.DataFrame(rows).set_index("index")
    body = note(f"{len(report.failed)} input(s) could not be measured.")
    kinds = tables.failure_kinds(report.failed)
    if len(report.failed) > 10 and len(kinds) < len(report.failed):  # gimp-data: 2571 rows of one reason
        by = pd.DataFrame(kinds, columns=["reason", "inputs"]).set_index("reason")
        body += "<h3>By reason</h3>" + table_html(by, total_row=False, table_id="table-failed-reasons")
        body += "<h3>Every failed input</h3>"
    body += table_html(df, total_row=False)
    return ("failed", "Failed", body)


def settings_section(ctx: ReportContext) -> Section | None:
    config = ctx.report.config
    if not config:
        return None
    cfg = pd.DataFrame({"value": [text_path(str(v)) for v in config.values()]}, index=list(config))
    cfg.index.name = "setting"
    return ("settings", "Settings", table_html(cfg, total_row=False))


#: the page's sections, in order
SECTIONS = (
    summary_section,
    labels_section,
    statistics_section,
    linter_section,
    quality_section,
    duplicates_section,
    clusters_section,
    against_section,
    extra_section,
    failed_section,
    settings_section,
)
