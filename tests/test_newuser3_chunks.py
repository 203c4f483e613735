"""newuser3: a short file scan of large images is shared among the workers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import dataeval_gpu.audit.files as files_mod
from dataeval_gpu.audit.files import WORKER_CHUNK, can_fork, scan_files, worker_chunk


@pytest.mark.parametrize(
    ("batch_size", "n_files", "n_workers", "chunk"),
    [
        (64, 604, 2, WORKER_CHUNK),  # a few hundred files: the chunk as before
        (64, 20, 2, 3),  # 20 wallpapers: 7 chunks, not 16 + 4
        (64, 40, 2, 5),
        (64, 1, 2, 1),
        (64, 0, 2, 1),
        (2, 100, 2, 2),  # never above the batch size
        (64, 30, 0, 8),  # no workers: the main process measures, chunks as for one
    ],
)
def test_worker_chunk(batch_size: int, n_files: int, n_workers: int, chunk: int) -> None:
    assert worker_chunk(batch_size, n_files, n_workers) == chunk


@pytest.mark.skipif(not can_fork(), reason="no fork on this platform")
def test_twenty_files_on_two_workers_come_in_balanced_chunks(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20 files on 2 workers went out as chunks of 16 and 4: one worker measured 16 files while
    the other idled after 4 (wall time of 16 files where 10 would do)."""
    rng = np.random.default_rng(0)
    paths = []
    for k in range(20):
        p = tmp_path / f"im{k:02d}.png"
        Image.fromarray(rng.integers(0, 256, (16, 20 + k, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    seen: list[list[int]] = []
    real = files_mod.run_in_workers

    def spy(task, items, workers, *a, **kw):
        seen.extend(items)
        return real(task, items, workers, *a, **kw)

    monkeypatch.setattr(files_mod, "run_in_workers", spy)
    report = scan_files(paths, workers=2, device="cpu", progress=False)
    assert report.total == 20 and not report.failed
    assert sorted(i for c in seen for i in c) == list(range(20))
    assert max(len(c) for c in seen) == 3 and len(seen) == 7
