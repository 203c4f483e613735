"""The output folder's lock belongs to the scan's process alone: a forked DataLoader worker that
outlives its killed scan must not keep the folder locked (``--resume`` right after a kill was
refused with 'another dataeval-gpu scan (process N) is writing there')."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataeval_gpu.cli import CommandLineError, out_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks")

ROOT = str(Path(__file__).resolve().parents[1])


def _holder(out: Path, fork_child: bool) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import os, sys, time
        sys.path.insert(0, {ROOT!r})
        from pathlib import Path
        from dataeval_gpu.cli import out_lock
        with out_lock(Path({str(out)!r})):
            child = os.fork() if {fork_child!r} else 0
            if {fork_child!r} and child == 0:  # a worker: inherits every open file, sleeps on
                time.sleep(60)
                os._exit(0)
            print(child, flush=True)
            time.sleep(60)
        """
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_a_live_scan_holds_the_folder(tmp_path: Path) -> None:
    proc = _holder(tmp_path, fork_child=False)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "0"
        with pytest.raises(CommandLineError, match=rf"another dataeval-gpu scan \(process {proc.pid}\)"):
            with out_lock(tmp_path):
                pass
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_a_killed_scans_forked_worker_does_not_keep_the_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path, fork_child=True)
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline().strip())
        assert child > 0
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        os.kill(child, 0)  # the worker still lives (and holds the lock file open)
        entered = False
        with out_lock(tmp_path):  # an flock would still be held by the worker: refused
            entered = True
        assert entered
    finally:
        if child > 0:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
