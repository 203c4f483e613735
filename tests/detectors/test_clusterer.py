"""Clusterer: DataEval's tutorial data, planted outliers / copies at 10k, real image embeddings,
the HDBSCAN core."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from scipy.cluster.hierarchy import linkage
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from dataeval_gpu.detectors.clusterer import ClustererOutput
from dataeval_gpu.detectors.clusterer import HDBSCANClusterer as Clusterer
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional.clustering import (
    cluster_distance_scores,
    condense_tree,
    hdbscan_labels,
    robust_zscore,
    single_linkage,
    spanning_tree,
)
from dataeval_gpu.functional.knn import knn_graph

from .tutorial_reference import (  # what DataEval 0.65's Clusterer reports on the tutorial data
    REF_DUPLICATES,
    REF_OUTLIERS,
    REF_POTENTIAL_DUPLICATES,
    REF_POTENTIAL_OUTLIERS,
)


def tutorial_data() -> np.ndarray:
    """DataEval's Clusterer tutorial: 5 blobs, one exact and one near-exact copy."""
    x, _ = make_blobs(
        n_samples=100,
        centers=[(-1.5, 1.8), (-1, 3), (0.8, 2.1), (2.8, 1.5), (2.5, 3.5)],
        cluster_std=0.3,
        random_state=33,
    )
    x[79] = x[24]
    x[63] = x[58] + 1e-5
    return x


@pytest.fixture(scope="module")
def tutorial_output() -> ClustererOutput:
    return Clusterer(tutorial_data()).evaluate()


def test_tutorial_duplicates(tutorial_output: ClustererOutput) -> None:
    assert tutorial_output.duplicates == [[24, 79], [58, 63]]
    # potential duplicates: same layout as 0.65 and mostly the same groups
    for g in tutorial_output.potential_duplicates:
        assert g == sorted(g) and len(g) >= 2
    assert tutorial_output.potential_duplicates == sorted(tutorial_output.potential_duplicates)
    common = [g for g in tutorial_output.potential_duplicates if g in REF_POTENTIAL_DUPLICATES]
    assert len(common) >= 7
    flat = {i for g in tutorial_output.potential_duplicates for i in g}
    assert not flat & {24, 79, 58, 63}


def test_tutorial_outliers(tutorial_output: ClustererOutput) -> None:
    flagged = set(tutorial_output.outliers) | set(tutorial_output.potential_outliers)
    assert len(flagged & set(REF_OUTLIERS)) >= 5
    assert not set(tutorial_output.outliers) & set(tutorial_output.potential_outliers)
    assert len(flagged) <= 10  # a soft band, not a flood
    assert 6 in tutorial_output.outliers  # the farthest from its centre
    assert tutorial_output.outliers == sorted(tutorial_output.outliers)
    # five blobs found, everyone scored
    assert tutorial_output.cluster_label.max() + 1 == 5
    assert np.isfinite(tutorial_output.outlier_score).all()
    assert tutorial_output.outlier_score.shape == (100,)
    assert set(tutorial_output.dict()) == {
        "outliers",
        "potential_outliers",
        "duplicates",
        "potential_duplicates",
    }


def test_outlier_score_is_the_within_cluster_zscore(tutorial_output: ClustererOutput) -> None:
    x = tutorial_data()
    lab = tutorial_output.cluster_label
    for c in range(lab.max() + 1):
        m = lab == c
        centre = x[m].mean(0)
        d = np.linalg.norm(x[m] - centre, axis=1)
        np.testing.assert_allclose(
            tutorial_output.outlier_score[m], (d - d.mean()) / d.std(), rtol=1e-6, atol=1e-9
        )


@pytest.mark.parity
def test_parity_with_0_65(tutorial_output: ClustererOutput) -> None:
    pytest.importorskip("dataeval")
    import warnings

    from dataeval.detectors import Clusterer as RefClusterer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RefClusterer(tutorial_data()).evaluate()
    assert [int(i) for i in ref.outliers] == REF_OUTLIERS
    assert [int(i) for i in ref.potential_outliers] == REF_POTENTIAL_OUTLIERS
    assert [[int(i) for i in g] for g in ref.duplicates] == REF_DUPLICATES
    assert [[int(i) for i in g] for g in ref.potential_duplicates] == REF_POTENTIAL_DUPLICATES
    assert tutorial_output.duplicates == REF_DUPLICATES


