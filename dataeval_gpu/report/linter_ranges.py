"""Why the Linter flagged an image: the range of values it leaves unflagged, per metric.

The Linter (DataEval 0.65's rules, ``detectors/linter.py``) flags an image for a metric when
its value is an outlier of the measured images' values: beyond ``threshold`` modified z-scores
of the median (``modzscore``: median ± t · MAD / 0.6745, the MAD falling back to the mean
absolute deviation when it is 0), ``threshold`` standard deviations of the mean (``zscore``),
or ``threshold`` interquartile ranges outside the quartiles (``iqr``).  The report shows that
range, so that each flag reads as "value < low" or "value > high".

The scan's default preset keeps a flag only when it also passes ``audit/lint_rules.py``'s rule
(rare on a degenerate metric; far out, or for a size isolated, and rare on the metric's robust scale
on any other); the aspect ratio (``LOG_TESTED``) is tested on its log scale alone, so its range is
that rule's bounds only, whatever 0.65's linear range.  Each part is a bound on each side (the robust scales are increasing functions of the value), so the
range shown for the default preset is the outermost of the three, converted back to the metric's
own scale (:func:`scan_ranges`): an image is flagged exactly when its value lies outside it.
``zero`` is judged per channel: where the images' channel counts differ, its range depends on the
image's (:func:`flag_reasons`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..audit import lint_rules as rules
from ..detectors.linter import reference_summary

__all__ = [
    "LINTER_DEFAULT_THRESHOLDS",
    "against_ranges",
    "flag_reason",
    "flag_reasons",
    "linter_ranges",
    "ranges_table",
    "reference_ranges",
    "report_ranges",
    "report_ranges_table",
    "robust_bounds",
    "scan_ranges",
    "shown_bounds",
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
    """The range per metric an :class:`~dataeval_gpu.audit.AuditReport`'s flags lie outside: its
    measured statistics, the metrics it linted and its ``outlier_method`` / ``outlier_threshold``;
    for the default preset :func:`scan_ranges` (``zero`` left out where the channel counts
    differ), for ``dataeval-0.65`` :func:`linter_ranges`."""
    ranges, _ = _report_bounds(report)
    return ranges


def _report_bounds(report: Any) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]]]:
    config = getattr(report, "config", None) or {}
    stats = getattr(report, "stats", None) or {}
    metrics = config.get("linter_flags") or list(stats)
    method, threshold = config.get("outlier_method") or "modzscore", config.get("outlier_threshold")
    if config.get("preset", "default") != "default":
        return linter_ranges(stats, metrics, method, threshold), {}
    return scan_ranges(stats, metrics, method, threshold)


def flag_reasons(report: Any, images: Iterable[int], fmt: Any = str) -> dict[int, dict[str, str]]:
    """``{image index: {flagged metric: "> 0.241"}}``: which side of its range each flagged value of
    ``images`` lies on (:func:`report_ranges`; ``zero`` by the image's channel count where the
    counts differ).  A metric without a range is left out."""
    ranges, zero = _report_bounds(report)
    values = report.issue_values() if hasattr(report, "issue_values") else dict(getattr(report, "issues", None) or {})
    pos = {int(i): k for k, i in enumerate(np.asarray(getattr(report, "index", [])).tolist())}
    channels = (getattr(report, "stats", None) or {}).get("channels")
    out: dict[int, dict[str, str]] = {}
    for i in images:
        row = {}
        for metric, v in values.get(int(i), {}).items():
            bounds = ranges.get(metric)
            if metric == "zero" and zero and channels is not None and int(i) in pos:
                bounds = zero.get(int(channels[pos[int(i)]]))
            why = flag_reason(v, bounds, fmt)
            if why:
                row[metric] = why
        out[int(i)] = row
    return out


def _far_bounds(t: np.ndarray, far: float = rules.FAR) -> tuple[float, float]:
    """``(low, high)`` on ``t``'s scale: :func:`~dataeval_gpu.audit.lint_rules.far_mask` (at
    ``far``) holds exactly below ``low`` or above ``high`` (``(inf, -inf)``: everywhere)."""
    t = t[np.isfinite(t)]
    if t.size == 0:
        return np.inf, -np.inf
    med = float(np.median(t))
    dev = np.abs(t - med)
    mad = float(np.median(dev)) or float(np.mean(dev))
    half = far * mad / 0.6745
    return med - half, med + half


def _rare_bounds(t: np.ndarray) -> tuple[float, float]:
    """``(low, high)`` on ``t``'s scale: :func:`~dataeval_gpu.audit.lint_rules.rare_mask` (of the
    values themselves) holds exactly below ``low`` or above ``high``: at most ``k`` values lie at
    ``(1 - NEIGHBOURHOOD)`` of the distance or further when the ``k + 1``-th furthest lies nearer."""
    t = t[np.isfinite(t)]
    if t.size == 0:
        return np.inf, -np.inf
    med = float(np.median(t))
    k = int(np.floor(max(rules.RARE_MIN, rules.RARE_SHARE * t.size)))
    reach = []
    for sign in (1.0, -1.0):
        side = np.sort(sign * (t - med))[::-1]  # the furthest first
        reach.append(max(float(side[k]) / (1.0 - rules.NEIGHBOURHOOD), 0.0) if k < side.size else 0.0)
    return med - reach[1], med + reach[0]


def robust_bounds(
    name: str, values: np.ndarray, channels: np.ndarray | None = None, far: float = rules.FAR
) -> tuple[float, float] | None:
    """``(low, high)`` on ``name``'s robust scale (:func:`~dataeval_gpu.audit.lint_rules.robust_scale`;
    on the values themselves for a degenerate metric, the aspect ratio excepted) outside which the default preset keeps a Linter
    flag ("far" at ``far``: :func:`~dataeval_gpu.audit.lint_rules.far_threshold`); None where it
    keeps every flag (``missing``; ``zero`` without channels)."""
    v = np.asarray(values, dtype=np.float64)
    if name in rules.ALWAYS_FLAGGED:
        return None
    if rules.degenerate(v) and name not in rules.LOG_TESTED:
        return _rare_bounds(v)
    t = rules.robust_scale(name, v, channels)
    if t is None:
        return None
    (f_lo, f_hi), (r_lo, r_hi) = _far_bounds(t, far), _rare_bounds(t)
    if name in rules.GAP_SCALE:  # far out or isolated (a size beyond every other by a factor), and rare
        i_lo, i_hi = rules.isolated_bounds(t)
        f_lo, f_hi = max(f_lo, i_lo), min(f_hi, i_hi)
    return min(f_lo, r_lo), max(f_hi, r_hi)


def _back(name: str, x: float, degenerate: bool) -> float:
    """A bound on ``name``'s robust scale as a value of the metric (``zero``: per channel)."""
    if degenerate or name not in rules.LOG_SCALE | rules.SHARE_SCALE:
        return x
    if name in rules.LOG_SCALE:
        return float(np.exp(x)) if x < 709 else np.inf
    return float(np.sin(np.clip(x, 0.0, np.pi / 2)) ** 2)


