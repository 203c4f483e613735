"""The scalable clusterer, ``Clusterer(data, method="hdbscan")``: HDBSCAN on a kNN graph.

The rules (distances, scores, flags) are described in :mod:`dataeval_gpu.detectors.clusterer`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..functional.clustering import cluster_distance_scores, duplicate_groups, hdbscan_labels, robust_zscore
from ..functional.knn import knn_graph
from .clusterer_output import ClustererOutput

__all__ = ["COSINE_MIN_FEATURES", "NEAR_DUPLICATE_RATIO", "HDBSCANClusterer", "local_spacing"]

_log = logging.getLogger("dataeval_gpu.detectors.clusterer")  # the Clusterer logger, as before the split


def _as_matrix(dataset: Any) -> np.ndarray:
    if isinstance(dataset, torch.Tensor):
        arr = dataset.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(dataset)
        except ValueError as exc:
            raise InvalidArgumentError(
                "dataset must be an array-like of equally shaped samples (N, P) or (N, ...)"
            ) from exc
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"dataset must be numeric, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise InvalidArgumentError(f"dataset must be (N, P) (or (N, ...) to flatten), got shape {arr.shape}")
    arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] < 2:
        raise InvalidArgumentError(f"dataset needs at least 2 samples, got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise InvalidArgumentError(f"samples need at least 1 feature, got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def local_spacing(distances: np.ndarray, indices: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Typical nearest-neighbour spacing around each point: the median, over the point's kNN
    row, of those neighbours' own nearest-neighbour distances (zeros ignored; the global
    median where a row has none).  O(N·k)."""
    nn1 = distances[:, 0].astype(np.float64)
    pos = nn1[nn1 > 0]
    fallback = float(np.median(pos)) if pos.size else 1.0
    out = np.empty(nn1.size, dtype=np.float64)
    for s in range(0, nn1.size, chunk):
        nb = nn1[indices[s : s + chunk]]
        nb = np.where(nb > 0, nb, np.inf)
        nb.sort(axis=1)
        cnt = np.isfinite(nb).sum(axis=1)
        lo = np.maximum(cnt - 1, 0) // 2
        hi = cnt // 2
        rows = np.arange(nb.shape[0])
        med = 0.5 * (nb[rows, lo] + nb[rows, np.minimum(hi, nb.shape[1] - 1)])
        out[s : s + chunk] = np.where(cnt > 0, med, fallback)
    return out


#: ``metric="auto"`` uses cosine distances for rows with at least this many features and no
#: negative value (pooled ReLU-network embeddings)
COSINE_MIN_FEATURES = 32
#: default near-duplicate cut-off (fraction of the local nearest-neighbour spacing)
NEAR_DUPLICATE_RATIO = {"cosine": 0.8, "euclidean": 0.45}


