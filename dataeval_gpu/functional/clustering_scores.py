"""Scores and duplicate groups of the kNN clustering (:mod:`dataeval_gpu.functional.clustering`).

:func:`cluster_distance_scores` (distance to the cluster centre and its z-score),
:func:`robust_zscore` (median / MAD z-scores) and :func:`duplicate_groups` (index groups
joined by very short kNN edges).  Nothing here holds an N×N matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["cluster_distance_scores", "duplicate_groups", "robust_zscore"]

# --------------------------------------------------------------------------- scores


def _cluster_means(x: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    used = labels >= 0
    idx = np.nonzero(used)[0]
    onehot = sp.csr_matrix((np.ones(idx.size), (labels[idx], idx)), shape=(n_clusters, labels.size))
    counts = np.bincount(labels[idx], minlength=n_clusters).astype(np.float64)
    return np.asarray(onehot @ x.astype(np.float64)) / np.maximum(counts, 1)[:, None]


def cluster_distance_scores(
    x: np.ndarray, labels: np.ndarray, chunk: int = 1 << 22, noise_in_stats: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distance to the cluster centre and its z-score within the cluster.

    Centres are the means of the cluster's members (label >= 0).  Noise points (label -1) are
    measured against the nearest centre.  The mean and (population) standard deviation of a
    cluster's distances are taken over every point scored against its centre, noise included
    (DataEval 1.x's ``compute_cluster_stats``), or over the members only when
    ``noise_in_stats`` is False.  Including the noise matters on real embeddings: HDBSCAN
    often leaves a large share of them as noise, all farther from a centre than the members,
    and members-only statistics would put most of them several standard deviations out.

    Returns
    -------
    assigned : (N,) int64, the cluster each point is scored against
    distance : (N,) float64, distance to that centre
    zscore : (N,) float64, ``(distance - mean) / std``; a cluster with std 0 gives 0 for
        points at the mean distance and +inf beyond it
    centres : (K, D) float64
    """
    n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if n_clusters == 0:
        labels = np.zeros_like(labels)
        n_clusters = 1
    centres = _cluster_means(x, labels, n_clusters)
    assigned = labels.copy()
    noise = np.nonzero(labels < 0)[0]
    step = max(1, chunk // max(1, n_clusters * x.shape[1]))
    for s in range(0, noise.size, step):
        rows = noise[s : s + step]
        xs = x[rows].astype(np.float64)
        d2 = (xs * xs).sum(1)[:, None] + (centres * centres).sum(1)[None] - 2 * xs @ centres.T
        assigned[rows] = np.argmin(d2, axis=1)
    distance = np.empty(labels.size, dtype=np.float64)
    step = max(1, chunk // max(1, x.shape[1]))
    for s in range(0, labels.size, step):
        diff = x[s : s + step].astype(np.float64) - centres[assigned[s : s + step]]
        distance[s : s + step] = np.sqrt((diff * diff).sum(1))
    member = np.ones(labels.size, dtype=bool) if noise_in_stats else labels >= 0
    grp = assigned[member]
    cnt = np.bincount(grp, minlength=n_clusters).astype(np.float64)
    mean = np.bincount(grp, weights=distance[member], minlength=n_clusters) / np.maximum(cnt, 1)
    dev = distance[member] - mean[grp]
    var = np.bincount(grp, weights=dev * dev, minlength=n_clusters) / np.maximum(cnt, 1)
    std = np.sqrt(var)
    mu = mean[assigned]
    sd = std[assigned]
    excess = distance - mu
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(
            sd > 0, excess / np.where(sd > 0, sd, 1.0), np.where(excess > 1e-12 * (1 + mu), np.inf, 0.0)
        )
    return assigned, distance, z, centres


#: MAD of a normal distribution = 0.6745 sigma
_MAD_TO_SIGMA = 1.4826
#: mean absolute deviation of a normal distribution = 0.7979 sigma
_MEANAD_TO_SIGMA = 1.2533


def robust_zscore(values: np.ndarray) -> np.ndarray:
    """``(v - median) / (1.4826 * MAD)``: a z-score that a tail of extreme values cannot mask.

    When more than half the values are equal (MAD 0) the scale falls back to
    1.2533 × the mean absolute deviation from the median; when every value is equal all scores
    are 0.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v.copy()
    dev = v - np.median(v)
    scale = _MAD_TO_SIGMA * float(np.median(np.abs(dev)))
    if scale <= 0:
        scale = _MEANAD_TO_SIGMA * float(np.mean(np.abs(dev)))
    if scale <= 0:
        return np.zeros_like(v)
    return dev / scale


# --------------------------------------------------------------------------- duplicates


def _groups(n: int, rows: np.ndarray, cols: np.ndarray) -> list[list[int]]:
    if rows.size == 0:
        return []
    g = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    involved = np.unique(np.concatenate([rows, cols]))
    comp_inv = comp[involved]
    order = np.argsort(comp_inv, kind="stable")
    comp_sorted = comp_inv[order]
    members = involved[order]
    cuts = np.nonzero(np.diff(comp_sorted))[0] + 1
    groups = [sorted(int(i) for i in grp) for grp in np.split(members, cuts) if grp.size > 1]
    return sorted(groups)


def duplicate_groups(
    distances: np.ndarray,
    indices: np.ndarray,
    scale: np.ndarray,
    exact_ratio: float,
    near_ratio: float,
) -> tuple[list[list[int]], list[list[int]]]:
    """Exact and near duplicate groups from the kNN edges.

    Edge (i, j) of length d, with ``s = min(scale[i], scale[j])`` (each point's cluster scale,
    the median nearest-neighbour distance in its cluster):

    * exact when ``d <= exact_ratio * s``;
    * near when ``exact_ratio * s < d <= near_ratio * s``.

    Groups are the connected components of the exact edges (and, separately, of the near
    edges), as sorted index lists in sorted order — the layout of DataEval 0.65.
    """
    n, k = indices.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    cols = indices.reshape(-1).astype(np.int64)
    d = distances.reshape(-1).astype(np.float64)
    valid = (cols >= 0) & (cols != rows)
    s = np.minimum(scale[rows], scale[np.where(valid, cols, rows)])
    exact = valid & (d <= exact_ratio * s)
    near = valid & ~exact & (d <= near_ratio * s)
    return _groups(n, rows[exact], cols[exact]), _groups(n, rows[near], cols[near])
