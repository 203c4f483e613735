"""A Ctrl-C while the scan's heavy modules import (numpy's C extension, torch) ends the program
with its one line and status 130.  Before, the ``KeyboardInterrupt`` raised inside an import could
turn into numpy's ``ImportError`` ("PyCapsule_Import could not import module datetime": an
internal-error traceback, status 1) or be lost in importlib's callbacks (the scan went on, status
0): the imports now run under the entry point's quiet handler (cli_entry.interrupt_message)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: SIGINT at the moment numpy's C extension imports ``datetime`` (from C: PyCapsule_Import)
HOOK = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "datetime" and "numpy" in sys.modules:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
from dataeval_gpu.cli_entry import run
sys.argv[0] = "dataeval-gpu"
sys.exit(run())
"""


@pytest.mark.integration
@pytest.mark.parametrize("every", [20, 0])
def test_ctrl_c_inside_numpys_c_import(tmp_path: Path, every: int) -> None:
    (tmp_path / "in").mkdir()
    args = [
        "scan",
        str(tmp_path / "in"),
        "--out",
        str(tmp_path / "out"),
        "--no-progress",
        "--checkpoint-every",
        str(every),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", HOOK, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    why = "before the first checkpoint (every 20 batches)" if every else "with --checkpoint-every 0"
    assert proc.stderr == f"dataeval-gpu: error: interrupted {why}: nothing was saved to --resume\n", (
        proc.stderr
    )
    assert proc.returncode == 130
    assert not (tmp_path / "out").exists()  # nothing written: the output folder is made after the imports


@pytest.mark.integration
def test_checkpoint_left_by_an_earlier_run_is_named(tmp_path: Path) -> None:
    """An earlier interrupted run's checkpoint is still there: the line says how to go on."""
    from dataeval_gpu.cli import CHECKPOINT

    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / CHECKPOINT).write_bytes(b"x")
    args = ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", HOOK, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert proc.stderr == (
        f"dataeval-gpu: error: interrupted; the scan so far is saved in {tmp_path / 'out' / CHECKPOINT}: "
        "run the same command with --resume to continue\n"
    ), proc.stderr
    assert proc.returncode == 130
