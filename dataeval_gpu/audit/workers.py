"""Forked worker processes for the file scan: :func:`run_in_workers` (moved from
:mod:`dataeval_gpu.audit.files`, which re-exports it), and what happens when one dies.

A worker killed while measuring (the kernel's out-of-memory killer: openclipart-png's sixteen
16000 x 10562 RGBA drawings, 169 MP each, took a worker past the machine's memory) broke the
whole process pool, and the scan of 8,121 files ended after 8 minutes with "internal error
(BrokenProcessPool)", nothing written.  Now the items the dead pool held are run again, each
alone in a fresh one-worker pool, so that only the item that kills its worker again is lost,
given to ``on_lost`` (the scan fails its files with the reason: killed, out of memory?, or crashed,
by the worker's exit signal), and the rest of the items go on in a new pool.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

__all__ = ["run_in_workers", "run_alone", "items_ahead", "can_fork", "die_with_parent", "LOST_REASON", "lost_reason"]

logger = logging.getLogger(__name__)

#: the reason of an input whose worker process was killed (SIGKILL: the out-of-memory killer) measuring it
LOST_REASON = (
    "MemoryError: the worker process measuring this file was killed (out of memory? a very large "
    "image; scan it alone or with --workers 1)"
)


def lost_reason(exitcode: int | None) -> str:
    """The reason of an input whose worker process died measuring it, from the worker's exit code:
    killed (SIGKILL, or unknown) is :data:`LOST_REASON`; a crash (SIGSEGV, SIGBUS, SIGABRT, ...) is
    a fault in the native code that read the file, not its size.

    >>> lost_reason(-11)
    'RuntimeError: the worker process measuring this file crashed (SIGSEGV, in a native decoder or kernel; a damaged file?)'
    >>> lost_reason(-9) == lost_reason(None) == LOST_REASON
    True
    """
    if exitcode is None or exitcode >= 0 or -exitcode == signal.SIGKILL:
        return LOST_REASON
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f"signal {-exitcode}"
    return (
        f"RuntimeError: the worker process measuring this file crashed ({name}, in a native decoder or "
        "kernel; a damaged file?)"
    )


def _workers_of(pool: ProcessPoolExecutor) -> list[Any]:
    """A pool's worker processes, taken while it runs (the standard library keeps them in a private
    map, read here only for the reason of a death; once the pool breaks, its manager thread may
    clear that map before the caller looks, and the reason read "out of memory?" for a crash)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _exit_code(procs: Sequence[Any]) -> int | None:
    """The exit code of a broken pool's dead worker among ``procs`` (None when unknown)."""
    for proc in procs:
        proc.join(timeout=5)
        if proc.exitcode:
            return int(proc.exitcode)
    return None

_TASKS: dict[int, Callable[[Any], Any]] = {}


def can_fork() -> bool:
    """True where worker processes can be forked (Linux, and macOS where allowed)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _init_worker(parent: int) -> None:
    """A forked worker: one torch thread (as a DataLoader worker), Ctrl-C left to the parent, and
    ended with its parent (:func:`die_with_parent`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    torch.set_num_threads(1)


#: Linux's ``prctl`` option: the signal a process gets when its parent ends
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have this (forked) process ended by SIGTERM when ``parent``, the process that forked it, ends.

    A scan's main process ended by SIGTERM or SIGKILL (a job scheduler's time limit, ``timeout``,
    the out-of-memory killer) left its workers waiting on the pool's queue for ever, orphans holding
    their memory (each forked with the scan's modules): a pool's worker holds the queue's both ends,
    so it never reads the end of it.  On Linux the kernel now ends them (``PR_SET_PDEATHSIG``); a
    parent already gone when this runs ends the process at once.  Elsewhere nothing is done.  For a
    forked (or spawned) process only: the kernel's parent is the *thread* that forked it (here the one
    running :func:`run_in_workers`, which shuts its pools down before it returns), and a forkserver's
    child has the server for parent (``parent`` differs: it would end at once)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: as before
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def _run_task(key: int, item: Any) -> Any:
    return _TASKS[key](item)


