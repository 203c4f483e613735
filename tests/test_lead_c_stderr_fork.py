"""A process forked while another thread of its parent captures the decoder's stderr (c_stderr):
the child's own captures work (its lock was inherited held: every call ran uncaptured) and what
the child writes to stderr reaches the real stderr (its fd 2 pointed at the parent's capture file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = r"""
import ctypes, os, sys, threading
from dataeval_gpu.c_stderr import CStderr
libc = ctypes.CDLL(None)
inside, done = threading.Event(), threading.Event()
def hold():
    with CStderr() as cap:
        inside.set()
        done.wait()
    msg = b"parent-held: " + repr(cap.lines).encode() + b"\n"
    os.write(1, msg)
t = threading.Thread(target=hold)
t.start()
inside.wait()
pid = os.fork()
if pid == 0:
    libc.write(2, b"child plain line\n", 17)
    line = b"libpng warning: iCCP: known incorrect sRGB profile\n"
    with CStderr() as cap:
        libc.write(2, line, len(line))
    os.write(1, b"child: " + repr(cap.lines).encode() + b"\n")
    os._exit(0)
os.waitpid(pid, 0)
done.set()
t.join()
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_child_forked_during_a_capture() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    got = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    assert "child: ['libpng warning: iCCP: known incorrect sRGB profile']" in got.stdout
    assert "child plain line" in got.stderr  # the real stderr, not the parent's capture file
    assert "parent-held: []" in got.stdout  # the parent's capture holds nothing of the child's
