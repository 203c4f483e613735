"""The report's figures: each section asks for a figure by name, all are drawn once, then embedded.

Sections call :meth:`FigureJobs.add` while the page is assembled and get a placeholder; the
figures are drawn after (each exactly once; a figure already drawn under that name is
copied instead): first every image the grids show is decoded, in parallel and once, then
the figures that do not use matplotlib (Pillow grids, SVG charts) are drawn in a thread
pool and the matplotlib ones one after the other (matplotlib is not thread-safe).
:meth:`FigureJobs.fill` puts the embedded images in place of the placeholders.  A figure
that fails becomes a note: one failed plot must not lose the report.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .page import MIME_TYPES, esc, figure_html

__all__ = ["FigureJobs"]

logger = logging.getLogger(__name__)
_TOKEN = re.compile("\x00figure:([^\x00]*)\x00")


@dataclass
class _Job:
    name: str
    make: Callable[[Path], Any]
    caption: str
    ext: str
    indices: Sequence[int]
    threaded: bool
    html: str = ""
    thumb: int | None = None  # the longest side its pictures need (None: the full thumbnail size)
    overlay: str = ""  # HTML laid over the picture (a grid's tooltips)


class FigureJobs:
    """Figures of one report: written to ``plot_dir/<name>.<ext>`` and embedded in the page."""

    def __init__(self, plot_dir: Path, drawn: Mapping[str, str | os.PathLike] | None = None) -> None:
        self.dir = plot_dir
        self.drawn = dict(drawn or {})
        self.jobs: dict[str, _Job] = {}
        self.written: list[Path] = []

    def add(
        self,
        name: str,
        make: Callable[[Path], Any],
        caption: str,
        *,
        ext: str = "png",
        indices: Sequence[int] = (),
        threaded: bool = False,
        thumb: int | None = None,
        overlay: str = "",
    ) -> str:
        """Ask for figure ``name``, drawn by ``make(path)``; return its placeholder in the page.

        ``indices``: the images it shows (decoded ahead, in parallel); ``threaded``: ``make``
        may run in a thread next to others (no matplotlib); ``thumb``: its pictures are small,
        at most this many pixels a side (an image no other figure shows is decoded that small);
        ``overlay``: HTML laid over the picture (:func:`.context.cell_tips`).
        """
        if name not in self.jobs:
            self.jobs[name] = _Job(name, make, caption, ext, list(indices), threaded, thumb=thumb, overlay=overlay)
        return f"\x00figure:{name}\x00"

    def _run(self, job: _Job) -> Path | None:
        try:
            src = self.drawn.get(job.name)
            if src is not None and Path(src).is_file():
                path = self.dir / f"{job.name}{Path(src).suffix.lower()}"
                if Path(src).resolve() != path.resolve():
                    shutil.copyfile(src, path)
            else:
                path = self.dir / f"{job.name}.{job.ext}"
                make_figure = job.make
                make_figure(path)
        except Exception as exc:  # noqa: BLE001 - one failed plot must not lose the report
            logger.warning("plot %s not written: %s", job.name, exc)
            job.html = f'<p class="note">plot {esc(job.name)} could not be drawn: {esc(exc)}</p>'
            return None
        job.html = figure_html(path, job.caption, alt=job.name, overlay=job.overlay)
        return path

    def render(self, get_image: Any = None, threads: int | None = None) -> None:
        """Draw (or copy) every figure asked for, once; ``get_image.prefetch`` decodes their images first."""
        todo = [j for j in self.jobs.values() if not j.html]
        prefetch = getattr(get_image, "prefetch", None)
        if callable(prefetch):  # each image once, at the largest size a figure needs
            drawn_here = [j for j in todo if j.name not in self.drawn]
            full = [i for j in drawn_here if j.thumb is None for i in j.indices]
            prefetch(full)
            small = {j.thumb for j in drawn_here if j.thumb is not None}
            if small:
                done = set(full)
                prefetch([i for j in drawn_here if j.thumb is not None for i in j.indices if i not in done], max(small))
        threads = threads if threads is not None else min(4, os.cpu_count() or 1)
        pooled = [j for j in todo if j.threaded]
        if threads > 1 and len(pooled) > 1:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                paths = list(pool.map(self._run, pooled))
        else:
            paths = [self._run(j) for j in pooled]
        paths += [self._run(j) for j in todo if not j.threaded]
        self.written += [p for p in paths if p is not None]

    def fill(self, text: str) -> str:
        """``text`` with every placeholder replaced by its embedded figure."""
        return _TOKEN.sub(lambda m: self.jobs[m.group(1)].html, text)

    def remove_stale(self) -> None:
        """Delete figure files in the plot folder that this report did not write (an earlier report's)."""
        written = {p.resolve() for p in self.written}
        for old in self.dir.iterdir():
            if old.suffix.lower() in MIME_TYPES and old.is_file() and old.resolve() not in written:
                old.unlink()
