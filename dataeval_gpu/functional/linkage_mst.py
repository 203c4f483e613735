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

import numpy as np

from ..parallel import executor, worker_count
from .kernel_cache import njit
from .linkage_tiles import TILE_COLS, TILE_ROWS, DistanceTiles, exact_distances, find

if TYPE_CHECKING:
    from .linkage import ExactLinkage

__all__ = ["boruvka_mst", "edge_key"]

_log = logging.getLogger(__name__)


@njit
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


@njit
def _less(d1, a1, b1, d2, a2, b2) -> bool:  # pragma: no cover - compiled
    if d1 != d2:
        return d1 < d2
    lo1, hi1 = min(a1, b1), max(a1, b1)
    lo2, hi2 = min(a2, b2), max(a2, b2)
    if lo1 != lo2:
        return lo1 < lo2
    return hi1 < hi2


@njit
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


@njit
def _roots(parent):  # pragma: no cover - compiled
    out = np.empty(parent.size, dtype=np.int64)
    for i in range(parent.size):
        out[i] = find(parent, i)
    return out


#: rows and columns of a tile of the component-minima pass (512 × 1024 float32 = 2 MB: the
#: tile is still in the core's cache when the compiled reduction reads it)
PASS_ROWS = 512
PASS_COLS = 1024


@njit
def _minima_tile(g, sr, sc, ca, ccs, cst, rid, cid, kk, thr, bi, bj, bv, nbuf):  # pragma: no cover - compiled
    """Merge the tile ``-2 g + sr[i] + sc[j]`` (float32) into the running component-pair
    minima ``kk`` and append (row, column, value) of every entry within ``thr`` of its pair's
    running minimum.  Columns come in runs of one component (``ccs[r]`` from ``cst[r]``)."""
    nr = g.shape[0]
    nruns = ccs.size
    two = np.float32(-2.0)
    for i in range(nr):
        a = ca[i]
        s = sr[i]
        for r in range(nruns):
            b = ccs[r]
            if a == b:
                continue
            lo = min(a, b)
            hi = max(a, b)
            j0 = cst[r]
            j1 = cst[r + 1]
            m = np.float32(np.inf)
            for j in range(j0, j1):
                v = g[i, j] * two + sc[j]
                m = min(m, v)
            m = m + s
            cur = kk[lo, hi]
            if m < cur:
                cur = m
                kk[lo, hi] = m
            lim = cur + thr
            if m > lim:
                continue
            for j in range(j0, j1):
                v = (g[i, j] * two + sc[j]) + s
                if v <= lim:
                    bi[nbuf] = rid[i]
                    bj[nbuf] = cid[j]
                    bv[nbuf] = v
                    nbuf += 1
    return nbuf


@njit
def _compact(bi, bj, bv, nbuf, comp, kk, thr):  # pragma: no cover - compiled
    """Keep the buffered entries still within ``thr`` of their pair's minimum."""
    k = 0
    for t in range(nbuf):
        a = comp[bi[t]]
        b = comp[bj[t]]
        if bv[t] <= kk[min(a, b), max(a, b)] + thr:
            bi[k] = bi[t]
            bj[k] = bj[t]
            bv[k] = bv[t]
            k += 1
    return k


@njit
def _kruskal(ncomp, ca, cb, order, parent):  # pragma: no cover - compiled
    """Indices into ``order`` of the spanning-forest edges, in ``order``."""
    out = np.empty(ncomp - 1, np.int64)
    k = 0
    for t in order:
        ra = find(parent, ca[t])
        rb = find(parent, cb[t])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            out[k] = t
            k += 1
            if k == ncomp - 1:
                break
    return out[:k]


