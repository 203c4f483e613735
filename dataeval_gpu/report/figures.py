"""The report's figures: each section asks for a figure by name, all are drawn once, then embedded.

Sections call :meth:`FigureJobs.add` while the page is assembled and get a placeholder; the
figures are drawn after (each exactly once, a figure already drawn under that name is
copied instead) and :meth:`FigureJobs.fill` puts the embedded PNGs in place of the
placeholders.  A figure that fails becomes a note: one failed plot must not lose the report.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .page import esc, figure_html

__all__ = ["FigureJobs"]

logger = logging.getLogger(__name__)
_TOKEN = re.compile("\x00figure:([^\x00]*)\x00")


@dataclass
class _Job:
    name: str
    make: Callable[[Path], Any]
    caption: str
    html: str = ""


class FigureJobs:
    """Figures of one report: written to ``plot_dir/<name>.png`` and embedded in the page."""

    def __init__(self, plot_dir: Path, drawn: Mapping[str, str | os.PathLike] | None = None) -> None:
        self.dir = plot_dir
        self.drawn = dict(drawn or {})
        self.jobs: dict[str, _Job] = {}
        self.written: list[Path] = []

    @staticmethod
    def _token(name: str) -> str:
        return f"\x00figure:{name}\x00"

    def add(self, name: str, make: Callable[[Path], Any], caption: str) -> str:
        """Ask for figure ``name`` (drawn by ``make(path)``); return its placeholder in the page."""
        if name not in self.jobs:
            self.jobs[name] = _Job(name, make, caption)
        return self._token(name)

    def _run(self, job: _Job) -> None:
        path = self.dir / f"{job.name}.png"
        try:
            src = self.drawn.get(job.name)
            if src is not None and Path(src).is_file():
                if Path(src).resolve() != path.resolve():
                    shutil.copyfile(src, path)
            else:
                make_figure = job.make
                make_figure(path)
        except Exception as exc:  # noqa: BLE001 - one failed plot must not lose the report
            logger.warning("plot %s not written: %s", job.name, exc)
            job.html = f'<p class="note">plot {esc(job.name)} could not be drawn: {esc(exc)}</p>'
            return
        self.written.append(path)
        job.html = figure_html(path, job.caption, alt=job.name)

    def render(self) -> None:
        """Draw (or copy) every figure asked for, once."""
        for job in self.jobs.values():
            if not job.html:
                self._run(job)

    def fill(self, text: str) -> str:
        """``text`` with every placeholder replaced by its embedded figure."""
        return _TOKEN.sub(lambda m: self.jobs[m.group(1)].html, text)
