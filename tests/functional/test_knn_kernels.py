"""The compiled kernels of the kNN clusterer against independent references: numpy sorts for
the row selection and the row sort, scipy's minimum_spanning_tree / connected_components for
the spanning forest (edge for edge, ties included)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from dataeval_gpu.functional.clustering_mst import knn_spanning_forest
from dataeval_gpu.functional.knn import knn_graph
from dataeval_gpu.functional.knn_kernels import (
    EMPTY,
    select_smallest,
    select_smallest_columns,
    sort_rows_drop_self,
)


def test_select_smallest_equals_a_lexicographic_sort_in_blocks() -> None:
    rng = np.random.default_rng(0)
    nq, w, kk = 40, 300, 7
    # few distinct values: many ties, broken by the lower column
    vals = rng.integers(0, 20, size=(nq, w)).astype(np.float32)
    dsq = rng.integers(0, 3, size=w).astype(np.float32)
    cols = rng.permutation(w).astype(np.int64) + 1000
    best_v = np.full((nq, kk), np.inf, np.float32)
    best_i = np.full((nq, kk), EMPTY, np.int64)
    for a in range(0, w, 64):  # merged block by block
        select_smallest(vals[:, a : a + 64], dsq[a : a + 64], cols[a : a + 64], best_v, best_i)
    total = vals + dsq[None]
    for r in range(nq):
        order = np.lexsort((cols, total[r]))[:kk]
        np.testing.assert_array_equal(best_i[r], cols[order])
        np.testing.assert_array_equal(best_v[r], total[r, order])


def test_select_smallest_columns_equals_a_lexicographic_sort_in_blocks() -> None:
    rng = np.random.default_rng(3)
    m, w, kk = 300, 40, 7
    vals = rng.integers(0, 20, size=(m, w)).astype(np.float32)  # column j: row rows[j]'s values
    dsq = rng.integers(0, 3, size=m).astype(np.float32)
    cols = rng.permutation(m).astype(np.int64) + 1000
    rows = rng.permutation(60)[:w].astype(np.int64)  # into a larger list, in any order
    best_v = np.full((60, kk), np.inf, np.float32)
    best_i = np.full((60, kk), EMPTY, np.int64)
    for a in range(0, m, 64):  # merged block by block
        select_smallest_columns(vals[a : a + 64], dsq[a : a + 64], cols[a : a + 64], rows, best_v, best_i)
    total = vals + dsq[:, None]
    for j, r in enumerate(rows):
        order = np.lexsort((cols, total[:, j]))[:kk]
        np.testing.assert_array_equal(best_i[r], cols[order])
        np.testing.assert_array_equal(best_v[r], total[order, j])
    untouched = np.setdiff1d(np.arange(60), rows)
    assert (best_i[untouched] == EMPTY).all()


def test_select_smallest_writes_the_rows_it_is_given() -> None:
    buf = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], np.float32)
    best_v = np.full((4, 2), np.inf, np.float32)
    best_i = np.full((4, 2), EMPTY, np.int64)
    select_smallest(
        buf, np.zeros(3, np.float32), np.arange(3, dtype=np.int64), best_v, best_i, rows=np.array([3, 1])
    )
    assert best_i.tolist() == [[EMPTY, EMPTY], [0, 2], [EMPTY, EMPTY], [1, 2]]
    assert best_v[3].tolist() == [1.0, 2.0]


def test_select_smallest_leaves_empty_slots_when_short() -> None:
    best_v = np.full((1, 4), np.inf, np.float32)
    best_i = np.full((1, 4), EMPTY, np.int64)
    select_smallest(
        np.array([[2.0, 1.0]], np.float32), np.zeros(2, np.float32), np.array([5, 9]), best_v, best_i
    )
    assert best_i.tolist() == [[9, 5, EMPTY, EMPTY]]


def test_sort_rows_drop_self_equals_two_stable_argsorts() -> None:
    rng = np.random.default_rng(1)
    n, kk = 200, 6
    d = rng.integers(0, 4, size=(n, kk)).astype(np.float64)
    c = np.stack([rng.choice(n, kk, replace=False) for _ in range(n)])
    c[::7, -1] = -1  # missing slots
    d[c < 0] = np.inf
    rows = np.arange(n)
    c[::5, 0] = rows[::5]  # the row itself, somewhere
    out_d, out_i = sort_rows_drop_self(d, c, kk - 1)
    key = np.where(c < 0, np.iinfo(np.int64).max, c)
    for r in range(n):
        o = np.lexsort((key[r], d[r]))
        dr, cr = d[r, o], c[r, o]
        drop = np.nonzero(cr == r)[0]
        drop_at = drop[0] if drop.size else kk - 1
        keep = np.arange(kk) != drop_at
        np.testing.assert_array_equal(out_i[r], cr[keep])
        np.testing.assert_array_equal(out_d[r], dr[keep])


def _scipy_forest(
    w: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray]:
    n, k = idx.shape
    rows = np.repeat(np.arange(n), k)
    cols = idx.reshape(-1)
    ww = w.reshape(-1).astype(np.float64)
    ok = (cols >= 0) & (cols != rows)
    g = sp.csr_matrix(
        (np.where(ww > 0, ww, np.finfo(np.float64).tiny)[ok], (rows[ok], cols[ok])), shape=(n, n)
    )
    t = minimum_spanning_tree(g).tocoo()
    n_comp, comp = connected_components(
        sp.csr_matrix((np.ones(t.row.size), (t.row, t.col)), shape=(n, n)), directed=False
    )
    return t.row, t.col, t.data, n_comp, comp


@pytest.mark.parametrize("kind", ["gauss", "grid", "repeats", "integers", "far_groups"])
@pytest.mark.parametrize("k", [4, 15])
@pytest.mark.parametrize("chunk", [1 << 20, 97, 1])
def test_spanning_forest_equals_scipy_edge_for_edge(kind: str, k: int, chunk: int) -> None:
    # small chunks: the stale-root filter and its refreshes between chunks
    rng = np.random.default_rng(2)
    x = {
        "gauss": lambda: rng.normal(size=(800, 6)),
        "grid": lambda: np.stack(np.meshgrid(np.arange(25), np.arange(25)), -1).reshape(
            -1, 2
        ),  # tied distances
        "repeats": lambda: np.repeat(rng.normal(size=(120, 3)), 6, axis=0),  # zero-length edges
        "integers": lambda: rng.integers(0, 4, size=(700, 3)),
        "far_groups": lambda: np.concatenate(
            [rng.normal(size=(150, 3)) + 60 * g for g in range(4)]
        ),  # a forest
    }[kind]().astype(np.float32)
    d, idx = knn_graph(x, k)
    idx[::11, -1] = -1  # a missing neighbour is ignored
    got = knn_spanning_forest(d, idx, chunk=chunk)
    assert got is not None
    u, v, entry, n_comp, comp = got
    ru, rv, rw, r_comp, r_lab = _scipy_forest(d, idx)
    mine = sorted(zip(u.tolist(), v.tolist(), d.reshape(-1)[entry].astype(np.float64).tolist(), strict=True))
    ref = sorted(
        zip(
            ru.tolist(), rv.tolist(), np.where(rw <= np.finfo(np.float64).tiny, 0.0, rw).tolist(), strict=True
        )
    )
    assert mine == ref
    assert n_comp == r_comp
    np.testing.assert_array_equal(comp, r_lab)
    if kind == "far_groups" and k == 4:
        assert n_comp > 1


def test_spanning_forest_declines_non_float32_weights() -> None:
    idx = np.array([[1], [0]])
    assert knn_spanning_forest(np.array([[0.1], [0.1]]), idx) is None  # 0.1 is no float32 value
    assert knn_spanning_forest(np.array([[0.5], [0.5]]), idx) is not None
