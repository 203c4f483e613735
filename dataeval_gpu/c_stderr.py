"""What a C decoder writes to the process's stderr, caught around one call.

libpng (in torchvision's PNG decoder) prints its warnings with ``fprintf(stderr, ...)``:
``libpng warning: iCCP: known incorrect sRGB profile``, ``libpng warning: sBIT: bad length``.
A scan of a few hundred such PNGs filled the terminal with them, unattributed (kstars-data: 127
lines among the progress bar), while the images decode fine.  :class:`CStderr` points file
descriptor 2 at a temporary file for the duration of one decoder call and hands the decoder's
lines back, so that they become a note of that image (``decoder_note`` in ``results.csv``);
any other line written in that window (not a decoder's) is written back to the real stderr,
so nothing else is lost.  Where fd 2 cannot be redirected (closed) the call runs as before
(its messages lost as they would be).  fd 2 is one per process: while one thread captures, a call in another
thread writes into the same file, so a capture that overlapped another thread's call (one that
found fd 2 taken) cannot tell whose decoder lines it holds: it attributes none (a missing note
rather than another image's; they were its note before) and logs them at DEBUG level instead
(``dataeval_gpu.c_stderr``; the report's thumbnail threads stay quiet, as ``decode_bytes`` says).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from typing import Any

__all__ = ["CStderr", "DECODER_LINE"]

logger = logging.getLogger(__name__)

#: the lines a C image decoder prints (libpng's warnings and errors, libjpeg's corrupt-data messages)
DECODER_LINE = re.compile(r"^(libpng (warning|error)|Corrupt JPEG data|Premature end of JPEG|Invalid SOS|Warning: )")

_lock = threading.Lock()
_count = threading.Lock()  # guards _state
_state = {"others": 0, "mixed": False}  # calls running uncaptured; whether they overlapped the capture
_sink: dict[int, Any] = {}  # pid -> the temporary file (a forked worker makes its own)
_active = {"saved": -1}  # the real stderr's copy while a capture holds fd 2 (for a forked child)


def _after_fork_in_child() -> None:
    """A child forked while another thread of its parent captured starts with that capture's
    lock held (every call of the child then ran uncaptured) and its fd 2 pointing at the parent's
    capture file (the child's stderr went into the parent's capture): both put back."""
    global _lock, _count
    _lock, _count = threading.Lock(), threading.Lock()
    _state.update(others=0, mixed=False)
    if _active["saved"] >= 0:
        try:
            os.dup2(_active["saved"], 2)
        except OSError:  # the copy is gone: stderr stays as the fork left it
            pass
        _active["saved"] = -1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _sink_file() -> Any:
    pid = os.getpid()
    f = _sink.get(pid)
    if f is None:
        _sink.clear()  # a forked child: the parent's file is shared, not ours
        f = _sink[pid] = _above_stdio(tempfile.TemporaryFile())
    return f


def _above_stdio(f: Any) -> Any:
    """``f``, or a copy of it on a descriptor above 2: where fd 2 was closed the file took it, and
    every later write to stderr went into it, read back by each capture (fd 2 now stays closed,
    and a capture runs as before)."""
    if f.fileno() > 2:
        return f
    low = []
    fd = os.dup(f.fileno())
    while fd <= 2:
        low.append(fd)
        fd = os.dup(fd)
    for d in low:
        os.close(d)
    f.close()
    return os.fdopen(fd, "w+b")


class CStderr:
    """``with CStderr() as cap: decode(...)``; then ``cap.lines``: the decoder's lines (stripped).

    Examples
    --------
    >>> import ctypes
    >>> libc = ctypes.CDLL(None)
    >>> msg = b"libpng warning: iCCP: known incorrect sRGB profile\\n"
    >>> with CStderr() as cap:
    ...     _ = libc.write(2, msg, len(msg))
    >>> cap.lines
    ['libpng warning: iCCP: known incorrect sRGB profile']
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._saved = -1
        self._other = False

    def __enter__(self) -> CStderr:
        if not _lock.acquire(blocking=False):
            # another thread is capturing: fd 2 is already redirected, and what this call's decoder
            # prints lands in that capture's file, which then cannot attribute its lines
            with _count:
                _state["others"] += 1
                _state["mixed"] = True
            self._other = True
            return self
        with _count:
            _state["mixed"] = _state["others"] > 0  # an uncaptured call still running writes here too
        try:
            self._fd = _sink_file().fileno()
            self._saved = os.dup(2)
            _active["saved"] = self._saved  # before fd 2 moves: a child forked from here on puts it back
            os.dup2(self._fd, 2)
        except OSError:  # no stderr to redirect (fd 2 closed)
            _active["saved"] = -1
            if self._saved >= 0:
                os.close(self._saved)
            self._saved = -1
            _lock.release()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._other:
            with _count:
                _state["others"] -= 1
            self._other = False
            return
        if self._saved < 0:
            return
        try:
            os.dup2(self._saved, 2)
            _active["saved"] = -1  # after fd 2 is back: a child forked until here finds the copy open
            os.close(self._saved)
            size = os.lseek(self._fd, 0, os.SEEK_CUR)
            if size:
                os.lseek(self._fd, 0, os.SEEK_SET)
                text = _read_all(self._fd, size).decode("utf-8", "replace")
                os.lseek(self._fd, 0, os.SEEK_SET)
                os.ftruncate(self._fd, 0)
                with _count:
                    mixed = _state["mixed"]
                other = []  # not the decoder's: back where it was going, as written (a progress bar's "\r")
                unowned = []  # a decoder's, but whose: another thread's call overlapped this capture
                for line in text.splitlines(keepends=True):
                    if not DECODER_LINE.match(line):
                        other.append(line)
                    elif mixed:
                        unowned.append(line.strip())
                    else:
                        self.lines.append(line.strip())
                if unowned:
                    logger.debug("decoder lines of overlapping threads' calls, not attributed: %s", "; ".join(unowned))
                if other:
                    _write_all(2, "".join(other).encode())
        finally:
            self._saved = -1
            _lock.release()


def _write_all(fd: int, data: bytes) -> None:
    """``data`` to ``fd`` whole (``os.write`` may write part of it: a pipe, a long text)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd`` (one ``os.read`` returns at most ~2 GiB)."""
    parts = []
    while size > 0:
        part = os.read(fd, size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
