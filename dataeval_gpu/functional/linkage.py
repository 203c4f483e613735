"""Exact single linkage without an N×N matrix: scipy's ``linkage(pdist(x), "single")``, equal.

Single linkage is the minimum spanning tree (MST) of the complete graph of Euclidean
distances.  scipy (and so DataEval 0.65) builds it with Prim's algorithm on the condensed
distance matrix — O(N²) memory — starting at point 0, recording ``(previous point, next
point, distance)``, then sorts those rows by distance (stable) and relabels them with a
union-find.  This module gives the same matrix, row for row, in O(N·P + N·k) memory:

1. Exact duplicate rows are grouped (scipy's Prim visits a group's members consecutively at
   distance 0, lowest index first, as soon as it reaches the group); the rest works on the
   distinct rows.
2. MST of the distinct rows by Borůvka's algorithm: each component's shortest outgoing
   edge comes from the k-nearest-neighbour lists (faiss, exact flat index) while a lower
   bound (the k-th neighbour's distance) proves no unlisted point can be closer; points the
   bound cannot clear are searched with blocked distance tiles (float64 matmuls).  When few
   components remain, one pass of tiles gives the component-to-component minima and the
   rest of the tree comes from those.
3. Every edge weight is recomputed exactly as ``pdist`` does (float64, feature by feature,
   then ``sqrt``), so heights are bit-identical to scipy's; tile values (which carry matmul
   rounding) only choose candidates, with a tolerance, never decide a weight.
4. Prim's visiting order on the tree (ties: smaller index first) is scipy's order on the
   complete graph whenever the tree is unique — always for distinct pairwise distances.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.sparse import csr_matrix

from .kernel_cache import njit
from .linkage_mst import boruvka_mst
from .linkage_tiles import (
    KNN_K,
    TILE_COLS,
    TILE_ROWS,
    DistanceTiles,
    exact_distances,
    find,
    group_rows,
    knn_lists,
)

__all__ = [
    "DistanceTiles",
    "ExactLinkage",
    "duplicate_groups_exact",
    "exact_distances",
    "mst_exact",
    "single_linkage_exact",
]


def mst_exact(x: np.ndarray, k: int = KNN_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning tree of the complete Euclidean graph of distinct rows ``x`` (float64).

    Returns (u, v, w): N - 1 edges with pdist-exact weights.  Ties are broken by
    (weight, lower index, higher index), so the tree is the unique one for that order.
    """
    return boruvka_mst(ExactLinkage(x, k))


# --------------------------------------------------------------------------- scipy's order


