"""review9: the first-run parallel compile forks nothing where numba compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.test_compile_warmup import KERNEL_MODULE

ROOT = Path(__file__).resolve().parents[1]

NO_JIT = """
import json, torch
from dataeval_gpu.audit import DataAudit
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.kernel_warmup import compile_ahead, kernels_cached, module_kernels
acc = DataAudit(device="cpu").make_accumulator("cpu")
images = [torch.zeros(3, 40, 48, dtype=torch.uint8), torch.zeros(1, 40, 48, dtype=torch.uint8)]
print(json.dumps({"kernels": len(module_kernels(quality_compiled)), "cached": kernels_cached(quality_compiled),
                  "forked": compile_ahead(acc, images)}))
"""


def test_compile_ahead_forks_nothing_with_numba_jit_disabled(tmp_path: Path) -> None:
    """NUMBA_DISABLE_JIT=1: the kernels are plain Python functions, nothing is cached or compiled;
    forking the groups' processes on every scan only cost time (0.4 s wall, 2 processes, before)."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(NO_JIT)], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {"kernels": 0, "cached": False, "forked": 0}


STALE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tinykernel
from dataeval_gpu.kernel_warmup import kernels_cached
before = kernels_cached(tinykernel)
if sys.argv[2] == "call":
    tinykernel.twice(21)
print(json.dumps({"before": before, "after": kernels_cached(tinykernel)}))
"""


def _stale_run(tmp_path: Path, cache: Path, action: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STALE), str(tmp_path), action],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_kernels_cached_is_false_for_an_index_of_an_older_source(tmp_path: Path) -> None:
    """An upgrade in place leaves numba's index files of the old source in the cache: numba finds
    them stale and compiles again, so the warm-up must compile ahead as on a first run (the index
    file's mere presence said "cached", and the first scan after an upgrade compiled on one core)."""
    module = tmp_path / "tinykernel.py"
    module.write_text(KERNEL_MODULE)
    cache = tmp_path / "cache"
    assert _stale_run(tmp_path, cache, "call") == {"before": False, "after": True}
    assert _stale_run(tmp_path, cache, "look") == {"before": True, "after": True}
    module.write_text(KERNEL_MODULE.replace("2 * x", "x + x"))  # the new version: another size and stamp
    os.utime(module, (1e9, 1e9))
    assert list(cache.rglob("*.nbi"))  # the old index is still there
    assert _stale_run(tmp_path, cache, "look") == {"before": False, "after": False}
    assert _stale_run(tmp_path, cache, "call") == {"before": False, "after": True}


def test_compile_in_parallel_with_sigchld_ignored(tmp_path: Path) -> None:
    """A process that ignores SIGCHLD (daemons do) has its children reaped by the kernel: waiting
    for them raised ChildProcessError out of the scan's warm-up.  The wait still lasts until the
    children end (their file is written), and nothing is raised."""
    import signal
    import time

    from dataeval_gpu.kernel_warmup import compile_in_parallel

    done = tmp_path / "done"

    def slow() -> None:
        time.sleep(0.3)
        done.write_text("x")

    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        assert compile_in_parallel([lambda: None, slow]) == 1
    finally:
        signal.signal(signal.SIGCHLD, before)
    assert done.read_text() == "x"
