"""Progress bars: tqdm on a terminal, silent otherwise (or when asked).

:func:`progress_bar` counts images (the scan loop); :func:`phase_steps` shows the named steps
of a phase after it (the detectors, saving the results, the HTML report), so that a long
phase on a big collection is never silent.  Both write to stderr through tqdm only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: a kernels' warm-up longer than this (seconds) was numba compiling them (the first scan after
#: an install): the log and the command's last line say so
COMPILE_NOTE_S = 3.0
#: the bars' width and height on a terminal that reports 0 x 0 (an unsized pty: tqdm took it
#: as -1 x -1 and drew nothing)
FALLBACK_COLUMNS, FALLBACK_ROWS = 80, 24


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix_str(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def progress_enabled(enable: bool | None) -> bool:
    """``None`` means: on when stderr is a terminal and DATAEVAL_GPU_PROGRESS is not "0"."""
    if enable is not None:
        return enable
    if os.environ.get("DATAEVAL_GPU_PROGRESS", "") == "0":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def bar_width(stream: Any) -> dict[str, Any]:
    """tqdm's size settings for ``stream``: follow the terminal's size, or on one that reports
    0 columns or rows (an unsized pty) ``COLUMNS`` / ``LINES`` when set, else
    :data:`FALLBACK_COLUMNS` x :data:`FALLBACK_ROWS`."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return {"dynamic_ncols": True}  # not a terminal: tqdm's own choice
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}

    def env(name: str, reported: int, default: int) -> int:
        text = os.environ.get(name, "")
        return reported if reported > 0 else int(text) if text.isdigit() and int(text) > 0 else default

    return {"ncols": env("COLUMNS", size.columns, FALLBACK_COLUMNS), "nrows": env("LINES", size.lines, FALLBACK_ROWS)}


@contextmanager
def progress_bar(
    total: int | None = None, desc: str = "", enable: bool | None = None, unit: str = "img", bar_format: str | None = None
) -> Iterator[Any]:
    """A tqdm bar (images per second; ``bar_format``: tqdm's) or a no-op stand-in."""
    if not progress_enabled(enable):
        yield _NullBar()
        return
    from tqdm.auto import tqdm

    width = bar_width(sys.stderr)
    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, bar_format=bar_format, **width)
    try:
        yield bar
    finally:
        bar.close()


class Steps:
    """The steps of one phase on a bar: calling it with a step's name marks the previous step
    done and shows the name; :meth:`detail` adds how far the running step is."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.current: str | None = None

    def __call__(self, name: str) -> None:
        if self.current is not None:
            self.bar.update(1)
        self.current = name
        self.bar.set_postfix_str(name)

    def detail(self, text: str) -> None:
        self.bar.set_postfix_str(f"{self.current} {text}" if self.current else text)

    def finish(self) -> None:
        if self.current is not None:
            self.bar.update(1)
            self.current = None


@contextmanager
def phase_steps(desc: str, steps: Sequence[str], enable: bool | None = None) -> Iterator[Steps]:
    """A bar over the named ``steps`` of a phase after the scan loop (``desc``: the phase).

    Examples
    --------
    >>> with phase_steps("save", ["table", "results.csv"], enable=False) as step:
    ...     step("table")
    ...     step("results.csv"); step.detail("50 %")
    """
    # no rate or time left: the steps take very different times
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}{postfix}]"
    with progress_bar(total=len(steps), desc=desc, enable=enable, unit="step", bar_format=fmt) as bar:
        steps_bar = Steps(bar)
        yield steps_bar
        steps_bar.finish()
