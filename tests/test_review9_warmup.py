"""review9: the first-run parallel compile forks nothing where numba compiles nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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
