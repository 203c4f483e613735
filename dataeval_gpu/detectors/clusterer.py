"""Clusterer: outliers and duplicates in an embedding space, at scale.

DataEval 0.65's ``Clusterer`` builds the full pairwise distance matrix and walks scipy's
linkage in Python (O(N²) memory, minutes at 10k points).  This one keeps DataEval's names
and output keys but works on a k-nearest-neighbour graph (O(N·k) memory):

1. kNN graph (:func:`~dataeval_gpu.functional.knn.knn_graph`: faiss, GPU when present).
2. Minimum spanning tree of the graph, single linkage, HDBSCAN condensation with a minimum
   cluster size and excess-of-mass selection (DataEval 1.x's clustering).
3. Per cluster: distance of each point to the cluster centre, z-scored within the cluster
   (mean and std of the members' distances).  Noise points are scored against the nearest
   centre with that cluster's statistics.
4. Flags (the defaults; all are parameters):

   * **outlier**: centre-distance z > 2.5 (DataEval 1.x's rule);
   * **potential outlier**: not an outlier, and centre-distance z > 2.0, or a sparse spot:
     the log of the mean distance to the 5 nearest neighbours is more than 2.0 standard
     deviations above the cluster's mean (a point in a gap between clusters is near no
     centre yet far from everything — what 0.65's merge-level rule catches);
   * **duplicates**: kNN pairs closer than 0.01 × the cluster's scale (the median
     nearest-neighbour distance in the cluster, zeros ignored): exact copies give distance 0;
   * **potential duplicates**: pairs between that and 0.5 × the scale (resized, re-encoded,
     flipped or brightened copies of a photo measure 0.1–0.33 of the typical nearest-neighbour
     distance between distinct photos with the default embedding).

   Groups are connected components of the flagged pairs, as sorted index lists in sorted
   order (0.65's layout).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..functional.clustering import cluster_distance_scores, duplicate_groups, hdbscan_labels
from ..functional.knn import knn_graph

__all__ = ["Clusterer", "ClustererOutput"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClustererOutput:
    """What :meth:`Clusterer.evaluate` finds.

    Attributes
    ----------
    outliers : list[int]
        Indices flagged as outliers (sorted).
    potential_outliers : list[int]
        Indices in the softer band (sorted, disjoint from ``outliers``).
    duplicates : list[list[int]]
        Groups of exact duplicates.
    potential_duplicates : list[list[int]]
        Groups of near duplicates.
    outlier_score : np.ndarray (N,) float64
        z-score of each point's distance to its cluster centre.
    sparsity_score : np.ndarray (N,) float64
        z-score of the log mean distance to the nearest neighbours, within the cluster.
    cluster_label : np.ndarray (N,) int64
        HDBSCAN cluster of each point, -1 for noise.
    assigned_cluster : np.ndarray (N,) int64
        The cluster each point is scored against (noise: the nearest centre).
    """

    outliers: list[int]
    potential_outliers: list[int]
    duplicates: list[list[int]]
    potential_duplicates: list[list[int]]
    outlier_score: np.ndarray = field(repr=False)
    sparsity_score: np.ndarray = field(repr=False)
    cluster_label: np.ndarray = field(repr=False)
    assigned_cluster: np.ndarray = field(repr=False)

    def dict(self) -> dict[str, Any]:
        """The four flag lists (0.65's output keys) as a plain dict."""
        return {
            "outliers": self.outliers,
            "potential_outliers": self.potential_outliers,
            "duplicates": self.duplicates,
            "potential_duplicates": self.potential_duplicates,
        }


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


def _per_cluster_median(values: np.ndarray, groups: np.ndarray, n_groups: int, fallback: float) -> np.ndarray:
    out = np.full(n_groups, fallback, dtype=np.float64)
    order = np.argsort(groups, kind="stable")
    g_sorted = groups[order]
    cuts = np.searchsorted(g_sorted, np.arange(n_groups + 1))
    for c in range(n_groups):
        v = values[order[cuts[c] : cuts[c + 1]]]
        v = v[v > 0]
        if v.size:
            out[c] = float(np.median(v))
    return out


def _within_cluster_z(
    values: np.ndarray, assigned: np.ndarray, member: np.ndarray, n_groups: int
) -> np.ndarray:
    cnt = np.bincount(assigned[member], minlength=n_groups).astype(np.float64)
    mean = np.bincount(assigned[member], weights=values[member], minlength=n_groups) / np.maximum(cnt, 1)
    dev = values[member] - mean[assigned[member]]
    std = np.sqrt(np.bincount(assigned[member], weights=dev * dev, minlength=n_groups) / np.maximum(cnt, 1))
    sd = std[assigned]
    ex = values - mean[assigned]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, ex / np.where(sd > 0, sd, 1.0), 0.0)


