"""The first scan's kernels compiled on several cores at once (dataeval_gpu.kernel_warmup).

Each numba check runs in a subprocess with its own empty ``NUMBA_CACHE_DIR`` (numba reads it at
import): a cold cache as after an install, without touching the package's ``__pycache__``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataeval_gpu.kernel_warmup import compile_in_parallel

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cache: Path, *args: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compile_in_parallel_runs_every_task_in_its_own_process(tmp_path: Path) -> None:
    seen: list[int] = []

    def task(i: int) -> None:
        seen.append(i)  # in a child this list is the child's copy
        (tmp_path / f"{i}.pid").write_text(str(os.getpid()))

    forked = compile_in_parallel([lambda i=i: task(i) for i in range(3)])
    assert forked == 2
    assert seen == [0]  # only the first task ran in this process
    pids = {int((tmp_path / f"{i}.pid").read_text()) for i in range(3)}
    assert len(pids) == 3 and os.getpid() in pids


def test_compile_in_parallel_survives_a_failing_child(tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("a child that fails")

    done = tmp_path / "done"
    assert compile_in_parallel([lambda: None, boom, lambda: done.write_text("x")]) == 2
    assert done.read_text() == "x"
    assert compile_in_parallel([]) == 0


KERNEL_MODULE = """
import numba

@numba.njit(cache=True)
def twice(x):
    return 2 * x
"""

CACHED = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tinykernel
from dataeval_gpu.kernel_warmup import kernels_cached, module_kernels
before = kernels_cached(tinykernel)
value = tinykernel.twice(21)
print(json.dumps({"before": before, "after": kernels_cached(tinykernel), "value": value,
                  "kernels": [k.py_func.__name__ for k in module_kernels(tinykernel)]}))
"""


def test_kernels_cached_reads_numbas_index(tmp_path: Path) -> None:
    (tmp_path / "tinykernel.py").write_text(KERNEL_MODULE)
    cache = tmp_path / "cache"
    first = _python(CACHED, cache, str(tmp_path))
    assert first == {"before": False, "after": True, "value": 42, "kernels": ["twice"]}
    second = _python(CACHED, cache, str(tmp_path))  # a later process: in the cache from the start
    assert second["before"] is True and second["value"] == 42


WARM = """
import hashlib, json, os, sys
import torch
from numba.core import event
compiles = []
class Count(event.Listener):
    def on_start(self, e):
        compiles.append(e.data["dispatcher"].py_func.__qualname__)
    def on_end(self, e):
        pass
event.register("numba:compile", Count())
from dataeval_gpu.audit import DataAudit
from dataeval_gpu.audit import files
from dataeval_gpu.datasets import sample_photos
from dataeval_gpu.kernel_warmup import compile_ahead
kw = json.loads(sys.argv[1])
acc = DataAudit(device="cpu", **kw).make_accumulator("cpu")
images = [torch.zeros(3, 40, 48, dtype=torch.uint8), torch.zeros(1, 40, 48, dtype=torch.uint8)]
with files.one_thread():
    forked = compile_ahead(acc, images)
    ahead = len(compiles)
    files.warm_up(acc)  # what the scan runs: after compile_ahead, loads only
rows = acc.batch_rows([torch.from_numpy(img) for _, img in sample_photos()[:4]])
digest = hashlib.sha256(b"".join(k.encode() + rows[k].numpy().tobytes() for k in sorted(rows))).hexdigest()
print(json.dumps({"forked": forked, "ahead": ahead, "after": compiles[ahead:], "rows": digest}))
"""


@pytest.mark.integration
@pytest.mark.parametrize(
    "settings",
    # the defaults' cold compile is ~35 s CPU (the quality kernel): in the slow target; the preset's
    # (~15 s) keeps the mechanism in the default run
    [pytest.param({}, marks=pytest.mark.slow), {"preset": "dataeval-0.65"}],
    ids=["default", "dataeval-0.65"],
)
def test_parallel_first_warm_up_caches_every_kernel(tmp_path: Path, settings: dict) -> None:
    """A cold cache: the groups compile in forked processes, after which the warm-up and the
    measurement of real photos compile nothing in this process; a second process finds every
    kernel cached (forks nothing, compiles nothing) and measures the same rows, bit for bit."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the warm-up compiles in its own process")
    arg = json.dumps(settings)
    cold = _python(WARM, tmp_path, arg)
    assert cold["forked"] >= 1  # the quality kernel (default) or the hashes (both presets)
    assert cold["after"] == []
    warm = _python(WARM, tmp_path, arg)
    assert warm == {"forked": 0, "ahead": 0, "after": [], "rows": cold["rows"]}
