"""Which search ``knn_graph`` runs (``search_plan``, split out of ``knn_graph``): faiss on its GPU,
faiss on the CPU, torch's brute force or the blocked search, by the rows, k, device and settings."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import knn as knn_mod
from dataeval_gpu.functional.knn import CPU_EXACT_LIMIT, GPU_EXACT_LIMIT, knn_graph, search_plan
from dataeval_gpu.functional.knn_search import FAISS_GPU_MAX_K

CPU = torch.device("cpu")


def _faiss(gpus: int) -> types.SimpleNamespace:
    return types.SimpleNamespace(get_num_gpus=lambda: gpus)


def test_torch_backend_exact_then_blocked() -> None:
    p = search_plan(100, 5, CPU, backend="torch")
    assert (p.faiss, p.faiss_gpu, p.exact, p.method, p.uses_faiss) == (None, False, True, "blocked", False)
    assert (p.device, p.query_chunk, p.db_chunk) == (CPU, 1024, 16384)
    p = search_plan(CPU_EXACT_LIMIT + 1, 5, CPU, backend="torch")
    assert (p.exact, p.method, p.uses_faiss) == (False, "blocked", False)
    assert search_plan(11, 5, CPU, exact_limit=10, backend="torch", query_chunk=7, db_chunk=9).query_chunk == 7


def test_faiss_gpu_up_to_its_k_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _faiss(1)
    monkeypatch.setattr(knn_mod, "_faiss", lambda: fake)
    p = search_plan(GPU_EXACT_LIMIT, FAISS_GPU_MAX_K - 1, CPU)  # kk = FAISS_GPU_MAX_K: the GPU index
    assert (p.faiss is fake, p.faiss_gpu, p.exact, p.method, p.uses_faiss) == (True, True, True, "ivf", True)
    assert not search_plan(GPU_EXACT_LIMIT + 1, 5, CPU).exact  # IVF on the GPU above its limit
    p = search_plan(1000, FAISS_GPU_MAX_K, CPU)  # kk above the GPU selection: faiss on the CPU
    assert (p.faiss is fake, p.faiss_gpu, p.uses_faiss, p.method) == (True, False, True, "blocked")
    p = search_plan(CPU_EXACT_LIMIT + 1, FAISS_GPU_MAX_K, CPU)  # ... and above the CPU's exact limit: blocked
    assert (p.exact, p.uses_faiss) == (False, False)
    assert not search_plan(1000, 5, CPU, device="cpu").faiss_gpu  # device="cpu": faiss's CPU index


def test_cuda_without_faiss_gpu_searches_with_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knn_mod, "_faiss", lambda: _faiss(0))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    p = search_plan(GPU_EXACT_LIMIT, 5, CPU, device="cuda")
    assert (p.faiss, p.faiss_gpu, p.exact, p.uses_faiss) == (None, False, True, False)
    assert (p.device.type, p.query_chunk, p.db_chunk) == ("cuda", 4096, 65536)
    p = search_plan(100, 5, CPU, device="cuda", backend="faiss")  # asked for: faiss (on the CPU)
    assert p.uses_faiss and not p.faiss_gpu


def test_plan_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(knn_mod, "_faiss", lambda: None)
    with pytest.raises(ImportError, match="faiss"):
        search_plan(100, 5, CPU, approximate="ivf")
    with pytest.raises(ImportError, match="faiss"):
        search_plan(100, 5, CPU, backend="faiss")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        search_plan(100, 5, CPU, device="cuda")


def test_plans_give_the_brute_force_answer() -> None:
    """The exact torch plan and the blocked plan (forced by exact_limit) against a float64 reference."""
    x = np.random.default_rng(3).normal(size=(300, 6))
    d64 = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d64, np.inf)
    ref = np.sort(d64, axis=1)[:, :4]
    d, i = knn_graph(x, 4, backend="torch")
    np.testing.assert_allclose(d, ref, rtol=1e-5)
    assert (np.take_along_axis(d64, i, 1) == np.sort(np.take_along_axis(d64, i, 1), 1)).all()
    db, _ = knn_graph(x, 4, backend="torch", exact_limit=10, nlist=4, nprobe=4)  # 4 cells, all probed: exact
    np.testing.assert_allclose(db, ref, rtol=1e-5)
