"""review16: defects found reviewing newuser6's c_stderr / workers, decode9's png_key (each test fails before its fix)."""

from __future__ import annotations

import ctypes
import threading

import pytest

from dataeval_gpu.c_stderr import CStderr

_libc = ctypes.CDLL(None)


def _c_write(text: str) -> None:
    data = text.encode()
    _libc.write(2, data, len(data))


def test_c_stderr_does_not_attribute_another_threads_lines(capfd: pytest.CaptureFixture[str]) -> None:
    """fd 2 is one per process: a decoder line printed by a second thread while the first captures
    went into the first's note (the second thread's image lost its line, the first got a wrong one)."""
    capturing, written = threading.Event(), threading.Event()
    caps: dict[str, CStderr] = {}

    def first() -> None:
        with CStderr() as cap:
            caps["first"] = cap
            capturing.set()
            written.wait(10)
            _c_write("libpng warning: first image\n")

    def second() -> None:
        capturing.wait(10)
        with CStderr() as cap:
            caps["second"] = cap
            _c_write("libpng warning: second image\n")
        written.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    err = capfd.readouterr().err
    assert "libpng warning: second image" not in caps["first"].lines
    # neither can be attributed for sure: both go to stderr as they would without the capture
    assert caps["first"].lines == [] and caps["second"].lines == []
    assert "libpng warning: second image\n" in err and "libpng warning: first image\n" in err
    # the next capture, alone, attributes its lines again
    with CStderr() as cap:
        _c_write("libpng warning: alone\n")
    assert cap.lines == ["libpng warning: alone"]
