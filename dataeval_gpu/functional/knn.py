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
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..errors import InvalidArgumentError
from .knn_kernels import sort_rows_drop_self
from .knn_search import (
    BLOCKED_PROBES,
    FAISS_GPU_MAX_K,
    blocked_candidates,
    default_blocked_cells,
    faiss_candidates,
    full_float32_matmuls,
    torch_candidates,
)

__all__ = ["knn_graph", "pair_distances", "faiss_available", "default_exact_limit", "search_plan", "SearchPlan"]

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
        bad = torch.nonzero(~torch.isfinite(t).all(dim=1)).flatten().tolist()
        more = f", ... ({len(bad)} in all)" if len(bad) > 5 else ""
        raise InvalidArgumentError(
            f"x contains NaN or infinite values in {len(bad)} row(s): {bad[:5]}{more}; "
            "the neighbour search needs finite values"
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
    dist = torch.where(missing, inf, dist)
    if dist.device.type == "cpu":  # the same order, compiled
        out_d, out_i = sort_rows_drop_self(dist.numpy(), cand.numpy(), k)
        return torch.from_numpy(out_d), torch.from_numpy(out_i)
    is_self = (cand == rows) & ~missing
    # missing slots last, then (distance, index)
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
    _check_arguments(t.shape[0], k, backend, approximate)
    k = int(k)
    plan = search_plan(t.shape[0], k, t.device, device, exact_limit, backend, approximate, query_chunk, db_chunk)
    work, sq, cand, d2 = _candidates(t, k + 1, plan, nlist, nprobe, seed)
    dist, idx = _finish(work, sq.to(work.device), cand.to(work.device), d2.to(work.device), k)
    dist = dist.to(torch.float32)
    if is_tensor:
        return dist.to(t.device), idx.to(t.device)
    return dist.cpu().numpy(), idx.cpu().numpy()


def _check_arguments(n: int, k: Any, backend: str, approximate: str) -> None:
    """:func:`knn_graph`'s checks of ``k`` against the ``n`` rows and of the two choices."""
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    if n < 2 or k > n - 1:
        raise InvalidArgumentError(f"k must be at most N - 1 = {n - 1} for {n} rows, got k={k}")
    if backend not in ("auto", "faiss", "torch"):
        raise InvalidArgumentError(f"backend must be 'auto', 'faiss' or 'torch', got {backend!r}")
    if approximate not in ("auto", "blocked", "ivf"):
        raise InvalidArgumentError(f"approximate must be 'auto', 'blocked' or 'ivf', got {approximate!r}")


@dataclass(frozen=True)
class SearchPlan:
    """Which search :func:`knn_graph` runs (:func:`search_plan`)."""

    device: torch.device  #: where the torch searches and the finish run (faiss searches on the CPU's rows)
    faiss: Any  #: the faiss module for a faiss search, else None (torch)
    faiss_gpu: bool  #: faiss on its GPU index
    exact: bool  #: N within the exact limit
    method: str  #: the approximate search above the limit: "ivf" (faiss) or "blocked" (torch)
    query_chunk: int
    db_chunk: int

    @property
    def uses_faiss(self) -> bool:
        """A faiss search (exact, or IVF above the limit); else a torch search on :attr:`device`."""
        return self.faiss is not None and (self.exact or self.method == "ivf")


def search_plan(
    n: int,
    k: int,
    data_device: torch.device,
    device: str | torch.device | None = None,
    exact_limit: int | None = None,
    backend: str = "auto",
    approximate: str = "auto",
    query_chunk: int | None = None,
    db_chunk: int | None = None,
) -> SearchPlan:
    """The search :func:`knn_graph` runs for ``n`` rows (on ``data_device``) and ``k`` neighbours
    with its settings: faiss (GPU, exact, IVF) or torch (brute force, blocked), and where."""
    if device is None:
        dev = data_device
    else:
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InvalidArgumentError(f"device={str(device)!r} was asked for but CUDA is not available here")
    faiss = _faiss() if backend in ("auto", "faiss") else None
    if backend == "faiss" and faiss is None:
        from ..errors import missing_dependency

        raise missing_dependency("faiss", "cpu")
    # a faiss GPU index selects at most FAISS_GPU_MAX_K neighbours (above: faiss on the CPU
    # raises nothing, the GPU search does): a larger k searches with faiss on the CPU or torch
    use_gpu = (
        faiss is not None and k + 1 <= FAISS_GPU_MAX_K and _faiss_gpus(faiss) > 0 and (device is None or dev.type == "cuda")
    )
    if backend == "auto" and faiss is not None and not use_gpu and dev.type != "cpu":
        faiss = None  # a CUDA device without faiss-gpu: torch on the GPU beats faiss on the CPU
    limit = default_exact_limit(use_gpu or dev.type == "cuda") if exact_limit is None else int(exact_limit)
    method = approximate
    if method == "auto":
        method = "ivf" if use_gpu else "blocked"
    if method == "ivf" and faiss is None:
        from ..errors import missing_dependency

        raise missing_dependency("faiss", "cpu")
    return SearchPlan(
        device=dev,
        faiss=faiss,
        faiss_gpu=use_gpu,
        exact=n <= limit,
        method=method,
        query_chunk=query_chunk or (4096 if dev.type == "cuda" else 1024),
        db_chunk=db_chunk or (65536 if dev.type == "cuda" else 16384),
    )


def _candidates(
    t: torch.Tensor, kk: int, plan: SearchPlan, nlist: int | None, nprobe: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rows, squared norms, candidates, squared distances)``: the ``kk`` candidates of every
    row of ``t`` by ``plan``'s search, and the rows (on the device of the finish) they index."""
    n, dev = t.shape[0], plan.device
    # search on centred float32 data: distances are unchanged, the |a|² + |b|² - 2 a·b
    # expansion the searches use is better conditioned
    xs = t.to(torch.device("cpu") if plan.uses_faiss else dev)
    xs = (xs - xs.mean(dim=0, dtype=torch.float64).to(xs.dtype)).to(torch.float32)
    sq = (xs * xs).sum(dim=1)
    with full_float32_matmuls():  # no TF32 / bf16 GEMMs, whatever the caller set
        if plan.uses_faiss:
            xf = np.ascontiguousarray(xs.numpy())
            _log.info(
                "knn_graph: faiss %s %s search, N=%d, k=%d",
                "GPU" if plan.faiss_gpu else "CPU",
                "exact" if plan.exact else "IVF",
                n,
                kk - 1,
            )
            cand_np, d2_np = faiss_candidates(plan.faiss, xf, kk, plan.exact, plan.faiss_gpu, nlist, nprobe, seed)
            return t.cpu(), sq, torch.from_numpy(cand_np), torch.from_numpy(d2_np)
        if plan.exact:
            _log.info("knn_graph: torch brute force on %s, N=%d, k=%d", dev, n, kk - 1)
            cand, d2 = torch_candidates(xs, kk, plan.query_chunk, plan.db_chunk)
        else:
            nl = min(n, nlist or default_blocked_cells(n))
            cand, d2 = blocked_candidates(xs, kk, nl, nprobe or BLOCKED_PROBES, seed, plan.query_chunk, plan.db_chunk)
    return t.to(dev), sq, cand, d2
