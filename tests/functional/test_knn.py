"""knn_graph against a float64 numpy brute force, on the faiss and torch paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional.knn import faiss_available, knn_graph, pair_distances

BACKENDS = [
    pytest.param("faiss", marks=pytest.mark.skipif(not faiss_available(), reason="faiss not installed")),
    "torch",
]


def brute_force(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (distance, index) of the k nearest other rows, float64."""
    x = x.astype(np.float64)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    n = len(x)
    idx = np.broadcast_to(np.arange(n), d.shape)
    order = np.lexsort((idx, d), axis=1)[:, :k]
    return np.take_along_axis(d, order, 1), order


def make_points(n: int = 600, dim: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(5, dim))
    x = centres[rng.integers(0, 5, n)] + rng.normal(size=(n, dim))
    x[10] = x[20]  # exact duplicates: a triple
    x[30] = x[20]
    x[40] = x[41] + 1e-5  # a near-exact pair
    return x.astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_brute_force(backend: str) -> None:
    x = make_points()
    k = 8
    d, i = knn_graph(x, k, backend=backend)
    ref_d, ref_i = brute_force(x, k)
    assert d.shape == (len(x), k) and i.shape == (len(x), k)
    assert d.dtype == np.float32 and i.dtype == np.int64
    # distances: to ~1e-5 (exact where the pair is close), whatever the order of near ties
    np.testing.assert_allclose(d, ref_d, rtol=3e-5, atol=1e-6)
    # indices agree wherever the next distance is not a (near) tie
    gap = np.diff(np.concatenate([ref_d, np.full((len(x), 1), np.inf)], axis=1), axis=1)
    prev_gap = np.diff(np.concatenate([np.full((len(x), 1), -np.inf), ref_d], axis=1), axis=1)
    clear = (gap > 1e-4) & (prev_gap > 1e-4)
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(i[clear], ref_i[clear])
    # rows ascending, never the row itself
    assert (np.diff(d, axis=1) >= 0).all()
    assert not (i == np.arange(len(x))[:, None]).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_duplicates_have_zero_distance(backend: str) -> None:
    x = make_points()
    d, i = knn_graph(x, 5, backend=backend)
    assert d[20, 0] == 0.0 and d[20, 1] == 0.0
    assert sorted(i[20, :2].tolist()) == [10, 30]
    assert i[10, :2].tolist() == [20, 30]  # ties broken by index
    assert i[40, 0] == 41
    # 1e-5 on values of order 1 survives (no |x|^2 + |y|^2 - 2xy cancellation)
    np.testing.assert_allclose(d[40, 0], np.linalg.norm(x[40].astype(np.float64) - x[41]), rtol=1e-3)
    assert d[40, 0] > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_copies_more_than_k(backend: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    x[:12] = x[0]  # 12 identical rows, k = 5
    d, i = knn_graph(x, 5, backend=backend)
    assert (d[:12] == 0).all()
    assert set(i[:12].ravel().tolist()) <= set(range(12))
    assert not (i == np.arange(100)[:, None]).any()


def test_torch_chunking_is_invisible() -> None:
    # (among exact ties at the k-th place, which copy makes the cut may depend on chunking)
    x = np.random.default_rng(5).normal(size=(300, 6)).astype(np.float32)
    a = knn_graph(x, 6, backend="torch")
    b = knn_graph(x, 6, backend="torch", query_chunk=7, db_chunk=13)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6)


@pytest.mark.parametrize(
    ("backend", "approximate"),
    [
        ("torch", "blocked"),
        pytest.param("faiss", "ivf", marks=pytest.mark.skipif(not faiss_available(), reason="no faiss")),
    ],
)
def test_approximate_index_recall_and_duplicates(backend: str, approximate: str) -> None:
    x = make_points(n=3000, dim=16, seed=3)
    x[2000] = x[1000]
    kw = {"exact_limit": 100, "backend": backend, "approximate": approximate}  # forces the approximate path
    d, i = knn_graph(x, 10, **kw)
    ref_d, ref_i = brute_force(x, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i.tolist(), ref_i.tolist(), strict=True)])
    assert recall > 0.8  # default probes scan ~5% of 3000 isotropic 16-d points
    # probing every list is exhaustive
    d_all, _ = knn_graph(x, 10, nlist=20, nprobe=20, **kw)
    np.testing.assert_allclose(d_all, ref_d, rtol=3e-5, atol=1e-6)
    assert i[2000, 0] == 1000 and d[2000, 0] == 0.0
    # the distances are those of the neighbours it found
    exact = pair_distances(torch.from_numpy(x), torch.arange(3000)[:, None], torch.from_numpy(i)).numpy()
    np.testing.assert_allclose(d, exact, rtol=3e-5)
    # deterministic
    d2, i2 = knn_graph(x, 10, **kw)
    np.testing.assert_array_equal(i, i2)


def test_tensor_in_tensor_out_and_float64() -> None:
    x = make_points(n=200).astype(np.float64)
    x[5] = x[6] + 1e-9
    d, i = knn_graph(torch.from_numpy(x), 3, backend="torch")
    assert isinstance(d, torch.Tensor) and isinstance(i, torch.Tensor)
    assert d.dtype == torch.float32 and i.dtype == torch.int64
    assert int(i[5, 0]) == 6 and 0 < float(d[5, 0]) < 1e-8


@pytest.mark.parametrize("bad_k", [0, -1, 200])
def test_bad_k(bad_k: int) -> None:
    with pytest.raises(InvalidArgumentError, match="k must"):
        knn_graph(np.zeros((200, 3), np.float32), bad_k)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidArgumentError, match="2-D"):
        knn_graph(np.zeros((5, 2, 2)), 2)
    x = np.zeros((5, 2))
    x[1, 1] = np.nan
    with pytest.raises(InvalidArgumentError, match="NaN"):
        knn_graph(x, 2)
    with pytest.raises(ValueError, match="backend"):
        knn_graph(np.zeros((5, 2)), 2, backend="annoy")  # type: ignore[arg-type]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["auto", "torch"])
def test_cuda_matches_cpu(backend: str) -> None:
    x = make_points(n=2000, dim=32)
    d_cpu, i_cpu = knn_graph(x, 10, backend="torch", device="cpu")
    d_gpu, i_gpu = knn_graph(torch.from_numpy(x).cuda(), 10, backend=backend, device="cuda")
    assert d_gpu.device.type == "cuda"
    np.testing.assert_allclose(d_gpu.cpu().numpy(), d_cpu, rtol=1e-5, atol=1e-5)
    assert (i_gpu.cpu().numpy() == i_cpu).mean() > 0.99
    assert float(d_gpu[20, 0]) == 0.0
