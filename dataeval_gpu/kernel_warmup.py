"""The first scan's kernel compile, spread over the cores: independent numba kernels compiled
at the same time in forked processes, each writing numba's disk cache, which the scan's
process then loads (as every later scan does).

numba compiles a kernel on one core the first time it runs (``cache=True``: later processes
load the machine code in milliseconds).  A scan's kernels fall in independent groups (the
quality metrics' one-pass kernel ``measure_u8``, ~2/3 of the CPU time; the hashes; the
statistics' counts), which :func:`compile_in_parallel` compiles side by side.  numba's cache is
safe across processes (each entry is written to a temporary file and renamed into place), and a
kernel loaded from it is the machine code its compile produced: the same results.  What a group
did not compile (a child that failed, a kernel no group names) is compiled where it is first
called, as before.

:func:`loads_from_cache` tells whether a group's kernels, with the signatures the accumulator's
settings call them with, are all in the cache (the warm case, where forking would only cost
time): it runs the group with numba forbidden to compile, so that numba's own cache lookup
decides (the index's key: the signature, the source's stamp and bytecode, the CPU).
:func:`kernels_cached` (any kernel of a module in the cache) was that check until 2026-12-07: a
scan after one with other settings (``--preset dataeval-0.65``, then the default: other hash
kernels) found the module cached and compiled what it lacked serially, in its own process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from types import ModuleType
from typing import Any

import torch

__all__ = [
    "compile_ahead",
    "compile_in_parallel",
    "counting_compiles",
    "kernels_cached",
    "loads_from_cache",
    "module_kernels",
    "warm_counts",
    "warm_hashes",
]


def module_kernels(module: ModuleType) -> list:
    """The numba dispatchers defined in ``module`` (not those it imports)."""
    try:
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # pragma: no cover - numba is a default dependency
        return []
    name = module.__name__
    return [v for v in vars(module).values() if isinstance(v, Dispatcher) and v.py_func.__module__ == name]


def _index_path(kernel: object) -> str | None:
    """Where numba keeps ``kernel``'s cache index (None without a disk cache)."""
    try:
        return kernel._cache._cache_file._index_path  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - no cache (cache=False) or another numba layout
        return None


def _fresh_index(kernel: object) -> bool:
    """``kernel``'s cache index exists and was written for its present source: numba's own check
    (version and the source file's stamp), which drops an index left by an older copy of the file
    (an upgrade in place keeps ``__pycache__``'s numba files: the kernels are compiled again)."""
    path = _index_path(kernel)
    if path is None or not os.path.exists(path):
        return False
    try:
        return bool(kernel._cache._cache_file._load_index())  # type: ignore[attr-defined]
    except Exception:  # pragma: no cover - an unreadable index: numba compiles (and rewrites) it
        return False


def kernels_cached(module: ModuleType) -> bool:
    """True when numba's disk cache holds at least one compiled kernel of ``module`` for its
    present source (a scan before this one compiled them; the first run after an install or an
    upgrade, or a new cache dir: False).  No kernel is loaded or compiled to find out: only the
    cache's index files are read."""
    return any(_fresh_index(k) for k in module_kernels(module))


class _CompileNeeded(BaseException):
    """Raised where numba would compile during :func:`loads_from_cache` (a ``BaseException``: the
    kernels' fallbacks, ``KernelCheck``, catch ``Exception`` and would take it for a broken numba)."""


