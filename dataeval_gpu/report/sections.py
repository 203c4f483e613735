"""The report's sections, one function each: ``section(ctx) -> (anchor, heading, body) | None``.

Each builds its HTML from the :class:`ReportContext` (what every section reads: the audit
report, labels, flagged images, the image source) and asks ``ctx.figs`` for its figures.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..discovery import text_path
from . import histograms, tables
from .figures import FigureJobs
from .grids import (
    GridSpec,
    class_samples_spec,
    duplicates_spec,
    flagged_metric_spec,
    label_counts_plot,
    outliers_spec,
)
from .index_section import against_section
from .linter_ranges import LINTER_DEFAULT_THRESHOLDS, ranges_table, report_ranges
from .page import cards, esc, figure_html, format_number, note, table_html
from .pilgrid import render_grid
from .svgcharts import metric_histograms_svg

__all__ = ["ReportContext", "SECTIONS", "make_context"]

Section = tuple[str, str, str]


@dataclass
class ReportContext:
    """What the sections share."""

    report: Any
    figs: FigureJobs
    get_image: Any
    labels: dict[int, Any]
    class_names: list[str] | None
    summary: dict[str, Any]
    issues: dict[int, dict[str, float]]
    by_metric: dict[str, list[int]]
    label_stats: Any
    seed: int = 0
    max_grid: int = 12
    channel_stats: Any = None
    notes: Sequence[str] = ()
    extra_figures: Sequence[tuple[str, Any, str]] = field(default_factory=tuple)

    @property
    def n_images(self) -> int:
        return int(self.summary["images"])

    @property
    def n_measured(self) -> int:
        """The images measured (flags count out of these: a failed input was not checked)."""
        return int(self.summary.get("measured", self.summary["images"]))

    @property
    def of_measured(self) -> str:
        """``"2 measured images"`` when some inputs failed, else ``"4 images"``."""
        return f"{self.n_measured} measured images" if self.n_measured < self.n_images else f"{self.n_images} images"

    @property
    def labels_or_none(self) -> dict[int, Any] | None:
        return self.labels or None


def _no_label(lab: Any) -> bool:
    if lab is None:
        return True
    if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
        return int(lab) == -1
    return False


def make_context(report: Any, figs: FigureJobs, get_image: Any, **options: Any) -> ReportContext:
    """The context of one report (``options``: seed, max_grid, channel_stats, notes, extra_figures)."""
    from ..labels import label_stats

    if any(text_path(p) != p for p in (getattr(report, "paths", None) or {}).values()):
        report = copy.copy(report)  # the tables' file names as writable text (the images still open)
        report.paths = {i: text_path(p) for i, p in report.paths.items()}
    # -1 is the audit's "no label" (a flat folder, a file list): such images are unlabelled
    labels = {i: lab for i, lab in (report.labels or {}).items() if not _no_label(lab)}
    class_names = list(report.class_names) if report.class_names else None
    # the flagged values as measured (the Linter's are rounded to 2 decimals: zero=0.0036 read 0)
    issues = report.issue_values() if hasattr(report, "issue_values") else (report.issues or {})
    return ReportContext(
        report=report,
        figs=figs,
        get_image=get_image,
        labels=labels,
        class_names=class_names,
        summary=report.summary_dict(),
        issues=issues,
        by_metric=tables.flagged_by_metric(issues),
        label_stats=label_stats(labels, class_names) if labels else None,
        **options,
    )


def _grid(ctx: ReportContext, name: str, spec: GridSpec, caption: str) -> str:
    """Ask for an image grid (drawn with Pillow, a JPEG): its placeholder."""
    get_image = ctx.get_image
    return ctx.figs.add(
        name,
        lambda p: render_grid(spec, get_image, p),
        caption,
        ext="jpg",
        indices=spec.indices,
        threaded=True,
    )


def _svg(ctx: ReportContext, name: str, make_svg: Any, caption: str) -> str:
    """Ask for an SVG chart (``make_svg() -> str``): its placeholder."""
    return ctx.figs.add(
        name, lambda p: p.write_text(make_svg(), encoding="utf-8"), caption, ext="svg", threaded=True
    )


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
        items.append(("classes", ctx.label_stats.class_count, "count-classes", False))
    body = cards(items)
    body += "".join(note(esc(n)) for n in ctx.notes)
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
        body += _grid(
            ctx,
            "class_samples",
            # from the measured images: a file that failed to load has no picture to show
            class_samples_spec(
                {c: [i for i in idx if i not in ctx.report.failed] for c, idx in ls.image_indices_per_class.items()},
                seed=ctx.seed,
            ),
            f"One random image of each class (seed {ctx.seed}): the variety of backgrounds, brightness, framing.",
        )
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
    body += _svg(
        ctx, "histograms", lambda: metric_histograms_svg(report.stats), "Metric histograms (linear)."
    )
    body += _svg(
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


# ----------------------------------------------------------------------------- linter
def _flagged_grids(
    ctx: ReportContext,
    issues: Mapping[int, Mapping[str, float]] | None = None,
    prefix: str = "flagged",
    value: str = "value",
) -> str:
    """A grid per flagged metric (or quality issue), most flagged first."""
    issues = ctx.issues if issues is None else issues
    by_metric = ctx.by_metric if issues is ctx.issues else tables.flagged_by_metric(issues)
    body = ""
    for metric, idx in sorted(by_metric.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        spec = flagged_metric_spec(
            issues,
            metric,
            labels=ctx.labels_or_none,
            class_names=ctx.class_names,
            n=ctx.max_grid,
            seed=ctx.seed,
        )
        caption = f"{len(idx)} image(s) flagged for {metric}; sample ordered by {value}."
        body += f"<h3>{esc(metric)}</h3>" + _grid(ctx, f"{prefix}_{metric}", spec, caption)
    return body


#: the "why" cells of the flagged-images tables are shown whole up to this length (a cell cut at
#: the tables' usual 90 characters lost the last flagged metrics and the quality issues' figures)
WHY_CHARS = 400


def linter_section(ctx: ReportContext) -> Section | None:
    report, issues = ctx.report, ctx.issues
    if not report.stats:
        return None
    method = report.config.get("outlier_method", "modzscore") if report.config else "modzscore"
    body = note(
        f'The Linter ({esc(method)}) flagged <b id="linter-flagged">{len(issues)}</b> of {ctx.of_measured} '
        f"across {len(ctx.by_metric)} metrics. A flag marks an image that stands out, not a bad image: look at "
        "them and ask whether such images are expected in operation."
    )
    ranges = report_ranges(report) if issues else {}
    if ranges:
        threshold = (report.config or {}).get("outlier_threshold")
        body += "<h3>Why: the range each metric leaves unflagged</h3>" + note(
            f"An image is flagged for a metric when its value lies outside the range ({esc(method)}, threshold "
            f"{esc(format_number(threshold if threshold is not None else LINTER_DEFAULT_THRESHOLDS.get(method, '')))}"
            "; computed over the measured images)."
        )
        body += table_html(ranges_table(ranges, issues), total_row=False, table_id="table-linter-ranges")
    if ctx.labels and issues:
        body += "<h3>Flagged images by class and metric</h3>" + note(
            "Cells: images of the class flagged for the metric. <i>Total</i> column: the row's flags (an "
            "image flagged for two metrics counts twice); <i>flagged images</i>: distinct images; "
            "<i>Total</i> row: distinct images."
        )
        body += table_html(
            tables.class_wise_table(issues, ctx.labels, ctx.class_names), table_id="table-class-wise"
        )
    if issues:
        if ctx.get_image is not None:
            body += _flagged_grids(ctx)
        else:
            body += note("No image source was given: the sample grids are left out.")
        body += "<h3>Flagged images</h3>" + table_html(
            tables.flagged_images_table(issues, ctx.labels_or_none, ctx.class_names, report.paths or None, ranges=ranges),
            max_rows=300,
            total_row=False,
            table_id="table-flagged",
            max_chars=WHY_CHARS,
        )
    return ("linter", "Linter", body)


def quality_section(ctx: ReportContext) -> Section | None:
    """The scored quality issues: counts per issue with the threshold, then every finding's why."""
    report = ctx.report
    quality = getattr(report, "quality", None) or {}
    if not quality:
        return None
    flags, thresholds = quality["flags"], quality["thresholds"]
    why = quality.get("why", {})
    body = note(
        f'Quality issues flagged <b id="quality-flagged">{len(why)}</b> of {ctx.of_measured}. Every image has '
        "a score per issue (higher = worse; <code>&lt;issue&gt;_score</code> in results.csv); an image is flagged "
        "when its score passes the issue's threshold (docs/quality.md)."
    )
    counts = pd.DataFrame(
        {"threshold": [thresholds[k] for k in flags], "flagged": [int(np.sum(v)) for v in flags.values()]},
        index=pd.Index(list(flags), name="issue"),
    )
    body += table_html(counts, total_row=False, table_id="table-quality-counts")
    if why:
        table = report.quality_table()
        scored: dict[int, dict[str, float]] = {}  # {index: {issue: score}} of the flagged images
        for i, issue, score in zip(table["index"], table["issue"], table["score"]):
            scored.setdefault(int(i), {})[str(issue)] = float(score)
        if ctx.labels:
            body += "<h3>Quality issues by class</h3>" + note(
                "Cells: images of the class flagged for the issue; <i>flagged images</i>: distinct images."
            )
            body += table_html(
                tables.class_wise_table(scored, ctx.labels, ctx.class_names), table_id="table-quality-class-wise"
            )
        if ctx.get_image is not None:
            body += _flagged_grids(ctx, scored, prefix="quality", value="score")
        body += "<h3>Flagged images: score and threshold</h3>" + table_html(
            table, max_rows=300, total_row=False, index=False, table_id="table-quality", max_chars=WHY_CHARS
        )
    return ("quality", "Quality issues", body)