def _resolve_metric(x: np.ndarray, metric: str) -> str:
    if metric not in ("auto", "euclidean", "cosine"):
        raise InvalidArgumentError(f"metric must be 'auto', 'euclidean' or 'cosine', got {metric!r}")
    if metric != "auto":
        return metric
    if x.shape[1] >= COSINE_MIN_FEATURES and x.size and float(x.min()) >= 0.0:
        return "cosine"
    return "euclidean"


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), float32."""
    norms = np.sqrt(np.einsum("ij,ij->i", x, x, dtype=np.float64))
    scale = np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)
    return np.ascontiguousarray(x * scale[:, None].astype(x.dtype), dtype=np.float32)


class HDBSCANClusterer:
    """Flag outliers and duplicates in embeddings via HDBSCAN-style clustering on a kNN graph
    (``Clusterer(data, method="hdbscan", ...)``).

    Parameters
    ----------
    dataset : array-like (N, P) or (N, ...)
        Embeddings (numpy, torch or nested lists); more dimensions are flattened.
    k : int
        Neighbours per point in the graph (DataEval 1.x: 25); clipped to N - 1.
    min_cluster_size : int, optional
        HDBSCAN's minimum cluster size; default ``min(max(5, N // 20), 100)`` (DataEval 1.x).
    min_samples : int
        HDBSCAN's density smoothing (core distance to the ``min_samples``-th point counting
        itself); 1 (default) uses plain distances, as DataEval 1.x does.
    outlier_threshold : float
        Centre-distance z-score above which a point is an outlier (2.5, DataEval 1.x).
    potential_threshold : float
        Either score above this (2.0) makes a point a potential outlier.
    sparsity_threshold : float
        Sparsity z-score above which a point is an outlier (3.0).
    sparsity_neighbors : int, optional
        m, the neighbour whose distance the sparsity score uses; default
        ``min(k, min_cluster_size)``.
    exact_duplicate_ratio, near_duplicate_ratio : float
        Duplicate cut-offs as fractions of the local nearest-neighbour spacing (see
        :func:`local_spacing`): 0.01, and for near duplicates 0.8 with cosine distances and
        0.45 with Euclidean ones unless given (see docs/clusterer.md for the measurements).
    device : str or torch.device, optional
        Where the neighbour search runs (faiss uses a GPU when present unless "cpu").
    exact_limit : int, optional
        Largest N searched exactly (see :func:`~dataeval_gpu.functional.knn.knn_graph`).
    metric : {"auto", "euclidean", "cosine"}
        Distance between rows.  "cosine" compares L2-normalised rows (Euclidean distance on the
        unit sphere, ``sqrt(2 - 2 cos)``); "auto" (default) picks it for rows with at least 32
        features and no negative value (pooled ReLU-network embeddings such as
        :func:`~dataeval_gpu.embeddings.embed`'s) and "euclidean" otherwise.  Pass "cosine"
        for embeddings with negative values (transformers, CLIP).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 8))
    >>> x[150] = x[3]            # an exact copy
    >>> x[199] += 12             # far from everything
    >>> out = HDBSCANClusterer(x).evaluate()
    >>> out.duplicates
    [[3, 150]]
    >>> 199 in out.outliers
    True
    """

    def __init__(
        self,
        dataset: Any,
        k: int = 25,
        min_cluster_size: int | None = None,
        min_samples: int = 1,
        outlier_threshold: float = 2.5,
        potential_threshold: float = 2.0,
        sparsity_threshold: float = 3.0,
        sparsity_neighbors: int | None = None,
        exact_duplicate_ratio: float = 0.01,
        near_duplicate_ratio: float | None = None,
        device: str | torch.device | None = None,
        exact_limit: int | None = None,
        metric: str = "auto",
    ) -> None:
        self._data = _as_matrix(dataset)
        n = self._data.shape[0]
        if k < 1:
            raise InvalidArgumentError(f"k must be >= 1, got {k}")
        self.k = min(int(k), n - 1)
        if min_cluster_size is None:
            min_cluster_size = min(max(5, n // 20), 100)
        if min_cluster_size < 2:
            raise InvalidArgumentError(f"min_cluster_size must be >= 2, got {min_cluster_size}")
        self.min_cluster_size = int(min_cluster_size)
        if not 1 <= min_samples <= self.k + 1:
            raise InvalidArgumentError(f"min_samples must be in [1, k + 1 = {self.k + 1}], got {min_samples}")
        self.min_samples = int(min_samples)
        if potential_threshold > min(outlier_threshold, sparsity_threshold):
            raise InvalidArgumentError(
                f"potential_threshold ({potential_threshold}) must not exceed outlier_threshold "
                f"({outlier_threshold}) or sparsity_threshold ({sparsity_threshold})"
            )
        self.outlier_threshold = float(outlier_threshold)
        self.potential_threshold = float(potential_threshold)
        self.sparsity_threshold = float(sparsity_threshold)
        if sparsity_neighbors is None:
            sparsity_neighbors = self.min_cluster_size
        if sparsity_neighbors < 1:
            raise InvalidArgumentError(f"sparsity_neighbors must be >= 1, got {sparsity_neighbors}")
        self.sparsity_neighbors = min(int(sparsity_neighbors), self.k)
        self.metric = _resolve_metric(self._data, metric)
        if near_duplicate_ratio is None:
            near_duplicate_ratio = NEAR_DUPLICATE_RATIO[self.metric]
        if not 0 <= exact_duplicate_ratio <= near_duplicate_ratio:
            raise InvalidArgumentError(
                "need 0 <= exact_duplicate_ratio <= near_duplicate_ratio, got "
                f"{exact_duplicate_ratio} and {near_duplicate_ratio}"
            )
        self.exact_duplicate_ratio = float(exact_duplicate_ratio)
        self.near_duplicate_ratio = float(near_duplicate_ratio)
        self.device = device
        self.exact_limit = exact_limit
        self._space = _unit_rows(self._data) if self.metric == "cosine" else self._data
        self._knn: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def data(self) -> np.ndarray:
        """The (N, P) embeddings."""
        return self._data

    @property
    def space(self) -> np.ndarray:
        """The (N, P) rows the distances are taken between (unit rows for "cosine")."""
        return self._space

    @property
    def knn(self) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices) of the kNN graph, (N, k) each (computed once)."""
        if self._knn is None:
            self._knn = knn_graph(self._space, self.k, device=self.device, exact_limit=self.exact_limit)
        return self._knn

    def evaluate(self) -> ClustererOutput:
        """Cluster, score and flag; see the module notes for the rules."""
        x = self._space
        n = x.shape[0]
        t0 = time.perf_counter()
        dist, idx = self.knn
        t1 = time.perf_counter()
        labels, _ = hdbscan_labels(x, dist, idx, self.min_cluster_size, self.min_samples)
        t2 = time.perf_counter()
        assigned, _, z, _ = cluster_distance_scores(x, labels)

        reach = dist[:, self.sparsity_neighbors - 1].astype(np.float64)
        positive = reach[reach > 0]
        floor = float(positive.min()) * 1e-3 if positive.size else 1.0
        sparsity = robust_zscore(np.log(np.maximum(reach, floor)))

        is_out = (z > self.outlier_threshold) | (sparsity > self.sparsity_threshold)
        is_pot = ~is_out & ((z > self.potential_threshold) | (sparsity > self.potential_threshold))

        scale = local_spacing(dist, idx)
        dups, near = duplicate_groups(dist, idx, scale, self.exact_duplicate_ratio, self.near_duplicate_ratio)
        _log.info(
            "Clusterer: kNN graph %.1f s, clustering %.1f s, scores and flags %.1f s",
            t1 - t0,
            t2 - t1,
            time.perf_counter() - t2,
        )
        _log.info(
            "Clusterer: N=%d (%s), %d clusters, %d noise, %d outliers, %d potential, %d duplicate groups",
            n,
            self.metric,
            int(labels.max()) + 1,
            int((labels < 0).sum()),
            int(is_out.sum()),
            int(is_pot.sum()),
            len(dups),
        )
        return ClustererOutput(
            outliers=np.nonzero(is_out)[0].tolist(),
            potential_outliers=np.nonzero(is_pot)[0].tolist(),
            duplicates=dups,
            potential_duplicates=near,
            outlier_score=z,
            sparsity_score=sparsity,
            cluster_label=labels,
            assigned_cluster=assigned,
            metric=self.metric,
            method="hdbscan",
        )
