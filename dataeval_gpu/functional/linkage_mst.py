"""Minimum spanning tree of the exact single linkage (:mod:`dataeval_gpu.functional.linkage`).

Borůvka's algorithm on the distinct rows: each component's shortest outgoing edge comes
from the k-nearest-neighbour lists while their lower bound proves no unlisted point is
closer; the points the bound cannot clear are searched with distance tiles.  When few
components remain, one pass of tiles gives the component-to-component minima and the rest
of the tree comes from those.  Every weight is recomputed with :func:`exact_distances`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from .linkage_tiles import TILE_COLS, TILE_ROWS, DistanceTiles, exact_distances, find

if TYPE_CHECKING:
    from .linkage import ExactLinkage

__all__ = ["boruvka_mst", "edge_key"]

_log = logging.getLogger(__name__)


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


def edge_key(d: float, p: int, q: int) -> tuple[float, int, int]:
    """The (weight, lower index, higher index) order that breaks ties between edges."""
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
        if bq < 0 or edge_key(d[i], p[i], q[i]) < edge_key(best_d[s], rows[s], bq):
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
                key = edge_key(dd, p, q)
                if best[1] < 0 or key < bkey:
                    best, bkey = (dd, p, q), key
    return best


def boruvka_mst(
    work: ExactLinkage,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, w): the MST edges of ``work``'s distinct rows (see :func:`~dataeval_gpu.functional.linkage.mst_exact`)."""
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
                if q >= 0 and (bp[c] < 0 or edge_key(d_p, p, q) < edge_key(bd[c], bp[c], bq[c])):
                    bd[c], bp[c], bq[c] = d_p, p, q
        # add each component's edge once
        lo, hi = np.minimum(bp, bq), np.maximum(bp, bq)
        key = np.unique(np.stack([lo, hi], axis=1), axis=0)
        d = exact_distances(x, key[:, 0], key[:, 1])
        for (p, q), w in zip(key.tolist(), d.tolist(), strict=True):
            rp, rq = find(parent, p), find(parent, q)
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
        out[i] = find(parent, i)
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
