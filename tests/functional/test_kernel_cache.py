"""numba's disk cache checked against every kernel module's source (functional/kernel_cache.py).

numba keys a cached kernel by the source of the file that defines it only: a kernel that calls a
kernel of another file loads its old machine code after a change to that other file alone.  The
toy package below (``caller.py`` calling ``callee.py``) shows it in subprocesses, then the same
package with its kernels declared through :func:`~dataeval_gpu.functional.kernel_cache.jit_for`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataeval_gpu.functional import kernel_cache
from dataeval_gpu.functional.kernel_cache import (
    DIGEST_FILE,
    KERNEL_MODULES,
    LOCK_FILE,
    KernelSources,
    refresh_dir,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "dataeval_gpu"

PLAIN_JIT = "import numba\nnjit = numba.njit(cache=True)\n"
CHECKED_JIT = """
import os
from dataeval_gpu.functional.kernel_cache import KernelSources, jit_for
SOURCES = KernelSources(os.path.dirname(__file__), ("caller.py", "callee.py"))
njit = jit_for(SOURCES)
"""
CALLEE = "from .jit import njit\n\n@njit\ndef value():\n    return {value}\n"
CALLER = "from .callee import value\nfrom .jit import njit\n\n@njit\ndef doubled():\n    return 2 * value()\n"
RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
from dataeval_gpu.kernel_warmup import counting_compiles
with counting_compiles() as compiled:
    from toykernels.caller import doubled
    result = doubled()
from toykernels import jit
print(json.dumps({"value": result, "compiled": compiled[0],
                  "refreshed": len(getattr(getattr(jit, "SOURCES", None), "refreshed", []))}))
"""


def _toy(tmp_path: Path, jit: str, value: int) -> Path:
    pkg = tmp_path / "toykernels"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "jit.py").write_text(jit)
    (pkg / "callee.py").write_text(CALLEE.format(value=value))
    (pkg / "caller.py").write_text(CALLER)
    return pkg


def _run(tmp_path: Path, env: dict[str, str] | None = None) -> dict:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN), str(tmp_path)], env=full, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_numba_alone_loads_the_old_callee_after_a_change_to_it(tmp_path: Path) -> None:
    """The defect, as numba has it: 2 * 1 cached, the callee changed to 5, still 2 (not 10)."""
    _toy(tmp_path, PLAIN_JIT, 1)
    assert _run(tmp_path) == {"value": 2, "compiled": 2, "refreshed": 0}
    _toy(tmp_path, PLAIN_JIT, 5)
    stale = _run(tmp_path)
    assert stale["value"] == 2  # the caller's cached machine code, with the old callee inlined
    assert stale["compiled"] == 0  # loaded from the cache: nothing compiled


@pytest.mark.integration
@pytest.mark.parametrize("where", ["in-tree", "NUMBA_CACHE_DIR"])
def test_checked_kernels_are_compiled_afresh_after_a_change_to_a_callee(tmp_path: Path, where: str) -> None:
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")} if where == "NUMBA_CACHE_DIR" else {}
    pkg = _toy(tmp_path, CHECKED_JIT, 1)
    assert _run(tmp_path, env) == {"value": 2, "compiled": 2, "refreshed": 1}
    assert _run(tmp_path, env) == {"value": 2, "compiled": 0, "refreshed": 0}  # loaded: the cache still works
    _toy(tmp_path, CHECKED_JIT, 5)
    assert _run(tmp_path, env) == {"value": 10, "compiled": 2, "refreshed": 1}
    assert _run(tmp_path, env) == {"value": 10, "compiled": 0, "refreshed": 0}
    cache = tmp_path / "numba-cache" if where == "NUMBA_CACHE_DIR" else pkg / "__pycache__"
    digests = list(cache.rglob(DIGEST_FILE))
    assert len(digests) == 1
    assert digests[0].read_text().strip() == KernelSources(str(pkg), ("caller.py", "callee.py")).digest()
    if where == "NUMBA_CACHE_DIR":
        assert not list(pkg.glob("__pycache__/*.nb[ic]"))  # numba's files went to the folder named


def _stale_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("caller.doubled-4.py311.nbi", "caller.doubled-4.py311.1.nbc", "other.f-3.py311.nbi", "caller.py"):
        (folder / name).write_text("x")
    (folder / DIGEST_FILE).write_text("0" * 64 + "\n")


def test_refresh_dir_removes_only_the_listed_modules_numba_files(tmp_path: Path) -> None:
    _stale_folder(tmp_path)
    assert refresh_dir(str(tmp_path), ["caller", "callee"], "ab" * 32) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["other.f-3.py311.nbi", "caller.py", DIGEST_FILE, LOCK_FILE])
    assert (tmp_path / DIGEST_FILE).read_text() == "ab" * 32 + "\n"
    (tmp_path / "caller.doubled-4.py311.nbi").write_text("fresh")
    assert refresh_dir(str(tmp_path), ["caller"], "ab" * 32) is False  # the digest matches: kept
    assert (tmp_path / "caller.doubled-4.py311.nbi").read_text() == "fresh"


WAITING_CLEANER = """
import json, sys
from dataeval_gpu.functional.kernel_cache import refresh_dir
print(json.dumps(refresh_dir(sys.argv[1], ["caller"], sys.argv[2])))
"""


