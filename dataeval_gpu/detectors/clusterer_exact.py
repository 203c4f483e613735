"""DataEval 0.65's Clusterer rules, exactly, on a single-linkage tree built without an N×N matrix.

0.65 (``dataeval._internal.detectors.clusterer``) works on ``linkage(pdist(x), "single")``:

* **Cluster history.**  Walking the merges in order, a merge of two points starts a cluster
  (a new id, level 0); a point joining a cluster moves it up one level; two clusters merging
  keep the smaller id at ``max(levels) + 1`` and the other id is "merged" into it (the lower
  cluster is repeated, as a copy, at the levels it skipped).  Each cluster keeps the merge
  distances inside it (as float32) and flags ``out1`` / ``out2`` when its newest distance
  exceeds their mean + 1 / + 2 standard deviations.
* **Good and bad merges.**  For every cluster-cluster merge, the distance between the two
  clusters at each level below the merge (minimum pairwise distance; the maximum over levels,
  or the mean when the merged cluster is ``out2``, or ``out1`` and large) is compared on a log
  scale against the mean + 2 std of every cluster's largest within-cluster mean distance.
  Walking the merges from the top, this gives each cluster id its *last good merge level*.
* **Outliers.**  Points that join a cluster above its last good level with an ``out2``
  distance (or all points of a small cluster that does so or ends there); ``out1`` joins of
  large clusters are *potential* outliers.
* **Duplicates.**  Pairs closer than the mean standard deviation of the merge distances of the
  large clusters at their last good levels (near), or one hundredth of it (exact).

Here the same quantities come from the tree directly: the merge distances of a cluster are a
contiguous run of the tree's post-order, so their mean and deviation combine in O(1) per
merge (float64), and the exact float32 numpy values are recomputed from that run whenever the
float64 estimate is too close to a threshold to decide; the minimum distance between two
clusters at every level comes from blocked distance tiles over the two clusters once; the
duplicate pairs from neighbour lists.  Memory stays O(N·P + N).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..functional.kernel_cache import njit
from ..functional.linkage import (
    ExactLinkage,
    duplicate_groups_exact,
    exact_distances,
)
from ..parallel import executor, worker_count
from .clusterer_tree import GUARD, ClusterTree

__all__ = ["ClusterTree", "exact_clusterer_results"]


def _intra_max(tree: ClusterTree) -> dict[int, np.float32]:
    """Per cluster id, the largest ``dist_avg`` over its levels below ``max_level`` (float32)."""
    avg, std = tree.estimates()
    ok = tree.level < tree.max_level
    out: dict[int, np.float32] = {}
    rows = np.nonzero(ok)[0]
    if rows.size == 0:
        return out
    cids = tree.cid[rows]
    est = avg[rows]
    best = np.full(tree.max_clusters, -np.inf)
    np.maximum.at(best, cids, est)
    band = GUARD * (np.abs(best[cids]) + std[rows]) + 1e-300
    near = est >= best[cids] - band
    # per id, candidates from the largest estimate down; stop once no estimate can beat the
    # best exact value found
    order = np.lexsort((-est[near], cids[near]))
    for m, c, e, b in zip(
        rows[near][order].tolist(), cids[near][order].tolist(), est[near][order].tolist(),
        band[near][order].tolist(), strict=True,
    ):  # fmt: skip
        if c in out and e + 2 * b < float(out[c]):
            continue
        a = np.float32(tree.exact_avg_std(m)[0])
        if c not in out or a > out[c]:
            out[c] = a
    return out


@njit
def _chain(top, cid, level, kind, left, right, size, leaf_start, leaves, n):  # pragma: no cover - compiled
    """Points of the cluster made by merge ``top`` and the level at which each joined its id."""
    c = cid[top]
    pts = np.empty(size[top], np.int64)
    lev = np.empty(size[top], np.int64)
    k = 0
    m = top
    done = False
    while not done:
        lv = level[m]
        a = left[m]
        b = right[m]
        if kind[m] == 0:
            pts[k] = a
            pts[k + 1] = b
            lev[k] = lv
            lev[k + 1] = lv
            k = k + 2
            done = True
        elif kind[m] == 1:
            if a >= n:
                pts[k] = b
                m = a - n
            else:
                pts[k] = a
                m = b - n
            lev[k] = lv
            k = k + 1
        else:
            sa = a - n
            sb = b - n
            other = sb if cid[sa] == c else sa
            same = sa if cid[sa] == c else sb
            s0 = leaf_start[other]
            for i in range(size[other]):
                pts[k + i] = leaves[s0 + i]
                lev[k + i] = lv
            k = k + size[other]
            m = same
    return pts, lev


#: rows and columns of a level-minima tile (512 × 1024 float32 = 2 MB, in the core's cache
#: when the compiled kernel reads it)
LEVEL_ROWS = 512
LEVEL_COLS = 1024


@njit
def _level_tile(g, sa, sb, la, lb, ia, ib, mins, thr, ci, cj, cl, cv, nbuf):  # pragma: no cover - compiled
    """Merge the tile ``-2 g + sa[i] + sb[j]`` (float32; level of an entry: the later of its
    row's and column's levels) into the running per-level minima ``mins`` and append (row,
    column, level, value) of every entry within ``thr`` of its level's running minimum."""
    r, c = g.shape
    two = np.float32(-2.0)
    for i in range(r):
        li = la[i]
        s = sa[i]
        for j in range(c):
            lv = max(li, lb[j])
            v = (g[i, j] * two + s) + sb[j]
            m = mins[lv]
            if v < m:
                mins[lv] = v
                m = v
            if v <= m + thr:
                ci[nbuf] = ia[i]
                cj[nbuf] = ib[j]
                cl[nbuf] = lv
                cv[nbuf] = v
                nbuf += 1
    return nbuf


