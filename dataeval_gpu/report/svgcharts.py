"""The metric histograms as SVG for the HTML report: the same panels as
:func:`.histograms.metric_histograms` (same metrics, bins, units, constant-metrics panel,
linear or log count axis) written as text in milliseconds, with no matplotlib import.
The browser draws them (sharp at any zoom); ``plots/histograms*.svg`` are the files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

from .histograms import axis_label_lines, scalar_metrics, split_constant
from .layout import stats_dict

__all__ = ["metric_histograms_svg", "nice_ticks"]

_CELL = (420, 310)  # px per panel, as the matplotlib figure (4.2 x 3.1 in at 100 dpi)
_MARGINS = (72, 18, 38, 58)  # left, right, top, bottom
_TOP = 55
_BAR = "#3b6ea8"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 2.5, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [first + k * step for k in range(count)]


def _fmt(v: float) -> str:
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{round(v, 10):g}"


def _text(x: float, y: float, s: str, size: float, anchor: str = "middle", **attrs: Any) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>{escape(s)}</text>'
    )


def _log_ticks(lo: float, hi: float) -> list[float]:
    decades = math.log10(max(hi, 1.0) / max(lo, 1e-3))
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)
    out = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [s * 10.0**e for s in subs if lo <= s * 10.0**e <= hi]
    return out


def _panel(x: float, y: float, metric: str, values: np.ndarray, bins: int, log: bool) -> list[str]:
    """One histogram panel whose cell's top-left corner is (x, y)."""
    left, right, top, bottom = _MARGINS
    px, py = x + left, y + top
    pw, ph = _CELL[0] - left - right, _CELL[1] - top - bottom
    finite = values[np.isfinite(values)]
    counts, edges = (
        np.histogram(finite, bins=bins) if finite.size else (np.zeros(bins), np.linspace(0, 1, bins + 1))
    )
    cmax = float(counts.max()) if counts.size else 0.0
    if log:
        ylo, yhi = 0.7, max(cmax, 1.0) * 1.6
        yticks = _log_ticks(ylo, yhi)

        def ymap(c: float) -> float:
            return (
                py
                + ph
                - ph * (math.log10(max(c, ylo)) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo))
            )
    else:
        cap = max(cmax, 1.0) * 1.05  # (not ``top``: that is the panel's top margin, used below)
        yticks = nice_ticks(0.0, cap)
        if len(yticks) > 1 and yticks[-1] < cap:  # end the axis on a labelled tick
            yticks.append(2 * yticks[-1] - yticks[-2])
        ylo, yhi = 0.0, max(yticks[-1], cap)

        def ymap(c: float) -> float:
            return py + ph - ph * (c - ylo) / (yhi - ylo)

    span = float(edges[-1] - edges[0]) or 1.0
    x_lo, x_hi = float(edges[0]) - 0.05 * span, float(edges[-1]) + 0.05 * span

    def xmap(v: float) -> float:
        return px + pw * (v - x_lo) / (x_hi - x_lo)

    out = [f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="white"/>']
    for t in yticks:
        out.append(f'<line x1="{px}" x2="{px + pw}" y1="{ymap(t):.1f}" y2="{ymap(t):.1f}" stroke="#ddd"/>')
        out.append(_text(px - 5, ymap(t) + 4, _fmt(t), 11, "end"))
    for k, c in enumerate(counts):
        if c > 0:
            x0, x1 = xmap(float(edges[k])), xmap(float(edges[k + 1]))
            out.append(
                f'<rect x="{x0:.1f}" y="{ymap(c):.1f}" width="{max(x1 - x0, 0.5):.1f}" '
                f'height="{ymap(ylo) - ymap(c):.1f}" fill="{_BAR}" stroke="white" stroke-width="0.5"/>'
            )
    for t in nice_ticks(float(edges[0]), float(edges[-1])):
        out.append(
            f'<line x1="{xmap(t):.1f}" x2="{xmap(t):.1f}" y1="{py + ph}" y2="{py + ph + 4}" stroke="black"/>'
        )
        out.append(_text(xmap(t), py + ph + 16, _fmt(t), 11))
    out.append(
        f'<rect x="{px}" y="{py}" width="{pw}" height="{ph}" fill="none" stroke="black" stroke-width="0.8"/>'
    )
    note = f"n={finite.size}" + (
        f", {values.size - finite.size} not finite" if finite.size < values.size else ""
    )
    note_w = 7 * len(note) + 8  # DejaVu Sans at 11 px: ~6.5 px per character
    out.append(
        f'<rect x="{px + pw - 4 - note_w}" y="{py + 4}" width="{note_w}" height="15" rx="3" '
        'fill="white" fill-opacity="0.9" stroke="#ccc"/>'
    )
    out.append(_text(px + pw - 8, py + 15, note, 11, "end"))
    out.append(_text(px + pw / 2, y + top - 10, metric, 15, font_weight="bold"))
    label = axis_label_lines(metric)  # two lines (a smaller font) where one would run into the next panel
    one = len(label) == 1
    for j, line in enumerate(label):
        out.append(_text(px + pw / 2, py + ph + (36 if one else 30 + 13.5 * j), line, 12.5 if one else 11.5))
    ylabel = "images (log scale)" if log else "images"
    cx, cy = x + 16, py + ph / 2
    out.append(_text(cx, cy, ylabel, 12.5, transform=f"rotate(-90 {cx:.1f} {cy:.1f})"))
    return out


def metric_histograms_svg(
    stats: Any,
    metrics: Sequence[str] | None = None,
    *,
    log: bool = False,
    bins: int = 20,
    ncols: int = 3,
    title: str | None = None,
) -> str:
    """The SVG document of the metric histograms (the panels of :func:`.histograms.metric_histograms`)."""
    sd = stats_dict(stats)
    names = scalar_metrics(sd, metrics)
    n = len(np.asarray(sd[names[0]])) if names else 0
    varying, constant = split_constant(sd, names)
    panels = len(varying) + (1 if constant else 0)
    nrows = max(1, math.ceil(panels / ncols))
    width, height = ncols * _CELL[0], nrows * _CELL[1] + _TOP
    body: list[str] = [f'<rect width="{width}" height="{height}" fill="white"/>']
    for k, m in enumerate(varying):
        x, y = (k % ncols) * _CELL[0], _TOP + (k // ncols) * _CELL[1]
        body += _panel(x, y, m, np.asarray(sd[m], dtype=np.float64).ravel(), bins, log)
    if constant:
        k = len(varying)
        x, y = (k % ncols) * _CELL[0] + 20, _TOP + (k // ncols) * _CELL[1] + _MARGINS[2]
        body.append(_text(x + (_CELL[0] - 40) / 2, y - 10, "constant metrics", 15, font_weight="bold"))
        lines = [f"same value in all {n} images", "(no spread: not linted)", ""]
        lines += [f"{m} = {float(np.asarray(sd[m], dtype=np.float64).ravel()[0]):.6g}" for m in constant]
        for j, line in enumerate(lines):
            body.append(
                _text(x, y + 14 + 17 * j, line, 13, "start", font_family="DejaVu Sans Mono, monospace")
            )
        # a long list (14 constant metrics on same-sized grey images) runs below its cell: grow the page
        height = max(height, math.ceil(y + 14 + 17 * (len(lines) - 1) + 12))
        body[0] = f'<rect width="{width}" height="{height}" fill="white"/>'
    if not names:
        body.append(_text(width / 2, _TOP + _CELL[1] / 2, "no scalar statistics", 14))
    heading = title or f"Image statistics, {n} images ({'log' if log else 'linear'} y axis, {bins} bins)"
    body.append(_text(width / 2, 30, heading, 18, font_weight="bold"))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">'
        + "".join(body)
        + "</svg>\n"
    )
