"""Candidate searches behind :func:`dataeval_gpu.functional.knn.knn_graph`.

Each returns ``(candidates (N, kk) int64, squared distances (N, kk) float32)`` on centred
float32 rows: the chunked torch brute force (:func:`torch_candidates`), the blocked search
over seeded k-means cells (:func:`blocked_candidates`) and faiss's flat or IVF indexes
(:func:`faiss_candidates`).  :func:`~dataeval_gpu.functional.knn.knn_graph` then turns the
candidates into sorted, self-free neighbour lists.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..parallel import executor, single_intra_op_thread, worker_count
from .knn_kernels import EMPTY, select_smallest, select_smallest_columns

__all__ = [
    "BLOCKED_PROBES",
    "PAIR_TILE",
    "blocked_candidates",
    "cell_pairs",
    "cells_search_cpu",
    "cells_search_torch",
    "default_blocked_cells",
    "FAISS_GPU_MAX_K",
    "faiss_candidates",
    "full_float32_matmuls",
    "single_threaded_gemm",
    "torch_candidates",
]

_log = logging.getLogger("dataeval_gpu.functional.knn")  # the knn_graph logger, as before the split


def _groups(
    xdb: torch.Tensor, sqdb: torch.Tensor, ranges: list[tuple[int, int]], db_chunk: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(rows, squared norms, row positions) of the ranges ``[a, b)`` of ``xdb``, copied side
    by side in groups of up to ``db_chunk`` rows (one contiguous block: one large GEMM)."""
    blocks: list[tuple[int, int]] = []
    for a, b in ranges:
        blocks.extend((d0, min(b, d0 + db_chunk)) for d0 in range(a, b, db_chunk))
    g = 0
    while g < len(blocks):
        group = [blocks[g]]
        width = blocks[g][1] - blocks[g][0]
        g += 1
        while g < len(blocks) and width + blocks[g][1] - blocks[g][0] <= db_chunk:
            group.append(blocks[g])
            width += blocks[g][1] - blocks[g][0]
            g += 1
        if len(group) == 1:
            a, b = group[0]
            yield xdb[a:b], sqdb[a:b], torch.arange(a, b, device=xdb.device)
        else:
            yield (
                torch.cat([xdb[a:b] for a, b in group]),
                torch.cat([sqdb[a:b] for a, b in group]),
                torch.cat([torch.arange(a, b, device=xdb.device) for a, b in group]),
            )


