"""kernel_warmup.loads_from_cache runs its task (the near hashes of the warm-up images, on the
shared image pool) and stops it at the first compile.  Before, the pool's other threads went on
after the probe had returned False: a kernel they reached then was compiled in the scan's own
process, on a pool thread, while compile_ahead forked its compiling children (a fork while that
thread held numba's compiler lock leaves the child waiting on it for ever).  The probe now runs
the task in its own thread only (map_images inline), so nothing of it runs after it returns."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_compile_warmup import _python

PROBE = """
import json, time, threading
import numba, torch
torch.set_num_threads(2)
from dataeval_gpu import parallel
from dataeval_gpu.kernel_warmup import loads_from_cache

@numba.njit
def first(x):
    return x + 1

@numba.njit
def late(x):
    return x * 3

threads = set()
def item(k):
    threads.add(threading.current_thread().name)
    if k == 0:
        return first(1)  # not cached: the probe stops here at once
    time.sleep(0.3)  # a pool thread still busy with another image
    return late(2)

cached = loads_from_cache(lambda: parallel.map_images(item, [0, 1]))
time.sleep(0.8)  # what the pool's other thread did after the probe's answer
print(json.dumps({"cached": cached, "workers": parallel.worker_count(),
                  "late": [str(s) for s in late.signatures],
                  "threads": sorted(threads)}))
"""


def test_probe_leaves_no_thread_compiling_after_it(tmp_path: Path) -> None:
    got = _python(PROBE, tmp_path / "cache")
    if got["workers"] < 2:  # one core: map_images runs inline anyway
        pytest.skip("one core: no pool thread to race the probe")
    assert got["cached"] is False
    assert got["late"] == []  # before: ["(int64,)"], compiled on a pool thread after the probe
    assert got["threads"] == ["MainThread"]