@njit
def _compact_levels(ci, cj, cl, cv, nbuf, bound):  # pragma: no cover - compiled
    """Keep the buffered entries with ``value <= bound[level]``."""
    k = 0
    for t in range(nbuf):
        if cv[t] <= bound[cl[t]]:
            ci[k] = ci[t]
            cj[k] = cj[t]
            cl[k] = cl[t]
            cv[k] = cv[t]
            k += 1
    return k


class LevelTiles:
    """The rows of ``x`` centred, in float32, with the rounding bound of their tiles: shared by
    every level-minima search of one run."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        xc = x - x.mean(axis=0)
        sq = np.einsum("ij,ij->i", xc, xc)
        self.x32 = xc.astype(np.float32)
        self.sq32 = np.einsum("ij,ij->i", self.x32, self.x32)
        sqmax = float(sq.max()) if sq.size else 0.0
        # a tile value is within 8 (P + 16) eps32 (|a|² + max |b|²) of the squared distance;
        # twice the largest bound keeps every pair that can be its level's exact minimum
        self.thr = np.float32(
            2 * 8.0 * (x.shape[1] + 16) * float(np.finfo(np.float32).eps) * 2 * sqmax + 1e-30
        )


def _levels_of(tree: ClusterTree, top: int) -> tuple[np.ndarray, np.ndarray]:
    return _chain(
        top,
        tree.cid,
        tree.level,
        tree.kind,
        tree.left,
        tree.right,
        tree.size,
        tree.leaf_start,
        tree.leaves,
        tree.n,
    )


def _level_minima(
    lt: LevelTiles, tree: ClusterTree, node_a: int, node_b: int, n_levels: int, mm=np.matmul
) -> np.ndarray:
    """0.65's cluster distance at each level 0..n_levels-1: the smallest pdist between the two
    clusters' points at that level (float32).

    One pass of float32 tiles over the two clusters (compiled: per-level running minima and
    the entries within rounding of them), then exact distances of the candidates within
    rounding of the smallest value at their level or below (the prefix minimum is what 0.65's
    values come to)."""
    pa, la = _levels_of(tree, node_a)
    pb, lb = _levels_of(tree, node_b)
    oa, ob = np.argsort(la, kind="stable"), np.argsort(lb, kind="stable")
    pa, la, pb, lb = pa[oa], la[oa], pb[ob], lb[ob]
    xa, xb = lt.x32[pa], lt.x32[pb]
    sa, sb = lt.sq32[pa], lt.sq32[pb]
    top = int(max(la.max(), lb.max())) + 1
    mins = np.full(top, np.inf, dtype=np.float32)
    tile = LEVEL_ROWS * LEVEL_COLS
    cap = 4 * tile
    ci = np.empty(cap, np.int64)
    cj = np.empty(cap, np.int64)
    cl = np.empty(cap, np.int64)
    cv = np.empty(cap, np.float32)
    nbuf = 0
    for s in range(0, pa.size, LEVEL_ROWS):
        e = min(pa.size, s + LEVEL_ROWS)
        for c0 in range(0, pb.size, LEVEL_COLS):
            c1 = min(pb.size, c0 + LEVEL_COLS)
            if cap - nbuf < tile:
                nbuf = _compact_levels(ci, cj, cl, cv, nbuf, mins + lt.thr)
                if cap - nbuf < tile:
                    ci, cj, cl, cv = (np.concatenate([b, np.empty(cap, b.dtype)]) for b in (ci, cj, cl, cv))
                    cap *= 2
            g = mm(xa[s:e], xb[c0:c1].T)
            nbuf = _level_tile(
                g,
                sa[s:e],
                sb[c0:c1],
                la[s:e],
                lb[c0:c1],
                pa[s:e],
                pb[c0:c1],
                mins,
                lt.thr,
                ci,
                cj,
                cl,
                cv,
                nbuf,
            )
    nbuf = _compact_levels(ci, cj, cl, cv, nbuf, np.minimum.accumulate(mins) + lt.thr)
    d = exact_distances(lt.x, ci[:nbuf], cj[:nbuf])
    exact = np.full(top, np.inf)
    np.minimum.at(exact, cl[:nbuf], d)
    vals = np.minimum.accumulate(exact)[:n_levels]
    return vals.astype(np.float32)


def _merge_entries(x: np.ndarray, tree: ClusterTree, out1: np.ndarray, out2: np.ndarray, min_num: int):
    """0.65's merge list (in its order) with each entry's cluster distance and intra maximum.

    The level-minima searches (merges judged by the mean) run on the package's threads, one
    merge each, with single-threaded GEMMs; each is deterministic and their results are
    taken in merge order."""
    from ..functional.knn_search import single_threaded_gemm  # noqa: PLC0415 - torch-backed, loaded on use

    rows = np.nonzero(tree.kind == 2)[0]
    rows = rows[np.lexsort((rows, tree.level[rows]))]
    intra = _intra_max(tree)
    pair0 = np.full((tree.max_clusters, 2), -1, np.int64)
    first = np.nonzero(tree.kind == 0)[0]
    pair0[tree.cid[first], 0] = tree.left[first]
    pair0[tree.cid[first], 1] = tree.right[first]
    entries = []
    merge_vals: list[np.float32 | None] = []
    intra_vals: list[np.float32] = []
    searches: list[tuple[int, int, int, int]] = []  # (slot, node a, node b, levels)
    for m in rows.tolist():
        outer, inner, lv = int(tree.cid[m]), int(tree.merged[m]), int(tree.level[m])
        n_levels = min(lv, tree.max_level)
        if out2[m] or (out1[m] and tree.size[m] >= min_num):
            a, b = tree.child_nodes(m)
            na, nb = (a - tree.n, b - tree.n) if tree.cid[a - tree.n] == outer else (b - tree.n, a - tree.n)
            searches.append((len(merge_vals), na, nb, n_levels))
            merge_vals.append(None)
        else:
            pa, pb = pair0[outer], pair0[inner]
            d = exact_distances(x, np.repeat(pa, 2), np.tile(pb, 2))
            merge_vals.append(np.float32(d.min()))
        intra_vals.append(intra[outer])
        entries.append((lv, outer, inner))
    if searches:
        lt = LevelTiles(x)
        # largest first, so the two threads finish together
        work = sorted(searches, key=lambda t: -int(tree.size[t[1]]) * int(tree.size[t[2]]))
        n_threads = worker_count()
        with single_threaded_gemm() as mm:

            def one(t: tuple[int, int, int, int]) -> np.float32:
                return np.mean(_level_minima(lt, tree, t[1], t[2], t[3], mm))

            means = list(executor(n_threads).map(one, work)) if n_threads > 1 else [one(t) for t in work]
        for t, v in zip(work, means, strict=True):
            merge_vals[t[0]] = v
    return entries, merge_vals, intra_vals


def _good_merges(merge_vals: list[np.float32], intra_vals: list[np.float32]) -> np.ndarray:
    """0.65's merge rule on log distances (float32 arithmetic, as its numpy calls do it)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        logs = np.log(np.unique(np.asarray(intra_vals, dtype=np.float32)))
        cut = logs.mean() + 2 * logs.std()
        mv = np.log(np.asarray(merge_vals, dtype=np.float32))
        below = mv < cut
        rel = np.abs((mv[~below] - cut) / cut)
        close = rel[rel < 1]
        spread = close.mean() + close.std()
        near = np.abs((mv - cut) / cut) < spread
    return below | near