def planted_blobs(
    n: int = 10_000, dim: int = 128, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """10 Gaussian blobs; 1% of the points pushed to 1.5× their distance from the centre;
    20 exact copies of other points."""
    x, y, centres = make_blobs(
        n_samples=n, n_features=dim, centers=10, random_state=seed, return_centers=True
    )
    rng = np.random.default_rng(seed)
    far = rng.choice(n, n // 100, replace=False)
    x[far] = centres[y[far]] + 1.5 * (x[far] - centres[y[far]])
    rest = np.setdiff1d(np.arange(n), far)
    src = rng.choice(rest, 20, replace=False)
    dst = rng.choice(np.setdiff1d(rest, src), 20, replace=False)
    x[dst] = x[src]
    is_far = np.zeros(n, dtype=bool)
    is_far[far] = True
    return (
        x.astype(np.float32),
        is_far,
        sorted(tuple(sorted((int(a), int(b)))) for a, b in zip(src, dst, strict=True)),
    )


@pytest.mark.integration
def test_planted_outliers_and_copies_10k() -> None:
    x, is_far, pairs = planted_blobs()
    out = Clusterer(x).evaluate()
    flagged = np.zeros(len(x), dtype=bool)
    flagged[out.outliers] = True
    recall = flagged[is_far].mean()
    false_pos = flagged[~is_far].mean()
    assert recall >= 0.95, recall
    assert false_pos <= 0.01, false_pos
    assert out.duplicates == [list(p) for p in pairs]
    assert out.potential_duplicates == []
    assert out.cluster_label.max() + 1 == 10


def test_deterministic() -> None:
    x, _, _ = planted_blobs(n=3000, dim=32, seed=1)
    a = Clusterer(x).evaluate()
    b = Clusterer(x.copy()).evaluate()
    assert a.dict() == b.dict()
    np.testing.assert_array_equal(a.outlier_score, b.outlier_score)
    np.testing.assert_array_equal(a.cluster_label, b.cluster_label)


def test_hdbscan_matches_sklearn_on_full_graph() -> None:
    from sklearn.cluster import HDBSCAN

    x, _ = make_blobs(
        n_samples=400, n_features=4, centers=4, cluster_std=[0.5, 1.0, 1.5, 0.7], random_state=2
    )
    d, i = knn_graph(x, len(x) - 1)
    for min_samples in (1, 5):
        ours, _ = hdbscan_labels(x, d, i, 15, min_samples)
        ref = HDBSCAN(min_cluster_size=15, min_samples=min_samples, copy=True).fit(x).labels_
        np.testing.assert_array_equal(ours == -1, ref == -1)
        assert adjusted_rand_score(ours, ref) > 0.99


def test_single_linkage_heights_match_scipy() -> None:
    x = np.random.default_rng(4).normal(size=(300, 5))
    d, i = knn_graph(x, len(x) - 1)
    u, v, w = spanning_tree(x, d, i)
    z = single_linkage(u, v, w, len(x))
    ref = linkage(x, method="single")
    np.testing.assert_allclose(np.sort(z[:, 2]), np.sort(ref[:, 2]), rtol=1e-5)
    assert z[-1, 3] == len(x)
    # every node id appears exactly once as a child
    children = np.concatenate([z[:, 0], z[:, 1]]).astype(int)
    assert np.array_equal(np.sort(children), np.arange(2 * len(x) - 2))


def test_disconnected_knn_graph_is_bridged() -> None:
    rng = np.random.default_rng(7)
    groups = [rng.normal(loc=c, size=(60, 3)) for c in (0.0, 50.0, 120.0)]
    x = np.concatenate(groups)
    d, i = knn_graph(x, 4)  # 4 neighbours never leave a group
    u, v, w = spanning_tree(x, d, i)
    assert u.size == len(x) - 1
    bridges = np.sort(w)[-2:]
    assert (bridges > 30).all()  # the two longest edges join the groups
    labels, _ = hdbscan_labels(x, d, i, 10)
    assert labels.max() + 1 == 3
    for g in range(3):
        assert len(set(labels[g * 60 : (g + 1) * 60].tolist()) - {-1}) == 1


def test_condense_tree_stability_accounts_every_point() -> None:
    x, _ = make_blobs(n_samples=200, n_features=2, centers=3, random_state=0)
    d, i = knn_graph(x, 15)
    u, v, w = spanning_tree(x, d, i)
    tree = condense_tree(single_linkage(u, v, w, len(x)), 10)
    assert tree.parent[0] == -1 and (tree.parent[1:] >= 0).all()
    assert (tree.point_lambda > 0).all()
    assert (tree.point_lambda >= tree.birth[tree.point_cluster]).all()
    assert (tree.stability >= 0).all()


def test_noise_points_are_scored_against_the_nearest_centre() -> None:
    rng = np.random.default_rng(3)
    blobs = [rng.normal(0, 1, (150, 2)), rng.normal(8, 1, (150, 2))]
    x = np.concatenate([*blobs, rng.uniform(-10, 18, (30, 2))])  # 30 background points
    d, i = knn_graph(x, 15)
    labels, _ = hdbscan_labels(x, d, i, 20, min_samples=10)
    noise = np.nonzero(labels == -1)[0]
    assert noise.size >= 5 and (noise >= 300).mean() >= 0.8
    assigned, dist, z, centres = cluster_distance_scores(x, labels)
    assert (assigned >= 0).all() and np.isfinite(z).all()
    for j in noise:  # measured against the nearest centre
        assert assigned[j] == np.argmin(np.linalg.norm(centres - x[j], axis=1))
    out = Clusterer(x, min_samples=10).evaluate()
    background = set(range(300, 330))
    assert len(background & set(out.outliers)) >= 20
    assert len(background & (set(out.outliers) | set(out.potential_outliers))) >= 27
    assert len(set(out.outliers) - background) <= 6


def test_identical_points_and_tiny_inputs() -> None:
    out = Clusterer(np.ones((30, 4))).evaluate()
    assert out.outliers == [] and out.duplicates == [list(range(30))]
    out = Clusterer(np.array([[0.0, 0.0], [1.0, 1.0]])).evaluate()
    assert out.outliers == [] and out.duplicates == []
    out = Clusterer(np.arange(12, dtype=float).reshape(3, 2, 2)).evaluate()  # flattened like 0.65
    assert out.cluster_label.shape == (3,)


def test_accepts_torch_and_lists() -> None:
    x = tutorial_data()
    a = Clusterer(torch.from_numpy(x)).evaluate()
    b = Clusterer(x.tolist()).evaluate()
    assert a.dict() == b.dict()


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.zeros((1, 3)), {}, "at least 2 samples"),
        (np.zeros(5), {}, "shape"),
        (np.array([["a", "b"]] * 3), {}, "numeric"),
        (np.zeros((10, 2)), {"k": 0}, "k must"),
        (np.zeros((10, 2)), {"min_cluster_size": 1}, "min_cluster_size"),
        (np.zeros((10, 2)), {"potential_threshold": 3.0}, "potential_threshold"),
        (np.zeros((10, 2)), {"sparsity_threshold": 1.5}, "potential_threshold"),
        (np.zeros((10, 2)), {"sparsity_neighbors": 0}, "sparsity_neighbors"),
        (np.zeros((10, 2)), {"metric": "manhattan"}, "metric"),
        (np.zeros((10, 2)), {"exact_duplicate_ratio": 0.9}, "exact_duplicate_ratio"),
        (np.zeros((10, 40)), {"exact_duplicate_ratio": 0.9}, "exact_duplicate_ratio"),
    ],
)
def test_bad_arguments(data: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidArgumentError, match=match):
        Clusterer(data, **kwargs)


