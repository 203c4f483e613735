"""Progress bars: tqdm on a terminal, silent otherwise (or when asked)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
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


@contextmanager
def progress_bar(total: int | None = None, desc: str = "", enable: bool | None = None, unit: str = "img") -> Iterator[Any]:
    """A tqdm bar (images per second) or a no-op stand-in."""
    if not progress_enabled(enable):
        yield _NullBar()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)
    try:
        yield bar
    finally:
        bar.close()
