"""Kruskal's minimum spanning forest of a kNN graph, compiled, with scipy's choice among ties.

:func:`knn_spanning_forest` gives the same edges as
``scipy.sparse.csgraph.minimum_spanning_tree`` over the sparse (N, N) matrix of the kNN
edges, and the same component labels as ``connected_components`` on that forest, without
building the sparse matrix: scipy runs Kruskal's algorithm over the matrix entries in a
stable sort by weight of the canonical CSR order, i.e. by (weight, row, column); here one
sort of 64-bit keys — the weight's float32 bits above the entry's place in that order —
does the same.  Weights must be float32 values (held in any float dtype; kNN distances and
mutual reachabilities are), else :func:`knn_spanning_forest` returns ``None``.
"""

from __future__ import annotations

import numpy as np

from .kernel_cache import njit

__all__ = ["KRUSKAL_CHUNK", "knn_spanning_forest"]


@njit
def _keys(w32, cols, valid, keys):  # pragma: no cover - compiled
    """Per valid entry: float32 bits of the weight (0 for a zero weight) << 32 | its place
    r·k + p, p its rank in row r by (weight, column).  Returns the number of keys, the
    (n, k) map from (row, rank) back to the entry's column slot and the (n, k) columns in
    rank order."""
    n, k = w32.shape
    slot = np.empty((n, k), np.int64)
    ranked = np.empty((n, k), np.int64)
    bits = w32.view(np.uint32)
    m = 0
    for r in range(n):
        for j in range(k):
            slot[r, j] = j
        for a in range(1, k):  # insertion sort of the slots by (weight, column)
            s = slot[r, a]
            p = a
            while p > 0:
                t = slot[r, p - 1]
                if w32[r, t] > w32[r, s] or (w32[r, t] == w32[r, s] and cols[r, t] > cols[r, s]):
                    slot[r, p] = t
                    p -= 1
                else:
                    break
            slot[r, p] = s
        for p in range(k):
            j = slot[r, p]
            ranked[r, p] = cols[r, j]
            if valid[r, j]:
                hi = np.uint64(0) if w32[r, j] == 0 else np.uint64(bits[r, j])
                keys[m] = (hi << np.uint64(32)) | np.uint64(r * k + p)
                m += 1
    return m, slot, ranked


@njit
def _find(parent, a):  # pragma: no cover - compiled
    root = a
    while parent[root] != root:
        root = parent[root]
    while parent[a] != root:
        nxt = parent[a]
        parent[a] = root
        a = nxt
    return root


#: sorted keys decoded and filtered per chunk (see :func:`_kruskal`)
KRUSKAL_CHUNK = 1 << 20


@njit
def _kruskal(keys, slot, ranked, n, k, chunk):  # pragma: no cover - compiled
    """Kruskal's algorithm over the sorted keys, filtered chunk by chunk: ``root`` holds every
    point's root as of its last refresh (equal stale roots still mean one component), so
    one independent pass per chunk drops the entries inside a component without chasing
    parents, and only the rest go through the union-find, in key order.  The roots are
    refreshed when n / 16 unions have happened since."""
    parent = np.arange(n)
    rank = np.zeros(n, np.int64)
    root = np.arange(n)
    u = np.empty(max(n - 1, 0), np.int64)
    v = np.empty(max(n - 1, 0), np.int64)
    e = np.empty(max(n - 1, 0), np.int64)  # entry r·k + j of each accepted edge
    m = 0
    mask = np.uint64(0xFFFFFFFF)
    chunk = min(chunk, max(keys.size, 1))
    cr = np.empty(chunk, np.int64)
    cp = np.empty(chunk, np.int64)
    cc = np.empty(chunk, np.int64)
    since = 0
    for s in range(0, keys.size, chunk):
        if m == n - 1:
            break
        if since > n // 16:
            for i in range(n):
                root[i] = _find(parent, i)
            since = 0
        cnt = 0
        for i in range(s, min(keys.size, s + chunk)):
            place = np.int64(keys[i] & mask)
            r = place // k
            p = place - r * k
            c = ranked[r, p]
            if root[r] != root[c]:
                cr[cnt] = r
                cp[cnt] = p
                cc[cnt] = c
                cnt += 1
        for t in range(cnt):
            r = cr[t]
            c = cc[t]
            a = _find(parent, r)
            b = _find(parent, c)
            if a == b:
                continue
            if rank[a] < rank[b]:
                a, b = b, a
            parent[b] = a
            if rank[a] == rank[b]:
                rank[a] += 1
            u[m] = r
            v[m] = c
            e[m] = r * k + slot[r, cp[t]]
            m += 1
            since += 1
            if m == n - 1:
                break
    comp = np.empty(n, np.int64)
    label = np.full(n, -1, np.int64)
    n_comp = 0
    for i in range(n):  # components numbered by their smallest point, as scipy's are
        root_i = _find(parent, i)
        if label[root_i] < 0:
            label[root_i] = n_comp
            n_comp += 1
        comp[i] = label[root_i]
    return u[:m], v[:m], e[:m], n_comp, comp


def knn_spanning_forest(
    weights: np.ndarray, indices: np.ndarray, *, chunk: int = KRUSKAL_CHUNK
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray] | None:
    """Minimum spanning forest of the kNN graph (edge i — ``indices[i, j]`` of weight
    ``weights[i, j]``; negative indices and self loops ignored).

    Returns ``(rows, cols, entries, n_components, component)``: the forest's edges as the
    kNN entries scipy keeps (row, column, flat entry ``i·k + j`` to read the weight from),
    in Kruskal's order, and every point's component, numbered by smallest point.  ``None``
    when a weight is not a non-negative float32 value or the graph has 2³² entries or more.
    ``chunk``: sorted entries filtered at a time (any value gives the same result).
    """
    n, k = indices.shape
    w = np.asarray(weights)
    w32 = np.ascontiguousarray(w, dtype=np.float32)
    if n * k >= 1 << 32 or not np.array_equal(w32, w) or bool((w32 < 0).any()):
        return None
    cols = np.ascontiguousarray(indices, dtype=np.int64)
    valid = (cols >= 0) & (cols != np.arange(n, dtype=np.int64)[:, None])
    keys = np.empty(n * k, np.uint64)
    m, slot, ranked = _keys(w32, cols, valid, keys)
    keys = keys[:m]
    keys.sort()
    u, v, e, n_comp, comp = _kruskal(keys, slot, ranked, n, k, max(1, int(chunk)))
    return u, v, e, int(n_comp), comp