def test_memory_is_o_nk() -> None:
    """The clustering after the kNN search allocates O(N·k): 20k points stay far below N²."""
    x, _ = make_blobs(n_samples=20_000, n_features=16, centers=8, random_state=0)
    x = x.astype(np.float32)
    d, i = knn_graph(x, 10)
    tracemalloc.start()
    labels, _ = hdbscan_labels(x, d, i, 100)
    cluster_distance_scores(x, labels)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_sq_bytes = 20_000**2 * 8
    assert peak < 60e6 < n_sq_bytes / 50, peak


def test_noise_enters_the_centre_statistics() -> None:
    """Noise points are scored against the nearest centre with statistics that include them
    (DataEval 1.x); members-only statistics put every far noise point out of range."""
    rng = np.random.default_rng(5)
    members = rng.normal(0, 1, (200, 3))
    noise = rng.normal(0, 1, (100, 3)) * 3.0
    x = np.concatenate([members, noise])
    labels = np.r_[np.zeros(200, np.int64), -np.ones(100, np.int64)]
    assigned, dist, z, _ = cluster_distance_scores(x, labels)
    assert (assigned == 0).all()
    np.testing.assert_allclose(z, (dist - dist.mean()) / dist.std(), rtol=1e-9)
    _, _, z_members, _ = cluster_distance_scores(x, labels, noise_in_stats=False)
    m = dist[:200]
    np.testing.assert_allclose(z_members, (dist - m.mean()) / m.std(), rtol=1e-9)
    assert (z_members[200:] > 2.5).mean() > 0.5 > 0.2 > (z[200:] > 2.5).mean()