def test_a_process_starting_at_the_same_time_keeps_the_first_ones_fresh_files(tmp_path: Path) -> None:
    """Two processes find the old digest at once: the second waits on the lock the first holds
    while it cleans, then finds the digest the first wrote and removes none of its fresh files."""
    fcntl = pytest.importorskip("fcntl")
    _stale_folder(tmp_path)
    digest = "cd" * 32
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # this test is the first process, in the middle of its clean-up
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    second = subprocess.Popen(
        [sys.executable, "-c", WAITING_CLEANER, str(tmp_path), digest], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            second.wait(timeout=5)  # it waits for the lock (numba and the module imported by then)
        (tmp_path / DIGEST_FILE).write_text(digest + "\n")
        (tmp_path / "caller.doubled-4.py311.nbi").write_text("fresh")  # the first one's new kernel
    finally:
        os.close(fd)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0
    assert json.loads(out) is False
    assert (tmp_path / "caller.doubled-4.py311.nbi").read_text() == "fresh"


def _kernel_modules_by_grep() -> set[str]:
    uses = re.compile(r"^\s*@(numba\.)?(n?jit|vectorize|guvectorize|cfunc|stencil)\b|=\s*(numba\.)?njit\(", re.M)
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name != "kernel_cache.py" and uses.search(path.read_text(encoding="utf-8")):
            found.add(path.relative_to(PACKAGE).as_posix())
    return found


def test_kernel_modules_are_every_module_that_declares_kernels() -> None:
    assert _kernel_modules_by_grep() == set(KERNEL_MODULES)
    direct = re.compile(r"numba\.(n?jit|vectorize|guvectorize|cfunc|stencil)\(")
    for path in PACKAGE.rglob("*.py"):  # every kernel goes through kernel_cache.njit (checked)
        if path.name != "kernel_cache.py":
            assert not direct.search(path.read_text(encoding="utf-8")), path


def test_cache_dirs_are_where_numba_keeps_the_kernels() -> None:
    from dataeval_gpu.detectors import clusterer_tree
    from dataeval_gpu.functional import quality_compiled, stats_compiled
    from dataeval_gpu.functional.hashing import compiled as hash_compiled
    from dataeval_gpu.kernel_warmup import module_kernels

    dirs = kernel_cache.PACKAGE_KERNELS.cache_dirs()
    for module in (clusterer_tree, quality_compiled, stats_compiled, hash_compiled):
        kernels = module_kernels(module)
        assert kernels, module.__name__
        for k in kernels:
            assert os.path.basename(module.__file__)[:-3] in dirs[k._cache.cache_path]
    assert kernel_cache.PACKAGE_KERNELS.checked


@pytest.mark.integration
def test_the_package_check_runs_before_its_kernels_load(tmp_path: Path) -> None:
    """The real package in a subprocess: a digest in numba's folder that is not its sources' (an
    edit of another kernel module since) has a cached kernel compiled again, once."""
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    run = """
    import json, sys
    import numpy as np
    from dataeval_gpu.kernel_warmup import counting_compiles
    with counting_compiles() as compiled:
        from dataeval_gpu.functional import kernel_cache, stats_compiled
        planes = stats_compiled.planes_u8(np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    print(json.dumps({"compiled": compiled[0], "planes": planes.tolist(),
                      "refreshed": len(kernel_cache.PACKAGE_KERNELS.refreshed)}))
    """
    (tmp_path / "x.py").write_text(textwrap.dedent(run))
    script = str(tmp_path / "x.py")
    expected = [[[0, 3], [6, 9]], [[1, 4], [7, 10]], [[2, 5], [8, 11]]]

    def once() -> dict:
        out = subprocess.run(
            [sys.executable, script], env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = once()
    assert first["compiled"] >= 1 and first["planes"] == expected
    assert first["refreshed"] == 3  # a new cache folder: no digest yet in any of the three
    assert once() == {"compiled": 0, "planes": expected, "refreshed": 0}
    digests = list(tmp_path.rglob(DIGEST_FILE))
    assert len(digests) == 3  # functional/, functional/hashing/, detectors/
    (folder,) = [d.parent for d in digests if list(d.parent.glob("stats_compiled.*.nbi"))]
    (folder / DIGEST_FILE).write_text("0" * 64 + "\n")
    assert once() == {**first, "refreshed": 1}  # the same kernels compiled again
    assert once() == {"compiled": 0, "planes": expected, "refreshed": 0}


def test_forked_compile_processes_inherit_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up's forked compile processes (``compile_in_parallel``) check nothing again: the
    parent's check, before the fork, holds for the sources they compile."""
    from dataeval_gpu.kernel_warmup import compile_in_parallel

    sources = KernelSources(str(tmp_path), ("k.py",))
    calls = tmp_path / "calls"
    calls.mkdir()
    monkeypatch.setattr(sources, "refresh", lambda: [(calls / str(os.getpid())).write_text("x") and str(tmp_path)])
    sources.check_once()
    assert sources.checked and sources.refreshed == [str(tmp_path)]
    assert compile_in_parallel([sources.check_once, sources.check_once, sources.check_once]) == 2
    assert [p.name for p in calls.iterdir()] == [str(os.getpid())]  # the parent's check alone
