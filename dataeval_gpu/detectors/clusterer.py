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
from typing import Any

import numpy as np
import torch

from ..errors import InvalidArgumentError
from ..output import set_metadata
from .clusterer_hdbscan import COSINE_MIN_FEATURES, NEAR_DUPLICATE_RATIO, HDBSCANClusterer, local_spacing
from .clusterer_output import ClustererOutput

__all__ = [
    "AUTO_EXACT_LIMIT",
    "COSINE_MIN_FEATURES",
    "NEAR_DUPLICATE_RATIO",
    "Clusterer",
    "ClustererOutput",
    "HDBSCANClusterer",
    "local_spacing",
]

_log = logging.getLogger(__name__)


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
                raise InvalidArgumentError(f"data contains {non_finite_rows(x)}")
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


def non_finite_rows(x: np.ndarray) -> str:
    """``"NaN or infinite values in 2 row(s): [2, 6]"``: the rows of ``x`` that are not finite
    (an image with NaN pixels embeds to a NaN row), for the error that refuses them."""
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1)).tolist()
    more = f", ... ({len(bad)} in all)" if len(bad) > 5 else ""
    return f"NaN or infinite values in {len(bad)} row(s): {bad[:5]}{more}; the Clusterer needs finite values"


def _min_cluster(n: int) -> int:
    return min(max(2, int(n * 0.05)), 100)
