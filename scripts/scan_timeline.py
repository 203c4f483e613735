"""Timeline of one ``dataeval-gpu scan``: when each phase starts and ends, from process start.

Usage: ``python scripts/scan_timeline.py scan data_cache/photos --out OUT --no-progress --quiet``
(any ``dataeval-gpu`` arguments).  Prints, on exit, one line per event: seconds since the
process started (``/proc/self/stat``), the process's CPU seconds so far (all threads), the
thread, and the event: imports of torch / numba / pandas / our modules, discovery, the
kernels' warm-up, the workers' fork and first / last batch, ``compute()``, the results' save,
the HTML report, ``os._exit``; with ``--index`` / ``--against`` the index's steps.  Each line
also says the main process's peak resident memory since the previous line (``/proc/self/statm``
sampled every 5 ms).  Functions are wrapped once their module is imported, so the
timeline changes no import order (wrapping ``dataeval_gpu.report`` by name would import
pandas through its lazy names: the report is wrapped in ``report.html``).  Linux only.
"""

from __future__ import annotations

import functools
import importlib.abc
import os
import sys
import threading
import time

_TICK = os.sysconf("SC_CLK_TCK")
_STAT = open("/proc/self/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
_T0 = time.perf_counter() - (float(open("/proc/uptime").read().split()[0]) - int(_STAT[19]) / _TICK)  # noqa: SIM115
LOG: list[tuple[float, float, str, str, int]] = []
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PEAK = [0]


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def _sample() -> None:
    while True:
        _PEAK[0] = max(_PEAK[0], _rss())
        time.sleep(0.005)

#: module -> functions (or (class, method)) to mark; generators are marked at first item and end
WRAP: dict[str, list] = {
    "dataeval_gpu.cli": ["_run_scan", "_save_and_report", "preload"],
    "dataeval_gpu.functional.stats_compiled": ["preload_numba_without_blas"],
    "dataeval_gpu.io": ["discover"],
    "dataeval_gpu.audit.files": ["scan_files", "warm_up", "run_in_workers"],
    "dataeval_gpu.audit.core": [("DataAudit", "compute")],
    "dataeval_gpu.audit.report": [("AuditReport", "save")],
    "dataeval_gpu.report.html": ["write_report"],
    "dataeval_gpu.index.update": ["update_index", "save_index", "write_generation", "restore_audit"],
    "dataeval_gpu.index.against": ["scan_against", "against_report", "query_index"],
    "dataeval_gpu.index.near_matches": ["near_matches"],
    "torch": [],
    "numba": [],
    "pandas": [],
}
GENERATORS = {"run_in_workers"}


def mark(what: str) -> None:
    peak, _PEAK[0] = max(_PEAK[0], _rss()), _rss()
    LOG.append((time.perf_counter() - _T0, time.process_time(), threading.current_thread().name, what, peak))


def _wrap(owner, name: str, label: str) -> None:  # noqa: ANN001
    f = getattr(owner, name)

    @functools.wraps(f)
    def g(*a, **k):  # noqa: ANN002, ANN003, ANN202
        mark(label + " >")
        try:
            return f(*a, **k)
        finally:
            mark(label + " <")

    setattr(owner, name, g)


def _wrap_generator(owner, name: str) -> None:  # noqa: ANN001
    f = getattr(owner, name)

    @functools.wraps(f)
    def g(*a, **k):  # noqa: ANN002, ANN003, ANN202
        mark(name + " called (fork)")
        first = True
        for x in f(*a, **k):
            if first:
                mark(name + " first batch back")
                first = False
            yield x
        mark(name + " last batch back")

    setattr(owner, name, g)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if name not in WRAP:
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    break
        else:
            return None
        run = spec.loader.exec_module

        def exec_module(module):  # noqa: ANN001, ANN202
            mark(f"import {name} >")
            run(module)
            mark(f"import {name} <")
            for item in WRAP[name]:
                owner = getattr(module, item[0]) if isinstance(item, tuple) else module
                if not hasattr(owner, item[1] if isinstance(item, tuple) else item):
                    continue  # another version of the code (e.g. an older checkout)
                if isinstance(item, tuple):
                    _wrap(getattr(module, item[0]), item[1], ".".join(item))
                elif item in GENERATORS:
                    _wrap_generator(module, item)
                else:
                    _wrap(module, item, item)

        spec.loader.exec_module = exec_module
        return spec


def _exit(code: int, _real=os._exit, _pid=os.getpid()) -> None:  # noqa: ANN001, B008
    if os.getpid() != _pid:  # a forked worker ending
        _real(code)
    mark("os._exit")
    sys.stderr.write(
        "".join(f"{t:8.3f} s  cpu {c:6.2f} s  rss {m / 2**20:7.0f} MB  {th[:14]:<14} {w}\n" for t, c, th, w, m in LOG)
    )
    sys.stderr.flush()
    _real(code)


if __name__ == "__main__":
    threading.Thread(target=_sample, daemon=True, name="rss").start()
    mark("python up, timeline installed")
    sys.meta_path.insert(0, _Finder())
    os._exit = _exit
    sys.argv = ["dataeval-gpu", *sys.argv[1:]]
    from dataeval_gpu.cli import run

    run()
