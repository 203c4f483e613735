"""Whether a group of kernels is cached is asked of numba for the kernels and signatures the
accumulator calls (kernel_warmup.loads_from_cache), not per module: a scan after one with other
settings (--preset dataeval-0.65, then the D4 hash of the default) found the hash module
"cached" and compiled the kernels it lacked serially, in its own process.

Each numba check runs in a subprocess with its own empty ``NUMBA_CACHE_DIR`` (a cold cache)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_compile_warmup import WARM, _python

KERNELS = """
import numba

@numba.njit(cache=True)
def twice(x):
    return 2 * x

@numba.njit(cache=True)
def thrice(x):
    return 3 * x
"""

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import twokernels as k
from dataeval_gpu.kernel_warmup import kernels_cached, loads_from_cache
if sys.argv[2] == "fill":
    k.twice(21)  # the int64 signature of one kernel, cached
    print(json.dumps({}))
    raise SystemExit
ran = []
def both():
    ran.append(k.twice(21))
    ran.append(k.thrice(2))
def swallowed():
    try:
        k.thrice(5)
    except BaseException:  # a task that catches everything: still not cached
        pass
out = {
    "module": kernels_cached(k),  # the old check: any kernel of the module
    "swallowed": loads_from_cache(swallowed),
    "int": loads_from_cache(lambda: ran.append(k.twice(4))),
    "float": loads_from_cache(lambda: k.twice(1.5)),  # another signature of a cached kernel
    "other": loads_from_cache(both),  # a kernel never compiled
    "ran": ran,
    "compiled": {f.__name__: [str(s) for s in f.signatures] for f in (k.twice, k.thrice)},
}
out["after"] = [k.twice(1.5), k.thrice(2)]  # numba compiles as usual once the probe is over
print(json.dumps(out))
"""


def test_loads_from_cache_is_per_kernel_and_signature(tmp_path: Path) -> None:
    (tmp_path / "twokernels.py").write_text(KERNELS)
    cache = tmp_path / "cache"
    _python(PROBE, cache, str(tmp_path), "fill")
    got = _python(PROBE, cache, str(tmp_path), "probe")
    assert got["module"] is True  # what the module check saw: "cached"
    assert got["int"] is True  # the cached signature: loaded
    assert got["float"] is False and got["other"] is False and got["swallowed"] is False
    assert got["ran"] == [8, 42]  # the probe of both stopped at thrice, before its value
    # nothing was compiled by the probes: only the cached twice(int64) is loaded
    assert got["compiled"] == {"twice": ["(int64,)"], "thrice": []}
    assert got["after"] == [3.0, 6]


def test_loads_from_cache_leaves_kernel_fallbacks_alone(tmp_path: Path) -> None:
    """The stop passes through a kernel module's ``KernelCheck`` (which catches Exception and
    would switch the kernels off for the process) and leaves it undecided."""
    code = """
    import json
    from dataeval_gpu.functional import quality_compiled
    from dataeval_gpu.kernel_warmup import loads_from_cache
    cached = loads_from_cache(quality_compiled.ready)
    print(json.dumps({"cached": cached, "state": quality_compiled.ready.state}))
    """
    got = _python(code, tmp_path / "cache")
    assert got == {"cached": False, "state": None}


@pytest.mark.integration
def test_switching_hash_settings_compiles_in_parallel(tmp_path: Path) -> None:
    """--preset dataeval-0.65's hashes cached, then its settings with the D4 hash (the default's):
    the D4 kernels are compiled ahead in a forked process, none in the scan's own (before: none
    forked, ``_grey_resize_exact_kernel`` compiled in this process after compile_ahead)."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the warm-up compiles in its own process")
    plain = _python(WARM, tmp_path, json.dumps({"preset": "dataeval-0.65"}))
    assert plain["forked"] == 1 and plain["after"] == []
    d4 = _python(WARM, tmp_path, json.dumps({"preset": "dataeval-0.65", "d4": True}))
    assert d4["forked"] == 1, d4
    assert d4["after"] == [], d4  # nothing compiled in the scan's process
    again = _python(WARM, tmp_path, json.dumps({"preset": "dataeval-0.65", "d4": True}))
    assert again["forked"] == 0 and again["ahead"] == 0 and again["after"] == [] and again["rows"] == d4["rows"]
