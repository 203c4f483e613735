"""The report's sections on the images flagged one by one: the Linter's outliers (with why: the
range each metric leaves unflagged) and the scored quality issues."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..audit.lint_rules import far_threshold
from . import tables
from .context import ReportContext, Section, grid_figure
from .grids import flagged_metric_spec
from .linter_ranges import LINTER_DEFAULT_THRESHOLDS, flag_reasons, report_ranges_table
from .page import esc, format_number, note, table_html

__all__ = ["WHY_CHARS", "linter_section", "quality_section"]


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
    paths = ctx.report.paths
    # each file by its path in the scanned folder, as the tables name it: found once for every grid
    names = tables.inside_folder(paths, only=[int(i) for i in issues]) if paths else None
    for metric, idx in sorted(by_metric.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        spec = flagged_metric_spec(
            issues,
            metric,
            labels=ctx.labels_or_none,
            class_names=ctx.class_names,
            n=ctx.max_grid,
            seed=ctx.seed,
            names=names,
        )
        caption = f"{len(idx)} image(s) flagged for {metric}; sample ordered by {value}."
        body += f"<h3>{esc(metric)}</h3>" + grid_figure(ctx, f"{prefix}_{metric}", spec, caption)
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
    ranges = report_ranges_table(report, issues) if issues else pd.DataFrame()
    if len(ranges):
        threshold = (report.config or {}).get("outlier_threshold")
        far = far_threshold(method, threshold)
        body += "<h3>Why: the range each metric leaves unflagged</h3>" + note(
            f"An image is flagged for a metric when its value lies outside the range ({esc(method)}, threshold "
            f"{esc(format_number(threshold if threshold else LINTER_DEFAULT_THRESHOLDS.get(method, '')))}"
            "; computed over the measured images"
            + (
                "), narrowed by the default preset's rule: the value must also be far out (a modified z-score "
                f"over {esc(format_number(far))}) and rare (at most 5 % of the images, at least 2, as far out "
                "on its side) on the metric's robust scale (the logarithm of the sizes, aspect ratio and blurriness, the arcsine "
                "square root of brightness and of zero per channel; a size also when it stands apart: it and "
                "the images beyond it, at most 1 % of the images (at least 2), lie twice or more beyond every "
                "other image), or, on a metric where "
                "one value holds a third of the images or more, rare.  The range shown is the outermost of these bounds in the "
                "metric's own values (zero's is per channel count: a row per count where the images' counts "
                "differ; docs/metrics.md)."
                if (report.config or {}).get("preset", "default") == "default"
                else ")."
            )
            + " <i>none</i>: no value can lie beyond that side (a width under 1, a share over 1)."
        )
        body += table_html(ranges, total_row=False, table_id="table-linter-ranges")
    if ctx.labels and issues:
        body += "<h3>Flagged images by class and metric</h3>" + note(
            "Cells: images of the class flagged for the metric. <i>Total</i> column: the row's flags (an "
            "image flagged for two metrics counts twice); <i>flagged images</i>: distinct images; "
            "<i>Total</i> row: distinct images."
        )
        body += table_html(
            tables.class_wise_table(issues, ctx.label_sets, ctx.class_names), table_id="table-class-wise"
        )
    if issues:
        if ctx.get_image is not None:
            body += _flagged_grids(ctx)
        else:
            body += note("No image source was given: the sample grids are left out.")
        body += "<h3>Flagged images</h3>" + table_html(
            tables.flagged_images_table(
                issues, ctx.label_sets, ctx.class_names, ctx.names(issues) or None,
                reasons=flag_reasons(report, issues, format_number),
            ),
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
        if "path" in table.columns:  # each file by its path in the scanned folder, as in the other tables
            names = ctx.names(set(table["index"].tolist()))
            table["path"] = [names.get(int(i), p) for i, p in zip(table["index"], table["path"])]
        scored: dict[int, dict[str, float]] = {}  # {index: {issue: score}} of the flagged images
        for i, issue, score in zip(table["index"], table["issue"], table["score"]):
            scored.setdefault(int(i), {})[str(issue)] = float(score)
        if ctx.labels:
            body += "<h3>Quality issues by class</h3>" + note(
                "Cells: images of the class flagged for the issue; <i>flagged images</i>: distinct images."
            )
            body += table_html(
                tables.class_wise_table(scored, ctx.label_sets, ctx.class_names), table_id="table-quality-class-wise"
            )
        if ctx.get_image is not None:
            body += _flagged_grids(ctx, scored, prefix="quality", value="score")
        body += "<h3>Flagged images: score and threshold</h3>" + table_html(
            table, max_rows=300, total_row=False, index=False, table_id="table-quality", max_chars=WHY_CHARS
        )
    return ("quality", "Quality issues", body)