def last_good_merge_levels(x: np.ndarray, tree: ClusterTree, min_num: int) -> dict[int, int]:
    """Cluster id -> the level of its last good merge (0.65's rules, in 0.65's dict order)."""
    if tree.max_clusters <= 1:
        return {0: int(tree.n * 0.1)}
    out1, out2 = tree.flags()
    entries, merge_vals, intra_vals = _merge_entries(x, tree, out1, out2, min_num)
    good = _good_merges(merge_vals, intra_vals)
    order = sorted(range(len(entries)), key=lambda i: entries[i][0], reverse=True)
    levels: dict[int, int] = {}
    for i in order:
        lv, outer, inner = entries[i]
        if not good[i]:
            levels.setdefault(outer, 0)
            levels.setdefault(inner, 0)
            if levels[outer] > lv:
                levels[outer] = lv - 1
        elif outer in levels:
            levels[outer] = max(levels[outer], lv)
    return levels


def _node_at(
    tree: ClusterTree, by_cid: dict[int, tuple[np.ndarray, np.ndarray]], c: int, lv: int
) -> tuple[int, bool]:
    """The merge whose cluster id ``c`` shows at level ``lv``, and whether it is a copy there."""
    lvls, nodes = by_cid[c]
    i = int(np.searchsorted(lvls, lv, side="right")) - 1
    return int(nodes[i]), int(lvls[i]) != lv


