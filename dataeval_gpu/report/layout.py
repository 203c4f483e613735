"""Figure layout shared by every plot: cells placed by hand, a wrapped title, saving.

matplotlib is imported inside the functions, so importing the report package stays light.
"""

from __future__ import annotations

import os
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PLOT_MARGINS", "IMAGE_MARGINS", "TOP_BAND", "new_figure", "suptitle", "save_figure", "stats_dict"]

#: inches kept inside each cell for the tick labels, axis labels and title: (left, right, top, bottom)
PLOT_MARGINS = (0.72, 0.18, 0.38, 0.58)
IMAGE_MARGINS = (0.06, 0.06, 0.52, 0.06)
TOP_BAND = 0.55  # inches above the cells for the figure title


def new_figure(
    nrows: int,
    ncols: int,
    cell_w: float,
    cell_h: float,
    margins: tuple[float, float, float, float] = PLOT_MARGINS,
) -> tuple[Any, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` cells of ``cell_w`` x ``cell_h`` inches, axes placed by hand.

    Fixed margins instead of a layout engine: the same look as constrained layout for these
    regular grids, at half the drawing time (the layout solver dominated large grids).
    """
    from matplotlib.figure import Figure

    width = max(ncols * cell_w, 4.0)
    height = nrows * cell_h + TOP_BAND
    fig = Figure(figsize=(width, height), dpi=100)
    left, right, top, bottom = margins
    x_off = (width - ncols * cell_w) / 2
    axs = np.empty((nrows, ncols), dtype=object)
    for i in range(nrows):
        for j in range(ncols):
            x0 = x_off + j * cell_w + left
            y0 = height - TOP_BAND - (i + 1) * cell_h + bottom
            rect = (
                x0 / width,
                y0 / height,
                (cell_w - left - right) / width,
                (cell_h - top - bottom) / height,
            )
            axs[i, j] = fig.add_axes(rect)
    return fig, axs


def suptitle(fig: Any, text: str, size: float = 12) -> None:
    """The figure title, wrapped to the figure's width (two lines fit the top band)."""
    width, height = fig.get_size_inches()
    max_chars = max(20, int(width * 72 / (0.62 * size)))
    if len(text) > max_chars:
        text = "\n".join(textwrap.wrap(text, max_chars)[:2])
        size = min(size, 11)
    fig.suptitle(text, fontsize=size, fontweight="bold", y=1 - 0.1 / height, va="top")


def save_figure(fig: Any, path: str | os.PathLike | None) -> Any:
    """Save ``fig`` as a PNG at ``path`` (folders made) when a path is given; return ``fig``."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():  # a class named in CJK: one warning per glyph, the box is drawn
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
            fig.savefig(path, dpi=fig.dpi, facecolor="white")
    return fig


def stats_dict(stats: Any) -> dict[str, Any]:
    """``{name: values}`` from a statistics output (``.dict()``) or any mapping."""
    if hasattr(stats, "dict") and callable(stats.dict):
        return dict(stats.dict())
    return dict(stats)