def _ranges_topk(
    xq: torch.Tensor,
    xdb: torch.Tensor,
    sqdb: torch.Tensor,
    ranges: list[tuple[int, int]],
    kk: int,
    db_chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row positions in ``xdb`` of the kk nearest rows to each row of ``xq`` among the row
    ranges ``[a, b)`` of ``xdb`` (-1 where they hold fewer than kk rows), and the ranking
    values ``|x|² - 2 q·x`` (the squared distance less the query's constant |q|²).

    The ranges are copied side by side in groups of up to ``db_chunk`` rows, each group is one
    GEMM; memory stays at ``len(xq) × db_chunk``.  On the CPU the compiled
    :func:`~dataeval_gpu.functional.knn_kernels.select_smallest` keeps a running list of the
    kk smallest per row (ascending; ties go to the lower position); elsewhere a top-k per
    group (on the negated values: torch's top-k is about twice as fast for the largest) and
    a running top-k across groups.
    """
    nq = xq.shape[0]
    if xq.device.type == "cpu" and xq.dtype == torch.float32:
        best_v = np.full((nq, kk), np.inf, dtype=np.float32)
        best_i = np.full((nq, kk), EMPTY, dtype=np.int64)
        xq2 = xq * -2.0  # exact: the kernel adds |x|² to (-2 q)·x
        for db, dsq, cols in _groups(xdb, sqdb, ranges, db_chunk):
            buf = xq2 @ db.T
            select_smallest(buf.numpy(), dsq.numpy(), cols.numpy(), best_v, best_i)
        best_i[best_i == EMPTY] = -1
        return torch.from_numpy(best_i), torch.from_numpy(best_v)
    best_v = torch.empty((nq, 0), dtype=xq.dtype, device=xq.device)
    best_i = torch.empty((nq, 0), dtype=torch.int64, device=xq.device)
    for db, dsq, cols in _groups(xdb, sqdb, ranges, db_chunk):
        # 2 q·x - |x|²: larger is nearer
        buf = torch.addmm(dsq[None], xq, db.T, beta=-1.0, alpha=2.0)
        v, j = torch.topk(buf, min(kk, db.shape[0]), dim=1, largest=True, sorted=False)
        best_v = torch.cat([best_v, v], dim=1)
        best_i = torch.cat([best_i, cols[j]], dim=1)
        if best_v.shape[1] > kk:
            best_v, j = torch.topk(best_v, kk, dim=1, largest=True, sorted=False)
            best_i = torch.gather(best_i, 1, j)
    out = torch.full((nq, kk), -1, dtype=torch.int64, device=xq.device)
    out_v = torch.full((nq, kk), float("inf"), dtype=xq.dtype, device=xq.device)
    out[:, : best_i.shape[1]] = best_i
    out_v[:, : best_v.shape[1]] = -best_v
    return out, out_v


def torch_candidates(
    x: torch.Tensor, kk: int, query_chunk: int, db_chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and squared distances of the kk nearest rows (self included) by chunked brute
    force; (N, kk) each."""
    xf = x.to(torch.float32) if x.dtype != torch.float32 else x
    n = xf.shape[0]
    sq = (xf * xf).sum(dim=1)
    out = torch.empty((n, kk), dtype=torch.int64, device=xf.device)
    out_d = torch.empty((n, kk), dtype=xf.dtype, device=xf.device)
    for q0 in range(0, n, query_chunk):
        q1 = min(n, q0 + query_chunk)
        i, v = _ranges_topk(xf[q0:q1], xf, sq, [(0, n)], kk, db_chunk)
        out[q0:q1] = i
        out_d[q0:q1] = v + sq[q0:q1, None]
    return out, out_d


def _nearest_centroid(xf: torch.Tensor, centroids: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    csq = (centroids * centroids).sum(1)
    out = torch.empty(xf.shape[0], dtype=torch.int64, device=xf.device)
    for s in range(0, xf.shape[0], chunk):
        q = xf[s : s + chunk]
        # |q|² is constant per row: argmin of |c|² - 2 q·c
        out[s : s + chunk] = torch.addmm(csq[None], q, centroids.T, beta=1.0, alpha=-2.0).argmin(dim=1)
    return out


def _kmeans(
    xf: torch.Tensor, n_clusters: int, seed: int, niter: int = 10, per_centroid: int = 32
) -> torch.Tensor:
    """Lloyd's k-means on a seeded sample (``per_centroid`` points per centroid)."""
    n = xf.shape[0]
    gen = torch.Generator().manual_seed(seed)
    n_train = min(n, per_centroid * n_clusters)
    sample = torch.randperm(n, generator=gen)[:n_train].sort().values.to(xf.device)
    xs = xf[sample]
    init = torch.randperm(n_train, generator=gen)[:n_clusters].to(xf.device)
    centroids = xs[init].clone()
    for _ in range(niter):
        lab = _nearest_centroid(xs, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, lab, xs)
        counts = torch.bincount(lab, minlength=n_clusters).to(xs.dtype)
        empty = counts == 0
        centroids = torch.where(empty[:, None], centroids, sums / counts.clamp(min=1)[:, None])
        if bool(empty.any()):  # re-seed empty cells with random sample points
            pick = torch.randint(0, n_train, (int(empty.sum()),), generator=gen).to(xf.device)
            centroids[empty] = xs[pick]
    return centroids


def blocked_candidates(
    x: torch.Tensor,
    kk: int,
    nlist: int,
    nprobe: int,
    seed: int,
    query_chunk: int,
    db_chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Approximate kk nearest rows by cells: k-means cells, and the rows of each cell are
    searched among the rows of the ``nprobe`` cells whose centroids are nearest its own
    centroid.  Same partition idea as an IVF index, but each cell's queries share one
    candidate set and the rows are sorted by cell, so the distances are dense matrix products
    over contiguous blocks: several times faster than per-query IVF probing on the CPU at the
    same number of points scanned.  On the CPU :func:`cells_search_cpu` (each pair of cells
    once, compiled selection), elsewhere :func:`cells_search_torch` (per cell, top-k); both
    give the same candidates."""
    xf = x.to(torch.float32) if x.dtype != torch.float32 else x
    centroids = _kmeans(xf, nlist, seed)
    cell = _nearest_centroid(xf, centroids)
    order = torch.argsort(cell, stable=True)
    xs = xf[order]
    sqs = (xs * xs).sum(dim=1)
    counts = torch.bincount(cell, minlength=nlist)
    del cell
    starts = torch.zeros(nlist + 1, dtype=torch.int64, device=xf.device)
    starts[1:] = torch.cumsum(counts, 0)
    csq = (centroids * centroids).sum(1)
    cd = csq[:, None] + csq[None, :] - 2.0 * centroids @ centroids.T
    near = torch.topk(cd, min(nprobe, nlist), dim=1, largest=False).indices.cpu().tolist()
    st = starts.cpu().tolist()
    if xf.device.type == "cpu":
        out_np, val_np = cells_search_cpu(
            xs.numpy(), sqs.numpy(), order.numpy(), st, near, kk, query_chunk, db_chunk
        )
        out, out_d = torch.from_numpy(out_np), torch.from_numpy(val_np)
    else:
        out, out_d = cells_search_torch(xs, sqs, order, st, near, kk, query_chunk, db_chunk)
    del xs, sqs
    _log.info("knn_graph: blocked search, %d cells, %d probed per cell", nlist, min(nprobe, nlist))
    return out, out_d


def cells_search_torch(
    xs: torch.Tensor,
    sqs: torch.Tensor,
    order: torch.Tensor,
    st: list[int],
    near: list[list[int]],
    kk: int,
    query_chunk: int,
    db_chunk: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cells' searches with torch ops (any device): (candidates, squared distances) in
    the original row order and row numbers."""
    n = xs.shape[0]
    pos = torch.full((n, kk), -1, dtype=torch.int64, device=xs.device)  # in sorted order
    val = torch.full((n, kk), float("inf"), dtype=xs.dtype, device=xs.device)
    for c in range(len(st) - 1):
        ranges = sorted((st[j], st[j + 1]) for j in near[c] if st[j + 1] > st[j])
        for q0 in range(st[c], st[c + 1], query_chunk):
            q1 = min(st[c + 1], q0 + query_chunk)
            pos[q0:q1], val[q0:q1] = _ranges_topk(xs[q0:q1], xs, sqs, ranges, kk, db_chunk)
    val += sqs[:, None]
    short = torch.nonzero((pos < 0).any(dim=1)).flatten()
    for s0 in range(0, short.numel(), query_chunk):  # neighbourhoods with < kk rows: exact
        rows = short[s0 : s0 + query_chunk]
        i, v = _ranges_topk(xs[rows], xs, sqs, [(0, n)], kk, db_chunk)
        pos[rows], val[rows] = i, v + sqs[rows, None]
    # back to the original row order and row numbers
    out = torch.empty_like(pos)
    out_d = torch.empty_like(val)
    out[order] = torch.where(pos >= 0, order[pos.clamp(min=0)], pos)
    out_d[order] = val
    return out, out_d


@contextmanager
def full_float32_matmuls() -> Iterator[None]:
    """float32 matrix products in full float32 inside the block, whatever the caller set.

    ``torch.set_float32_matmul_precision("high" / "medium")`` (common in Lightning scripts)
    lets CUDA GEMMs use TF32 (10-bit mantissa) and oneDNN's bf16: the |a|² + |b|² - 2 a·b
    distances of the searches would then be off by ~1e-3 relative and pick other neighbours
    than the CPU.  The caller's setting is restored on exit.  A caller who set the precision
    with torch's per-backend API (``torch.backends.cuda.matmul.fp32_precision = "tf32"``, torch
    >= 2.9), which ``get_float32_matmul_precision`` refuses to read, gets that API's
    ``"ieee"`` here instead."""
    try:
        before = torch.get_float32_matmul_precision()
    except RuntimeError:  # "a mix of the legacy and new APIs": the backends' own settings
        with _backend_fp32_ieee():
            yield
        return
    if before == "highest":
        yield
        return
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


@contextmanager
def _backend_fp32_ieee() -> Iterator[None]:
    """The CUDA and oneDNN matrix products in full float32 (torch's per-backend
    ``fp32_precision = "ieee"``) inside the block; each backend's setting restored on exit."""
    backends = [b.matmul for b in (torch.backends.cuda, torch.backends.mkldnn) if hasattr(b, "matmul")]
    before = [b.fp32_precision for b in backends]
    try:
        for b in backends:
            b.fp32_precision = "ieee"
        yield
    finally:
        for b, value in zip(backends, before):
            b.fp32_precision = value


@contextmanager
def single_threaded_gemm() -> Iterator[Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """A matrix product that uses one thread, for calls from several threads at once: numpy's
    (OpenBLAS, held to one thread with threadpoolctl) when threadpoolctl is importable,
    else torch's with one intra-op thread."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        with single_intra_op_thread():
            yield lambda a, b: (torch.from_numpy(a) @ torch.from_numpy(b)).numpy()
        return
    with threadpool_limits(1, user_api="blas"):
        yield np.matmul


#: rows per side of a cell pair's tile in the CPU blocked search (512 × 512 float32 = 1 MB:
#: the tile is still in the core's cache when the selection reads it, twice)
PAIR_TILE = 512


def cell_pairs(near: list[list[int]], sizes: list[int]) -> list[tuple[int, int, bool, bool]]:
    """The unordered pairs of non-empty cells ``(a, b)``, ``a <= b``, where one cell probes the
    other, each once, with whether a's rows search b's and whether b's rows search a's
    (``near[c]``: the cells cell c probes; ``sizes[c]``: its rows)."""
    want: dict[tuple[int, int], list[bool]] = {}
    for c, probes in enumerate(near):
        if not sizes[c]:
            continue
        for j in probes:
            if not sizes[j]:
                continue
            flags = want.setdefault((min(c, j), max(c, j)), [False, False])
            flags[0 if c <= j else 1] = True
    return sorted((a, b, f[0], f[1] and a != b) for (a, b), f in want.items())


def cells_search_cpu(  # long: the pair tiles, their locks and the short rows' fallback
    xs: np.ndarray,
    sqs: np.ndarray,
    order: np.ndarray,
    st: list[int],
    near: list[list[int]],
    kk: int,
    query_chunk: int,
    db_chunk: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The cells' searches on the CPU, each product computed once for both directions.

    Every unordered pair of cells {a, b} where a probes b or b probes a is one set of tiles
    ``(-2 A) Bᵀ`` (single-threaded GEMMs, the pairs spread over the package's thread pool):
    the tile is merged into a's rows (columns: b's rows) when a probes b, and its transpose
    into b's rows when b probes a, by the compiled
    :func:`~dataeval_gpu.functional.knn_kernels.select_smallest`, under a lock per cell.  The
    probes are rarely one-sided (a cell's nearest cells mostly count it among theirs), so
    this is about half the multiply-adds of searching each cell's rows on their own, and the
    same candidates: the selection is order-independent (ties go to the lower row).
    Returns (candidates, squared distances) in the original row order, like
    :func:`cells_search_torch`.
    """
    n = xs.shape[0]
    cand = np.full((n, kk), EMPTY, dtype=np.int64)
    val = np.full((n, kk), np.inf, dtype=np.float32)
    n_cells = len(st) - 1
    pairs = cell_pairs(near, [st[c + 1] - st[c] for c in range(n_cells)])
    groups: dict[int, list[tuple[int, int, bool, bool]]] = {}
    for p in pairs:
        groups.setdefault(p[0], []).append(p)
    locks = [threading.Lock() for _ in range(n_cells)]
    two = np.float32(-2.0)

    def tiles(a: int, b: int, fwd: bool, bwd: bool) -> Iterator[tuple[int, int, int, int, bool, bool]]:
        for a0 in range(st[a], st[a + 1], PAIR_TILE):
            a1 = min(st[a + 1], a0 + PAIR_TILE)
            for b0 in range(st[b] if a != b else a0, st[b + 1], PAIR_TILE):
                b1 = min(st[b + 1], b0 + PAIR_TILE)
                if a == b:  # the upper triangle of tiles, both ways off the diagonal
                    yield a0, a1, b0, b1, fwd, fwd and b0 != a0
                else:
                    yield a0, a1, b0, b1, fwd, bwd

    def search(group: list[tuple[int, int, bool, bool]], mm: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
        for a, b, a_probes_b, b_probes_a in group:
            for a0, a1, b0, b1, fwd, bwd in tiles(a, b, a_probes_b, b_probes_a):
                g = mm(xs[a0:a1] * two, xs[b0:b1].T)  # exact scaling; + |x|² in the kernel
                if fwd:
                    with locks[a]:
                        select_smallest(g, sqs[b0:b1], order[b0:b1], val, cand, rows=order[a0:a1])
                if bwd:
                    with locks[b]:
                        select_smallest_columns(g, sqs[a0:a1], order[a0:a1], order[b0:b1], val, cand)

    n_threads = worker_count()
    work = list(groups.values())
    with single_threaded_gemm() as mm:
        if n_threads == 1:
            for group in work:
                search(group, mm)
        else:
            list(executor(n_threads).map(lambda group: search(group, mm), work))
    inv = np.empty_like(order)
    inv[order] = np.arange(n)
    short = np.nonzero((cand == EMPTY).any(axis=1))[0]
    if short.size:  # neighbourhoods with < kk rows: exact
        xs_t, sqs_t = torch.from_numpy(xs), torch.from_numpy(sqs)
        for s0 in range(0, short.size, query_chunk):
            rows = short[s0 : s0 + query_chunk]
            i, v = _ranges_topk(xs_t[inv[rows]], xs_t, sqs_t, [(0, n)], kk, db_chunk)
            i_np = i.numpy()
            cand[rows] = np.where(i_np >= 0, order[np.maximum(i_np, 0)], -1)
            val[rows] = v.numpy()
    cand[cand == EMPTY] = -1
    val += sqs[inv][:, None]
    return cand, val


def _default_nlist(n: int) -> int:
    """IVF lists: 2·sqrt(N) (≈ 2,000 for a million points)."""
    return int(min(65536, max(16, round(2.0 * math.sqrt(n)))))


#: cells probed per cell by the blocked search
BLOCKED_PROBES = 8


def _blocked_scan(n: int) -> int:
    """Points each query of the blocked search is compared with: 5% of the data, at least
    1,024 (or all), at most 6,000 (≈1.5e12 flops for a million 128-d points)."""
    return int(min(n, max(1024, min(0.05 * n, 6000))))


def default_blocked_cells(n: int) -> int:
    """Cells of the blocked search: ``BLOCKED_PROBES`` of them hold about the scan budget."""
    return int(max(1, min(n, round(BLOCKED_PROBES * n / _blocked_scan(n)))))


def _default_nprobe(n: int, nlist: int) -> int:
    """Lists probed: about 5% of the data per query up to 160k points, then ≈8,192 points
    per query (0.8% of a million), at least 8 lists."""
    frac = min(0.05, 8192.0 / n)
    return int(min(nlist, max(8, math.ceil(nlist * frac))))


#: the largest k a faiss GPU index searches (``GPU_MAX_SELECTION_K``: 2048 since faiss 1.7, 1024 before)
FAISS_GPU_MAX_K = 2048


def _clustering_settings(index: Any, seed: int) -> None:
    """The IVF training's k-means settings (seed, iterations, sample size), on ``index.cp``."""
    cp = getattr(index, "cp", None)
    if cp is not None:
        cp.seed = seed
        cp.niter = 10
        cp.max_points_per_centroid = 64


def faiss_candidates(
    faiss: Any,
    xf: np.ndarray,
    kk: int,
    exact: bool,
    use_gpu: bool,
    nlist: int | None,
    nprobe: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """faiss flat (``exact``) or IVF search of ``xf`` against itself: (candidates, squared distances)."""
    n, d = xf.shape
    res = None
    if use_gpu:
        res = faiss.StandardGpuResources()
    if exact:
        index = faiss.IndexFlatL2(d)
        if res is not None:
            index = faiss.index_cpu_to_gpu(res, 0, index)
        index.add(xf)
    else:
        nl = nlist or _default_nlist(n)
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nl, faiss.METRIC_L2)
        _clustering_settings(index, seed)
        if res is not None:
            index = faiss.index_cpu_to_gpu(res, 0, index)
            _clustering_settings(index, seed)  # the GPU clone's own ``cp``: not copied by every faiss
        # a deterministic training sample (faiss would subsample itself, with its own seed)
        n_train = min(n, 64 * nl)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else np.arange(n)
        index.train(np.ascontiguousarray(xf[sample]))
        index.add(xf)
        np_ = nprobe or _default_nprobe(n, nl)
        if hasattr(index, "nprobe"):
            index.nprobe = min(np_, nl)
        else:  # pragma: no cover - older GPU wrappers
            faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", min(np_, nl))
        _log.info("knn_graph: IVF index, nlist=%d, nprobe=%d, %d training rows", nl, min(np_, nl), n_train)
    d2, cand = index.search(xf, kk)
    cand = np.asarray(cand, dtype=np.int64)
    d2 = np.asarray(d2, dtype=np.float32)
    if not exact:
        # rows whose probed lists held fewer than kk points: search them exactly
        short = np.nonzero((cand < 0).any(axis=1))[0]
        if short.size:
            flat = faiss.IndexFlatL2(d)
            flat.add(xf)
            fix_d, fix = flat.search(np.ascontiguousarray(xf[short]), kk)
            cand[short] = fix
            d2[short] = fix_d
    return cand, d2
