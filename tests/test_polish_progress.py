"""On a terminal that reports 0 columns (an unsized pty) the progress bars printed nothing
(tqdm's width 0): they fall back to ``COLUMNS`` or 80 characters; a sized terminal's width is
followed as before."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios

import pytest

from dataeval_gpu.progress import FALLBACK_COLUMNS, bar_width, progress_bar


def _drawn(monkeypatch: pytest.MonkeyPatch, cols: int) -> list[str]:
    """What a bar at 3 of 5 draws on a pty ``cols`` wide (0: unsized): its first line (0 of 5,
    padded to the width), then the line at 3 of 5."""
    master, slave = pty.openpty()
    if cols:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    stream = os.fdopen(slave, "w")
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        with progress_bar(total=5, desc="scan", enable=True) as bar:
            bar.update(3)
            bar.refresh()
            stream.flush()
            data = b""
            while select.select([master], [], [], 0.3)[0]:
                data += os.read(master, 65536)
    finally:
        monkeypatch.undo()
        stream.close()
        os.close(master)
    lines = [s for s in re.split(r"[\r\n]", data.decode("utf-8", "replace")) if s.strip()]
    return lines


def test_unsized_terminal_draws_an_80_column_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    first, at3 = _drawn(monkeypatch, 0)
    assert first.startswith("scan:") and "0/5" in first and "3/5" in at3, (first, at3)
    assert len(first) == FALLBACK_COLUMNS == 80


def test_unsized_terminal_takes_columns_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    first, at3 = _drawn(monkeypatch, 0)
    assert "3/5" in at3 and len(first) == 60, (first, at3)


def test_sized_terminal_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    first, at3 = _drawn(monkeypatch, 50)
    assert "3/5" in at3 and len(first) == 49, (first, at3)  # tqdm keeps the last column free


def test_not_a_terminal_is_left_to_tqdm() -> None:
    import io

    assert bar_width(io.StringIO()) == {"dynamic_ncols": True}
