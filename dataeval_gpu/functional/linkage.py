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
import logging

import numba
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

__all__ = [
    "DistanceTiles",
    "ExactLinkage",
    "duplicate_groups_exact",
    "exact_distances",
    "mst_exact",
    "single_linkage_exact",
]

_log = logging.getLogger(__name__)

#: neighbours per point in the candidate lists
KNN_K = 24
#: rows per distance tile
TILE_ROWS = 1024
#: columns per distance tile
TILE_COLS = 8192


@numba.njit(cache=True, nogil=True)
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


def _group_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _knn_lists(t: DistanceTiles, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(idx (n, k), lower bound (n,)): candidate neighbours (self excluded) and a bound below
    which no unlisted point lies."""
    n = t.x.shape[0]
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - faiss is a dependency of the cpu extra
        faiss = None
    if faiss is not None:
        xf = np.ascontiguousarray(t.xc, dtype=np.float32)
        index = faiss.IndexFlatL2(xf.shape[1])
        index.add(xf)
        d2, idx = index.search(xf, k + 1)
        eps = np.finfo(np.float32).eps
        tol = 8.0 * (t.x.shape[1] + 16) * eps * (t.sq + t.sqmax) + 1e-300
    else:  # pragma: no cover
        d2 = np.empty((n, k + 1))
        idx = np.empty((n, k + 1), dtype=np.int64)
        cols = np.arange(n)
        for s in range(0, n, TILE_ROWS):
            rows = np.arange(s, min(n, s + TILE_ROWS))
            g = t.d2(rows, cols)
            part = np.argpartition(g, k, axis=1)[:, : k + 1]
            vals = np.take_along_axis(g, part, 1)
            o = np.argsort(vals, axis=1)
            idx[rows] = np.take_along_axis(part, o, 1)
            d2[rows] = np.take_along_axis(vals, o, 1)
        tol = t.tol(np.arange(n))
    idx = idx.astype(np.int64)
    # drop self (usually first; with rounding it may sit elsewhere or be missing)
    self_hit = idx == np.arange(n)[:, None]
    keep = ~self_hit
    no_self = keep.all(axis=1)
    keep[no_self, -1] = False
    nb = idx[keep].reshape(n, k)
    lb = np.sqrt(np.maximum(d2[:, -1].astype(np.float64) - tol, 0.0))
    if k >= n - 1:
        lb[:] = np.inf
    return nb, lb


# --------------------------------------------------------------------------- Borůvka


@numba.njit(cache=True, nogil=True)
def _find(parent: np.ndarray, a: int) -> int:  # pragma: no cover - compiled
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True, nogil=True)
def _list_candidates(nb, nd, ptr, comp):  # pragma: no cover - compiled
    n, k = nb.shape
    cd = np.full(n, np.inf)
    cq = np.full(n, -1, dtype=np.int64)
    for p in range(n):
        c = comp[p]
        j = ptr[p]
        while j < k and comp[nb[p, j]] == c:
            j += 1
        ptr[p] = j
        if j < k:
            cd[p] = nd[p, j]
            cq[p] = nb[p, j]
    return cd, cq


@numba.njit(cache=True, nogil=True)
def _less(d1, a1, b1, d2, a2, b2) -> bool:  # pragma: no cover - compiled
    if d1 != d2:
        return d1 < d2
    lo1, hi1 = min(a1, b1), max(a1, b1)
    lo2, hi2 = min(a2, b2), max(a2, b2)
    if lo1 != lo2:
        return lo1 < lo2
    return hi1 < hi2


@numba.njit(cache=True, nogil=True)
def _component_best(comp, ncomp, cd, cq, lb):  # pragma: no cover - compiled
    bd = np.full(ncomp, np.inf)
    bp = np.full(ncomp, -1, dtype=np.int64)
    bq = np.full(ncomp, -1, dtype=np.int64)
    for p in range(comp.size):
        c = comp[p]
        if cq[p] >= 0 and (bp[c] < 0 or _less(cd[p], p, cq[p], bd[c], bp[c], bq[c])):
            bd[c] = cd[p]
            bp[c] = p
            bq[c] = cq[p]
    return bd, bp, bq


def _search_outside(t: DistanceTiles, rows: np.ndarray, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest point in another component for each of ``rows`` (distance, index)."""
    n = comp.size
    best_d = np.full(rows.size, np.inf)
    best_q = np.full(rows.size, -1, dtype=np.int64)
    for s in range(0, rows.size, TILE_ROWS):
        r = rows[s : s + TILE_ROWS]
        cr = comp[r]
        tol = t.tol32(r)
        for c0 in range(0, n, TILE_COLS):
            cols = np.arange(c0, min(n, c0 + TILE_COLS))
            g = t.d2_32(r, cols)
            g[cr[:, None] == comp[cols][None, :]] = np.inf
            m = g.min(axis=1)
            ii, jj = np.nonzero(g <= (m + 2 * tol)[:, None])
            if ii.size == 0:
                continue
            d = exact_distances(t.x, r[ii], cols[jj])
            _merge_best(best_d, best_q, s + ii, r[ii], cols[jj], d, rows)
    return best_d, best_q


def _key(d: float, p: int, q: int) -> tuple[float, int, int]:
    return (float(d), int(min(p, q)), int(max(p, q)))


def _merge_best(best_d, best_q, slot, p, q, d, rows) -> None:
    # lexicographic (d, lo, hi) minimum per slot
    lo, hi = np.minimum(p, q), np.maximum(p, q)
    order = np.lexsort((hi, lo, d, slot))
    first = np.ones(order.size, dtype=bool)
    first[1:] = slot[order][1:] != slot[order][:-1]
    sel = order[first]
    for i in sel.tolist():
        s = slot[i]
        bq = best_q[s]
        if bq < 0 or _key(d[i], p[i], q[i]) < _key(best_d[s], rows[s], bq):
            best_d[s] = d[i]
            best_q[s] = q[i]


def _component_minima(t: DistanceTiles, comp: np.ndarray, ncomp: int, f32: bool = False) -> np.ndarray:
    """(ncomp, ncomp) approximate minimum squared distance between components (tiles on and
    above the diagonal only; the matrix is symmetric)."""
    order = np.argsort(comp, kind="stable")
    cs = comp[order]
    kk = np.full((ncomp, ncomp), np.inf)
    n = comp.size
    for s in range(0, n, TILE_ROWS):
        r = order[s : s + TILE_ROWS]
        rc = cs[s : s + TILE_ROWS]
        ri, rst = np.unique(rc, return_index=True)
        for c0 in range(s, n, TILE_COLS):
            cols = order[c0 : c0 + TILE_COLS]
            ccs = cs[c0 : c0 + TILE_COLS]
            ci, cst = np.unique(ccs, return_index=True)
            g = t.d2_32(r, cols) if f32 else t.d2(r, cols)
            per_col = np.minimum.reduceat(g, cst, axis=1)
            per = np.minimum.reduceat(per_col, rst, axis=0)
            blk = np.ix_(ri, ci)
            kk[blk] = np.minimum(kk[blk], per)
    return np.minimum(kk, kk.T)


def _pair_between(t: DistanceTiles, a: np.ndarray, b: np.ndarray) -> tuple[float, int, int]:
    """Exact closest pair between point sets a and b (lexicographic ties)."""
    best = (np.inf, -1, -1)
    bkey = (np.inf, -1, -1)
    for s in range(0, a.size, TILE_ROWS):
        r = a[s : s + TILE_ROWS]
        tol = t.tol32(r)
        for c0 in range(0, b.size, TILE_COLS):
            cols = b[c0 : c0 + TILE_COLS]
            g = t.d2_32(r, cols)
            m = float(g.min())
            ii, jj = np.nonzero(g <= m + 2 * float(tol.max()))
            d = exact_distances(t.x, r[ii], cols[jj])
            for dd, p, q in zip(d.tolist(), r[ii].tolist(), cols[jj].tolist(), strict=True):
                key = _key(dd, p, q)
                if best[1] < 0 or key < bkey:
                    best, bkey = (dd, p, q), key
    return best


def mst_exact(x: np.ndarray, k: int = KNN_K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning tree of the complete Euclidean graph of distinct rows ``x`` (float64).

    Returns (u, v, w): N - 1 edges with pdist-exact weights.  Ties are broken by
    (weight, lower index, higher index), so the tree is the unique one for that order.
    """
    return _mst(ExactLinkage(x, k))


def _mst(work: ExactLinkage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = work.xu
    n = x.shape[0]
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    t = work.tiles
    nb, nd, lb = work.lists()
    parent = np.arange(n, dtype=np.int64)
    ptr = np.zeros(n, dtype=np.int64)
    eu: list[np.ndarray] = []
    ev: list[np.ndarray] = []
    ew: list[np.ndarray] = []
    ncomp = n
    rounds = 0
    while ncomp > 1:
        rounds += 1
        roots = _roots(parent)
        _, comp = np.unique(roots, return_inverse=True)
        comp = comp.astype(np.int64)
        cd, cq = _list_candidates(nb, nd, ptr, comp)
        bd, bp, bq = _component_best(comp, ncomp, cd, cq, lb)
        active = np.nonzero(lb <= bd[comp])[0]
        if active.size > n // 3 and ncomp <= 2048:
            _log.debug("mst_exact: %d components left; component minima pass", ncomp)
            a, b, w = _finish_components(t, comp, ncomp)
            eu.append(a)
            ev.append(b)
            ew.append(w)
            break
        if active.size:
            sd, sq = _search_outside(t, active, comp)
            for p, d_p, q in zip(active.tolist(), sd.tolist(), sq.tolist(), strict=True):
                c = comp[p]
                if q >= 0 and (bp[c] < 0 or _key(d_p, p, q) < _key(bd[c], bp[c], bq[c])):
                    bd[c], bp[c], bq[c] = d_p, p, q
        # add each component's edge once
        lo, hi = np.minimum(bp, bq), np.maximum(bp, bq)
        key = np.unique(np.stack([lo, hi], axis=1), axis=0)
        d = exact_distances(x, key[:, 0], key[:, 1])
        for (p, q), w in zip(key.tolist(), d.tolist(), strict=True):
            rp, rq = _find(parent, p), _find(parent, q)
            if rp != rq:
                parent[max(rp, rq)] = min(rp, rq)
                eu.append(np.array([p]))
                ev.append(np.array([q]))
                ew.append(np.array([w]))
                ncomp -= 1
    _log.debug("mst_exact: %d points, %d rounds", n, rounds)
    u = np.concatenate(eu)
    v = np.concatenate(ev)
    w = np.concatenate(ew)
    if u.size != n - 1:  # pragma: no cover - a spanning tree has N - 1 edges
        raise RuntimeError(f"mst_exact: {u.size} edges for {n} points")
    return u, v, w


@numba.njit(cache=True, nogil=True)
def _roots(parent):  # pragma: no cover - compiled
    out = np.empty(parent.size, dtype=np.int64)
    for i in range(parent.size):
        out[i] = _find(parent, i)
    return out


def _tree_of(kk: np.ndarray):
    kk = kk.copy()
    np.fill_diagonal(kk, 0.0)
    kk = np.where(np.isfinite(kk), np.maximum(kk, 1e-300), 0.0)
    return minimum_spanning_tree(csr_matrix(np.sqrt(kk))).tocoo()


@numba.njit(cache=True, nogil=True)
def _path_max(k, ra, rb, kk):  # pragma: no cover - compiled
    """Largest ``kk`` edge value on the tree path between every two of k nodes."""
    deg = np.zeros(k + 1, np.int64)
    for e in range(ra.size):
        deg[ra[e] + 1] += 1
        deg[rb[e] + 1] += 1
    for i in range(k):
        deg[i + 1] += deg[i]
    adj = np.empty(2 * ra.size, np.int64)
    fill = deg[:-1].copy()
    for e in range(ra.size):
        adj[fill[ra[e]]] = rb[e]
        fill[ra[e]] += 1
        adj[fill[rb[e]]] = ra[e]
        fill[rb[e]] += 1
    out = np.zeros((k, k))
    stack = np.empty(k, np.int64)
    seen = np.zeros(k, np.bool_)
    for root in range(k):
        seen[:] = False
        seen[root] = True
        stack[0] = root
        top = 1
        while top > 0:
            top -= 1
            u = stack[top]
            for j in range(deg[u], deg[u + 1]):
                v = adj[j]
                if not seen[v]:
                    seen[v] = True
                    out[root, v] = max(out[root, u], kk[u, v])
                    stack[top] = v
                    top += 1
    return out


def _finish_components(
    t: DistanceTiles, comp: np.ndarray, ncomp: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tree = None
    if ncomp <= 512:
        # float32 minima choose the tree when every non-tree pair beats its tree path by more
        # than twice the rounding bound (then the exact minima give the same tree)
        kk = _component_minima(t, comp, ncomp, f32=True).astype(np.float64)
        tree = _tree_of(kk)
        bound = 2 * float(t.tol32(np.array([int(np.argmax(t.sq))]))[0])
        path = _path_max(ncomp, tree.row.astype(np.int64), tree.col.astype(np.int64), kk)
        off = ~np.eye(ncomp, dtype=bool)
        off[tree.row, tree.col] = False
        off[tree.col, tree.row] = False
        if not np.all(kk[off] > path[off] + 2 * bound):
            tree = None
    if tree is None:
        tree = _tree_of(_component_minima(t, comp, ncomp))
    order = np.argsort(comp, kind="stable")
    starts = np.searchsorted(comp[order], np.arange(ncomp + 1))
    us, vs, ws = [], [], []
    for a, b in zip(tree.row.tolist(), tree.col.tolist(), strict=True):
        pa = order[starts[a] : starts[a + 1]]
        pb = order[starts[b] : starts[b + 1]]
        d, p, q = _pair_between(t, pa, pb)
        us.append(p)
        vs.append(q)
        ws.append(d)
    return np.asarray(us, np.int64), np.asarray(vs, np.int64), np.asarray(ws, np.float64)


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


@numba.njit(cache=True, nogil=True)
def _label(a: np.ndarray, b: np.ndarray, n: int) -> tuple:  # pragma: no cover - compiled
    parent = np.arange(2 * n - 1)
    size = np.ones(2 * n - 1, dtype=np.int64)
    left = np.empty(n - 1, dtype=np.int64)
    right = np.empty(n - 1, dtype=np.int64)
    cnt = np.empty(n - 1, dtype=np.int64)
    for i in range(n - 1):
        x = _find(parent, a[i])
        y = _find(parent, b[i])
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
        self.rep, self.group = _group_rows(self.x)
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
            nb, lb = _knn_lists(self.tiles, self.k)
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
    u, v, w = _mst(work)
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
