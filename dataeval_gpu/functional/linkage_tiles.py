"""Distance primitives of the exact single linkage (:mod:`dataeval_gpu.functional.linkage`).

``pdist``-exact pair distances, grouping of duplicate rows, blocked float64/float32
distance tiles with a rounding tolerance, and the k-nearest-neighbour candidate lists with
their lower bound.
"""

from __future__ import annotations

import numpy as np

from .kernel_cache import njit

__all__ = [
    "KNN_BLOCK",
    "KNN_K",
    "TILE_COLS",
    "TILE_ROWS",
    "DistanceTiles",
    "exact_distances",
    "find",
    "group_rows",
    "knn_lists",
]

#: neighbours per point in the candidate lists
KNN_K = 24
#: rows per distance tile
TILE_ROWS = 1024
#: columns per distance tile
TILE_COLS = 8192


@njit
def _pair_dist(x: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    out = np.empty(u.size, dtype=np.float64)
    p = x.shape[1]
    for t in range(u.size):
        a = u[t]
        b = v[t]
        acc = 0.0
        for j in range(p):
            d = x[a, j] - x[b, j]
            acc += d * d
        out[t] = np.sqrt(acc)
    return out


def exact_distances(x: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``pdist``'s Euclidean distance between rows ``u[t]`` and ``v[t]``, bit for bit (float64)."""
    u = np.ascontiguousarray(u, dtype=np.int64).reshape(-1)
    v = np.ascontiguousarray(v, dtype=np.int64).reshape(-1)
    return _pair_dist(x, u, v)


# --------------------------------------------------------------------------- duplicates


def group_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rep, group): group id of each row, ids numbered by each group's lowest row index;
    rep[g] is that lowest index."""
    n = x.shape[0]
    xn = np.ascontiguousarray(x + 0.0)  # -0.0 -> 0.0, so equal values have equal bytes
    rows = xn.view(np.dtype((np.void, xn.dtype.itemsize * xn.shape[1]))).reshape(n)
    _, first, inv = np.unique(rows, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order].astype(np.int64), rank[inv.reshape(-1)].astype(np.int64)


# --------------------------------------------------------------------------- tiles


class DistanceTiles:
    """Blocked squared distances on centred float64 rows, with a rounding tolerance."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.xc = x - x.mean(axis=0)
        self.sq = np.einsum("ij,ij->i", self.xc, self.xc)
        self.sqmax = float(self.sq.max()) if self.sq.size else 0.0
        self.rel = 64.0 * (x.shape[1] + 16) * np.finfo(np.float64).eps

    def d2(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        g = self.xc[rows] @ self.xc[cols].T
        g *= -2.0
        g += self.sq[rows][:, None]
        g += self.sq[cols][None, :]
        return g

    def tol(self, rows: np.ndarray) -> np.ndarray:
        return self.rel * (self.sq[rows] + self.sqmax) + 1e-300

    def d2_32(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """float32 tile (3x faster); pair it with :meth:`tol32`."""
        if not hasattr(self, "xc32"):
            self.xc32 = self.xc.astype(np.float32)
            self.sq32 = self.sq.astype(np.float32)
        g = self.xc32[rows] @ self.xc32[cols].T
        g *= -2.0
        g += self.sq32[rows][:, None]
        g += self.sq32[cols][None, :]
        return g

    def tol32(self, rows: np.ndarray) -> np.ndarray:
        return (
            8.0 * (self.x.shape[1] + 16) * float(np.finfo(np.float32).eps) * (self.sq[rows] + self.sqmax)
            + 1e-30
        )


#: rows per block of the all-pairs neighbour search (each pair of blocks is one GEMM tile)
KNN_BLOCK = 512


def knn_lists(t: DistanceTiles, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(idx (n, k), lower bound (n,)): candidate neighbours (self excluded) and a bound below
    which no unlisted point lies.

    Exact all-pairs search on the centred float32 rows: every pair of 512-row blocks is one
    single-threaded GEMM tile, computed once and merged into both blocks' running lists
    (:func:`~dataeval_gpu.functional.knn_search.cells_search_cpu`, the blocks spread over the
    package's threads; ties go to the lower index, so the lists do not depend on the thread
    order).  The lists only choose candidates: every distance used downstream is recomputed
    exactly, and the bound carries the float32 rounding.
    """
    from .knn_search import cells_search_cpu

    n = t.x.shape[0]
    xf = np.ascontiguousarray(t.xc, dtype=np.float32)
    sqf = np.einsum("ij,ij->i", xf, xf)
    starts = list(range(0, n, KNN_BLOCK)) + [n]
    n_blocks = len(starts) - 1
    idx, d2 = cells_search_cpu(
        xf, sqf, np.arange(n, dtype=np.int64), starts, [list(range(n_blocks))] * n_blocks, k + 1, 4096, 65536
    )
    eps = np.finfo(np.float32).eps
    tol = 8.0 * (t.x.shape[1] + 16) * eps * (t.sq + t.sqmax) + 1e-300
    idx = idx.astype(np.int64)
    # drop self (usually first; with rounding it may sit elsewhere or be missing)
    self_hit = idx == np.arange(n)[:, None]
    keep = ~self_hit
    no_self = keep.all(axis=1)
    keep[no_self, -1] = False
    nb = idx[keep].reshape(n, k)
    # the k-th listed value bounds every unlisted point (the (k+1)-th slot when self is listed)
    kth = np.where(no_self, d2[:, k - 1], d2[:, k]).astype(np.float64)
    lb = np.sqrt(np.maximum(kth - tol, 0.0))
    if k >= n - 1:
        lb[:] = np.inf
    return nb, lb


@njit
def find(parent: np.ndarray, a: int) -> int:  # pragma: no cover - compiled
    """Union-find root of ``a`` (path halving)."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a
