"""Clusterer: outliers and duplicates in an embedding space, two ways.

``Clusterer(data)`` (``method="exact"``) gives DataEval 0.65's answers — its single-linkage
cluster history and rules, list for list — from an exact single-linkage tree built without
the N×N distance matrix (see :mod:`~dataeval_gpu.detectors.clusterer_exact`).

``Clusterer(data, method="hdbscan")`` (:class:`HDBSCANClusterer`) is the scalable one, on a
k-nearest-neighbour graph (O(N·k) memory), DataEval 1.x's approach:

0. Distances: cosine (Euclidean on L2-normalised rows) for network embeddings — ``metric=
   "auto"`` picks it when the rows have at least 32 features and no negative value, as pooled
   ReLU-network features (the default :func:`~dataeval_gpu.embeddings.embed` model, ResNets)
   have — and plain Euclidean otherwise.  Raw Euclidean distances between CNN features are
   dominated by the activation norm (busy textures have large norms), so on real images the
   most "distant" points were just striped or patterned ones.
1. kNN graph (:func:`~dataeval_gpu.functional.knn.knn_graph`: faiss, GPU when present).
2. Minimum spanning tree of the graph, single linkage, HDBSCAN condensation with a minimum
   cluster size and excess-of-mass selection (DataEval 1.x's clustering).
3. Two scores per point:

   * ``outlier_score``: the distance to the cluster centre, z-scored (mean and std) over
     every point scored against that centre.  Noise points are scored against the nearest
     centre and *enter the statistics*, as in DataEval 1.x: on real embeddings HDBSCAN leaves
     a large share of the points as noise, and members-only statistics flagged most of them
     (11,284 of 20,000 Fashion-MNIST images with the Data Cleaning Guide's embeddings);
   * ``sparsity_score``: the robust z-score (median / MAD over all points) of the log
     distance to the m-th nearest neighbour, m = min(k, min_cluster_size): how far one must
     go to find a cluster's worth of neighbours.  It catches points between clusters and
     small far-off groups (fewer than m look-alikes), which no centre distance sees.

4. Flags (the defaults; all are parameters):

   * **outlier**: centre z > 2.5 (DataEval 1.x's rule) or sparsity z > 3.0;
   * **potential outlier**: not an outlier, and either score > 2.0;
   * **duplicates**: kNN pairs closer than 0.01 × the local spacing (the median, over a
     point's neighbours, of their nearest-neighbour distances; zeros ignored): exact copies
     give distance 0;
   * **potential duplicates**: pairs between that and ``near_duplicate_ratio`` × the local
     spacing — 0.8 for cosine, 0.45 for Euclidean distances — (resized or re-encoded copies).
     A local spacing, not one per cluster, keeps dense regions (plain trousers in
     Fashion-MNIST) from chaining into groups of hundreds.

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
from ..functional.clustering import cluster_distance_scores, duplicate_groups, hdbscan_labels, robust_zscore
from ..functional.knn import knn_graph
from ..output import OutputMetadata, set_metadata

__all__ = ["AUTO_EXACT_LIMIT", "Clusterer", "ClustererOutput", "HDBSCANClusterer"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClustererOutput(OutputMetadata):
    """What :meth:`Clusterer.evaluate` finds (``.dict()``: the four lists; ``.meta()``: what
    ran, when, for how long — DataEval 0.65's metadata).

    Attributes
    ----------
    outliers : list[int]
        Indices flagged as outliers (sorted).
    potential_outliers : list[int]
        Indices in the softer band (sorted).  With ``method="exact"`` this is 0.65's list, which
        may share indices with ``outliers``; with "hdbscan" the two are disjoint.
    duplicates : list[list[int]]
        Groups of exact duplicates.
    potential_duplicates : list[list[int]]
        Groups of near duplicates.
    method : str
        "exact" or "hdbscan": which clusterer ran.
    outlier_score, sparsity_score, cluster_label, assigned_cluster, metric
        "hdbscan" only (None for "exact"):
    outlier_score : np.ndarray (N,) float64
        z-score of each point's distance to its cluster centre (statistics over every point
        scored against that centre, noise included).
    sparsity_score : np.ndarray (N,) float64
        Robust z-score (median / MAD over all points) of the log distance to the m-th
        nearest neighbour.
    cluster_label : np.ndarray (N,) int64
        HDBSCAN cluster of each point, -1 for noise.
    assigned_cluster : np.ndarray (N,) int64
        The cluster each point is scored against (noise: the nearest centre).
    metric : str
        The distance used: "euclidean" or "cosine".
    """

    outliers: list[int]
    potential_outliers: list[int]
    duplicates: list[list[int]]
    potential_duplicates: list[list[int]]
    outlier_score: np.ndarray | None = field(default=None, repr=False)
    sparsity_score: np.ndarray | None = field(default=None, repr=False)
    cluster_label: np.ndarray | None = field(default=None, repr=False)
    assigned_cluster: np.ndarray | None = field(default=None, repr=False)
    metric: str = field(default="euclidean", repr=False)
    method: str = field(default="hdbscan", repr=False)

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


#: ``method="auto"`` runs the exact clusterer up to this many rows and the kNN one above
#: (the exact one grows as N²·P: about 10 s at 20k × 128 on two CPU cores, see
#: docs/clusterer.md)
AUTO_EXACT_LIMIT = 20_000

_METHODS = ("exact", "hdbscan", "auto")


def _as_065_matrix(dataset: Any) -> np.ndarray:
    """DataEval 0.65's input handling: any array-like to numpy, (N, ...) flattened to (N, P),
    a 1-D (N,) array as N samples of one feature; at least 2 samples and 1 feature."""
    if isinstance(dataset, torch.Tensor):
        arr = dataset.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(dataset)
        except ValueError as exc:
            raise InvalidArgumentError("data must be an array-like of equally shaped samples") from exc
    if arr.ndim == 0:
        raise InvalidArgumentError(f"data must have a sample axis, got a scalar of shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"data must be numeric, got dtype {arr.dtype}")
    if arr.shape[0] < 2:
        raise InvalidArgumentError(f"Data should have at least 2 samples; got {arr.shape[0]}")
    arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[1] < 1:
        raise InvalidArgumentError(f"Samples should have at least 1 feature; got {arr.shape[1]}")
    return arr


class Clusterer:
    """Outliers and duplicates in embeddings: DataEval 0.65's Clusterer, and a scalable one.

    Parameters
    ----------
    data : array-like (N, P), (N, ...) or (N,)
        Embeddings (numpy, torch or nested lists).  More dimensions are flattened; a 1-D array
        is N samples of one feature (as in 0.65).
    method : {"exact", "hdbscan", "auto"}
        * "exact" (default): DataEval 0.65's results, list for list — single linkage over
          Euclidean distances, its cluster history and merge rules — computed without the N×N
          matrix (memory O(N·P)); time grows as N²·P.
        * "hdbscan": :class:`HDBSCANClusterer` — HDBSCAN on a kNN graph, cosine distances for
          network embeddings, z-scored centre distances (DataEval 1.x's approach); near
          linear, for large N.  Its options (``k``, ``min_cluster_size``, ``metric``, ...) go
          in ``**options``.
        * "auto": "exact" up to :data:`AUTO_EXACT_LIMIT` rows, "hdbscan" above.
    **options
        Passed to :class:`HDBSCANClusterer` (only with "hdbscan" or "auto").

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0]])
    >>> out = Clusterer(x).evaluate()
    >>> out.duplicates
    [[0, 1]]
    >>> out.method
    'exact'
    """

    def __init__(self, data: Any, method: str = "exact", **options: Any) -> None:
        if method not in _METHODS:
            raise InvalidArgumentError(f"method must be one of {_METHODS}, got {method!r}")
        if method == "exact" and options:
            raise InvalidArgumentError(
                f"options {sorted(options)} apply to method='hdbscan' only; the exact method has none"
            )
        self._method = method
        self._options = options
        self._on_init(data)

    def _on_init(self, data: Any) -> None:
        self._data = _as_065_matrix(data)
        self._num_samples = int(self._data.shape[0])
        self._levels: dict[int, int] | None = None
        self._impl: HDBSCANClusterer | None = None
        self._x64: np.ndarray | None = None

    @property
    def data(self) -> np.ndarray:
        """The (N, P) data; assigning new data starts over (0.65's behaviour)."""
        return self._data

    @data.setter
    def data(self, x: Any) -> None:
        self._on_init(x)

    @property
    def method(self) -> str:
        """The clusterer that :meth:`evaluate` runs: "exact" or "hdbscan"."""
        if self._method == "auto":
            return "exact" if self._num_samples <= AUTO_EXACT_LIMIT else "hdbscan"
        return self._method

    def _float64(self) -> np.ndarray:
        if self._x64 is None:
            x = np.ascontiguousarray(self._data, dtype=np.float64)
            if not np.isfinite(x).all():
                raise InvalidArgumentError("data contains NaN or infinite values")
            self._x64 = x
        return self._x64

    @property
    def last_good_merge_levels(self) -> dict[int, int]:
        """0.65's map from cluster id to the level of its last good merge (exact tree)."""
        if self._levels is None:
            from ..functional.linkage import ExactLinkage
            from .clusterer_exact import ClusterTree, last_good_merge_levels

            x = self._float64()
            tree = ClusterTree.from_linkage(ExactLinkage(x).linkage())
            self._levels = last_good_merge_levels(x, tree, _min_cluster(self._num_samples))
        return self._levels

    @property
    def hdbscan(self) -> HDBSCANClusterer:
        """The kNN clusterer for this data (built on first use, with ``**options``)."""
        if self._impl is None:
            self._impl = HDBSCANClusterer(self._data, **self._options)
        return self._impl

    @set_metadata("dataeval_gpu.detectors", ["data", "method"])
    def evaluate(self) -> ClustererOutput:
        """Find outliers, potential outliers, duplicates and potential duplicates."""
        if self.method == "hdbscan":
            _log.info("Clusterer: %d rows, kNN/HDBSCAN method", self._num_samples)
            return self.hdbscan.evaluate()
        from .clusterer_exact import exact_clusterer_results

        t0 = time.perf_counter()
        out, pot, dups, near, levels = exact_clusterer_results(self._float64())
        self._levels = levels
        _log.info("Clusterer: %d rows, exact method, %.1f s", self._num_samples, time.perf_counter() - t0)
        return ClustererOutput(out, pot, dups, near, method="exact")


def _min_cluster(n: int) -> int:
    return min(max(2, int(n * 0.05)), 100)
