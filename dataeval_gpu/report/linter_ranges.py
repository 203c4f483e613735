"""Why the Linter flagged an image: the range of values it leaves unflagged, per metric.

The Linter (DataEval 0.65's rules, ``detectors/linter.py``) flags an image for a metric when
its value is an outlier of the measured images' values: beyond ``threshold`` modified z-scores
of the median (``modzscore``: median ± t · MAD / 0.6745, the MAD falling back to the mean
absolute deviation when it is 0), ``threshold`` standard deviations of the mean (``zscore``),
or ``threshold`` interquartile ranges outside the quartiles (``iqr``).  The report shows that
range, so that each flag reads as "value < low" or "value > high".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..detectors.linter import reference_summary

__all__ = [
    "LINTER_DEFAULT_THRESHOLDS",
    "flag_reason",
    "linter_ranges",
    "ranges_table",
    "reference_ranges",
    "report_ranges",
]

#: the Linter's threshold per method when none is given (the values of ``detectors/linter.py``;
#: tests/test_newuser_report.py checks each against the Linter's own flags)
LINTER_DEFAULT_THRESHOLDS = {"zscore": 3.0, "modzscore": 3.5, "iqr": 1.5}


def linter_ranges(
    stats: Mapping[str, Any], metrics: Iterable[str], method: str = "modzscore", threshold: float | None = None
) -> dict[str, tuple[float, float]]:
    """{metric: (low, high)}: an image is flagged for the metric when its value is below ``low``
    or above ``high`` (the whole-collection Linter, not ``adaptive`` or ``class_wise``).  A metric
    the Linter does not lint (no spread, not one value per image) or whose range is not finite
    is left out."""
    summaries = {}
    for name in metrics:
        values = stats.get(name)
        if values is None or np.ndim(values) != 1 or len(values) == 0:
            continue
        v = np.asarray(values, dtype=np.float64)
        if np.std(v) > 0:  # the Linter lints no metric without spread
            summaries[name] = reference_summary(v)
    return reference_ranges(summaries, method, threshold)


def reference_ranges(
    reference: Mapping[str, Mapping[str, float]], method: str = "modzscore", threshold: float | None = None
) -> dict[str, tuple[float, float]]:
    """{metric: (low, high)} from :func:`~dataeval_gpu.detectors.linter.reference_summary`
    figures (a collection's, or a dataset index's ``DatasetIndex.reference``, which
    ``Linter.evaluate_against`` judges new images by); a metric whose reference has no spread is
    not linted and left out.  ``threshold`` None or 0 is the method's default, as for the Linter
    (DataEval 0.65's ``threshold if threshold else default``)."""
    t = float(threshold) if threshold else LINTER_DEFAULT_THRESHOLDS.get(method)
    if t is None:
        return {}
    out: dict[str, tuple[float, float]] = {}
    for name, r in reference.items():
        if not r.get("std"):
            continue
        if method == "modzscore":
            half = t * r["mad"] / 0.6745
            low, high = r["median"] - half, r["median"] + half
        elif method == "zscore":
            low, high = r["mean"] - t * r["std"], r["mean"] + t * r["std"]
        else:
            span = (r["q3"] - r["q1"]) * t
            low, high = r["q1"] - span, r["q3"] + span
        if np.isfinite(low) and np.isfinite(high):
            out[name] = (float(low), float(high))
    return out


def report_ranges(report: Any) -> dict[str, tuple[float, float]]:
    """:func:`linter_ranges` of an :class:`~dataeval_gpu.audit.AuditReport`: its measured
    statistics, the metrics it linted and its ``outlier_method`` / ``outlier_threshold``."""
    config = getattr(report, "config", None) or {}
    stats = getattr(report, "stats", None) or {}
    metrics = config.get("linter_flags") or list(stats)
    return linter_ranges(
        stats, metrics, config.get("outlier_method") or "modzscore", config.get("outlier_threshold")
    )


def flag_reason(value: Any, bounds: tuple[float, float] | None, fmt: Any = str) -> str:
    """``"< 0.213"`` / ``"> 0.98"``: which side of the Linter's range ``value`` lies on ("" when
    unknown)."""
    if bounds is None or not isinstance(value, (int, float)):
        return ""
    low, high = bounds
    if value < low:
        return f"< {fmt(low)}"
    if value > high:
        return f"> {fmt(high)}"
    return ""


def ranges_table(ranges: Mapping[str, tuple[float, float]], issues: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per flagged metric: the range left unflagged and how many images fell below and
    above it."""
    rows = []
    for name, (low, high) in ranges.items():
        vals = [m[name] for m in issues.values() if name in m and isinstance(m[name], (int, float))]
        below = sum(1 for x in vals if x < low)
        above = sum(1 for x in vals if x > high)
        if below or above:
            rows.append({"metric": name, "flagged below": below, "low": low, "high": high, "flagged above": above})
    cols = ["metric", "flagged below", "low", "high", "flagged above"]
    return pd.DataFrame(rows, columns=cols).set_index("metric")
