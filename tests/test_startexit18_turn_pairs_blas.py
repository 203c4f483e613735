"""The pair stage after the scan (startexit18, issue 14's start to exit): the turned copies' search
(`turn_pairs`) runs with numpy's BLAS at one thread, as the window views' search does (OpenBLAS's
second thread only spun between its small products: `DataAudit.compute` on the 604 photos' rows
0.42 -> 0.37 s of CPU), with the same groups, and the caller's BLAS thread count back after."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates, hash_pairs, turn_pairs

skdata = pytest.importorskip("skimage.data")
threadpoolctl = pytest.importorskip("threadpoolctl")


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture(scope="module")
def images() -> tuple[list[str], list[torch.Tensor]]:
    names = ("astronaut", "chelsea", "coffee", "rocket", "camera")
    pics = {n: np.ascontiguousarray(getattr(skdata, n)()) for n in names}
    pics = {n: (np.stack([v] * 3, axis=-1) if v.ndim == 2 else v[..., :3]) for n, v in pics.items()}
    pics["chelsea_turned"] = np.ascontiguousarray(np.rot90(pics["chelsea"]))  # one of its 8 turns
    pics["camera_mirror"] = np.ascontiguousarray(pics["camera"][:, ::-1])
    pics["coffee_flipped"] = np.ascontiguousarray(pics["coffee"][::-1])
    return list(pics), [torch.from_numpy(v).permute(2, 0, 1) for v in pics.values()]


def _groups(names: list[str], images: list[torch.Tensor]) -> list[list[str]]:
    return sorted(sorted(names[i] for i in g) for g in NearDuplicates().evaluate(images).hash)


def test_the_turned_copies_search_runs_at_one_blas_thread_with_the_same_groups(images, monkeypatch) -> None:  # noqa: ANN001
    if not _blas_threads() or max(_blas_threads()) < 2:
        pytest.skip("no BLAS library at more than one thread for threadpoolctl to limit")
    names, tensors = images
    seen: list[list[int]] = []
    real = turn_pairs.turn_candidates

    def candidates(*a):  # noqa: ANN002, ANN202 - turn_pairs' first step
        seen.append(_blas_threads())
        return real(*a)

    monkeypatch.setattr(turn_pairs, "turn_candidates", candidates)
    before = _blas_threads()
    limited = _groups(names, tensors)
    assert seen and all(set(s) == {1} for s in seen), seen
    assert 1 not in _blas_threads() or 1 in before  # the caller's count back (more libraries may load)
    for pair in (("chelsea", "chelsea_turned"), ("camera", "camera_mirror"), ("coffee", "coffee_flipped")):
        assert any(set(pair) <= set(g) for g in limited), limited
    seen.clear()
    monkeypatch.setattr(hash_pairs, "one_blas_thread", contextlib.nullcontext)  # BLAS as the caller set it
    assert _groups(names, tensors) == limited
    assert seen and all(set(s) != {1} for s in seen), (seen, before)  # the limit was hash_pairs'
