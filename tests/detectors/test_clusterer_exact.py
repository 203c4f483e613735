"""Clusterer(method="exact"): DataEval 0.65's four lists, list for list.

References: the tutorial's lists as 0.65 prints them (hand-recorded constants), scipy's
``linkage(pdist(x), "single")`` for the tree, and — with the ``parity`` extra installed —
dataeval 0.65 itself on seeded datasets.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.cluster.hierarchy import linkage
from scipy.spatial.distance import pdist, squareform
from sklearn.datasets import make_blobs

from dataeval_gpu.detectors.clusterer import AUTO_EXACT_LIMIT, Clusterer, ClustererOutput
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional.linkage import exact_distances, mst_exact, single_linkage_exact
from dataeval_gpu.functional.linkage_tiles import DistanceTiles, knn_lists

from .tutorial_reference import (
    REF_DUPLICATES,
    REF_OUTLIERS,
    REF_POTENTIAL_DUPLICATES,
    REF_POTENTIAL_OUTLIERS,
)

CENTERS = [(-1.5, 1.8), (-1, 3), (0.8, 2.1), (2.8, 1.5), (2.5, 3.5)]


def get_blobs(std: float = 0.3) -> np.ndarray:
    x, _ = make_blobs(n_samples=100, centers=CENTERS, cluster_std=std, random_state=33)
    return x


def tutorial_data() -> np.ndarray:
    x = get_blobs()
    x[79] = x[24]
    x[63] = x[58] + 1e-5
    return x


def outlier_data() -> np.ndarray:
    """0.65's test fixture: two points scaled 10x."""
    x = get_blobs()
    rints = np.random.default_rng(33).integers(0, 100, 2)
    x[rints] *= 10.0
    return x


def _blobs(n, p, centers, std, seed):
    x, _ = make_blobs(n_samples=n, n_features=p, centers=centers, cluster_std=std, random_state=seed)
    return x


def _planted(x, seed, exact=0.0, near=0.0):
    rng = np.random.default_rng(seed)
    n = len(x)
    for frac, noise in ((exact, 0.0), (near, 1e-6)):
        m = int(round(frac * n))
        if m:
            src = rng.choice(n, m, replace=False)
            dst = rng.choice(n, m, replace=False)
            x[dst] = x[src] + noise * rng.standard_normal((m, x.shape[1]))
    return x


def dataset(name: str) -> np.ndarray:
    rng = np.random.default_rng(sum(map(ord, name)))
    table = {
        "blobs-50x2": lambda: _blobs(50, 2, 3, 0.5, 1),
        "blobs-120x1": lambda: _blobs(120, 1, 4, 1.0, 2),
        "blobs-200x3-wide": lambda: _blobs(200, 3, 5, 2.0, 3),
        "blobs-300x8-tight": lambda: _blobs(300, 8, 8, 0.3, 4),
        "blobs-400x32": lambda: _blobs(400, 32, 6, 1.0, 5),
        "blobs-250x128": lambda: _blobs(250, 128, 10, 1.0, 6),
        "blobs-80x256": lambda: _blobs(80, 256, 4, 1.0, 7),
        "spreads-600x4": lambda: _blobs(600, 4, [[0] * 4, [5] * 4, [-6] * 4], [0.2, 1.0, 2.5], 8),
        "uniform-150x2": lambda: rng.uniform(size=(150, 2)),
        "uniform-300x16": lambda: rng.uniform(-1, 1, size=(300, 16)),
        "uniform-100x1": lambda: rng.uniform(size=(100, 1)),
        "single-200x4": lambda: _blobs(200, 4, 1, 1.0, 9),
        "single-60x64": lambda: rng.standard_normal((60, 64)),
        "two-points": lambda: np.array([[0.0, 1.0, 2.0], [1.0, 1.5, 2.5]]),
        "three-points-1d": lambda: np.array([[0.0], [1.0], [3.5]]),
        "exact-dups-300x8": lambda: _planted(_blobs(300, 8, 5, 1.0, 10), 1, exact=0.05),
        "near-dups-300x16": lambda: _planted(_blobs(300, 16, 5, 1.0, 11), 2, near=0.05),
        "both-dups-500x2": lambda: _planted(_blobs(500, 2, 6, 0.5, 12), 3, exact=0.02, near=0.02),
        "repeated-rows-200x3": lambda: rng.standard_normal((20, 3))[rng.integers(0, 20, 200)],
        "stretched-400x2": lambda: _blobs(400, 2, 4, 1.0, 13) @ np.array([[0.6, -0.6], [-0.4, 0.8]]),
        "float32-350x12": lambda: _blobs(350, 12, 7, 1.5, 14).astype(np.float32),
        "outlier-data": outlier_data,
        "all-equal-6x2": lambda: np.ones((6, 2)),
        "blobs-1000x16": lambda: _blobs(1000, 16, 12, 1.0, 15),
        "blobs-3000x2": lambda: _blobs(3000, 2, 8, 0.6, 16),
    }
    return table[name]()