def loads_from_cache(task: Callable[[], object]) -> bool:
    """Run ``task`` (calls of numba kernels) with numba forbidden to compile: True when every kernel
    it called, with the signatures it called them with, loaded from numba's disk cache (now loaded
    in this process too, as the scan's warm-up would), False at the first call that numba would
    have compiled (the task stops there; nothing is compiled).  numba's own lookup decides: its
    index keys an entry by the signature, the source file's stamp, the function's bytecode and the
    CPU, so a kernel cached for other settings' signatures, an older source or another machine
    is not taken for cached.  The task runs in this thread only (torch's threads at 1, so the
    image pool's ``map_images`` runs inline): a pool thread still busy when the probe answers
    compiled the kernel it reached then in this process while ``compile_ahead`` forked (a fork
    while it held numba's compiler lock left the child waiting for ever).  Uses numba's event
    API: its ``"numba:compile"`` event starts only after a cache miss."""
    from numba.core import event

    from .parallel import single_intra_op_thread

    lock = threading.Lock()
    probing, refused = [True], [False]

    class Refuse(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            with lock:
                if probing[0]:
                    refused[0] = True  # (a task that swallowed the stop still counts as not cached)
                    raise _CompileNeeded(str(ev.data.get("dispatcher", "a kernel") if ev.data else "a kernel"))

        def on_end(self, ev: event.Event) -> None:
            pass

    try:
        with event.install_listener("numba:compile", Refuse()), single_intra_op_thread():
            try:
                task()
            finally:
                with lock:
                    probing[0] = False
    except _CompileNeeded:
        return False
    return not refused[0]


@contextmanager
def counting_compiles() -> Iterator[list[int]]:
    """A one-item list that counts the kernels numba compiles in this process while the block runs
    (its ``"numba:compile"`` event, which starts only after a cache miss): 0 where every kernel
    came from numba's disk cache, however long loading them took on a busy machine."""
    count = [0]
    try:
        from numba.core import event
    except ImportError:  # pragma: no cover - numba is a default dependency
        yield count
        return

    class Count(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            count[0] += 1

        def on_end(self, ev: event.Event) -> None:
            pass

    with event.install_listener("numba:compile", Count()):
        yield count


def _to_compile(module: ModuleType, task: Callable[[], object]) -> bool:
    """``task``, a group of ``module``'s kernels, calls one that numba's cache lacks (for the
    signatures it calls it with: :func:`loads_from_cache`).  Without kernels (numba's
    ``NUMBA_DISABLE_JIT``: plain Python functions) there is nothing to compile ahead."""
    return bool(module_kernels(module)) and not loads_from_cache(task)


def compile_in_parallel(tasks: Sequence[Callable[[], object]]) -> int:
    """Run ``tasks[0]`` in this process and each other task in a forked child process at the
    same time; return when all have finished.  A task compiles kernels into numba's disk cache
    (calling them once); a child's results are left in the cache only, this process loads them
    on its next call of those kernels.  A child that fails exits without a word (what it did not
    cache is compiled here on first use).  Returns the number of child processes.  Without
    ``os.fork`` (Windows) every task runs here in turn."""
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        for task in tasks:
            task()
        return 0
    children = []
    for task in tasks[1:]:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (its coverage is not collected)
            code = 1
            try:
                task()
                code = 0
            finally:
                os._exit(code)  # no atexit handlers, no flushing of the parent's buffers
        children.append(pid)
    try:
        if tasks:
            tasks[0]()
    finally:
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # SIGCHLD ignored (a daemon's setting): the child is reaped by
                pass  # the kernel, and the wait above returned only when every child had ended
    return len(children)


def compile_ahead(accumulator: Any, images: list[torch.Tensor]) -> int:
    """Before the warm-up's first measurement, where numba's cache lacks them: the kernels
    the accumulator uses compiled in independent groups at the same time (forked processes,
    :func:`compile_in_parallel`), so that its measurement of ``images`` then loads them from
    the cache.  The groups: the quality metrics' one-pass
    kernel (most of the compile, only where the accumulator measures the quality metrics),
    the near hashes' kernels (where it hashes), and here the statistics' counts with the other
    quality kernels.  Nothing when both groups are cached or numba compiles nothing
    (``NUMBA_DISABLE_JIT=1``; the caller checks that there are
    2 cores or more and that processes can be forked).  Whether a group is cached is asked of
    numba for the kernels and signatures it calls with these settings (:func:`loads_from_cache`:
    a cached group is loaded here, as the warm-up would).  Returns how many processes were forked."""
    from .functional import quality_compiled, stats_compiled
    from .functional.hashing import compiled as hash_compiled
    from .functional.quality import QUALITY_KEYS

    if not stats_compiled.AVAILABLE:
        return 0
    quality = bool(set(getattr(accumulator, "metric_names", ())) & set(QUALITY_KEYS))
    hashes = bool(getattr(accumulator, "hashes", False)) and hasattr(accumulator, "near_kind")
    children: list[Callable[[], object]] = []
    if quality and _to_compile(quality_compiled, quality_compiled.ready):
        children.append(quality_compiled.ready)
    hash_task = partial(warm_hashes, accumulator, images)
    if hashes and _to_compile(hash_compiled, hash_task):
        children.append(hash_task)
    if not children:
        return 0
    return compile_in_parallel([partial(warm_counts, images, quality), *children])


def warm_hashes(accumulator: Any, images: list[torch.Tensor]) -> None:
    """The near hashes of ``images`` with the accumulator's settings (compiles their kernels)."""
    from .accumulators.hash_rows import hash_rows

    acc = accumulator
    hash_rows(images, acc.near_kind, crops=acc.crops, thumbs=acc.thumbs, strip=acc.strip)


def warm_counts(images: list[torch.Tensor], quality: bool) -> None:
    """The statistics' value counts, the decoders' planar copy and, with ``quality``, the
    quality kernels besides ``measure_u8``: the native-resolution windows, the grid
    occupancy, ``noise_chroma``'s blocks, ``colour_free``'s alpha bins, the seam sums and ``grain_free``'s sums."""
    import numpy as np

    from .functional import stats_compiled
    from .functional.quality_alpha_colour_compiled import alpha_colour_sums_u8
    from .functional.quality_chroma import chroma_rows
    from .functional.quality_fine_compiled import fine_energies_u8
    from .functional.quality_grain import grain_rows
    from .functional.quality_motion import MOTION_MIN_SIDE, motion_rows_u8
    from .functional.quality_occupancy_compiled import occupied_cells_u8
    from .functional.quality_seam_compiled import seam_rows_u8

    stats_compiled.ready()
    stats_compiled.planes_u8(np.zeros((2, 2, 3), np.uint8))  # the decoders' planar copy (io)
    if quality:
        for x in images:
            fine_energies_u8(x, [(0, 0, 8, 8)])
            # its kernel runs on images of MOTION_MIN_SIDE px a side or more only
            side = max(MOTION_MIN_SIDE, *x.shape[1:])
            motion_rows_u8(x.new_zeros((1, x.shape[0], side, side)))
            occupied_cells_u8(x, (2, 2), 8)
            chroma_rows(x[None], (0, 0, *x.shape[1:]))  # noise_chroma's kernel (three channels)
            alpha_colour_sums_u8(x.new_zeros((4, 2, 2)))  # colour_free's kernel (images with alpha)
            alpha_colour_sums_u8(x.new_zeros((2, 2, 2)))
            seam_rows_u8(x[None])  # seam_ratio / seam_corr's kernel (images of 4 px a side or more)
            grain_rows(x[None], (0, 0, *x.shape[1:]))  # grain_free's kernel (three channels)
