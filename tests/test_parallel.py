"""The shared thread pool: the caller's exact torch thread count comes back, replaced pools shut down."""

from __future__ import annotations

import pytest
import torch

from dataeval_gpu import parallel


def test_map_images_restores_the_exact_thread_count(monkeypatch):
    # bug (a): on a 16-core machine torch runs 16 intra-op threads; the pool used to
    # "restore" min(8, ...) and leave torch at 8 for the rest of the process
    calls: list[int] = []
    state = {"threads": 16}

    def set_threads(n: int) -> None:
        calls.append(n)
        state["threads"] = n

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(torch, "get_num_threads", lambda: state["threads"])
    monkeypatch.setattr(torch, "set_num_threads", set_threads)
    assert parallel.worker_count() == parallel.MAX_WORKERS == 8
    out = parallel.map_images(lambda v: v + 1, list(range(20)))
    assert out == list(range(1, 21))
    assert calls == [1, 16]
    assert state["threads"] == 16


def test_thread_count_restored_when_the_function_raises(monkeypatch):
    state = {"threads": 12}
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 12)
    monkeypatch.setattr(torch, "get_num_threads", lambda: state["threads"])
    monkeypatch.setattr(torch, "set_num_threads", lambda n: state.update(threads=n))

    def boom(v: int) -> int:
        if v == 3:
            raise ValueError("image 3")
        return v

    with pytest.raises(ValueError, match="image 3"):
        parallel.map_images(boom, [1, 2, 3, 4])
    assert state["threads"] == 12


def test_a_replaced_executor_is_shut_down(monkeypatch):
    # bug (e): asking for another pool size used to drop the old executor without shutting
    # it down (its idle threads lived on); now the old one takes no new work
    made = []
    real = parallel.ThreadPoolExecutor

    def tracking(*args, **kwargs):
        ex = real(*args, **kwargs)
        made.append(ex)
        return ex

    monkeypatch.setattr(parallel, "ThreadPoolExecutor", tracking)
    monkeypatch.setattr(parallel, "_executor", None)
    monkeypatch.setattr(parallel, "_executor_size", 0)
    first = parallel.executor(2)
    assert first.submit(lambda: 41 + 1).result() == 42
    assert parallel.executor(2) is first  # same size: the same pool
    second = parallel.executor(3)
    assert second is not first and made == [first, second]
    with pytest.raises(RuntimeError):  # shut down: no new futures
        first.submit(lambda: 0)
    assert second.submit(lambda: 7).result() == 7
    second.shutdown()


def test_tasks_queued_before_a_replacement_still_run(monkeypatch):
    import threading

    monkeypatch.setattr(parallel, "_executor", None)
    monkeypatch.setattr(parallel, "_executor_size", 0)
    gate = threading.Event()
    first = parallel.executor(1)
    blocked = first.submit(gate.wait)
    queued = first.submit(lambda: "done")
    second = parallel.executor(2)  # shuts the first down while it still has work
    gate.set()
    assert blocked.result(timeout=10) is True
    assert queued.result(timeout=10) == "done"
    second.shutdown()


def test_cpu_hasher_survives_another_pool_size_mid_stream(monkeypatch):
    # CpuHasher used to keep the pool it was built with: another caller asking for another
    # size shut that pool down and the hasher's next submit raised RuntimeError; it now
    # fetches the shared pool at each submission
    import numpy as np

    from dataeval_gpu.functional import hashing

    monkeypatch.setattr(parallel, "_executor", None)
    monkeypatch.setattr(parallel, "_executor_size", 0)
    rng = np.random.default_rng(0)
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 12, 12), dtype=np.uint8)) for _ in range(6)]
    hasher = hashing.CpuHasher(exact=True, near=None)
    hasher.submit(imgs[:3], imgs[:3])
    size = parallel.worker_count()
    replaced = parallel.executor(size)
    parallel.executor(size + 1)  # someone else wants another size: the hasher's pool is shut down
    with pytest.raises(RuntimeError):
        replaced.submit(lambda: 0)
    hasher.submit(imgs[3:], imgs[3:])
    xx, near, valid = hasher.result()
    assert near is None and valid is None and xx is not None
    assert xx.tolist() == hashing.xxhash64(imgs).tolist()
    parallel.executor(size).shutdown()