def scan_ranges(
    stats: Mapping[str, Any], metrics: Iterable[str], method: str = "modzscore", threshold: float | None = None
) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]]]:
    """The default preset's ranges: ``({metric: (low, high)}, {channels: (low, high) of zero})``.
    A metric's range is the outermost of the Linter's (:func:`linter_ranges`) and the bounds of
    :func:`robust_bounds` on the metric's scale; ``zero`` is in the first only when every image has
    the same number of channels, else in the second, per channel count."""
    channels = stats.get("channels")
    counts = np.unique(np.asarray(channels)) if channels is not None and len(channels) else np.zeros(0)
    far = rules.far_threshold(method, threshold)
    return _narrowed(linter_ranges(stats, metrics, method, threshold), stats, counts, far)


def against_ranges(
    reference: Mapping[str, Mapping[str, float]],
    indexed: Mapping[str, Any],
    channels: Any,
    method: str = "modzscore",
    threshold: float | None = None,
) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]]]:
    """:func:`scan_ranges` of new images judged against an indexed collection (``--against``, the
    default preset: :func:`~dataeval_gpu.audit.lint_rules.rare_against`): the Linter's range from
    the index's ``reference`` figures (:func:`reference_ranges`), narrowed by the bounds of
    :func:`robust_bounds` of the ``indexed`` values ({metric: the measured images' values}, with
    ``channels`` for ``zero``), of the metrics in ``indexed``; ``channels`` the new images' channel
    counts (``zero``'s range per count)."""
    counts = np.unique(np.asarray(channels)) if channels is not None and len(channels) else np.zeros(0)
    linear = reference_ranges({k: v for k, v in reference.items() if k in indexed}, method, threshold)
    return _narrowed(linear, indexed, counts, rules.far_threshold(method, threshold))


