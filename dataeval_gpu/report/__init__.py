"""Reports: class-wise tables (pandas), the guide's plots (matplotlib) and a self-contained HTML page.

>>> from dataeval_gpu.report import write_report, class_wise_table, metric_histograms

``write_report(report, out_dir)`` writes ``out_dir/report.html`` and ``out_dir/plots/*.png``
from an :class:`~dataeval_gpu.audit.AuditReport`; the table and plot functions work on their
own too (plain dicts and arrays in, DataFrames and Figures out).  matplotlib (the ``report``
extra) is imported only when a plot is drawn.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name and its module, imported on first use (PEP 562): ``dataeval_gpu.report.images``
# (which the scan's worker processes use for thumbnails) must not pull in pandas with the tables.
_WHERE = {
    "write_report": "html",
    **dict.fromkeys(("figure_html", "html_document", "table_html"), "page"),
    **dict.fromkeys(
        (
            "channel_histograms",
            "class_samples_grid",
            "duplicates_grid",
            "flagged_metric_grid",
            "group_channel_stats",
            "image_getter",
            "image_grid",
            "label_counts_plot",
            "metric_histograms",
            "outliers_grid",
            "sample_indices",
            "to_display",
        ),
        "plots",
    ),
    **dict.fromkeys(
        (
            "class_sets",
            "class_wise_table",
            "cluster_by_class_table",
            "duplicate_groups_table",
            "duplicates_by_class_table",
            "flagged_by_metric",
            "flagged_images_table",
            "metric_counts_table",
            "metric_summary_table",
        ),
        "tables",
    ),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = list(_WHERE)  # every public name, in the order above
