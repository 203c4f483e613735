"""Compiled row kernels of the CPU neighbour searches (numba).

* :func:`select_smallest` (and :func:`select_smallest_columns`, for a block's transpose read
  row by row) — merge a block of ranking values into running per-row lists of the ``kk``
  smallest (value, column) pairs.  It replaces ``torch.topk`` over wide blocks on the CPU:
  nearly every value is rejected by one comparison against the row's current ``kk``-th
  (measured here at about half the time of the 128-deep GEMM that produced the block), and
  ties are broken by the lower column, so the result does not depend on how the candidates
  were split into blocks or in which order the blocks came.
* :func:`sort_rows_drop_self` — sort each candidate row by (distance, index) and drop the
  row's own index (or the last slot when the row is not among its candidates).
"""

from __future__ import annotations

import numpy as np

from .kernel_cache import njit

__all__ = ["EMPTY", "select_smallest", "select_smallest_columns", "sort_rows_drop_self"]

#: column id of an empty slot (value +inf); sorts after every real column
EMPTY = np.iinfo(np.int64).max


@njit(inline="always")
def _insert(vals, ids, v, c):  # pragma: no cover - compiled
    """Insert (v, c) into the ascending (value, column) list, dropping its last entry."""
    p = vals.shape[0] - 1
    while p > 0 and (vals[p - 1] > v or (vals[p - 1] == v and ids[p - 1] > c)):
        vals[p] = vals[p - 1]
        ids[p] = ids[p - 1]
        p -= 1
    vals[p] = v
    ids[p] = c


@njit
def _select(buf, dsq, cols, rows, best_v, best_i):  # pragma: no cover - compiled
    nq, w = buf.shape
    kk = best_v.shape[1]
    for r in range(nq):
        vals = best_v[rows[r]]
        ids = best_i[rows[r]]
        thr = vals[kk - 1]
        row = buf[r]
        hits = 0
        for j in range(w):  # a vectorised pass: most rows of most blocks have nothing to merge
            hits += row[j] + dsq[j] <= thr
        if hits == 0:
            continue
        for j in range(w):
            v = row[j] + dsq[j]
            if v > thr or (v == thr and cols[j] >= ids[kk - 1]):
                continue
            _insert(vals, ids, v, cols[j])
            thr = vals[kk - 1]


@njit
def _select_columns(buf, dsq, cols, rows, best_v, best_i):  # pragma: no cover - compiled
    nr, w = buf.shape
    kk = best_v.shape[1]
    thr = np.empty(w, best_v.dtype)
    for j in range(w):
        thr[j] = best_v[rows[j], kk - 1]
    for i in range(nr):
        s = dsq[i]
        c = cols[i]
        row = buf[i]
        hits = 0
        for j in range(w):  # vectorised, as in _select
            hits += row[j] + s <= thr[j]
        if hits == 0:
            continue
        for j in range(w):
            v = row[j] + s
            if v > thr[j]:
                continue
            vals = best_v[rows[j]]
            ids = best_i[rows[j]]
            if v == thr[j] and c >= ids[kk - 1]:
                continue
            _insert(vals, ids, v, c)
            thr[j] = vals[kk - 1]


def select_smallest(
    buf: np.ndarray,
    dsq: np.ndarray,
    cols: np.ndarray,
    best_v: np.ndarray,
    best_i: np.ndarray,
    rows: np.ndarray | None = None,
) -> None:
    """Merge the values ``buf[r, j] + dsq[j]`` (``buf`` (nq, w) float32, ``dsq`` (w,)
    float32; column ids ``cols`` (w,) int64) into rows ``rows[r]`` (default r) of
    ``best_v`` / ``best_i`` (·, kk), in place.

    Each row of ``best_*`` holds its ``kk`` smallest (value, column) pairs so far, ascending
    by value, then by column; empty slots are (+inf, :data:`EMPTY`).  Serial and without the
    GIL: callers parallelise over blocks of rows with threads.
    """
    if rows is None:
        rows = np.arange(buf.shape[0], dtype=np.int64)
    _select(buf, dsq, cols, rows, best_v, best_i)


def select_smallest_columns(
    buf: np.ndarray,
    dsq: np.ndarray,
    cols: np.ndarray,
    rows: np.ndarray,
    best_v: np.ndarray,
    best_i: np.ndarray,
) -> None:
    """:func:`select_smallest` of the transposed block, reading ``buf`` row by row: merge the
    values ``buf[i, j] + dsq[i]`` (``buf`` (m, w) float32, ``dsq`` (m,) float32; column ids
    ``cols`` (m,) int64) into row ``rows[j]`` of ``best_v`` / ``best_i``, in place.  The
    same result as ``select_smallest(buf.T, dsq, cols, best_v, best_i, rows=rows)``."""
    _select_columns(buf, dsq, cols, rows, best_v, best_i)


@njit
def _sort_rows(dist, cand, self_ids, out_d, out_i):  # pragma: no cover - compiled
    n, kk = dist.shape
    k = out_d.shape[1]
    for r in range(n):
        d = dist[r].copy()
        c = cand[r].copy()
        key = np.empty(kk, np.int64)
        for j in range(kk):
            key[j] = EMPTY if c[j] < 0 else c[j]
        # insertion sort by (distance, key): rows are short and nearly sorted
        for j in range(1, kk):
            dj, cj, kj = d[j], c[j], key[j]
            p = j
            while p > 0 and (d[p - 1] > dj or (d[p - 1] == dj and key[p - 1] > kj)):
                d[p] = d[p - 1]
                c[p] = c[p - 1]
                key[p] = key[p - 1]
                p -= 1
            d[p], c[p], key[p] = dj, cj, kj
        skip = kk - 1
        for j in range(kk):
            if c[j] == self_ids[r]:
                skip = j
                break
        q = 0
        for j in range(kk):
            if j != skip and q < k:
                out_d[r, q] = d[j]
                out_i[r, q] = c[j]
                q += 1


def sort_rows_drop_self(dist: np.ndarray, cand: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (distances, candidates) (N, k + 1), each sorted by (distance, index) — a
    missing candidate (-1, distance +inf) last — with the row's own index removed, or the
    last slot where the row is not among its candidates: (N, k) each.  Equal to two stable
    argsorts (by index, then by distance)."""
    n = dist.shape[0]
    out_d = np.empty((n, k), dtype=dist.dtype)
    out_i = np.empty((n, k), dtype=np.int64)
    _sort_rows(dist, cand, np.arange(n, dtype=np.int64), out_d, out_i)
    return out_d, out_i
