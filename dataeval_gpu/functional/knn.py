"""k-nearest-neighbour graphs of embeddings, in O(N·k) memory.

:func:`knn_graph` finds, for every row of ``x`` (N, D), its ``k`` nearest *other* rows in
Euclidean distance.

* Up to ``exact_limit`` rows the search is exact: faiss ``IndexFlatL2`` when faiss is
  importable (on a GPU when ``faiss.get_num_gpus() > 0``), otherwise a chunked torch brute
  force on ``device`` (query blocks against database blocks with a running top-k, so no
  N×N matrix is ever held).
* Above it the search is approximate: faiss ``IndexIVFFlat`` on a faiss GPU, otherwise the
  *blocked* search — seeded k-means cells, and each cell's rows compared with the rows of the
  8 cells nearest its centroid by dense matrix products.  Measured at 100k × 128 on this
  project's CPUs: 7-8 CPU-seconds at recall@25 0.89, against 20.5 for faiss-cpu's
  ``IndexIVFFlat`` at the same recall and ~38 for the exact search (per-query IVF probing
  cannot use matrix products; the faiss-cpu wheel here also loads its generic, non-AVX2
  build).  It runs on CUDA too.

The searches rank candidates with ``|x|² - 2 q·x`` on centred float32 data.  The returned
distances come from that expansion where it is well conditioned and are recomputed from the
difference of the original rows where it is not (squared distance below 1% of
``|a|² + |b|²``): an exact duplicate has distance exactly 0 and tiny differences (1e-5 on
values of order 1) are not lost to cancellation.  Elsewhere the relative error is ~1e-5.
Each row is sorted by (distance, index), which makes the result
deterministic when distances tie.  The row's own index is removed (if a row has more than
``k`` exact copies and the search did not return the row itself, the farthest candidate is
dropped instead).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np
import torch

from ..errors import InvalidArgumentError

__all__ = ["knn_graph", "pair_distances", "faiss_available", "default_exact_limit"]

_log = logging.getLogger(__name__)

#: exact search up to this many rows on the CPU (100k × 128 exact takes ≈30-40 s on the two
#: cores here, and several times that when they are shared; 50k takes a quarter of it)
CPU_EXACT_LIMIT = 50_000
#: exact search up to this many rows on a GPU
GPU_EXACT_LIMIT = 2_000_000


def _faiss() -> Any | None:
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        return None
    return faiss


def faiss_available() -> bool:
    """Whether faiss can be imported."""
    return _faiss() is not None


def _faiss_gpus(faiss: Any) -> int:
    get = getattr(faiss, "get_num_gpus", None)
    try:
        return int(get()) if get is not None else 0
    except Exception:  # noqa: BLE001 - a broken GPU runtime means "no GPU"
        return 0


def default_exact_limit(on_gpu: bool) -> int:
    """Largest N searched exactly by default (above it an approximate index is used)."""
    return GPU_EXACT_LIMIT if on_gpu else CPU_EXACT_LIMIT


def _as_float_matrix(x: Any) -> tuple[torch.Tensor, bool]:
    """(N, D) tensor (float32 or float64) and whether the input was a tensor."""
    is_tensor = isinstance(x, torch.Tensor)
    if is_tensor:
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"x must be a numeric (N, D) array, got dtype {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim != 2:
        raise InvalidArgumentError(f"x must be 2-D (N, D), got shape {tuple(t.shape)}")
    if t.shape[1] < 1:
        raise InvalidArgumentError(f"x must have at least one feature column, got shape {tuple(t.shape)}")
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    if not torch.isfinite(t).all():
        raise InvalidArgumentError(
            "x contains NaN or infinite values; the neighbour search needs finite values"
        )
    return t, is_tensor


def pair_distances(
    x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, chunk: int = 1 << 22
) -> torch.Tensor:
    """Exact Euclidean distances ``||x[rows] - x[cols]||`` for index tensors of any shape.

    ``x`` (N, D); ``rows`` and ``cols`` broadcast to the same shape S; returns S in x's dtype.
    Computed from the differences (no cancellation), in chunks of about ``chunk`` elements.
    """
    rows, cols = torch.broadcast_tensors(rows, cols)
    shape = rows.shape
    r = rows.reshape(-1)
    c = cols.reshape(-1)
    out = torch.empty(r.numel(), dtype=x.dtype, device=x.device)
    step = max(1, chunk // max(1, x.shape[1]))
    for s in range(0, r.numel(), step):
        diff = x[r[s : s + step]] - x[c[s : s + step]]
        out[s : s + step] = torch.linalg.vector_norm(diff, dim=1)
    return out.reshape(shape)


#: squared distances below this fraction of |x_i|² + |x_j|² are recomputed from differences
_ILL_CONDITIONED = 1e-2


def _finish(
    x: torch.Tensor, sq: torch.Tensor, cand: torch.Tensor, d2: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances for candidates (N, k+1), sorted by (distance, index), self dropped.

    ``d2`` are the search's squared distances (float32, from ``|a|² + |b|² - 2 a·b`` on the
    centred data whose squared norms are ``sq``).  Where that expansion is ill-conditioned —
    d² below 1% of ``|a|² + |b|²``, which covers every exact or near duplicate — the distance
    is recomputed from the difference of the original rows; there the expansion's rounding
    error (a few 1e-7 of ``|a|² + |b|²``) would swamp it.  Elsewhere the relative error of a
    distance is below about 2e-5.
    """
    n = x.shape[0]
    rows = torch.arange(n, device=cand.device).unsqueeze(1)
    missing = cand < 0
    safe = torch.where(missing, rows, cand)
    sq = sq.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    scale = sq[rows] + sq[safe]
    d2 = d2.to(sq.dtype).clamp(min=0)
    redo = (d2 <= _ILL_CONDITIONED * scale) & ~missing
    dist = d2.sqrt()
    if bool(redo.any()):
        rr, cc = torch.nonzero(redo, as_tuple=True)
        dist[rr, cc] = pair_distances(x, rr, safe[rr, cc]).to(dist.dtype)
    inf = torch.tensor(float("inf"), dtype=dist.dtype, device=dist.device)
    is_self = (cand == rows) & ~missing
    # self first, then missing slots last, then (distance, index)
    dist = torch.where(missing, inf, dist)
    big = torch.iinfo(torch.int64).max
    idx_key = torch.where(missing, torch.full_like(cand, big), cand)
    # stable two-pass sort: by index, then by distance
    o1 = torch.argsort(idx_key, dim=1, stable=True)
    dist = torch.gather(dist, 1, o1)
    cand = torch.gather(cand, 1, o1)
    is_self = torch.gather(is_self, 1, o1)
    o2 = torch.argsort(dist, dim=1, stable=True)
    dist = torch.gather(dist, 1, o2)
    cand = torch.gather(cand, 1, o2)
    is_self = torch.gather(is_self, 1, o2)
    # remove self where found, the last slot otherwise
    drop = is_self.clone()
    no_self = ~drop.any(dim=1)
    drop[no_self, -1] = True
    keep = ~drop
    dist = dist[keep].reshape(n, k)
    cand = cand[keep].reshape(n, k)
    return dist, cand


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

    The ranges are copied side by side in groups of up to ``db_chunk`` rows (slices, no
    index gather), each group is one GEMM and one top-k (on the negated values: torch's
    top-k is about twice as fast for the largest), with a running top-k across groups, so
    memory stays at ``len(xq) × db_chunk``.
    """
    nq = xq.shape[0]
    blocks: list[tuple[int, int]] = []
    for a, b in ranges:
        blocks.extend((d0, min(b, d0 + db_chunk)) for d0 in range(a, b, db_chunk))
    best_v = torch.empty((nq, 0), dtype=xq.dtype, device=xq.device)
    best_i = torch.empty((nq, 0), dtype=torch.int64, device=xq.device)
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
            db, dsq = xdb[a:b], sqdb[a:b]
            cols = torch.arange(a, b, device=xq.device)
        else:  # one contiguous copy of the group's rows: a single large GEMM is faster
            db = torch.cat([xdb[a:b] for a, b in group])
            dsq = torch.cat([sqdb[a:b] for a, b in group])
            cols = torch.cat([torch.arange(a, b, device=xq.device) for a, b in group])
        # 2 q·x - |x|²: larger is nearer
        buf = torch.addmm(dsq[None], xq, db.T, beta=-1.0, alpha=2.0)
        v, j = torch.topk(buf, min(kk, width), dim=1, largest=True, sorted=False)
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


def _torch_candidates(
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


def _blocked_candidates(
    x: torch.Tensor, kk: int, nlist: int, nprobe: int, seed: int, query_chunk: int, db_chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Approximate kk nearest rows by cells: k-means cells, and the rows of each cell are
    searched among the rows of the ``nprobe`` cells whose centroids are nearest its own
    centroid.  Same partition idea as an IVF index, but each cell's queries share one
    candidate set and the rows are sorted by cell, so the distances are dense matrix products
    over contiguous blocks: several times faster than per-query IVF probing on the CPU at the
    same number of points scanned."""
    xf = x.to(torch.float32) if x.dtype != torch.float32 else x
    n = xf.shape[0]
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
    pos = torch.full((n, kk), -1, dtype=torch.int64, device=xf.device)  # in sorted order
    val = torch.full((n, kk), float("inf"), dtype=xf.dtype, device=xf.device)
    for c in range(nlist):
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
    del xs, sqs
    # back to the original row order and row numbers
    out = torch.empty_like(pos)
    out_d = torch.empty_like(val)
    out[order] = torch.where(pos >= 0, order[pos.clamp(min=0)], pos)
    out_d[order] = val
    _log.info("knn_graph: blocked search, %d cells, %d probed per cell", nlist, min(nprobe, nlist))
    return out, out_d


