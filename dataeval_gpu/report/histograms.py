"""Histograms: the guide's per-metric grid (linear / log count axis) and per-channel histograms.

**The plotted metrics and their axis units live here** (``GUIDE_METRICS``, ``_MORE_METRICS``,
``GUIDE_CHANNEL_METRICS``, ``_UNITS``): the one place to edit when a metric is added.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..functional import registry
from . import layout
from .layout import new_figure, save_figure, stats_dict

__all__ = [
    "GUIDE_METRICS",
    "GUIDE_CHANNEL_METRICS",
    "LABEL_WIDTH",
    "axis_label",
    "axis_label_lines",
    "scalar_metrics",
    "split_constant",
    "metric_histograms",
    "channel_histograms",
    "group_channel_stats",
]

#: the metrics the guide plots, in its order (then the others a report may hold); both derive from
#: the metric registry, so a registered metric is plotted with its unit without an edit here
GUIDE_METRICS = registry.GUIDE_PLOT_ORDER
_MORE_METRICS = tuple(m for m in registry.image_keys() if m not in GUIDE_METRICS and registry.get(m).shape == ())
GUIDE_CHANNEL_METRICS = ("mean", "std", "var", "skew", "kurtosis", "entropy")

#: the x-axis unit of each metric (a metric without one is labelled by its name alone)
_UNITS = registry.units()
#: characters of an x-axis label line (a 420-px panel holds ~55 at 12.5 px; a longer label wraps)
LABEL_WIDTH = 58


def axis_label(metric: str) -> str:
    """The x-axis label of ``metric``: its name and unit (``brightness (mean of scaled pixels, 0–1)``)."""
    return f"{metric} ({_UNITS[metric]})" if metric in _UNITS else metric


def axis_label_lines(metric: str, width: int = LABEL_WIDTH) -> list[str]:
    """:func:`axis_label` wrapped at spaces to lines of at most ``width`` characters: a panel is
    ~55 characters wide, and ``motion_cross``'s 99-character label ran over its two neighbours."""
    import textwrap

    return textwrap.wrap(axis_label(metric), width, break_on_hyphens=False) or [metric]


def scalar_metrics(stats: Mapping[str, Any], metrics: Sequence[str] | None = None) -> list[str]:
    """The metrics to plot, in order: ``metrics`` (default: the guide's, then the others) present as 1-D numbers."""
    return _scalar_metrics(stats, metrics)