def _pair_candidates(
    t: DistanceTiles, comp: np.ndarray, ncomp: int, thr: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One pass of float32 tiles over the point pairs in different components (each unordered
    pair once, points in component order, row blocks spread over the package's threads, each
    with its own minima and buffer): the approximate minimum per component pair and every
    pair of points within ``thr`` of it — a superset of each component pair's exact closest
    pairs.  Returns (kk, rows, cols, values)."""
    from .knn_search import single_threaded_gemm  # noqa: PLC0415 - torch-backed, loaded on use

    if not hasattr(t, "xc32"):
        t.d2_32(np.zeros(1, np.int64), np.zeros(1, np.int64))  # builds the float32 copy
    order = np.argsort(comp, kind="stable")
    cs = comp[order]
    xs = t.xc32[order]
    sqs = t.sq32[order]
    n = comp.size
    blocks = list(range(0, n, PASS_ROWS))
    n_threads = worker_count()
    cap = 4 * PASS_ROWS * PASS_COLS

    def run(my_blocks: list[int], mm) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        kk = np.full((ncomp, ncomp), np.inf, dtype=np.float32)
        bi = np.empty(cap, np.int64)
        bj = np.empty(cap, np.int64)
        bv = np.empty(cap, np.float32)
        nbuf = 0
        for s in my_blocks:
            e = min(n, s + PASS_ROWS)
            ra = cs[s:e]
            for c0 in range(s, n, PASS_COLS):
                c1 = min(n, c0 + PASS_COLS)
                ccs_full = cs[c0:c1]
                cst = np.flatnonzero(np.diff(ccs_full)) + 1
                cst = np.concatenate([[0], cst, [c1 - c0]]).astype(np.int64)
                if cap - nbuf < (e - s) * (c1 - c0):
                    nbuf = _compact(bi, bj, bv, nbuf, comp, kk, thr)
                    if cap - nbuf < (e - s) * (c1 - c0):
                        grow = max(bi.size, (e - s) * (c1 - c0))
                        bi = np.concatenate([bi, np.empty(grow, np.int64)])
                        bj = np.concatenate([bj, np.empty(grow, np.int64)])
                        bv = np.concatenate([bv, np.empty(grow, np.float32)])
                g = mm(xs[s:e], xs[c0:c1].T)
                nbuf = _minima_tile(
                    g, sqs[s:e], sqs[c0:c1], ra, ccs_full[cst[:-1]], cst, order[s:e], order[c0:c1],
                    kk, thr, bi, bj, bv, nbuf,
                )  # fmt: skip
        nbuf = _compact(bi, bj, bv, nbuf, comp, kk, thr)
        return kk, bi[:nbuf].copy(), bj[:nbuf].copy(), bv[:nbuf].copy()

    parts = [blocks[i::n_threads] for i in range(n_threads)]
    with single_threaded_gemm() as mm:
        if n_threads == 1:
            res = [run(parts[0], mm)]
        else:
            res = list(executor(n_threads).map(lambda p: run(p, mm), parts))
    kk = res[0][0]
    for r in res[1:]:
        np.minimum(kk, r[0], out=kk)
    bi = np.concatenate([r[1] for r in res])
    bj = np.concatenate([r[2] for r in res])
    bv = np.concatenate([r[3] for r in res])
    nbuf = _compact(bi, bj, bv, bi.size, comp, kk, thr)
    return kk, bi[:nbuf], bj[:nbuf], bv[:nbuf]


def _finish_components(
    t: DistanceTiles, comp: np.ndarray, ncomp: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rest of the tree once ``ncomp`` components remain: each component pair's exact
    closest pair (lexicographic (distance, lower, higher) order) from one pass of float32
    tiles and exact distances of the candidates within rounding, then Kruskal's algorithm
    over those pairs."""
    # a tile value is within tol32 of the true squared distance; twice the largest bound
    # keeps every pair that can be its component pair's exact minimum
    thr = np.float32(2.0 * float(t.tol32(np.array([int(np.argmax(t.sq))]))[0]))
    _, p, q, _ = _pair_candidates(t, comp, ncomp, thr)
    d = exact_distances(t.x, p, q)
    lo, hi = np.minimum(p, q), np.maximum(p, q)
    ca, cb = comp[lo], comp[hi]
    pair = np.minimum(ca, cb) * ncomp + np.maximum(ca, cb)
    o = np.lexsort((hi, lo, d, pair))
    first = np.ones(o.size, dtype=bool)
    first[1:] = pair[o][1:] != pair[o][:-1]
    best = o[first]  # per component pair, its smallest (d, lo, hi)
    by_key = best[np.lexsort((hi[best], lo[best], d[best]))]
    edges = _kruskal(ncomp, ca, cb, by_key, np.arange(ncomp, dtype=np.int64))
    if edges.size != ncomp - 1:  # pragma: no cover - every component pair has a candidate
        raise RuntimeError("mst_exact: the component pairs do not connect")
    return lo[edges], hi[edges], d[edges]