def _default_nlist(n: int) -> int:
    """IVF lists: 2·sqrt(N) (≈ 2,000 for a million points)."""
    return int(min(65536, max(16, round(2.0 * math.sqrt(n)))))


#: cells probed per cell by the blocked search
BLOCKED_PROBES = 8


def _blocked_scan(n: int) -> int:
    """Points each query of the blocked search is compared with: 5% of the data, at least
    1,024 (or all), at most 6,000 (≈1.5e12 flops for a million 128-d points)."""
    return int(min(n, max(1024, min(0.05 * n, 6000))))


def _default_blocked_cells(n: int) -> int:
    """Cells of the blocked search: ``BLOCKED_PROBES`` of them hold about the scan budget."""
    return int(max(1, min(n, round(BLOCKED_PROBES * n / _blocked_scan(n)))))


def _default_nprobe(n: int, nlist: int) -> int:
    """Lists probed: about 5% of the data per query up to 160k points, then ≈8,192 points
    per query (0.8% of a million), at least 8 lists."""
    frac = min(0.05, 8192.0 / n)
    return int(min(nlist, max(8, math.ceil(nlist * frac))))


def _faiss_candidates(
    faiss: Any,
    xf: np.ndarray,
    kk: int,
    exact: bool,
    use_gpu: bool,
    nlist: int | None,
    nprobe: int | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
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
        index.cp.seed = seed
        index.cp.niter = 10
        index.cp.max_points_per_centroid = 64
        if res is not None:
            index = faiss.index_cpu_to_gpu(res, 0, index)
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


def knn_graph(
    x: Any,
    k: int,
    device: str | torch.device | None = None,
    exact_limit: int | None = None,
    backend: Literal["auto", "faiss", "torch"] = "auto",
    approximate: Literal["auto", "blocked", "ivf"] = "auto",
    nlist: int | None = None,
    nprobe: int | None = None,
    seed: int = 0,
    query_chunk: int | None = None,
    db_chunk: int | None = None,
) -> tuple[Any, Any]:
    """The ``k`` nearest other rows of every row of ``x``.

    Parameters
    ----------
    x : (N, D) numpy array or torch tensor
        Points (float; integers are converted to float32).  Must be finite.
    k : int
        Neighbours per row, ``1 <= k <= N - 1``.
    device : str or torch.device, optional
        Where the search runs.  ``None``: x's device for a tensor, else the CPU.  With faiss,
        a GPU index is used when ``faiss.get_num_gpus() > 0`` and ``device`` is not ``"cpu"``.
    exact_limit : int, optional
        Exact search up to this many rows; above it faiss uses an IVF index (approximate).
        Default: 50,000 on the CPU, 2,000,000 on a GPU.  The torch fallback is always exact.
    backend : "auto" | "faiss" | "torch"
        ``"auto"``: faiss when importable, else torch.  ``"torch"`` forces the fallback.
    approximate : "auto" | "blocked" | "ivf"
        The approximate search above ``exact_limit``: ``"auto"`` is faiss ``IndexIVFFlat``
        on a faiss GPU and the blocked search (k-means cells, GEMMs, torch) otherwise.
    nlist, nprobe : int, optional
        IVF: lists (default ``2·sqrt(N)``) and lists probed per query (default: enough to
        scan about 5% of the points per query, at most ≈8,192 points, at least 8 lists).
        Blocked search: cells (default: 8 cells hold ~5% of the points, at least 1,024 and
        at most 6,000) and cells probed per cell (default 8).
    seed : int
        Seed of the IVF training sample and k-means (deterministic).

    Returns
    -------
    distances : (N, k) float32
        Euclidean distances, each row ascending; exact duplicates give exactly 0.
    indices : (N, k) int64
        The neighbours' row numbers (never the row itself unless it has more than k copies).

    Both are numpy arrays for a numpy input and tensors on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    >>> d, i = knn_graph(x, 2)
    >>> i.tolist()
    [[1, 3], [3, 0], [0, 1], [1, 0]]
    >>> d[1].tolist()
    [0.0, 1.0]
    """
    t, is_tensor = _as_float_matrix(x)
    n = t.shape[0]
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    if n < 2 or k > n - 1:
        raise InvalidArgumentError(f"k must be at most N - 1 = {n - 1} for {n} rows, got k={k}")
    if backend not in ("auto", "faiss", "torch"):
        raise InvalidArgumentError(f"backend must be 'auto', 'faiss' or 'torch', got {backend!r}")
    if approximate not in ("auto", "blocked", "ivf"):
        raise InvalidArgumentError(f"approximate must be 'auto', 'blocked' or 'ivf', got {approximate!r}")
    k = int(k)
    kk = k + 1
    src_device = t.device
    if device is None:
        dev = t.device
    else:
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InvalidArgumentError(f"device={str(device)!r} was asked for but CUDA is not available here")

    faiss = _faiss() if backend in ("auto", "faiss") else None
    if backend == "faiss" and faiss is None:
        from ..errors import missing_dependency

        raise missing_dependency("faiss", "cpu")

    use_gpu = faiss is not None and _faiss_gpus(faiss) > 0 and (device is None or dev.type == "cuda")
    if backend == "auto" and faiss is not None and not use_gpu and dev.type != "cpu":
        faiss = None  # a CUDA device without faiss-gpu: torch on the GPU beats faiss on the CPU
    limit = default_exact_limit(use_gpu or dev.type == "cuda") if exact_limit is None else int(exact_limit)
    exact = n <= limit
    method = approximate
    if method == "auto":
        method = "ivf" if use_gpu else "blocked"
    if method == "ivf" and faiss is None:
        from ..errors import missing_dependency

        raise missing_dependency("faiss", "cpu")
    qc = query_chunk or (4096 if dev.type == "cuda" else 1024)
    dc = db_chunk or (65536 if dev.type == "cuda" else 16384)
    # search on centred float32 data: distances are unchanged, the |a|² + |b|² - 2 a·b
    # expansion the searches use is better conditioned
    search_dev = torch.device("cpu") if faiss is not None and (exact or method == "ivf") else dev
    xs = t.to(search_dev)
    xs = (xs - xs.mean(dim=0, dtype=torch.float64).to(xs.dtype)).to(torch.float32)
    sq = (xs * xs).sum(dim=1)
    if faiss is not None and (exact or method == "ivf"):
        xf = np.ascontiguousarray(xs.numpy())
        _log.info(
            "knn_graph: faiss %s %s search, N=%d, k=%d",
            "GPU" if use_gpu else "CPU",
            "exact" if exact else "IVF",
            n,
            k,
        )
        cand_np, d2_np = _faiss_candidates(faiss, xf, kk, exact, use_gpu, nlist, nprobe, seed)
        cand, d2 = torch.from_numpy(cand_np), torch.from_numpy(d2_np)
        work = t.cpu()
    elif exact:
        work = t.to(dev)
        _log.info("knn_graph: torch brute force on %s, N=%d, k=%d", dev, n, k)
        cand, d2 = _torch_candidates(xs, kk, qc, dc)
    else:
        work = t.to(dev)
        nl = min(n, nlist or _default_blocked_cells(n))
        cand, d2 = _blocked_candidates(xs, kk, nl, nprobe or BLOCKED_PROBES, seed, qc, dc)
    del xs
    dist, idx = _finish(work, sq.to(work.device), cand.to(work.device), d2.to(work.device), k)
    dist = dist.to(torch.float32)
    if is_tensor:
        return dist.to(src_device), idx.to(src_device)
    return dist.cpu().numpy(), idx.cpu().numpy()