FAST = [
    "blobs-50x2",
    "blobs-120x1",
    "blobs-200x3-wide",
    "blobs-300x8-tight",
    "blobs-400x32",
    "blobs-250x128",
    "blobs-80x256",
    "spreads-600x4",
    "uniform-150x2",
    "uniform-300x16",
    "uniform-100x1",
    "single-200x4",
    "single-60x64",
    "two-points",
    "three-points-1d",
    "exact-dups-300x8",
    "near-dups-300x16",
    "both-dups-500x2",
    "repeated-rows-200x3",
    "stretched-400x2",
    "float32-350x12",
    "outlier-data",
    "all-equal-6x2",
]
SLOW = ["blobs-1000x16", "blobs-3000x2"]


def _lists(out) -> tuple:
    return (
        [int(i) for i in out.outliers],
        [int(i) for i in out.potential_outliers],
        [[int(i) for i in g] for g in out.duplicates],
        [[int(i) for i in g] for g in out.potential_duplicates],
    )


def _reference(x: np.ndarray):
    pytest.importorskip("dataeval")
    from dataeval.detectors import Clusterer as RefClusterer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RefClusterer(x)
        return ref, ref.evaluate()


# --------------------------------------------------------------------------- the tutorial


def test_tutorial_lists_are_0_65s() -> None:
    out = Clusterer(tutorial_data()).evaluate()
    assert out.method == "exact"
    assert out.outliers == REF_OUTLIERS
    assert out.potential_outliers == REF_POTENTIAL_OUTLIERS
    assert out.duplicates == REF_DUPLICATES
    assert out.potential_duplicates == REF_POTENTIAL_DUPLICATES
    assert out.dict() == {
        "outliers": REF_OUTLIERS,
        "potential_outliers": REF_POTENTIAL_OUTLIERS,
        "duplicates": REF_DUPLICATES,
        "potential_duplicates": REF_POTENTIAL_DUPLICATES,
    }


# --------------------------------------------------------------------------- the tree


@pytest.mark.parametrize("name", FAST)
def test_linkage_equals_scipy(name: str) -> None:
    x = np.asarray(dataset(name), dtype=np.float64).reshape(len(dataset(name)), -1)
    np.testing.assert_array_equal(single_linkage_exact(x, k=6), linkage(pdist(x), "single"))


def test_linkage_through_component_pass_equals_scipy() -> None:
    # k=2 leaves many kNN components: exercises the component-minima pass and the searches
    x = _planted(_blobs(700, 5, 9, 0.4, 21), 4, exact=0.03)
    np.testing.assert_array_equal(single_linkage_exact(x, k=2), linkage(pdist(x), "single"))


def test_mst_weight_and_exact_distances() -> None:
    x = np.random.default_rng(3).standard_normal((300, 7))
    u, v, w = mst_exact(x, k=4)
    assert u.size == 299
    np.testing.assert_array_equal(w, exact_distances(x, u, v))
    z = linkage(pdist(x), "single")
    assert np.sort(w).tolist() == z[:, 2].tolist()  # the same multiset of heights
    d = pdist(x)
    assert exact_distances(x, np.array([0]), np.array([1]))[0] == d[0]


def test_knn_lists_are_the_nearest_and_their_bound_holds() -> None:
    # 1,300 rows: several 512-row blocks, so tiles below, on and above the diagonal
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.normal(size=(1290, 9)) * 3 + 40, rng.normal(size=(10, 9)) * 1e-4])
    x[700] = x[3] + 1e-6  # a near duplicate (distinct rows: the lists work on distinct rows)
    k = 7
    t = DistanceTiles(x)
    nb, lb = knn_lists(t, k)
    tol = t.tol32(np.arange(1300))  # float32 rounding of a squared distance
    d = squareform(pdist(x))
    np.fill_diagonal(d, np.inf)
    assert nb.shape == (1300, k)
    assert not (nb == np.arange(1300)[:, None]).any()
    for i in range(1300):
        listed = d[i, nb[i]]
        unlisted = np.delete(d[i], np.append(nb[i], i))
        assert unlisted.min() >= lb[i]  # the certificate the tree relies on
        kth = np.sort(d[i])[k - 1]
        assert listed.max() ** 2 <= kth**2 + 2 * tol[i]  # the true k nearest, up to float32 rounding
        assert lb[i] > 0.9 * kth or i >= 1290  # a useful bound (not on the tiny cluster)
    assert 3 in nb[700] and 700 in nb[3]