def _prim_order(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prim's visiting order on the tree from vertex 0 (ties: lower index) and the distance
    each vertex was reached at."""
    adj = csr_matrix((np.arange(1, u.size + 1), (u, v)), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    indptr, indices, eid = adj.indptr, adj.indices, adj.data - 1
    seen = np.zeros(n, dtype=bool)
    order = np.empty(n, dtype=np.int64)
    height = np.empty(n, dtype=np.float64)
    heap: list[tuple[float, int]] = []
    cur, h = 0, 0.0
    wl = w.tolist()
    for step in range(n):
        seen[cur] = True
        order[step] = cur
        height[step] = h
        for j in range(indptr[cur], indptr[cur + 1]):
            q = int(indices[j])
            if not seen[q]:
                heapq.heappush(heap, (wl[eid[j]], q))
        while heap and seen[heap[0][1]]:
            heapq.heappop(heap)
        if heap:
            h, cur = heapq.heappop(heap)
    return order, height


@njit
def _label(a: np.ndarray, b: np.ndarray, n: int) -> tuple:  # pragma: no cover - compiled
    parent = np.arange(2 * n - 1)
    size = np.ones(2 * n - 1, dtype=np.int64)
    left = np.empty(n - 1, dtype=np.int64)
    right = np.empty(n - 1, dtype=np.int64)
    cnt = np.empty(n - 1, dtype=np.int64)
    for i in range(n - 1):
        x = find(parent, a[i])
        y = find(parent, b[i])
        if x > y:
            x, y = y, x
        left[i] = x
        right[i] = y
        node = n + i
        parent[x] = node
        parent[y] = node
        size[node] = size[x] + size[y]
        cnt[i] = size[node]
    return left, right, cnt


class ExactLinkage:
    """The distinct rows of ``x``, their neighbour lists and tiles, shared by the linkage and
    the duplicate search."""

    def __init__(self, x: np.ndarray, k: int = KNN_K) -> None:
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.rep, self.group = group_rows(self.x)
        self.xu = self.x[self.rep]
        m = self.rep.size
        self.k = min(k, m - 1)
        self.tiles = DistanceTiles(self.xu) if m > 1 else None
        self._lists: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def lists(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(neighbours, exact distances, lower bound) of the distinct rows, sorted by distance."""
        if self._lists is None:
            if self.tiles is None:  # pragma: no cover - callers check for >= 2 distinct rows
                raise RuntimeError("neighbour lists need at least 2 distinct rows")
            m = self.rep.size
            nb, lb = knn_lists(self.tiles, self.k)
            rows = np.repeat(np.arange(m), self.k)
            nd = exact_distances(self.xu, rows, nb.reshape(-1)).reshape(m, self.k)
            o = np.lexsort((nb, nd), axis=-1)
            self._lists = (np.take_along_axis(nb, o, 1), np.take_along_axis(nd, o, 1), lb)
        return self._lists

    def linkage(self) -> np.ndarray:
        return _linkage(self)


def single_linkage_exact(x: np.ndarray, k: int = KNN_K) -> np.ndarray:
    """scipy's ``linkage(pdist(x), method="single")`` for (N, P) float64 ``x``, bit for bit
    on data whose distinct rows have distinct pairwise distances, in O(N·P + N·k) memory."""
    return ExactLinkage(x, k).linkage()


def _linkage(work: ExactLinkage) -> np.ndarray:
    x, rep, group = work.x, work.rep, work.group
    n = x.shape[0]
    u, v, w = boruvka_mst(work)
    uorder, uheight = _prim_order(rep.size, u, v, w)
    # expand: each distinct row, then its duplicates (ascending index) at distance 0
    members = np.argsort(group, kind="stable")  # rows grouped, ascending within a group
    gstart = np.searchsorted(group[members], np.arange(rep.size + 1))
    sizes = np.diff(gstart)
    seq_groups = np.repeat(uorder, sizes[uorder])
    pos_in = np.arange(n) - np.repeat(np.cumsum(sizes[uorder]) - sizes[uorder], sizes[uorder])
    seq = members[gstart[seq_groups] + pos_in]
    hts = np.where(pos_in == 0, np.repeat(uheight, sizes[uorder]), 0.0)
    a, b, h = seq[:-1], seq[1:], hts[1:]
    o = np.argsort(h, kind="mergesort")
    left, right, cnt = _label(a[o], b[o], n)
    z = np.empty((n - 1, 4))
    z[:, 0] = left
    z[:, 1] = right
    z[:, 2] = h[o]
    z[:, 3] = cnt
    return z


def duplicate_groups_exact(
    x: np.ndarray | ExactLinkage, t_exact: float, t_near: float, k: int = KNN_K
) -> tuple[list[list[int]], list[list[int]]]:
    """Connected components of the pairs with ``pdist <= t_exact`` and of those with
    ``t_exact < pdist <= t_near`` (DataEval 0.65's duplicate rules), without an N×N matrix."""
    work = x if isinstance(x, ExactLinkage) else ExactLinkage(x, k)
    group, xu = work.group, work.xu
    n = work.x.shape[0]
    if not (np.isfinite(t_near) and np.isfinite(t_exact)) or n < 2:
        return [], []
    m = xu.shape[0]
    pu: list[np.ndarray] = []
    pv: list[np.ndarray] = []
    if m > 1 and t_near >= 0:
        t = work.tiles
        nb, nd, lb = work.lists()
        kk = nb.shape[1]
        rows = np.repeat(np.arange(m), kk)
        d = nd.reshape(-1)
        sel = d <= t_near
        pu.append(rows[sel])
        pv.append(nb.reshape(-1)[sel])
        wide = np.nonzero(lb <= t_near)[0]
        cols = np.arange(m)
        for s in range(0, wide.size, TILE_ROWS):
            r = wide[s : s + TILE_ROWS]
            tol = t.tol(r)
            for c0 in range(0, m, TILE_COLS):
                cc = cols[c0 : c0 + TILE_COLS]
                g = t.d2(r, cc)
                ii, jj = np.nonzero(g <= t_near * t_near + 2 * tol[:, None])
                keep = r[ii] != cc[jj]
                ii, jj = ii[keep], jj[keep]
                dd = exact_distances(xu, r[ii], cc[jj])
                ok = dd <= t_near
                pu.append(r[ii][ok])
                pv.append(cc[jj][ok])
    if pu:
        a = np.concatenate(pu)
        b = np.concatenate(pv)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        key = np.unique(np.stack([lo, hi], axis=1), axis=0) if lo.size else np.zeros((0, 2), np.int64)
    else:
        key = np.zeros((0, 2), np.int64)
    dk = exact_distances(xu, key[:, 0], key[:, 1]) if key.size else np.zeros(0)
    is_exact = dk <= t_exact
    exact_groups = _components(n, group, key[is_exact], with_members=True)
    near_groups = _components(n, group, key[~is_exact], with_members=False)
    return exact_groups, near_groups


def _components(n: int, group: np.ndarray, pairs: np.ndarray, with_members: bool) -> list[list[int]]:
    """Components over original rows: unique-row pairs join every member of both groups;
    ``with_members`` also joins the members of each duplicate group (distance 0)."""
    from scipy.sparse.csgraph import connected_components

    members = np.argsort(group, kind="stable")
    gstart = np.searchsorted(group[members], np.arange(int(group.max()) + 2))
    first = members[gstart[:-1]]  # lowest row of each group
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    touched = np.zeros(n, dtype=bool)
    # every row linked to its group's first row (only counted when the group is touched)
    link_src, link_dst = np.arange(n), first[group]
    if pairs.size:
        src.append(first[pairs[:, 0]])
        dst.append(first[pairs[:, 1]])
        tg = np.zeros(first.size, dtype=bool)
        tg[pairs.ravel()] = True
        touched |= tg[group]
    if with_members:
        sizes = np.diff(gstart)
        touched |= sizes[group] > 1
    if not touched.any():
        return []
    src.append(link_src[touched])
    dst.append(link_dst[touched])
    s = np.concatenate(src)
    d = np.concatenate(dst)
    g = csr_matrix((np.ones(s.size, np.int8), (s, d)), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    idx = np.nonzero(touched)[0]
    lab_t = lab[idx]
    o = np.argsort(lab_t, kind="stable")
    cuts = np.nonzero(np.diff(lab_t[o]))[0] + 1
    groups = [sorted(int(i) for i in grp) for grp in np.split(idx[o], cuts) if grp.size > 1]
    return sorted(groups)
