"""CUDA-only branches run on CPU tensors: the faiss GPU index path (a stand-in faiss whose
"GPU" clone is a fresh CPU index), the float32 GEMM precision the kNN searches run under, and
the JPEG-block line selection that replaced a boolean mask (a device sync on CUDA)."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import knn as knn_mod
from dataeval_gpu.functional import knn_search, quality_torch
from dataeval_gpu.functional.knn import faiss_available, knn_graph
from dataeval_gpu.functional.pixels import block_lines
from dataeval_gpu.functional.quality_torch import blockiness

from ..test_quality5_blocking import ref_grid_excess

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")


def _fake_gpu_faiss(real, created: list, refuse: bool = False) -> types.SimpleNamespace:  # noqa: ANN001
    """faiss with one "GPU": ``index_cpu_to_gpu`` returns a fresh CPU index of the same kind
    with default settings (as a GPU clone that does not copy ``cp`` would be)."""

    def to_gpu(res, dev, index):  # noqa: ANN001, ANN202
        if refuse:
            raise RuntimeError("k > GPU_MAX_SELECTION_K")
        if isinstance(index, real.IndexIVFFlat):
            q = real.IndexFlatL2(index.d)
            clone = real.IndexIVFFlat(q, index.d, index.nlist, real.METRIC_L2)
            created.append(q)  # the quantizer must outlive the index
        else:
            clone = real.IndexFlatL2(index.d)
        created.append(clone)
        return clone

    ns = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
    ns.get_num_gpus = lambda: 1
    ns.StandardGpuResources = lambda: object()
    ns.index_cpu_to_gpu = to_gpu
    return ns


@needs_faiss
def test_faiss_gpu_ivf_gets_the_clustering_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU IVF index trains with the seed and iterations asked for (set on the GPU clone,
    not only on the CPU index it was cloned from): the same graph as faiss IVF on the CPU."""
    import faiss

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 8)).astype(np.float32)
    kw = dict(exact_limit=100, approximate="ivf", nlist=40, nprobe=2, seed=7, backend="faiss")
    d_cpu, i_cpu = knn_graph(x, 5, device="cpu", **kw)
    created: list = []
    monkeypatch.setattr(knn_mod, "_faiss", lambda: _fake_gpu_faiss(faiss, created))
    d_gpu, i_gpu = knn_graph(x, 5, **kw)
    ivf = [c for c in created if isinstance(c, faiss.IndexIVFFlat)]
    assert len(ivf) == 1
    assert (ivf[0].cp.seed, ivf[0].cp.niter, ivf[0].cp.max_points_per_centroid) == (7, 10, 64)
    np.testing.assert_array_equal(i_gpu, i_cpu)
    np.testing.assert_array_equal(d_gpu, d_cpu)


@needs_faiss
def test_faiss_gpu_not_asked_for_more_neighbours_than_it_selects(monkeypatch: pytest.MonkeyPatch) -> None:
    """A k above faiss's GPU selection limit searches on the CPU (the GPU search would fail);
    at the limit the GPU index is used."""
    import faiss

    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    ref_d, ref_i = knn_graph(x, 6, backend="torch")
    monkeypatch.setattr(knn_mod, "FAISS_GPU_MAX_K", 6)  # kk = k + 1 = 7 > 6
    monkeypatch.setattr(knn_mod, "_faiss", lambda: _fake_gpu_faiss(faiss, [], refuse=True))
    d, i = knn_graph(x, 6)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_allclose(d, ref_d, rtol=1e-6)
    created: list = []
    monkeypatch.setattr(knn_mod, "_faiss", lambda: _fake_gpu_faiss(faiss, created))
    d, i = knn_graph(x, 5)
    assert len(created) == 1  # k + 1 = 6: within the limit, the GPU index
    np.testing.assert_array_equal(i, ref_i[:, :5])


def test_knn_searches_run_in_full_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller's ``set_float32_matmul_precision("medium")`` (TF32 / bf16 GEMMs on a GPU) does
    not reach the distance GEMMs, and is restored afterwards."""
    seen = []
    real = knn_mod.torch_candidates

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        seen.append(torch.get_float32_matmul_precision())
        return real(*args, **kwargs)

    monkeypatch.setattr(knn_mod, "torch_candidates", spy)
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("medium")
        x = torch.randn(50, 6)
        knn_graph(x, 3, backend="torch")
        assert seen == ["highest"]
        assert torch.get_float32_matmul_precision() == "medium"
        with knn_search.full_float32_matmuls():
            assert torch.get_float32_matmul_precision() == "highest"
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(before)


@pytest.mark.parametrize("size", [2, 8, 9, 64, 100, 257])
def test_block_lines_are_the_mask(size: int) -> None:
    border, other = block_lines(size, torch.device("cpu"))
    mask = (torch.arange(1, size) % 8) == 0
    assert border.tolist() == torch.nonzero(mask).flatten().tolist()
    assert other.tolist() == torch.nonzero(~mask).flatten().tolist()
    assert border.dtype == other.dtype == torch.int64


def test_blockiness_equals_a_float64_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mean step on the 8-px grid lines over the mean step elsewhere, both directions pooled (the
    grid weight of blockicons18 off: noise steps on every phase alike, so it weighs the ratio's small
    excess out, checked against its float64 reference last)."""
    rng = np.random.default_rng(3)
    g = rng.uniform(0, 255, (2, 1, 72, 80))
    g[..., :, 7::8] += 40.0  # column blocks: a step into and out of every 8th column
    weighted = blockiness(torch.from_numpy(g).to(torch.float32))
    monkeypatch.setattr(quality_torch, "grid_share", lambda hits, total, ph, pn: torch.zeros_like(hits))
    got = blockiness(torch.from_numpy(g).to(torch.float32))
    for i in range(2):
        assert float(weighted[i]) == pytest.approx(ref_grid_excess(float(got[i]), g[i, 0].astype(np.float32).astype(np.float64)), rel=1e-6)
        num = den = 0.0
        nb = no = 0
        for axis in (1, 0):  # columns (steps along x), then rows
            img = g[i, 0]
            step = np.abs(np.diff(img, axis=axis)).mean(axis=0 if axis == 1 else 1)
            on = (np.arange(1, step.size + 1) % 8) == 0
            num += step[on].sum()
            den += step[~on].sum()
            nb += on.sum()
            no += (~on).sum()
        assert float(got[i]) == pytest.approx((num / nb) / (den / no), rel=1e-5)