class Clusterer:
    """Flag outliers and duplicates in embeddings via HDBSCAN-style clustering on a kNN graph.

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
    outlier_threshold, potential_threshold : float
        z-score cut-offs for outliers (2.5) and the potential band (2.0).
    sparsity_threshold : float
        z-score of the log mean distance to ``sparsity_neighbors`` nearest neighbours above
        which a point is a potential outlier (2.0).
    sparsity_neighbors : int
        Neighbours in the sparsity score (5).
    exact_duplicate_ratio, near_duplicate_ratio : float
        Duplicate cut-offs as fractions of the cluster's median nearest-neighbour distance
        (0.01 and 0.5).
    device : str or torch.device, optional
        Where the neighbour search runs (faiss uses a GPU when present unless "cpu").
    exact_limit : int, optional
        Largest N searched exactly (see :func:`~dataeval_gpu.functional.knn.knn_graph`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 8))
    >>> x[150] = x[3]            # an exact copy
    >>> x[199] += 12             # far from everything
    >>> out = Clusterer(x).evaluate()
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
        sparsity_threshold: float = 2.0,
        sparsity_neighbors: int = 5,
        exact_duplicate_ratio: float = 0.01,
        near_duplicate_ratio: float = 0.5,
        device: str | torch.device | None = None,
        exact_limit: int | None = None,
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
        if potential_threshold > outlier_threshold:
            raise InvalidArgumentError(
                f"potential_threshold ({potential_threshold}) must not exceed outlier_threshold ({outlier_threshold})"
            )
        self.outlier_threshold = float(outlier_threshold)
        self.potential_threshold = float(potential_threshold)
        self.sparsity_threshold = float(sparsity_threshold)
        if sparsity_neighbors < 1:
            raise InvalidArgumentError(f"sparsity_neighbors must be >= 1, got {sparsity_neighbors}")
        self.sparsity_neighbors = min(int(sparsity_neighbors), self.k)
        if not 0 <= exact_duplicate_ratio <= near_duplicate_ratio:
            raise InvalidArgumentError(
                "need 0 <= exact_duplicate_ratio <= near_duplicate_ratio, got "
                f"{exact_duplicate_ratio} and {near_duplicate_ratio}"
            )
        self.exact_duplicate_ratio = float(exact_duplicate_ratio)
        self.near_duplicate_ratio = float(near_duplicate_ratio)
        self.device = device
        self.exact_limit = exact_limit
        self._knn: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def data(self) -> np.ndarray:
        """The (N, P) embeddings."""
        return self._data

    @property
    def knn(self) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices) of the kNN graph, (N, k) each (computed once)."""
        if self._knn is None:
            self._knn = knn_graph(self._data, self.k, device=self.device, exact_limit=self.exact_limit)
        return self._knn

    def evaluate(self) -> ClustererOutput:
        """Cluster, score and flag; see the module notes for the rules."""
        x = self._data
        n = x.shape[0]
        t0 = time.perf_counter()
        dist, idx = self.knn
        t1 = time.perf_counter()
        labels, _ = hdbscan_labels(x, dist, idx, self.min_cluster_size, self.min_samples)
        t2 = time.perf_counter()
        assigned, _, z, _ = cluster_distance_scores(x, labels)
        n_groups = int(assigned.max()) + 1
        member = labels >= 0
        if not member.any():
            member = np.ones(n, dtype=bool)

        local = dist[:, : self.sparsity_neighbors].astype(np.float64).mean(axis=1)
        positive = local[local > 0]
        floor = float(positive.min()) * 1e-3 if positive.size else 1.0
        sparsity = _within_cluster_z(np.log(np.maximum(local, floor)), assigned, member, n_groups)

        is_out = z > self.outlier_threshold
        is_pot = ~is_out & ((z > self.potential_threshold) | (sparsity > self.sparsity_threshold))

        nn1 = dist[:, 0].astype(np.float64)
        pos = nn1[nn1 > 0]
        fallback = float(np.median(pos)) if pos.size else 1.0
        scale = _per_cluster_median(nn1, assigned, n_groups, fallback)[assigned]
        dups, near = duplicate_groups(dist, idx, scale, self.exact_duplicate_ratio, self.near_duplicate_ratio)
        _log.info(
            "Clusterer: kNN graph %.1f s, clustering %.1f s, scores and flags %.1f s",
            t1 - t0,
            t2 - t1,
            time.perf_counter() - t2,
        )
        _log.info(
            "Clusterer: N=%d, %d clusters, %d noise, %d outliers, %d potential, %d duplicate groups",
            n,
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
        )
