"""The guide's plots: metric histograms, per-channel histograms and image grids.

Every function builds a :class:`matplotlib.figure.Figure` directly (no ``pyplot`` state, no
window: rendering uses Agg), saves it when ``path`` is given and returns it.  Images are
fetched lazily, one at a time, through ``get_image(index) -> (C, H, W) array`` (see
:func:`image_getter`), so a grid over a million-image dataset reads only the images shown.

Images are shown at their true intensity (uint8 over 0–255, other types scaled by DataEval's
bit-depth rule), never stretched per image: a dark image looks dark.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..functional import registry
from ..functional.bitdepth import bit_depth, depth_scale
from ..labels import class_name

__all__ = [
    "GUIDE_METRICS",
    "GUIDE_CHANNEL_METRICS",
    "image_getter",
    "to_display",
    "sample_indices",
    "metric_histograms",
    "channel_histograms",
    "group_channel_stats",
    "image_grid",
    "class_samples_grid",
    "flagged_metric_grid",
    "duplicates_grid",
    "outliers_grid",
    "label_counts_plot",
]

#: the metrics the guide plots, in its order (then the others a report may hold)
GUIDE_METRICS = registry.GUIDE_PLOT_ORDER
_MORE_METRICS = tuple(m for m in registry.image_keys() if m not in GUIDE_METRICS and registry.get(m).shape == ())
GUIDE_CHANNEL_METRICS = ("mean", "std", "var", "skew", "kurtosis", "entropy")

_UNITS = registry.units()
_THUMB = 256  # longest side of an image drawn in a grid


#: inches kept inside each cell for the tick labels, axis labels and title: (left, right, top, bottom)
_PLOT_MARGINS = (0.72, 0.18, 0.38, 0.58)
_IMAGE_MARGINS = (0.06, 0.06, 0.52, 0.06)
_TOP_BAND = 0.55  # inches above the cells for the figure title


def _figure(
    nrows: int,
    ncols: int,
    cell_w: float,
    cell_h: float,
    margins: tuple[float, float, float, float] = _PLOT_MARGINS,
) -> tuple[Any, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` cells of ``cell_w`` x ``cell_h`` inches, axes placed by hand.

    Fixed margins instead of a layout engine: the same look as constrained layout for these
    regular grids, at half the drawing time (the layout solver dominated large grids).
    """
    from matplotlib.figure import Figure

    width = max(ncols * cell_w, 4.0)
    height = nrows * cell_h + _TOP_BAND
    fig = Figure(figsize=(width, height), dpi=100)
    left, right, top, bottom = margins
    x_off = (width - ncols * cell_w) / 2
    axs = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        for j in range(ncols):
            x0 = x_off + j * cell_w + left
            y0 = height - _TOP_BAND - (i + 1) * cell_h + bottom
            rect = (
                x0 / width,
                y0 / height,
                (cell_w - left - right) / width,
                (cell_h - top - bottom) / height,
            )
            axs[i, j] = fig.add_axes(rect)
    return fig, axs


def _suptitle(fig: Any, text: str, size: float = 12) -> None:
    """The figure title, wrapped to the figure's width (two lines fit the top band)."""
    import textwrap

    width, height = fig.get_size_inches()
    max_chars = max(20, int(width * 72 / (0.62 * size)))
    if len(text) > max_chars:
        text = "\n".join(textwrap.wrap(text, max_chars)[:2])
        size = min(size, 11)
    fig.suptitle(text, fontsize=size, fontweight="bold", y=1 - 0.1 / height, va="top")


def _save(fig: Any, path: str | os.PathLike | None) -> Any:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=fig.dpi, facecolor="white")
    return fig


def _stats_dict(stats: Any) -> dict[str, Any]:
    if hasattr(stats, "dict") and callable(stats.dict):
        return dict(stats.dict())
    return dict(stats)


# ----------------------------------------------------------------------------- images
def _chw(arr: Any) -> np.ndarray:
    if hasattr(arr, "detach"):
        arr = arr.detach().cpu().numpy()
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"expected an image as (C, H, W) or (H, W), got shape {a.shape}")
    return a


