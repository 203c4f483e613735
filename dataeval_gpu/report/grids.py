"""Image grids (flagged samples, duplicate groups, outliers, one image per class) and the label bars.

Images come through ``get_image(index) -> (C, H, W)`` (see :func:`.images.image_getter`);
a grid asks its source to prefetch the images it shows (in parallel, each decoded once per
report) before drawing them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..labels import class_name
from .images import sample_indices, shrink_display, to_display_over_checker
from .layout import IMAGE_MARGINS, new_figure, save_figure, suptitle
from .page import format_number

__all__ = [
    "GridSpec",
    "image_grid_spec",
    "class_samples_spec",
    "class_samples_left_out",
    "flagged_metric_spec",
    "duplicates_spec",
    "outliers_spec",
    "draw_grid",
    "image_grid",
    "class_samples_grid",
    "flagged_metric_grid",
    "duplicates_grid",
    "outliers_grid",
    "label_counts_plot",
    "label_text",
    "short_text",
    "middle_text",
    "file_cells",
]


def _prefetch(get_image: Callable[[int], Any] | None, indices: Sequence[int]) -> None:
    prefetch = getattr(get_image, "prefetch", None)
    if callable(prefetch):
        prefetch(indices)


def _draw(ax: Any, get_image: Callable[[int], Any] | None, index: int) -> None:
    ax.set_axis_off()  # no ticks, spines or frame: cheaper than emptying the tick lists (no Tick objects)
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
        disp, grey = to_display_over_checker(get_image(index))
    except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the report
        ax.text(0.5, 0.5, f"#{index}\ncould not load:\n{str(exc)[:40]}", ha="center", va="center", fontsize=7,
                transform=ax.transAxes, wrap=True)  # fmt: skip
        return
    disp = shrink_display(disp)
    small = max(disp.shape[:2]) < 96
    interp = "nearest" if small else "antialiased"
    if grey:
        ax.imshow(disp, cmap="gray", vmin=0.0, vmax=1.0, interpolation=interp)
    else:
        ax.imshow(disp, interpolation=interp)


@dataclass
class GridSpec:
    """What an image grid shows: rows of cells ``(index, title)`` (None: an empty cell) and a title.

    Built once by the ``*_spec`` functions and drawn by matplotlib (:func:`draw_grid`, the
    public grid functions) or by Pillow (:func:`.pilgrid.render_grid_png`, the HTML report).
    """

    rows: list[list[tuple[int, str] | None]]
    title: str = ""
    cell: tuple[float, float] = (2.3, 2.8)  # inches (100 px each) per cell, title included
    empty: str = "nothing to show"
    #: each cell's tooltip in the HTML report (index -> plain text: the full path and index); none: no tooltips
    tips: dict[int, str] = field(default_factory=dict)

    @property
    def ncols(self) -> int:
        return max((len(r) for r in self.rows), default=1) or 1

    @property
    def indices(self) -> list[int]:
        return [c[0] for r in self.rows for c in r if c is not None]


def image_grid_spec(
    indices: Sequence[int],
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    suptitle: str | None = None,
    cell: float = 2.3,
) -> GridSpec:
    """``indices`` ``ncols`` per row, titled by ``titles`` (default ``#index``)."""
    idx = [int(i) for i in indices]
    cells: list[tuple[int, str] | None] = [
        (i, titles[k] if titles is not None else f"#{i}") for k, i in enumerate(idx)
    ]
    ncols = max(1, min(ncols, len(idx))) if idx else 1
    rows = [cells[r : r + ncols] for r in range(0, len(cells), ncols)]
    if rows and len(rows[-1]) < ncols:
        rows[-1] = rows[-1] + [None] * (ncols - len(rows[-1]))
    return GridSpec(rows, suptitle or "", (cell, cell + 0.5))


def draw_grid(
    spec: GridSpec, get_image: Callable[[int], Any] | None, path: str | os.PathLike | None = None
) -> Any:
    """Draw a :class:`GridSpec` as a matplotlib Figure (saved when ``path`` is given)."""
    _prefetch(get_image, spec.indices)
    nrows, ncols = max(1, len(spec.rows)), spec.ncols
    fig, axs = new_figure(nrows, ncols, spec.cell[0], spec.cell[1], IMAGE_MARGINS)
    for r in range(nrows):
        for c in range(ncols):
            ax = axs[r, c]
            cell = spec.rows[r][c] if r < len(spec.rows) and c < len(spec.rows[r]) else None
            if cell is None:
                ax.axis("off")
                continue
            _draw(ax, get_image, cell[0])
            ax.set_title(cell[1], fontsize=9)
    if not spec.rows:
        axs[0, 0].axis("off")
        axs[0, 0].text(0.5, 0.5, spec.empty, ha="center", va="center", fontsize=11)
    if spec.title:
        suptitle(fig, spec.title)
    return save_figure(fig, path)


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
    spec = image_grid_spec(indices, titles, ncols=ncols, suptitle=suptitle, cell=cell)
    return draw_grid(spec, get_image, path)


def label_text(index: int, labels: Any, class_names: Sequence[str] | None) -> str:
    """The class of image ``index`` as a grid's title shows it (``""`` without labels)."""
    if labels is None:
        return ""
    try:
        lab = labels[index]
    except (KeyError, IndexError, TypeError):
        return "(unlabelled)"
    return class_name(lab, class_names)


def short_text(text: str, n: int = 22) -> str:
    """``text`` cut to ``n`` characters (the last one an ellipsis)."""
    return text if len(text) <= n else text[: n - 1] + "…"


def middle_text(text: str, n: int = 22) -> str:
    """``text`` in at most ``n`` characters, cut in the middle (an ellipsis there): a file name
    keeps its start and its end, where names differ most (``IMG_2019…0412.jpg``).

    >>> middle_text("IMG_20190412_173502_HDR.jpg", 18), middle_text("a.png", 18)
    ('IMG_2019…2_HDR.jpg', 'a.png')
    """
    if len(text) <= n:
        return text
    tail = n // 2  # the end (the extension, a name's last digits) gets the odd character
    return text[: n - 1 - tail] + "…" + text[len(text) - tail :]


def file_cells(indices: Sequence[int], names: Mapping[int, str] | None, n: int = 22) -> tuple[dict[int, str], dict[int, str]]:
    """The file-name line of each grid cell (the file's name alone, :func:`middle_text`) and its
    tooltip (``#index · path``), for the ``indices`` with a path in ``names`` (each file's path
    in the scanned folder, :func:`~.tables.inside_folder`: as the report's tables name it)."""
    lines: dict[int, str] = {}
    tips: dict[int, str] = {}
    for i in indices:
        path = (names or {}).get(int(i))
        if path is None:
            continue
        text = str(path)
        lines[int(i)] = middle_text(text.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or text, n)
        tips[int(i)] = f"#{int(i)} · {text}"
    return lines, tips


def class_samples_spec(
    index_location: Mapping[Hashable, Sequence[int]], *, seed: int = 0, ncols: int = 5
) -> GridSpec:
    """The cells of :func:`class_samples_grid`."""
    rng = np.random.default_rng(seed)
    picks, titles = [], []
    for cls, idx in index_location.items():
        if len(idx):
            i = int(idx[int(rng.integers(len(idx)))])
            picks.append(i)
            titles.append(f"{short_text(str(cls))}\n#{i}")
    return image_grid_spec(picks, titles, ncols=ncols, suptitle=f"One random image per class (seed {seed})")


def class_samples_left_out(
    index_location: Mapping[Hashable, Sequence[int]], failed: Mapping[int, Any] | Sequence[int]
) -> str:
    """The classes the one-image-per-class grid cannot show, said beneath it (nothing silently
    dropped): ``"Not in the grid: c (all 2 images failed to load)."``; ``""`` when every class is shown."""
    left = []
    for cls, idx in index_location.items():
        if not len(idx):
            left.append(f"{short_text(str(cls), 40)} (no image)")
        elif all(int(i) in failed for i in idx):
            left.append(f"{short_text(str(cls), 40)} (" + ("its image" if len(idx) == 1 else f"all {len(idx)} images")
                        + " failed to load)")  # fmt: skip
    return f"Not in the grid: {', '.join(left)}." if left else ""


def class_samples_grid(
    index_location: Mapping[Hashable, Sequence[int]],
    get_image: Callable[[int], Any] | None,
    *,
    seed: int = 0,
    ncols: int = 5,
    path: str | os.PathLike | None = None,
) -> Any:
    """One randomly chosen image per class (the guide's first look at the data), titled by class."""
    return draw_grid(class_samples_spec(index_location, seed=seed, ncols=ncols), get_image, path)


def flagged_metric_spec(
    issues: Mapping[int, Mapping[str, float]],
    metric: str,
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    n: int = 12,
    seed: int = 0,
    ncols: int = 4,
    names: Mapping[int, str] | None = None,
) -> GridSpec:
    """The cells of :func:`flagged_metric_grid`: each titled with its index and class, its file's
    name (``names``: each index's path in the scanned folder) and the value; that path and the
    index are the cell's tooltip in the HTML report."""
    flagged = sorted(int(i) for i, m in issues.items() if metric in m)
    shown = sample_indices(flagged, n, seed)
    shown.sort(key=lambda i: issues[i][metric])
    files, tips = file_cells(shown, names, 28)  # a 230-px cell holds ~28 characters of 12-px text
    titles = []
    for i in shown:
        lab = label_text(i, labels, class_names)
        head = f"#{i}" + (f" · {short_text(lab, 16)}" if lab else "")
        file_line = f"\n{files[i]}" if i in files else ""
        titles.append(f"{head}{file_line}\n{metric} = {format_number(issues[i][metric])}")
    sup = f"Flagged for {metric}: {len(shown)} of {len(flagged)} images"
    if len(shown) < len(flagged):
        sup += f" (random sample, seed {seed})"
    spec = image_grid_spec(shown, titles, ncols=ncols, suptitle=sup)
    spec.tips = tips
    return spec


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
    spec = flagged_metric_spec(
        issues, metric, labels=labels, class_names=class_names, n=n, seed=seed, ncols=ncols
    )
    return draw_grid(spec, get_image, path)


def duplicates_spec(
    groups: Sequence[Sequence[int]],
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    kind: str = "exact",
    max_groups: int = 6,
    max_per_group: int = 5,
    title: str | None = None,
) -> GridSpec:
    """The cells of :func:`duplicates_grid`: one row per group."""
    total = len(groups)
    groups = [sorted(int(i) for i in g) for g in groups][:max_groups]
    title = title or f"{kind.capitalize()} duplicates"
    if not groups:
        return GridSpec([], f"{title}: none found")
    ncols = max(min(max(len(g) for g in groups), max_per_group), 2)
    rows: list[list[tuple[int, str] | None]] = []
    for r, g in enumerate(groups):
        row: list[tuple[int, str] | None] = []
        for c in range(ncols):
            if c >= len(g):
                row.append(None)
                continue
            i = g[c]
            lab = label_text(i, labels, class_names)
            cell = f"#{i}" + (f" · {short_text(lab, 16)}" if lab else "")
            if c == 0:
                cell = f"group {r + 1} ({len(g)} images)\n" + cell
            if c == ncols - 1 and len(g) > ncols:
                cell += f"\n+{len(g) - ncols} more"
            row.append((i, cell))
        rows.append(row)
    return GridSpec(rows, f"{title}: {len(groups)} of {total} group(s), one per row")


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
    spec = duplicates_spec(
        groups, labels=labels, class_names=class_names, kind=kind, max_groups=max_groups,
        max_per_group=max_per_group, title=title,
    )  # fmt: skip
    return draw_grid(spec, get_image if spec.rows else None, path)


def outliers_spec(
    indices: Sequence[int],
    *,
    labels: Any = None,
    class_names: Sequence[str] | None = None,
    scores: Mapping[int, float] | None = None,
    n: int = 16,
    seed: int = 0,
    ncols: int = 4,
    title: str = "Clusterer outliers",
) -> GridSpec:
    """The cells of :func:`outliers_grid`."""
    idx = sorted(int(i) for i in indices)
    shown = sample_indices(idx, n, seed)
    titles = []
    for i in shown:
        lab = label_text(i, labels, class_names)
        t = f"#{i}" + (f"\n{short_text(lab)}" if lab else "")
        if scores and i in scores:
            t += f" (z={scores[i]:.2f})"
        titles.append(t)
    sup = f"{title}: {len(shown)} of {len(idx)}"
    if len(shown) < len(idx):
        sup += f" (random sample, seed {seed})"
    return image_grid_spec(shown, titles, ncols=ncols, suptitle=sup)


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
    spec = outliers_spec(
        indices,
        labels=labels,
        class_names=class_names,
        scores=scores,
        n=n,
        seed=seed,
        ncols=ncols,
        title=title,
    )
    return draw_grid(spec, get_image, path)


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
    ax.set_yticks(y, [short_text(str(c), 28) for c in classes], fontsize=9)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.set_xlabel("count" if multi else "images", fontsize=10)
    ax.set_ylabel("class", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    empty = sum(1 for c in classes if not label_stats.image_counts_per_class.get(c, 0))  # listed, with 0
    fig.suptitle(
        f"Labels: {label_stats.label_count} objects of {label_stats.class_count} classes in "
        f"{label_stats.image_count} images" + (f" ({empty} more class{'es' if empty > 1 else ''} with no image)" if empty else ""),
        fontsize=11, fontweight="bold",
    )  # fmt: skip
    return save_figure(fig, path)
