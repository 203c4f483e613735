"""The blocked search's CPU cell-pair scheme against an independent float64 reference: each
row's kk nearest among the rows of the cells its cell probes (probes one-sided on purpose),
with the exact search for rows whose probed cells hold fewer than kk rows; and against the
per-cell torch search it replaces on the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import knn_search
from dataeval_gpu.functional.knn_search import cell_pairs, cells_search_cpu, cells_search_torch


def _cells(n_cells: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[int], list[list[int]]]:
    """Random points (n, 5) sorted by a random cell (cell sizes 0 to ~3·n/n_cells; cell 0 has one
    row and probes only itself, cell 1 is empty), and random one-sided probe lists."""
    rng = np.random.default_rng(seed)
    cell = rng.integers(2, n_cells, size=n)
    cell[0] = 0
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=n_cells)
    st = [0, *np.cumsum(counts).tolist()]
    near = [[c, *rng.choice(n_cells, size=int(rng.integers(0, 4)), replace=False).tolist()] for c in range(n_cells)]
    near = [list(dict.fromkeys(p)) for p in near]
    near[0] = [0]
    x = rng.normal(size=(n, 5)).astype(np.float32)
    return x, order, st, near


def _reference(
    x: np.ndarray, order: np.ndarray, st: list[int], near: list[list[int]], kk: int
) -> tuple[np.ndarray, np.ndarray]:
    """float64: (candidates, squared distances) per original row, ascending by (distance, row)."""
    n = x.shape[0]
    x64 = x.astype(np.float64)
    cell_of = np.empty(n, np.int64)
    for c in range(len(st) - 1):
        cell_of[order[st[c] : st[c + 1]]] = c
    cand = np.empty((n, kk), np.int64)
    d2 = np.empty((n, kk))
    for r in range(n):
        pool = np.concatenate([order[st[j] : st[j + 1]] for j in near[cell_of[r]]])
        if pool.size < kk:  # too few probed rows: all rows
            pool = np.arange(n)
        dd = ((x64[pool] - x64[r]) ** 2).sum(1)
        o = np.lexsort((pool, dd))[:kk]
        cand[r], d2[r] = pool[o], dd[o]
    return cand, d2


def test_cell_pairs_once_each_with_both_directions() -> None:
    near = [[0, 1, 2], [1, 0], [2, 3], [3], [4, 0]]
    sizes = [5, 3, 4, 0, 2]  # cell 3 is empty
    assert cell_pairs(near, sizes) == [
        (0, 0, True, False),
        (0, 1, True, True),
        (0, 2, True, False),
        (0, 4, False, True),
        (1, 1, True, False),
        (2, 2, True, False),
        (4, 4, True, False),
    ]


@pytest.mark.parametrize("tile", [512, 7])
def test_cells_search_cpu_equals_a_float64_reference(monkeypatch: pytest.MonkeyPatch, tile: int) -> None:
    # tile 7: cells span several tiles each way, diagonal blocks included
    monkeypatch.setattr(knn_search, "PAIR_TILE", tile)
    kk = 6
    x, order, st, near = _cells(12, 700, seed=4)
    xs = x[order]
    sqs = (xs * xs).sum(1)
    cand, d2 = cells_search_cpu(xs, sqs, order, st, near, kk, query_chunk=64, db_chunk=128)
    ref_c, ref_d2 = _reference(x, order, st, near, kk)
    np.testing.assert_array_equal(cand, ref_c)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-4, atol=1e-4)
    # the per-cell search (the torch path on other devices) finds the same rows
    t_c, t_d2 = cells_search_torch(
        torch.from_numpy(xs), torch.from_numpy(sqs), torch.from_numpy(order), st, near, kk, 64, 128
    )
    np.testing.assert_array_equal(np.sort(t_c.numpy(), axis=1), np.sort(cand, axis=1))
    np.testing.assert_allclose(np.sort(t_d2.numpy(), axis=1), d2, rtol=1e-4, atol=1e-4)


def test_cells_search_cpu_single_thread_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    x, order, st, near = _cells(9, 400, seed=5)
    xs = x[order]
    sqs = (xs * xs).sum(1)
    many = cells_search_cpu(xs, sqs, order, st, near, 5, 64, 128)
    monkeypatch.setattr(knn_search, "worker_count", lambda: 1)
    one = cells_search_cpu(xs, sqs, order, st, near, 5, 64, 128)
    np.testing.assert_array_equal(many[0], one[0])
    np.testing.assert_array_equal(many[1], one[1])