def find_outliers(tree: ClusterTree, levels: dict[int, int], min_num: int) -> tuple[list[int], list[int]]:
    """0.65's outlier walk over every cluster at every level, copies included."""
    out1, out2 = tree.flags()
    n = tree.n
    # events: (level, time, cid, node, is_copy); copies only where they can act
    ev: list[tuple[int, int, int, int, bool]] = []
    last_level = np.zeros(tree.max_clusters, np.int64)
    np.maximum.at(last_level, tree.cid, tree.level)
    fills = np.nonzero(tree.fill_node >= 0)[0]
    np.maximum.at(last_level, tree.cid[tree.fill_node[fills]], tree.fill_hi[fills])
    for m in np.nonzero(tree.kind != 2)[0].tolist():
        c = int(tree.cid[m])
        if c in levels and tree.level[m] > levels[c]:
            ev.append((int(tree.level[m]), m, c, m, False))
    for m in fills.tolist():
        node = int(tree.fill_node[m])
        c = int(tree.cid[node])
        if c not in levels:
            continue
        lo, hi = int(tree.fill_lo[m]), int(tree.fill_hi[m])
        start = max(lo, levels[c] + 1)
        if start > hi:
            continue
        ev.append((start, m, c, node, True))
        if hi != start:
            ev.append((hi, m, c, node, True))
    ev.sort(key=lambda e: (e[0], e[1]))
    outl = np.zeros(n, dtype=bool)
    pot = np.zeros(n, dtype=bool)
    seen: set[int] = set()
    for lv, _, c, node, copy in ev:
        last = int(tree.last[node])
        small = tree.size[node] < min_num
        if c in seen and not outl[last]:
            outl[last] = True
        elif not copy and out2[node]:
            if small:
                outl[tree.leaves_of(node)] = True
            else:
                outl[last] = True
            seen.add(c)
        elif not copy and out1[node] and not small:
            pot[last] = True
        elif lv == last_level[c] and small:
            outl[tree.leaves_of(node)] = True
    return np.nonzero(outl)[0].tolist(), np.nonzero(pot)[0].tolist()


def duplicate_thresholds(tree: ClusterTree, levels: dict[int, int], min_num: int) -> float:
    """0.65's near-duplicate distance: mean ``dist_std`` of the large clusters at their last
    good levels (nan when there is none)."""
    order = np.lexsort((tree.level, tree.cid))
    cids = tree.cid[order]
    cuts = np.searchsorted(cids, np.arange(tree.max_clusters + 1))
    by_cid = {c: (tree.level[order[cuts[c] : cuts[c + 1]]], order[cuts[c] : cuts[c + 1]]) for c in levels}
    stds: list[float] = []
    for c, lv in levels.items():
        node, copy = _node_at(tree, by_cid, c, lv)
        if tree.size[node] >= min_num:
            stds.append(0.0 if copy else tree.exact_avg_std(node)[1])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.mean(stds))


def exact_clusterer_results(
    x: np.ndarray,
) -> tuple[list[int], list[int], list[list[int]], list[list[int]], dict[int, int]]:
    """(outliers, potential outliers, duplicates, potential duplicates, last good merge levels)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    n = x.shape[0]
    min_num = min(max(2, int(n * 0.05)), 100)
    work = ExactLinkage(x)
    tree = ClusterTree.from_linkage(work.linkage())
    levels = last_good_merge_levels(x, tree, min_num)
    outliers, potential = find_outliers(tree, levels, min_num)
    near = duplicate_thresholds(tree, levels, min_num)
    dups, near_dups = duplicate_groups_exact(work, near / 100, near)
    return outliers, potential, dups, near_dups, levels
