"""The package's image-level thread pool for CPU kernels.

Small per-image kernels (value counts, resizes, hashes) run faster with one image per
thread and torch's intra-op threads at 1 than with intra-op parallelism (which also
collapses when the cores are shared).  :func:`map_images` does that and gives the caller's
exact torch thread count back afterwards; :func:`executor` is the shared pool itself.

Examples
--------
>>> import torch
>>> before = torch.get_num_threads()
>>> map_images(lambda v: v * 2, [1, 2, 3])
[2, 4, 6]
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

__all__ = ["MAX_WORKERS", "worker_count", "executor", "one_blas_thread", "single_intra_op_thread", "map_images"]

T = TypeVar("T")
R = TypeVar("R")

#: most threads the pool uses (the kernels are memory-bound beyond this)
MAX_WORKERS = 8

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_executor_size = 0


def _forget_pool_in_child() -> None:
    """A forked child (a DataLoader worker) has none of the parent's pool threads: a pool
    inherited from the parent would queue work that never runs, so it starts from none."""
    global _lock, _executor, _executor_size
    _lock, _executor, _executor_size = threading.Lock(), None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def worker_count() -> int:
    """Threads for image-level parallelism: torch's thread count, capped by the cores and :data:`MAX_WORKERS`."""
    return max(1, min(MAX_WORKERS, torch.get_num_threads(), os.cpu_count() or 1))


def executor(size: int) -> ThreadPoolExecutor:
    """The shared pool with ``size`` workers.

    Asking for another size shuts the previous pool down (its running tasks finish; it takes
    no new ones), so fetch the pool again for each batch of work rather than keeping it.
    """
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size != size:
            if _executor is not None:
                _executor.shutdown(wait=False)
            _executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dataeval_gpu")
            _executor_size = size
        return _executor


@contextmanager
def single_intra_op_thread() -> Iterator[int]:
    """Set torch's intra-op threads to 1 inside the block; restore the caller's exact count after.

    Yields the caller's thread count.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield before
    finally:
        torch.set_num_threads(before)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS (OpenBLAS) at one thread inside the block, the caller's count back after
    (threadpoolctl; where it is not installed, nothing changes).  For a run of small matrix
    products between other work: OpenBLAS's threads spin after each product, waiting for the
    next, and took a second core for nothing (the window views' products after a scan of 604
    photos: 0.41 -> 0.12 s of CPU on the shared 2 cores).  Each product's elements are the
    same sums either way (OpenBLAS splits the output, not the inner dimension)."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


def map_images(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[fn(x) for x in items]`` on the shared pool, torch's intra-op threads at 1 meanwhile.

    Runs inline when one worker or one item would be used.  Results keep the order of
    ``items``; the first exception raised by ``fn`` propagates.
    """
    n_threads = worker_count()
    if n_threads == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with single_intra_op_thread():
        return list(executor(n_threads).map(fn, items))