def _pool(task: Callable[[Any], Any], workers: int, first: Sequence[Any]) -> tuple[ProcessPoolExecutor, deque]:
    """A new pool with ``first`` submitted: ``(pool, deque of (item, future))``.  The first
    submit forks every worker, which inherit ``task`` (it is not pickled)."""
    key = id(task)
    _TASKS[key] = task
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )
    try:
        pending: deque[tuple[Any, Future]] = deque((item, pool.submit(_run_task, key, item)) for item in first)
    finally:
        del _TASKS[key]
    return pool, pending


def run_alone(task: Callable[[Any], Any], item: Any, on_lost: Callable[[Any, str], Any]) -> Any:
    """``task(item)`` in a fresh one-worker pool; ``on_lost(item, reason)`` when that worker dies
    too, ``reason`` from its exit code (:func:`lost_reason`)."""
    pool, pending = _pool(task, 1, [item])
    procs = _workers_of(pool)  # forked by the first submit: taken before the pool can break and drop them
    try:
        return pending[0][1].result()
    except BrokenProcessPool:
        reason = lost_reason(_exit_code(procs))
        logger.warning("a worker process died on an item again: its files are failed (%s)", reason)
        return on_lost(item, reason)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_in_workers(
    task: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int,
    ahead: int | None = None,
    on_lost: Callable[[Any, str], Any] | None = None,
) -> Iterator[Any]:
    """``task(item)`` for each item, in order, computed in ``workers`` forked processes.

    Each idle worker takes the next item (a DataLoader hands batches to its workers in turn,
    so one slow batch, e.g. a few huge photos, leaves the other workers waiting); results
    come back in the order of ``items``.  ``task`` is inherited by the forked workers (not
    pickled); only items and results cross processes.  One torch thread per worker.

    At most ``ahead`` items (default :func:`items_ahead`) are handed out beyond the result
    the caller takes next: results the caller has not taken yet wait in this process, so
    when the caller is the slower side (feeding rows on a busy machine) their memory stays
    bounded instead of growing with the collection (``Executor.map`` submits every item at
    once).

    When a worker dies (killed for memory, or crashed), the pool breaks and every item it held and had not
    finished is lost: with ``on_lost``, each of them is run again alone in a fresh one-worker pool (in order),
    the result of one whose worker dies again is ``on_lost(item, reason)`` (:func:`lost_reason`), and the rest go on in a
    new pool; without it, :class:`BrokenProcessPool` is raised as before.
    """
    ahead = items_ahead(workers) if ahead is None else max(1, int(ahead))
    todo = iter(items)
    pool, pending = _pool(task, workers, list(itertools.islice(todo, ahead)))
    try:
        while pending:
            item, fut = pending.popleft()
            try:
                result = fut.result()
            except BrokenProcessPool:
                if on_lost is None:
                    raise
                pool.shutdown(wait=True, cancel_futures=True)
                yield from _rerun(task, [(item, fut), *pending], on_lost)
                pool, pending = _pool(task, workers, list(itertools.islice(todo, ahead)))
                continue
            nxt = list(itertools.islice(todo, 1))
            try:
                pending.extend((it, pool.submit(_run_task, id(task), it)) for it in nxt)
            except BrokenProcessPool:  # a worker died since: the pool takes nothing more
                if on_lost is None:
                    raise
                pool.shutdown(wait=True, cancel_futures=True)
                yield result
                yield from _rerun(task, [*pending, *((it, None) for it in nxt)], on_lost)
                pool, pending = _pool(task, workers, list(itertools.islice(todo, ahead)))
                continue
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _rerun(
    task: Callable[[Any], Any], held: Sequence[tuple[Any, Future | None]], on_lost: Callable[[Any, str], Any]
) -> Iterator[Any]:
    """The results of the items a broken pool held, in order: those it had finished as they came
    back, the others each run again alone (:func:`run_alone`)."""
    lost = [it for it, f in held if not _finished(f)]
    logger.warning("a worker process died (out of memory? a crash?): %d items run again one at a time", len(lost))
    for it, f in held:
        yield f.result() if _finished(f) else run_alone(task, it, on_lost)


def _finished(fut: Future | None) -> bool:
    """Whether ``fut`` holds a result (not cancelled, no exception)."""
    return fut is not None and fut.done() and not fut.cancelled() and fut.exception() is None


def items_ahead(workers: int) -> int:
    """How many items :func:`run_in_workers` hands out beyond the next result: enough that
    every worker finds the next item when idle while a slow one (a batch of huge photos)
    holds up the result in order."""
    return 4 * max(1, int(workers))