# ----------------------------------------------------------------------------- duplicates
def _near_rule(config: dict[str, Any]) -> str:
    """How the near duplicates were matched, from the run's settings (``near_radius``, ``hash``,
    ``d4``, ``near_crops``, ``quality``: the thumbnail verification)."""
    from ..detectors.near_duplicates import UNVERIFIED_RADIUS

    radius = int(config.get("near_radius") or 0)
    name = str(config.get("hash") or "pchash") + (" D4 (flip/rotation-invariant)" if config.get("d4") else "")
    rule = f"{name} hashes within Hamming distance {radius}" if radius else f"identical {name} hashes"
    crops = config.get("near_crops") or []
    if crops:
        rule += ", also of the central " + " and ".join(f"{round(100 * c)} %" for c in crops)
    if crops and radius and config.get("quality"):  # the audit's near groups: thumbnails kept and checked
        rule += "; each pair verified on the 32 × 32 grey thumbnails of the two images"
        if radius > UNVERIFIED_RADIUS:
            rule += f" (one that cannot be, such as of images under 33 px, only within distance {UNVERIFIED_RADIUS})"
    return rule


def duplicates_section(ctx: ReportContext) -> Section | None:
    report = ctx.report
    dups = report.duplicates or {}
    if "exact" not in dups:  # no hashes: exact and near duplicates not searched (the summary says so)
        return None
    n_exact, n_near = len(dups.get("exact", [])), len(dups.get("near", []))
    body = note(
        f"Exact duplicates (identical decoded pixels, xxhash; a PNG and a BMP of one picture are exact "
        f"copies): <b>{n_exact}</b> group(s); near duplicates ({esc(_near_rule(report.config or {}))}, "
        f"not already exact): <b>{n_near}</b> group(s). A group whose images carry "
        "different labels (<i>mixed</i>) is a copy labelled two ways."
    )
    if ctx.labels and (n_exact or n_near):
        body += "<h3>Duplicates by class</h3>" + table_html(
            tables.duplicates_by_class_table(dups, ctx.labels, ctx.class_names),
            table_id="table-duplicates-class",
        )
    if n_exact or n_near:
        body += "<h3>Groups</h3>" + table_html(
            tables.duplicate_groups_table(dups, ctx.labels_or_none, ctx.class_names, report.paths or None),
            max_rows=300,
            total_row=False,
            index=False,
            table_id="table-duplicate-groups",
        )
    if ctx.get_image is not None and (n_exact or n_near):
        rows = max(2, ctx.max_grid // 2)
        for kind in ("exact", "near"):
            groups = dups.get(kind, [])
            if groups:
                spec = duplicates_spec(
                    groups, labels=ctx.labels_or_none, class_names=ctx.class_names, kind=kind, max_groups=rows
                )
                caption = (
                    f"{kind.capitalize()} duplicate groups, one per row (first {min(len(groups), rows)}"
                    f" of {len(groups)})."
                )
                body += _grid(ctx, f"duplicates_{kind}", spec, caption)
    return ("duplicates", "Duplicates", body)


# ----------------------------------------------------------------------------- clusterer
def _cluster_grids(ctx: ReportContext, cl: Mapping[str, Any]) -> str:
    body = ""
    scores = cl.get("outlier_score") if isinstance(cl.get("outlier_score"), dict) else None
    for key, name in (("outliers", "Clusterer outliers"), ("potential_outliers", "Potential outliers")):
        idx = list(cl.get(key, []))
        if idx:
            spec = outliers_spec(
                idx, labels=ctx.labels_or_none, class_names=ctx.class_names, scores=scores, n=ctx.max_grid,
                seed=ctx.seed, title=name,
            )  # fmt: skip
            body += _grid(ctx, f"cluster_{key}", spec, f"{name}: {len(idx)}, shown with their labels.")
    for key in ("duplicates", "potential_duplicates"):
        groups = cl.get(key, [])
        if groups:
            spec = duplicates_spec(
                groups, labels=ctx.labels_or_none, class_names=ctx.class_names, kind=key.replace("_", " "),
                max_groups=max(2, ctx.max_grid // 2),
            )  # fmt: skip
            caption = f"Embedding {key.replace('_', ' ')}: {len(groups)} group(s)."
            body += _grid(ctx, f"cluster_{key}", spec, caption)
    return body


def clusters_section(ctx: ReportContext) -> Section | None:
    cl = ctx.report.clusters or {}
    if not cl:
        return None
    outl = list(cl.get("outliers", []))
    pot = list(cl.get("potential_outliers", []))
    body = note(
        f'In the embedding space the Clusterer found <b id="cluster-outliers">{len(outl)}</b> outlier(s) and '
        f"{len(pot)} potential outlier(s), {len(cl.get('duplicates', []))} duplicate group(s) and "
        f"{len(cl.get('potential_duplicates', []))} potential duplicate group(s). Judge an outlier against "
        "its own class: an under-represented kind of image, or one that does not belong?"
    )
    if ctx.labels:
        body += "<h3>Cluster findings by class</h3>" + table_html(
            tables.cluster_by_class_table(cl, ctx.labels, ctx.class_names), table_id="table-cluster-class"
        )
    if ctx.get_image is not None:
        body += _cluster_grids(ctx, cl)
    return ("clusters", "Clusterer", body)


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
    rows = [
        {"index": i, "file": report.paths.get(i, ""), "reason": r} for i, r in sorted(report.failed.items())
    ]
    df = pd.DataFrame(rows).set_index("index")
    body = note(f"{len(report.failed)} input(s) could not be measured.") + table_html(df, total_row=False)
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