# --------------------------------------------------------------------------- 0.65 surface


def test_one_dimensional_input_is_n_by_1() -> None:
    x = np.array([0.0, 0.1, 0.2, 5.0, 5.1, 5.3, 20.0])
    a = Clusterer(x)
    assert a.data.shape == (7, 1)
    assert a.evaluate().dict() == Clusterer(x[:, None]).evaluate().dict()


def test_data_setter_starts_over() -> None:
    c = Clusterer(tutorial_data())
    first = c.evaluate()
    levels = c.last_good_merge_levels
    assert isinstance(levels, dict) and levels
    c.data = np.ones((6, 2))
    np.testing.assert_array_equal(c.data, np.ones((6, 2)))
    assert c.last_good_merge_levels != levels or c.evaluate().dict() != first.dict()
    c.data = tutorial_data()
    assert c.evaluate().dict() == first.dict()
    assert c.last_good_merge_levels == levels


def test_meta_records_the_call() -> None:
    out = Clusterer(tutorial_data()).evaluate()
    assert isinstance(out, ClustererOutput)
    meta = out.meta()
    assert set(meta) == {"name", "execution_time", "execution_duration", "arguments", "state", "version"}
    assert meta["name"] == "dataeval_gpu.detectors.Clusterer"
    assert meta["state"] == {"data": "ndarray: shape=(100, 2)", "method": "exact"}
    assert meta["arguments"] == {}
    assert meta["execution_duration"] >= 0


@pytest.mark.parametrize("shape", [(0, 0), (0, 1), (1, 1), (1,), (2, 0)])
def test_invalid_shapes_raise_value_error(shape) -> None:
    with pytest.raises(ValueError):
        Clusterer(np.ones(shape))


def test_flattens_like_0_65() -> None:
    x = np.random.default_rng(0).standard_normal((40, 2, 3))
    assert Clusterer(x).evaluate().dict() == Clusterer(x.reshape(40, 6)).evaluate().dict()


def test_method_argument() -> None:
    x = tutorial_data()
    with pytest.raises(InvalidArgumentError, match="method"):
        Clusterer(x, method="kmeans")
    with pytest.raises(InvalidArgumentError, match="hdbscan"):
        Clusterer(x, k=5)
    assert Clusterer(x, method="auto").method == "exact"
    assert Clusterer(np.zeros((AUTO_EXACT_LIMIT + 1, 1)), method="auto").method == "hdbscan"
    h = Clusterer(x, method="hdbscan", k=10).evaluate()
    assert h.method == "hdbscan" and h.cluster_label is not None
    assert h.meta()["state"]["method"] == "hdbscan"


def test_non_finite_rejected() -> None:
    x = tutorial_data()
    x[3, 0] = np.nan
    with pytest.raises(InvalidArgumentError, match="NaN"):
        Clusterer(x).evaluate()


# --------------------------------------------------------------------------- parity with 0.65


@pytest.mark.parity
def test_tutorial_parity_and_levels() -> None:
    ref, r = _reference(tutorial_data())
    c = Clusterer(tutorial_data())
    assert _lists(c.evaluate()) == _lists(r)
    assert c.last_good_merge_levels == ref.last_good_merge_levels
    assert list(c.last_good_merge_levels) == list(ref.last_good_merge_levels)  # same order


@pytest.mark.parity
@pytest.mark.parametrize("name", FAST)
def test_parity(name: str) -> None:
    x = dataset(name)
    ref, r = _reference(x)
    c = Clusterer(x)
    assert _lists(c.evaluate()) == _lists(r)
    assert c.last_good_merge_levels == ref.last_good_merge_levels


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_parity_larger(name: str) -> None:
    x = dataset(name)
    _, r = _reference(x)
    assert _lists(Clusterer(x).evaluate()) == _lists(r)
