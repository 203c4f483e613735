"""The report's section on the Clusterer's findings in the embedding space: outliers, potential
outliers and (potential) duplicate groups, by class and as image grids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import tables
from .context import ReportContext, Section, grid_figure
from .grids import duplicates_spec, outliers_spec
from .page import note, table_html

__all__ = ["MAX_CLUSTER_GROUPS", "clusters_section"]

#: the Clusterer's (potential) duplicate groups drawn, one per grid row (a JPEG is at most 65,535 px high)
MAX_CLUSTER_GROUPS = 100


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
            body += grid_figure(ctx, f"cluster_{key}", spec, f"{name}: {len(idx)}, shown with their labels.")
    for key, name in (("duplicates", "Clusterer duplicates"), ("potential_duplicates", "Clusterer potential duplicates")):
        groups = cl.get(key, [])
        if groups:  # every group, one per row (up to MAX_CLUSTER_GROUPS: findings.json has them all)
            shown = min(len(groups), MAX_CLUSTER_GROUPS)
            spec = duplicates_spec(
                groups, labels=ctx.labels_or_none, class_names=ctx.class_names, max_groups=shown, title=name,
            )  # fmt: skip
            caption = f"{name}: {len(groups)} group(s)" + (f", the first {shown} shown." if shown < len(groups) else ".")
            body += grid_figure(ctx, f"cluster_{key}", spec, caption)
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
            tables.cluster_by_class_table(cl, ctx.label_sets, ctx.class_names), table_id="table-cluster-class"
        )
    if ctx.get_image is not None:
        body += _cluster_grids(ctx, cl)
    return ("clusters", "Clusterer", body)


