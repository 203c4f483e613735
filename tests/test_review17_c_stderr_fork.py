"""review17: a child forked at the edge of a capture (c_stderr) - right after fd 2 was pointed at
the capture file, or right before it is put back - gets the real stderr back.  The fork-safety
hook (5520206) read ``_active["saved"]``, which was set only after the redirection and cleared
before the restore: a child forked in either window kept fd 2 on the parent's capture file, and
its decoder line became the parent's image's note.  The windows are hit on purpose: ``os.dup2``
inside ``c_stderr`` forks there once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = r"""
import ctypes, os, sys
import dataeval_gpu.c_stderr as cs
libc = ctypes.CDLL(None)
real, when, armed = os, sys.argv[1], [True]

def fork_child():
    if not armed[0]:
        return
    armed[0] = False  # once (the child's fork hook calls dup2 too)
    pid = real.fork()
    if pid == 0:
        line = b"libpng warning: the child's line\n"
        libc.write(2, line, len(line))
        real._exit(0)
    real.waitpid(pid, 0)

class ForkingOs:
    def __getattr__(self, name):
        return getattr(real, name)

    def dup2(self, fd, fd2, *rest):
        sink = cs._sink_file().fileno()
        if when == "exit" and fd2 == 2 and fd != sink:
            fork_child()  # right before fd 2 is put back
        out = real.dup2(fd, fd2, *rest)
        if when == "enter" and fd == sink:
            fork_child()  # right after fd 2 points at the capture file
        return out

cs.os = ForkingOs()
with cs.CStderr() as cap:
    pass
cs.os = real
print("parent:", cap.lines)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("when", ["enter", "exit"])
def test_child_forked_at_the_edge_of_a_capture(when: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    got = subprocess.run([sys.executable, "-c", CODE, when], capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    assert "parent: []" in got.stdout  # the parent's capture holds nothing of the child's
    assert got.stderr.count("libpng warning: the child's line") == 1  # the real stderr, once