def to_display(image: Any) -> tuple[np.ndarray, bool]:
    """``(H, W, 3)`` or ``(H, W)`` float in [0, 1] and whether it is grey, at true intensity.

    uint8 is divided by 255; other types follow DataEval's bit-depth rule (the smallest d in
    {1, 8, 12, 16, 32} with 2^d > max; values already in [0, 1] stay; negative data is
    min–max scaled).  NaN shows as 0.  One channel is grey, two show the first, four and
    more show the first three.
    """
    a = _chw(image)
    if a.dtype == np.bool_:
        x = a.astype(np.float32)
    elif a.dtype == np.uint8:
        x = a.astype(np.float32) / 255.0
    else:
        x = a.astype(np.float64)
        finite = x[np.isfinite(x)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 1.0
        if lo < 0:
            x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        elif hi > 1:
            x = x / float(depth_scale(bit_depth(0.0, hi)))
        x = np.nan_to_num(x, nan=0.0)
    x = np.clip(x, 0.0, 1.0)
    c = x.shape[0]
    if c in (1, 2):
        return x[0], True
    return np.moveaxis(x[:3], 0, -1), False


def _thumb(disp: np.ndarray, limit: int = _THUMB) -> np.ndarray:
    h, w = disp.shape[:2]
    if max(h, w) <= limit:
        return disp
    from PIL import Image

    scale = limit / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    u8 = (disp * 255.0 + 0.5).astype(np.uint8)
    return np.asarray(Image.fromarray(u8).resize(size, Image.Resampling.BILINEAR)).astype(np.float32) / 255.0


def _load_path(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("L", "RGB", "I;16", "I", "F"):
            im = im.convert("RGB")
        arr = np.asarray(im)
    return arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)


def image_getter(images: Any = None, report: Any = None) -> Callable[[int], np.ndarray] | None:
    """A ``get_image(index) -> (C, H, W) array`` for the grids, or None when none can be made.

    ``images`` may already be such a callable, or anything indexable by dataset index (a list
    of arrays / tensors, a torch ``Dataset`` whose items are ``(image, ...)``).  Without it,
    the images are read from ``report.paths`` (files decoded with PIL, one at a time).
    """
    if images is not None:
        if callable(images) and not hasattr(images, "__getitem__"):
            return lambda i: _chw(images(int(i)))

        def from_seq(i: int) -> np.ndarray:
            item = images[int(i)]
            if isinstance(item, (tuple, list)) and item and hasattr(item[0], "shape"):
                item = item[0]
            if isinstance(item, Mapping) and "image" in item:
                item = item["image"]
            return _chw(item)

        return from_seq
    paths = getattr(report, "paths", None) if report is not None else None
    if paths and any(Path(str(p)).is_file() for p in list(paths.values())[:5]):
        return lambda i: _load_path(paths[int(i)])
    return None  # no pixels to show (paths that are names, not files, included)


def sample_indices(indices: Sequence[int], n: int, seed: int = 0) -> list[int]:
    """Up to ``n`` of ``indices`` chosen with ``numpy.random.default_rng(seed)`` (all of them when fewer)."""
    idx = [int(i) for i in indices]
    if len(idx) <= n:
        return idx
    rng = np.random.default_rng(seed)
    return [idx[k] for k in sorted(rng.choice(len(idx), size=n, replace=False).tolist())]


def _draw(ax: Any, get_image: Callable[[int], Any] | None, index: int) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    if get_image is None:
        ax.text(
            0.5,
            0.5,
            f"#{index}\n(no image source)",
            ha="center",
            va="center",
            fontsize=8,
            transform=ax.transAxes,
        )
        return
    try:
        disp, grey = to_display(get_image(index))
    except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the report
        ax.text(0.5, 0.5, f"#{index}\ncould not load:\n{str(exc)[:40]}", ha="center", va="center", fontsize=7,
                transform=ax.transAxes, wrap=True)  # fmt: skip
        return
    disp = _thumb(disp)
    small = max(disp.shape[:2]) < 96
    interp = "nearest" if small else "antialiased"
    if grey:
        ax.imshow(disp, cmap="gray", vmin=0.0, vmax=1.0, interpolation=interp)
    else:
        ax.imshow(disp, interpolation=interp)


def image_grid(
    indices: Sequence[int],
    get_image: Callable[[int], Any] | None,
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    suptitle: str | None = None,
    cell: float = 2.3,
    path: str | os.PathLike | None = None,
) -> Any:
    """A grid of images (``ncols`` per row) with a title over each and a figure title."""
    idx = [int(i) for i in indices]
    ncols = max(1, min(ncols, len(idx))) if idx else 1
    nrows = max(1, math.ceil(len(idx) / ncols))
    fig, axs = _figure(nrows, ncols, cell, cell + 0.5, _IMAGE_MARGINS)
    for k, ax in enumerate(axs.flat):
        if k >= len(idx):
            ax.axis("off")
            continue
        _draw(ax, get_image, idx[k])
        ax.set_title(titles[k] if titles is not None else f"#{idx[k]}", fontsize=9)
    if not idx:
        axs[0, 0].axis("off")
        axs[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center", fontsize=11)
    if suptitle:
        _suptitle(fig, suptitle)
    return _save(fig, path)


def _label_text(index: int, labels: Any, class_names: Sequence[str] | None) -> str:
    if labels is None:
        return ""
    try:
        lab = labels[index]
    except (KeyError, IndexError, TypeError):
        return "(unlabelled)"
    return class_name(lab, class_names)


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def class_samples_grid(
    index_location: Mapping[Hashable, Sequence[int]],
    get_image: Callable[[int], Any] | None,
    *,
    seed: int = 0,
    ncols: int = 5,
    path: str | os.PathLike | None = None,
) -> Any:
    """One randomly chosen image per class (the guide's first look at the data), titled by class."""
    rng = np.random.default_rng(seed)
    picks, titles = [], []
    for cls, idx in index_location.items():
        if len(idx):
            i = int(idx[int(rng.integers(len(idx)))])
            picks.append(i)
            titles.append(f"{_short(str(cls))}\n#{i}")
    return image_grid(
        picks, get_image, titles=titles, ncols=ncols, path=path,
        suptitle=f"One random image per class (seed {seed})",
    )  # fmt: skip


def flagged_metric_grid(
    issues: Mapping[int, Mapping[str, float]],
    metric: str,
    get_image: Callable[[int], Any] | None,
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    n: int = 12,
    seed: int = 0,
    ncols: int = 4,
    path: str | os.PathLike | None = None,
) -> Any:
    """A seeded sample of the images the Linter flagged for ``metric``, ordered by the value.

    Each title: index, class and the flagged value.
    """
    flagged = sorted(int(i) for i, m in issues.items() if metric in m)
    shown = sample_indices(flagged, n, seed)
    shown.sort(key=lambda i: issues[i][metric])
    titles = []
    for i in shown:
        lab = _label_text(i, labels, class_names)
        head = f"#{i}" + (f" · {_short(lab, 16)}" if lab else "")
        titles.append(f"{head}\n{metric} = {issues[i][metric]:.4g}")
    sup = f"Flagged for {metric}: {len(shown)} of {len(flagged)} images"
    if len(shown) < len(flagged):
        sup += f" (random sample, seed {seed})"
    return image_grid(shown, get_image, titles=titles, ncols=ncols, suptitle=sup, path=path)


def duplicates_grid(
    groups: Sequence[Sequence[int]],
    get_image: Callable[[int], Any] | None,
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    kind: str = "exact",
    max_groups: int = 6,
    max_per_group: int = 5,
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Any:
    """Duplicate groups side by side: one row per group, its images left to right.

    Titles give the index and class of each image (a group whose classes differ is a copy
    labelled two ways); a group larger than ``max_per_group`` ends with ``+k more``.
    """
    total = len(groups)
    groups = [sorted(int(i) for i in g) for g in groups][:max_groups]
    title = title or f"{kind.capitalize()} duplicates"
    if not groups:
        return image_grid([], None, suptitle=f"{title}: none found", path=path)
    ncols = min(max(len(g) for g in groups), max_per_group)
    ncols = max(ncols, 2)
    fig, axs = _figure(len(groups), ncols, 2.3, 2.8, _IMAGE_MARGINS)
    for r, g in enumerate(groups):
        for c in range(ncols):
            ax = axs[r, c]
            if c >= len(g) or c >= max_per_group:
                ax.axis("off")
                continue
            i = g[c]
            _draw(ax, get_image, i)
            lab = _label_text(i, labels, class_names)
            cell = f"#{i}" + (f" · {_short(lab, 16)}" if lab else "")
            if c == 0:
                cell = f"group {r + 1} ({len(g)} images)\n" + cell
            if c == ncols - 1 and len(g) > ncols:
                cell += f"\n+{len(g) - ncols} more"
            ax.set_title(cell, fontsize=9)
    _suptitle(fig, f"{title}: {len(groups)} of {total} group(s), one per row")
    return _save(fig, path)


def outliers_grid(
    indices: Sequence[int],
    get_image: Callable[[int], Any] | None,
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    scores: Mapping[int, float] | None = None,
    n: int = 16,
    seed: int = 0,
    ncols: int = 4,
    title: str = "Clusterer outliers",
    path: str | os.PathLike | None = None,
) -> Any:
    """Cluster outliers with their labels (the guide's last grid); a seeded sample when many."""
    idx = sorted(int(i) for i in indices)
    shown = sample_indices(idx, n, seed)
    titles = []
    for i in shown:
        lab = _label_text(i, labels, class_names)
        t = f"#{i}" + (f"\n{_short(lab)}" if lab else "")
        if scores and i in scores:
            t += f" (z={scores[i]:.2f})"
        titles.append(t)
    sup = f"{title}: {len(shown)} of {len(idx)}"
    if len(shown) < len(idx):
        sup += f" (random sample, seed {seed})"
    return image_grid(shown, get_image, titles=titles, ncols=ncols, suptitle=sup, path=path)


# ----------------------------------------------------------------------------- histograms
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
    sd = _stats_dict(stats)
    names = _scalar_metrics(sd, metrics)
    n = len(np.asarray(sd[names[0]])) if names else 0
    varying, constant = [], []
    for m in names:
        v = np.asarray(sd[m], dtype=np.float64)
        finite = v[np.isfinite(v)]
        (
            constant if finite.size and finite.min() == finite.max() and finite.size == v.size else varying
        ).append(m)
    panels = len(varying) + (1 if constant else 0)
    nrows = max(1, math.ceil(panels / ncols))
    fig, axs = _figure(nrows, ncols, 4.2, 3.1)
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
        ax.set_xlabel(f"{m} ({_UNITS[m]})" if m in _UNITS else m, fontsize=9)
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
    _suptitle(
        fig, title or f"Image statistics, {n} images ({'log' if log else 'linear'} y axis, {bins} bins)", 13
    )
    return _save(fig, path)


def group_channel_stats(channel_stats: Any) -> dict[int, dict[str, np.ndarray]]:
    """``{C: {metric: (C, N_C) array}}`` from any per-channel statistics layout.

    Accepts a ``channelstats`` output (``out.metric[C]`` is ``(C, N_C)``), its ``.dict()``,
    or ``AuditReport.channel_stats`` (rows ``ch_<metric>`` with ``ch_index`` / ``ch_channel``).
    """
    sd = _stats_dict(channel_stats)
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
    fig, axs = _figure(nrows, ncols, 4.2, 3.1)
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
            ax.set_xlabel(f"{m} ({_UNITS[m]})" if m in _UNITS else m, fontsize=9)
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
    _suptitle(fig, f"Channel statistics by channel count ({counts})", 13)
    return _save(fig, path)


def _n(group: Mapping[str, np.ndarray]) -> int:
    for v in group.values():
        return int(np.asarray(v).shape[1])
    return 0


def label_counts_plot(label_stats: Any, *, path: str | os.PathLike | None = None) -> Any:
    """Objects and images per class as horizontal bars (the guide's label table, drawn)."""
    classes = list(label_stats.classes)
    objects = [label_stats.label_counts_per_class.get(c, 0) for c in classes]
    images = [label_stats.image_counts_per_class.get(c, 0) for c in classes]
    multi = label_stats.is_multilabel
    h = max(2.5, (0.45 if multi else 0.3) * len(classes) + 1.4)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, h), layout="constrained", dpi=100)
    ax = fig.add_subplot()
    y = np.arange(len(classes))
    if multi:
        b1 = ax.barh(y - 0.2, objects, height=0.4, label="objects", color="#3b6ea8")
        b2 = ax.barh(y + 0.2, images, height=0.4, label="images containing the class", color="#e08a2c")
        ax.bar_label(b1, fontsize=8, padding=2)
        ax.bar_label(b2, fontsize=8, padding=2)
        ax.legend(fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    else:
        b = ax.barh(y, images, height=0.7, color="#3b6ea8")
        ax.bar_label(b, fontsize=8, padding=2)
    ax.set_yticks(y, [_short(str(c), 28) for c in classes], fontsize=9)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.set_xlabel("count" if multi else "images", fontsize=10)
    ax.set_ylabel("class", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(
        f"Labels: {label_stats.label_count} objects of {label_stats.class_count} classes in "
        f"{label_stats.image_count} images",
        fontsize=11, fontweight="bold",
    )  # fmt: skip
    return _save(fig, path)
