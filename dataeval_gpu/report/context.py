"""What the report's sections share: :class:`ReportContext` (the audit report, labels, flagged
images, the image source, the figures asked for) and the two ways a section asks for a figure
drawn without matplotlib (:func:`grid_figure`: a Pillow image grid; :func:`svg_figure`: an SVG chart).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..discovery import text_path
from . import tables
from .dup_groups import embedding_rows
from .figures import FigureJobs
from .grids import GridSpec
from .page import esc
from .pilgrid import cell_boxes, render_grid

__all__ = ["ReportContext", "Section", "cell_tips", "grid_figure", "make_context", "svg_figure"]

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
    #: ``{dataset index: embedding row}`` (the embedding duplicates' cosines), or None
    embeddings: dict[int, np.ndarray] | None = None
    _sets: Any = field(default=None, repr=False)
    _paths: dict[int, str] | None = field(default=None, repr=False)
    _root: str = field(default="", repr=False)

    def names(self, indices: Any) -> dict[int, str]:
        """The path in the scanned folder of each of ``indices`` (:func:`~.tables.inside_folder`),
        as the report's tables show it (the absolute path is in results.csv); the folder is found
        once, the paths made only for the rows shown (200,000 paths: 1.3 s CPU all, 0.5 s so)."""
        paths = self.report.paths or {}
        if not paths:
            return {}
        if self._paths is None:
            self._paths = {int(i): str(p) for i, p in paths.items()}
            self._root = tables.common_folder(self._paths)
        return tables.in_folder(self._paths, self._root, only=[int(i) for i in indices])

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

    @property
    def label_sets(self) -> tables.ClassSets | None:
        """Each labelled image's classes, read once for all the tables (None: no labels)."""
        if not self.labels:
            return None
        if self._sets is None:
            self._sets = tables.class_sets(self.labels, self.class_names)
        return self._sets


def _no_label(lab: Any) -> bool:
    if lab is None:
        return True
    if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
        return int(lab) == -1
    return False


def make_context(report: Any, figs: FigureJobs, get_image: Any, **options: Any) -> ReportContext:
    """The context of one report (``options``: seed, max_grid, channel_stats, notes, extra_figures,
    embeddings: what :func:`~.dup_groups.embedding_rows` takes, default the report's ``embeddings``
    attribute where it has one)."""
    from ..labels import label_stats

    emb = options.pop("embeddings", None)
    emb = (getattr(report, "embeddings", None) or None) if emb is None else emb  # {}: none kept
    in_groups = {int(i) for g in (getattr(report, "duplicates", None) or {}).get("embedding", []) for i in g}

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
        embeddings=embedding_rows(emb, report, in_groups) if in_groups else None,
        **options,
    )


def grid_figure(ctx: ReportContext, name: str, spec: GridSpec, caption: str, thumb: int | None = None) -> str:
    """Ask for an image grid (drawn with Pillow, a JPEG): its placeholder."""
    get_image = ctx.get_image
    return ctx.figs.add(
        name,
        lambda p: render_grid(spec, get_image, p),
        caption,
        ext="jpg",
        indices=spec.indices,
        threaded=True,
        thumb=thumb,
        overlay=cell_tips(spec),
    )


def cell_tips(spec: GridSpec) -> str:
    """The HTML over a drawn grid that gives each cell with a tip (``spec.tips``: its file's full
    path and index) a tooltip: one empty ``<span>`` per such cell, placed in percent of the picture
    (:func:`.pilgrid.cell_boxes`), the text escaped for an attribute; ``""`` without tips."""
    if not spec.tips:
        return ""
    return "".join(
        f'<span style="left:{x:.2f}%;top:{y:.2f}%;width:{w:.2f}%;height:{h:.2f}%" title="{esc(spec.tips[i])}"></span>'
        for i, x, y, w, h in cell_boxes(spec)
        if i in spec.tips
    )


def svg_figure(ctx: ReportContext, name: str, make_svg: Any, caption: str) -> str:
    """Ask for an SVG chart (``make_svg() -> str``): its placeholder."""
    return ctx.figs.add(
        name, lambda p: p.write_text(make_svg(), encoding="utf-8"), caption, ext="svg", threaded=True
    )