def split_constant(stats: Mapping[str, Any], names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``names`` split into (varying, constant): a constant metric has one finite value in every image."""
    varying, constant = [], []
    for m in names:
        v = np.asarray(stats[m], dtype=np.float64)
        finite = v[np.isfinite(v)]
        same = finite.size == v.size and finite.size > 0 and finite.min() == finite.max()
        (constant if same else varying).append(m)
    return varying, constant


def _scalar_metrics(stats: Mapping[str, Any], metrics: Sequence[str] | None) -> list[str]:
    names = list(metrics) if metrics is not None else [*GUIDE_METRICS, *_MORE_METRICS]
    out = []
    for m in names:
        v = stats.get(m)
        if v is None:
            continue
        a = np.asarray(v)
        if a.ndim == 1 and a.size and a.dtype.kind in "biuf":
            out.append(m)
    return out


def _plain_log_ticks(ax: Any) -> None:
    """Log axis ticks as 1, 2, 5, 10 ... (1, 10, 100 ... over many decades), minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    lo, hi = ax.get_ylim()
    decades = math.log10(max(hi, 1.0) / max(lo, 1e-3))
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def metric_histograms(
    stats: Any,
    metrics: Sequence[str] | None = None,
    *,
    log: bool = False,
    bins: int = 20,
    ncols: int = 3,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """One histogram per metric (the guide's 20-bin grid), linear or log y axis.

    ``stats``: an ``imagestats`` output, ``AuditReport.stats`` or any ``{metric: (N,) array}``.
    ``metrics`` defaults to the guide's twelve, then the other scalar metrics present.
    """
    sd = stats_dict(stats)
    names = _scalar_metrics(sd, metrics)
    n = len(np.asarray(sd[names[0]])) if names else 0
    varying, constant = split_constant(sd, names)
    panels = len(varying) + (1 if constant else 0)
    nrows = max(1, math.ceil(panels / ncols))
    fig, axs = new_figure(nrows, ncols, 4.2, 3.1)
    flat = list(axs.flat)
    for ax, m in zip(flat, varying, strict=False):
        v = np.asarray(sd[m], dtype=np.float64)
        finite = v[np.isfinite(v)]
        if finite.size:
            ax.hist(finite, bins=bins, log=log, color="#3b6ea8", edgecolor="white", linewidth=0.5)
        note = f"n={finite.size}"
        if finite.size < v.size:
            note += f", {v.size - finite.size} not finite"
        ax.text(0.98, 0.95, note, transform=ax.transAxes, ha="right", va="top", fontsize=8,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.8", "alpha": 0.9})  # fmt: skip
        ax.set_title(m, fontsize=11, fontweight="bold")
        ax.set_xlabel("\n".join(axis_label_lines(m)), fontsize=9)
        ax.set_ylabel("images (log scale)" if log else "images", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        if log:
            _plain_log_ticks(ax)
    for ax in flat[len(varying) :]:
        ax.axis("off")
    if constant:
        ax = flat[len(varying)]
        lines = [f"{m} = {float(np.asarray(sd[m], dtype=np.float64)[0]):.6g}" for m in constant]
        ax.set_title("constant metrics", fontsize=11, fontweight="bold")
        ax.text(0.02, 0.95, f"same value in all {n} images\n(no spread: not linted)\n\n" + "\n".join(lines),
                transform=ax.transAxes, ha="left", va="top", fontsize=10, family="monospace")  # fmt: skip
    if not names:
        axs[0, 0].text(0.5, 0.5, "no scalar statistics", ha="center", va="center")
    layout.suptitle(
        fig, title or f"Image statistics, {n} images ({'log' if log else 'linear'} y axis, {bins} bins)", 13
    )
    return save_figure(fig, path)


def group_channel_stats(channel_stats: Any) -> dict[int, dict[str, np.ndarray]]:
    """``{C: {metric: (C, N_C) array}}`` from any per-channel statistics layout.

    Accepts a ``channelstats`` output (``out.metric[C]`` is ``(C, N_C)``), its ``.dict()``,
    or ``AuditReport.channel_stats`` (rows ``ch_<metric>`` with ``ch_index`` / ``ch_channel``).
    """
    sd = stats_dict(channel_stats)
    out: dict[int, dict[str, np.ndarray]] = {}
    if "ch_index" in sd:
        ci = np.asarray(sd["ch_index"]).astype(np.int64)
        if ci.size == 0:
            return {}
        chan = np.asarray(sd.get("ch_channel", np.zeros_like(ci))).astype(np.int64)
        perm = np.lexsort((chan, ci))  # rows grouped by image, channels in order
        _, starts, cnts = np.unique(ci[perm], return_index=True, return_counts=True)
        for c in sorted(set(cnts.tolist())):
            sel = starts[cnts == c]
            rows = perm[(sel[:, None] + np.arange(c)[None, :]).reshape(-1)]
            group: dict[str, np.ndarray] = {}
            for key, val in sd.items():
                if not key.startswith("ch_") or key in ("ch_index", "ch_channel"):
                    continue
                arr = np.asarray(val)
                if arr.ndim != 1:
                    continue
                group[key[3:]] = arr[rows].reshape(len(sel), c).T
            out[c] = group
        return out
    for key, val in sd.items():
        if key == "ch_idx_map" or not isinstance(val, Mapping):
            continue
        for c, arr in val.items():
            a = np.asarray(arr)
            if a.ndim == 2:
                out.setdefault(int(c), {})[key] = a
    return out


def _channel_colors(c: int) -> list[str]:
    if c == 1:
        return ["0.35"]
    if c == 3:
        return ["#d62728", "#2ca02c", "#1f77b4"]
    if c == 4:
        return ["#d62728", "#2ca02c", "#1f77b4", "0.4"]
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [cmap(k % 10) for k in range(c)]


def channel_histograms(
    channel_stats: Any,
    metrics: Sequence[str] = GUIDE_CHANNEL_METRICS,
    *,
    bins: int = 20,
    ncols: int = 3,
    path: str | os.PathLike | None = None,
) -> Any:
    """Per-channel histograms (density), grouped by channel count as the guide does for C = 3.

    Each group of images with C channels gets a block of panels, one per metric, with the C
    channels overlaid (red / green / blue for three channels) and a legend.
    """
    groups = group_channel_stats(channel_stats)
    blocks = []
    for c in sorted(groups):
        names = [m for m in metrics if m in groups[c]]
        if names:
            blocks.append((c, names))
    rows_per = [math.ceil(len(names) / ncols) for _, names in blocks]
    nrows = max(1, sum(rows_per))
    fig, axs = new_figure(nrows, ncols, 4.2, 3.1)
    r0 = 0
    for (c, names), nr in zip(blocks, rows_per, strict=True):
        colors = _channel_colors(c)
        for k in range(nr * ncols):
            ax = axs[r0 + k // ncols, k % ncols]
            if k >= len(names):
                ax.axis("off")
                continue
            m = names[k]
            data = np.asarray(groups[c][m], dtype=np.float64)  # (C, N_C)
            n_c = data.shape[1]
            finite = data[np.isfinite(data)]
            edges = (
                np.histogram_bin_edges(finite, bins=bins) if finite.size else bins
            )  # same bins for all channels
            for ch in range(c):
                v = data[ch][np.isfinite(data[ch])]
                if v.size:
                    ax.hist(v, bins=edges, density=True, histtype="step", linewidth=1.6, color=colors[ch],
                            label=f"channel {ch}")  # fmt: skip
            ax.set_title(f"{m} ({c}-channel images, n={n_c})", fontsize=10, fontweight="bold")
            ax.set_xlabel("\n".join(axis_label_lines(m)), fontsize=9)
            ax.set_ylabel("density", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(axis="y", alpha=0.3)
            if k == 0:
                ax.legend(fontsize=8, loc="best")
        r0 += nr
    if not blocks:
        axs[0, 0].text(0.5, 0.5, "no per-channel statistics", ha="center", va="center")
        for ax in axs.flat:
            ax.axis("off")
    counts = ", ".join(f"{c}-channel: {_n(groups[c])} images" for c, _ in blocks)
    layout.suptitle(fig, f"Channel statistics by channel count ({counts})", 13)
    return save_figure(fig, path)


def _n(group: Mapping[str, np.ndarray]) -> int:
    for v in group.values():
        return int(np.asarray(v).shape[1])
    return 0
