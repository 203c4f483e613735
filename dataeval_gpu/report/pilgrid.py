"""Image grids drawn straight with Pillow for the HTML report: the look of :func:`.grids.draw_grid`
(a title over each cell, a bold figure title, images at true intensity keeping their aspect
ratio) at a small fraction of matplotlib's time (no axes, no tick machinery), so the report
does not import matplotlib for its grids.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .grids import GridSpec
from .images import as_chw, to_display_over_checker

__all__ = ["cell_boxes", "render_grid", "font"]

_DPI = 100  # pixels per inch, as the matplotlib figures
_PAD = 6  # pixels around an image inside its cell
_TITLE_BAND = 55  # pixels above the cells for the figure title
_CELL_TITLE = 52  # pixels of each cell kept for its title (up to three lines)
#: PNG compression: the grids are photographs, which level 9 shrinks by a few percent only
_PNG_LEVEL = 1
#: JPEG (the report's grids): no chroma subsampling, so thin title strokes and pixel art stay sharp
_JPEG = {"quality": 90, "subsampling": 0}


_local = threading.local()  # FreeType faces are not safe to share between threads: one set per thread


def font(size: int, bold: bool = False) -> Any:
    """DejaVu Sans (matplotlib's font, read from its package without importing it) or Pillow's own."""
    fonts = _local.__dict__.setdefault("fonts", {})
    if (size, bold) not in fonts:
        fonts[(size, bold)] = _load_font(size, bold)
    return fonts[(size, bold)]


def _load_font(size: int, bold: bool) -> Any:
    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        ttf = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / name
        if ttf.is_file():
            return ImageFont.truetype(str(ttf), size)
    return ImageFont.load_default(size)


def _cell_image(get_image: Callable[[int], Any] | None, index: int, box: tuple[int, int]) -> Any:
    """The cell's picture fitted into ``box`` (w, h), or the text to show instead."""
    from PIL import Image

    if get_image is None:
        return f"#{index}\n(no image source)"
    try:
        im = _pil_image(get_image(index))
    except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the report
        return f"#{index}\ncould not load:\n{str(exc)[:40]}"
    scale = min(box[0] / im.width, box[1] / im.height)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    small = max(im.size) < 96  # tiny images keep their pixels visible
    return im.resize(size, Image.Resampling.NEAREST if small else Image.Resampling.BILINEAR)


def _pil_image(image: Any) -> Any:
    """The Pillow image a cell shows: a grey or RGB uint8 image as it is (what the display scaling
    gives back for it, without the round trip through floats), anything else through
    :func:`to_display_over_checker` (other depths, alpha over the checkerboard)."""
    from PIL import Image

    a = as_chw(image)
    if a.dtype == np.uint8 and a.shape[0] == 1:
        return Image.fromarray(np.ascontiguousarray(a[0]), "L")
    if a.dtype == np.uint8 and a.shape[0] == 3:
        return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), "RGB")
    disp, grey = to_display_over_checker(a)
    return Image.fromarray((disp * 255.0 + 0.5).astype(np.uint8), "L" if grey else "RGB")


def _centered(draw: Any, xy: tuple[float, float], text: str, size: int, bold: bool = False) -> None:
    draw.multiline_text(
        xy, text, fill=(0, 0, 0), font=font(size, bold), anchor="ma", align="center", spacing=2
    )


def render_grid(spec: GridSpec, get_image: Callable[[int], Any] | None, path: str | os.PathLike) -> Path:
    """Draw ``spec`` into ``path`` (JPEG for ``.jpg``, else PNG) and return the path.

    The report writes its grids as JPEG: five to ten times faster to encode than PNG for
    photographs, and a third of the size in the page.
    """
    from PIL import Image, ImageDraw

    prefetch = getattr(get_image, "prefetch", None)
    if callable(prefetch):
        prefetch(spec.indices)
    cw, ch, band, width, height, x_off = _layout(spec)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    box = (cw - 2 * _PAD, ch - _CELL_TITLE - _PAD)
    for r, row in enumerate(spec.rows):
        for c, cell in enumerate(row):
            if cell is None:
                continue
            x0, y0 = x_off + c * cw, band + r * ch
            lines = cell[1].count("\n") + 1
            _centered(draw, (x0 + cw / 2, y0 + _CELL_TITLE - 4 - 14 * lines), cell[1], 12)
            pic = _cell_image(get_image, cell[0], box)
            top = y0 + _CELL_TITLE
            if isinstance(pic, str):
                _centered(draw, (x0 + cw / 2, top + box[1] / 2 - 20), pic, 10)
            else:
                canvas.paste(pic, (x0 + (cw - pic.width) // 2, top + (box[1] - pic.height) // 2))
    if not spec.rows:
        _centered(draw, (width / 2, _TITLE_BAND + ch / 2 - 8), spec.empty, 15)
    if spec.title:
        _centered(draw, (width / 2, 10), _wrap(spec.title, width), 16, bold=True)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".jpg", ".jpeg"):
        canvas.save(out, format="JPEG", **_JPEG)
    else:
        canvas.save(out, format="PNG", compress_level=_PNG_LEVEL)
    return out


def _layout(spec: GridSpec) -> tuple[int, int, int, int, int, int]:
    """The pixels of a drawn grid: a cell's width and height, the title band, the canvas's
    width and height, the cells' left offset."""
    cw, ch = round(spec.cell[0] * _DPI), round(spec.cell[1] * _DPI)
    ncols, nrows = spec.ncols, max(1, len(spec.rows))
    band = _TITLE_BAND if spec.title or not spec.rows else _PAD  # a strip without a title: no band
    width = ncols * cw if band == _PAD else max(ncols * cw, 400)  # a strip: as wide as its cells
    return cw, ch, band, width, nrows * ch + band, (width - ncols * cw) // 2


def cell_boxes(spec: GridSpec) -> list[tuple[int, float, float, float, float]]:
    """Where each cell of ``spec`` lies in the drawn grid, in percent of the canvas (so that
    the page's tooltips over the picture follow it when the page scales it): ``(index, left,
    top, width, height)`` per non-empty cell, in reading order."""
    cw, ch, band, width, height, x_off = _layout(spec)
    return [
        (cell[0], 100 * (x_off + c * cw) / width, 100 * (band + r * ch) / height, 100 * cw / width, 100 * ch / height)
        for r, row in enumerate(spec.rows)
        for c, cell in enumerate(row)
        if cell is not None
    ]


def _wrap(text: str, width: int, size: int = 16) -> str:
    """The title on at most two lines that fit ``width`` pixels (DejaVu Sans is ~0.6 em per character)."""
    import textwrap

    max_chars = max(20, int(width / (0.62 * size)))
    return "\n".join(textwrap.wrap(text, max_chars)[:2]) if len(text) > max_chars else text