def test_near_duplicates_follow_local_density() -> None:
    """A dense core inside a diffuse halo (one cluster): measured against the local spacing,
    core points are not near duplicates of each other; against one spacing for the whole
    cluster, 164 of them were, in chains of up to 11."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(1500, 16)) * 0.25, rng.normal(size=(1500, 16))])
    x[2999] = x[5] + 0.05 * rng.normal(size=16)  # one real near copy, in the core
    out = Clusterer(x).evaluate()
    assert out.potential_duplicates == [[5, 2999]]
    assert out.duplicates == []


def test_robust_zscore() -> None:
    v = np.r_[np.arange(11.0), 1000.0]
    z = robust_zscore(v)
    assert z[-1] > 100 and abs(z[5]) < 0.2  # the extreme value does not mask itself
    np.testing.assert_array_equal(robust_zscore(np.full(7, 3.0)), np.zeros(7))
    z = robust_zscore(np.r_[np.zeros(8), 1.0, 2.0])  # MAD 0: mean absolute deviation instead
    assert np.isfinite(z).all() and z[-1] > z[-2] > 0 == z[0]


def test_metric_auto_and_cosine() -> None:
    rng = np.random.default_rng(9)
    relu = np.maximum(rng.normal(size=(300, 64)), 0).astype(np.float32)  # pooled-ReLU-like
    assert Clusterer(relu).metric == "cosine"
    assert Clusterer(relu - 0.1).metric == "euclidean"  # negative values
    assert Clusterer(relu[:, :8]).metric == "euclidean"  # few features
    assert Clusterer(relu, metric="euclidean").metric == "euclidean"
    assert Clusterer(tutorial_data()).metric == "euclidean"
    # cosine = Euclidean between unit rows; scaling a row changes nothing
    scaled = relu * rng.uniform(0.5, 4.0, (300, 1)).astype(np.float32)
    a = Clusterer(relu).evaluate()
    b = Clusterer(scaled).evaluate()
    unit = relu / np.linalg.norm(relu, axis=1, keepdims=True)
    c = Clusterer(unit, metric="euclidean", near_duplicate_ratio=0.6).evaluate()
    assert a.metric == b.metric == "cosine" and c.metric == "euclidean"
    np.testing.assert_allclose(a.outlier_score, b.outlier_score, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(a.outlier_score, c.outlier_score, rtol=1e-4, atol=1e-4)
    assert a.dict() == b.dict() == c.dict()
    # an all-zero row stays zero (distance 1 from every unit row) instead of dividing by zero
    relu[7] = 0
    out = Clusterer(relu).evaluate()
    assert np.isfinite(out.outlier_score).all()


# ----------------------------------------------------------------- real image embeddings


def _chw_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    hwc = np.moveaxis(img, 0, -1)
    arr = np.asarray(
        Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc).resize(size, Image.Resampling.BILINEAR)
    )
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(np.moveaxis(arr, -1, 0))


N_REAL = 300


def make_real_embeddings() -> tuple[np.ndarray, dict[str, list[tuple[int, int]]], int]:
    """300 real photos (the 18 bundled scikit-image / scikit-learn photos whole, then random
    crops of them, 96-512 px) embedded with the default model, plus planted copies: 6 exact
    copies of crops, the 18 whole photos resized to 3/4, and one blank mid-grey image (the
    last row).  Embedding the 325 images takes ~10-15 s on two CPU cores."""
    from dataeval_gpu.datasets import photo_collection
    from dataeval_gpu.embeddings import embed

    images = photo_collection(N_REAL, seed=0, min_side=96, max_side=512)
    rng = np.random.default_rng(1)
    crops = rng.choice(np.arange(18, N_REAL), 6, replace=False).tolist()
    planted: dict[str, list[tuple[int, int]]] = {"exact": [], "resized": []}
    extra = []
    for s in crops:
        planted["exact"].append((s, N_REAL + len(extra)))
        extra.append(images[s].copy())
    for s in range(min(18, N_REAL)):
        planted["resized"].append((s, N_REAL + len(extra)))
        img = images[s]
        extra.append(_chw_resize(img, (img.shape[2] * 3 // 4, img.shape[1] * 3 // 4)))
    extra.append(np.full((3, 128, 128), 128, np.uint8))
    return embed(images + extra), planted, N_REAL + len(extra) - 1


@pytest.fixture(scope="module")
def real_embeddings() -> tuple[np.ndarray, dict[str, list[tuple[int, int]]], int]:
    pytest.importorskip("skimage")
    return make_real_embeddings()


@pytest.fixture(scope="module")
def real_output(real_embeddings) -> ClustererOutput:
    return Clusterer(real_embeddings[0]).evaluate()


def _together(groups: list[list[int]], a: int, b: int) -> bool:
    return any(a in g and b in g for g in groups)


@pytest.mark.integration
def test_real_embeddings_flag_a_small_share(real_embeddings, real_output: ClustererOutput) -> None:
    """On real image embeddings the flags are a small share, not a flood (members-only
    statistics in Euclidean space flagged over half of 20,000 Fashion-MNIST images)."""
    out = real_output
    assert out.metric == "cosine"
    outl = [i for i in out.outliers if i < N_REAL]
    pot = [i for i in out.potential_outliers if i < N_REAL]
    assert len(outl) <= 0.05 * N_REAL, len(outl)
    assert len(outl) + len(pot) <= 0.10 * N_REAL, (len(outl), len(pot))
    assert out.cluster_label.max() + 1 >= 2


@pytest.mark.integration
def test_real_embeddings_blank_image_is_an_outlier(real_embeddings, real_output: ClustererOutput) -> None:
    _, _, blank = real_embeddings
    assert blank in real_output.outliers


@pytest.mark.integration
def test_real_embeddings_planted_copies(real_embeddings, real_output: ClustererOutput) -> None:
    _, planted, _ = real_embeddings
    out = real_output
    for a, b in planted["exact"]:
        assert _together(out.duplicates, a, b), (a, b)
    # every exact group holds a planted copy: nothing else is identical
    copies = {b for _, b in planted["exact"]}
    assert all(set(g) & copies for g in out.duplicates)
    # resized copies: measured 17 of 18 (copies shrunk below the network's input size look
    # blurred to it and drift further)
    found = sum(_together(out.duplicates + out.potential_duplicates, a, b) for a, b in planted["resized"])
    assert found >= 14, found
    # the other potential groups are overlapping crops of one photo: small groups, no chains
    assert max(len(g) for g in out.potential_duplicates) <= 12
    flat = {i for g in out.potential_duplicates for i in g}
    assert len(flat) <= 0.4 * N_REAL


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_same_flags() -> None:
    x, _, _ = planted_blobs(n=5000, dim=64, seed=2)
    cpu = Clusterer(x, device="cpu").evaluate()
    gpu = Clusterer(x, device="cuda").evaluate()
    assert gpu.duplicates == cpu.duplicates
    assert len(set(gpu.outliers) ^ set(cpu.outliers)) <= 2
    np.testing.assert_allclose(gpu.outlier_score, cpu.outlier_score, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("method", ["exact", "hdbscan"])
def test_non_finite_rows_are_named(method: str) -> None:
    """A NaN row (an image with NaN pixels embeds to NaN) raised "data contains NaN or infinite
    values" without saying which rows; the error now names them."""
    from dataeval_gpu.detectors import Clusterer as Public

    x = np.random.default_rng(0).normal(size=(8, 3))
    x[2, 1], x[6, 0] = np.nan, np.inf
    with pytest.raises(InvalidArgumentError, match=r"NaN or infinite values in 2 row\(s\): \[2, 6\]"):
        Public(x, method=method).evaluate()
