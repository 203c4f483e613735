"""One self-contained HTML report: summary, tables and plots, images embedded as base64 PNG.

:func:`write_report` renders every plot of :mod:`.plots` into ``out_dir/plots/*.png`` and
writes ``out_dir/report.html``, which embeds those same PNGs (``data:image/png;base64``)
and inline CSS: no script, no font, no link to anything outside the file, so it opens
offline, from a mail attachment or a CI artifact.

The page is assembled in three steps: the sections (:mod:`.sections`) build their HTML and
ask for figures by name, every figure is drawn once (:mod:`.figures`), and the page
(:mod:`.page`) embeds them.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .figures import FigureJobs
from .images import image_getter
from .page import figure_html, html_document, table_html
from .sections import SECTIONS, make_context

__all__ = ["write_report", "figure_html", "table_html", "html_document"]

logger = logging.getLogger(__name__)


def write_report(
    report: Any,
    out_dir: str | os.PathLike,
    images: Any = None,
    max_grid: int = 12,
    *,
    channel_stats: Any = None,
    title: str | None = None,
    seed: int = 0,
    extra_figures: Sequence[tuple[str, str | os.PathLike, str]] = (),
    notes: Sequence[str] = (),
    drawn: Mapping[str, str | os.PathLike] | None = None,
    progress: bool | None = False,
    embeddings: Any = None,
) -> Path:
    """Write ``out_dir/report.html`` and the PNGs it embeds (``out_dir/plots/``); return the HTML path.

    ``out_dir/plots/`` belongs to the report: PNGs left there by an earlier report are removed.

    Parameters
    ----------
    report : an :class:`~dataeval_gpu.audit.AuditReport` (statistics, linter issues,
        duplicates, cluster findings, labels, class names, paths).  A label of ``-1`` or
        ``None`` means "no label" (the audit's convention for flat folders and file lists).
    images : where the grids get their pixels: ``get_image(index) -> (C, H, W)``, or a
        sequence / Dataset indexed by dataset index.  Default: decode ``report.paths`` (with
        the measurement's decoding rules, EXIF orientation included, at thumbnail size).
        Without either, the image grids are left out (the rest of the report is written).
    max_grid : images per grid (flagged-metric samples, outliers); duplicate grids show up to
        ``max(2, max_grid // 2)`` groups.
    channel_stats : per-channel statistics (``channelstats`` output) when ``report.channel_stats``
        is empty.
    title, seed : the page title; the seed of every random sample shown.
    extra_figures : ``(heading, png path, caption)`` shown in an "Additional figures" section.
    notes : paragraphs (plain text) shown under the summary.
    drawn : PNGs already drawn by the same plot calls, by plot name (``histograms``,
        ``histograms_log``, ``channel_histograms``, ``class_samples``, ``flagged_<metric>``,
        ...): copied into ``plots/`` instead of drawn again.
    progress : show the report's steps (sections, figures and image grids, the page) on a bar
        (stderr; ``None``: on a terminal).
    embeddings : the images' embeddings, for the cosine similarity of each embedding duplicate
        group: ``(dataset indices, (N, D) rows)``, ``{index: row}``, or ``(N, D)`` rows in
        ``report.index``'s order; default ``report.embeddings`` where the report has one
        (without them the groups are shown without a cosine).
    """
    from ..progress import phase_steps

    with phase_steps("report", ["sections", "figures", "page"], enable=progress) as step:
        step("sections")
        return _write(report, out_dir, images, max_grid, step, channel_stats=channel_stats, title=title, seed=seed,
                      extra_figures=extra_figures, notes=notes, drawn=drawn, embeddings=embeddings)  # fmt: skip


def _write(
    report: Any,
    out_dir: str | os.PathLike,
    images: Any,
    max_grid: int,
    step: Any,
    *,
    channel_stats: Any,
    title: str | None,
    seed: int,
    extra_figures: Sequence[tuple[str, str | os.PathLike, str]],
    notes: Sequence[str],
    drawn: Mapping[str, str | os.PathLike] | None,
    embeddings: Any,
) -> Path:
    out = Path(out_dir)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    figs = FigureJobs(plot_dir, drawn)
    ctx = make_context(
        report,
        figs,
        image_getter(images, report),
        seed=seed,
        max_grid=max_grid,
        channel_stats=channel_stats,
        notes=notes,
        extra_figures=extra_figures,
        embeddings=embeddings,
    )
    sections = [s for s in (build(ctx) for build in SECTIONS) if s is not None]
    step("figures")
    figs.render(ctx.get_image)
    step("page")
    sections = [(anchor, heading, figs.fill(body)) for anchor, heading, body in sections]

    from .. import __version__

    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    dataset = report.config.get("dataset") if report.config else None
    subtitle = [
        f"{ctx.n_images} images"
        + (f" · {dataset}" if dataset else "")
        + f" · dataeval-gpu {__version__} · {now}"
    ]
    page = html_document(title or "Data cleaning report", subtitle, sections)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8", errors="backslashreplace")  # a folder name that is not UTF-8
    figs.remove_stale()  # plots/ is the report's: drop the figures of an earlier report
    logger.info("report written to %s (%d plots)", path, len(figs.written))
    return path