def _narrowed(
    linear: Mapping[str, tuple[float, float]], values: Mapping[str, Any], counts: np.ndarray, far: float = rules.FAR
) -> tuple[dict[str, tuple[float, float]], dict[int, tuple[float, float]]]:
    """Each range of ``linear`` widened to the default preset's rule's bounds over ``values``
    (``zero`` times each channel count of ``counts``; see :func:`scan_ranges`)."""
    out: dict[str, tuple[float, float]] = {}
    zero: dict[int, tuple[float, float]] = {}
    for name, (low, high) in linear.items():
        v = np.asarray(values[name], dtype=np.float64) if name in values else None
        bounds = None if v is None or v.ndim != 1 else robust_bounds(name, v, values.get("channels"), far)
        if bounds is None:
            out[name] = (low, high)
            continue
        flat = rules.degenerate(v) and name not in rules.LOG_TESTED
        lo, hi = _back(name, bounds[0], flat), _back(name, bounds[1], flat)
        if name in rules.LOG_TESTED:  # tested on the log scale alone: 0.65's linear range plays no part
            out[name] = (lo, hi)
            continue
        if name == "zero" and not flat:  # a share per channel: times the image's channels
            per = {int(c): (float(min(low, c * lo)), float(max(high, c * hi))) for c in counts}
            if len(per) == 1:
                out[name] = next(iter(per.values()))
            elif per:
                zero = per
            continue
        out[name] = (float(min(low, lo)), float(max(high, hi)))
    return out, zero


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


def ranges_table(
    ranges: Mapping[str, tuple[float, float]],
    issues: Mapping[int, Mapping[str, Any]],
    zero: Mapping[int, tuple[float, float]] | None = None,
    channels: Mapping[int, int] | None = None,
) -> pd.DataFrame:
    """One row per flagged metric: the range left unflagged and how many images fell below and
    above it.  ``zero`` ({channel count: range}, :func:`scan_ranges`' second part, where the images'
    channel counts differ) with ``channels`` ({image index: its channel count}): a row
    ``zero (N channels)`` per count, each over the images with that count.  A bound no value of
    the metric can cross (a width under 1, a share over 1: :func:`~dataeval_gpu.functional.registry.valid_ranges`)
    is shown as ``"none"``, not as the Linter's arithmetic gives it (a width under -1426)."""
    from ..functional.registry import valid_ranges

    rows = []
    valid = valid_ranges()

    def add(label: str, name: str, low: float, high: float, found: Iterable[Mapping[str, Any]]) -> None:
        vals = [m[name] for m in found if name in m and isinstance(m[name], (int, float))]
        below = sum(1 for x in vals if x < low)
        above = sum(1 for x in vals if x > high)
        if below or above:
            lo, hi = shown_bounds(low, high, valid.get(name))
            rows.append({"metric": label, "flagged below": below, "low": lo, "high": hi, "flagged above": above})

    for name, (low, high) in ranges.items():
        add(name, name, low, high, issues.values())
    for count, (low, high) in sorted((zero or {}).items()) if channels is not None else ():
        found = (m for i, m in issues.items() if channels.get(int(i)) == int(count))
        add(f"zero ({count} channel{'' if int(count) == 1 else 's'})", "zero", low, high, found)
    cols = ["metric", "flagged below", "low", "high", "flagged above"]
    return pd.DataFrame(rows, columns=cols).set_index("metric")


def shown_bounds(low: float, high: float, valid: tuple[float, float] | None) -> tuple[float | str, float | str]:
    """``(low, high)`` as a table shows them: ``"none"`` for a side that no value within ``valid``
    (the metric's ``(lowest, highest)``) can cross - at or below its lowest, at or above its highest."""
    vlo, vhi = valid if valid is not None else (-np.inf, np.inf)
    return ("none" if low <= vlo else low), ("none" if high >= vhi else high)


def report_ranges_table(report: Any, issues: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`ranges_table` of an :class:`~dataeval_gpu.audit.AuditReport`'s ranges
    (:func:`report_ranges`) and, where its images' channel counts differ, ``zero``'s per count:
    every flagged metric has its row."""
    ranges, zero = _report_bounds(report)
    channels = (getattr(report, "stats", None) or {}).get("channels")
    per_image = None
    if zero and channels is not None:
        per_image = {int(i): int(c) for i, c in zip(np.asarray(report.index).tolist(), np.asarray(channels).tolist())}
    return ranges_table(ranges, issues, zero, per_image)
