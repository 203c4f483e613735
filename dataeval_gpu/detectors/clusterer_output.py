"""What :meth:`~dataeval_gpu.detectors.clusterer.Clusterer.evaluate` returns (both methods)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..output import OutputMetadata

__all__ = ["ClustererOutput"]


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
