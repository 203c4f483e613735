"""DataEval 0.65's cluster history as arrays (:class:`ClusterTree`), from a single-linkage matrix.

Used by :mod:`dataeval_gpu.detectors.clusterer_exact` (see its docstring for the rules).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..functional.kernel_cache import njit

__all__ = ["GUARD", "ClusterTree"]

#: float64 estimates within this relative distance of a float32 threshold are recomputed
#: (numpy's float32 pairwise sums are within ~2e-6 relative of the exact value up to 1e5
#: terms; mean + std within ~4e-6 of mean + std)
GUARD = 2e-5


@njit
def _walk(left, right, h, size, n):  # pragma: no cover - compiled
    """0.65's cluster history, one row per merge (see ClusterTree)."""
    m_rows = n - 1
    cid = np.empty(m_rows, np.int64)
    level = np.empty(m_rows, np.int64)
    kind = np.empty(m_rows, np.int64)  # 0 pair, 1 point joins, 2 clusters merge
    merged = np.full(m_rows, -1, np.int64)
    cnt = np.zeros(m_rows, np.int64)
    mean = np.zeros(m_rows)
    m2 = np.zeros(m_rows)
    last = np.empty(m_rows, np.int64)
    fill_lo = np.full(m_rows, -1, np.int64)  # copies of the lower child at fill_lo..fill_hi
    fill_hi = np.full(m_rows, -1, np.int64)
    fill_node = np.full(m_rows, -1, np.int64)
    max_level = 1
    next_id = 0
    for m in range(m_rows):
        a = left[m]
        b = right[m]
        ai = a >= n
        bi = b >= n
        if ai and bi:
            la, lb_ = a - n, b - n
            cid[m] = min(cid[la], cid[lb_])
            merged[m] = max(cid[la], cid[lb_])
            level[m] = max(level[la], level[lb_]) + 1
            max_level = max(max_level, level[la], level[lb_])
            kind[m] = 2
            if level[la] != level[lb_]:
                lo_node = la if level[la] < level[lb_] else lb_
                fill_node[m] = lo_node
                fill_lo[m] = level[lo_node] + 1
                fill_hi[m] = max(level[la], level[lb_])
            last[m] = last[lb_] if size[la] >= size[lb_] else last[la]
            na, nb = cnt[la], cnt[lb_]
            tot = na + nb
            d = mean[lb_] - mean[la]
            mean[m] = mean[la] + d * nb / tot
            m2[m] = m2[la] + m2[lb_] + d * d * na * nb / tot
            cnt[m] = tot
        elif ai or bi:
            c = a - n if ai else b - n
            cid[m] = cid[c]
            level[m] = level[c] + 1
            kind[m] = 1
            last[m] = b if ai else a
            cnt[m] = cnt[c]
            mean[m] = mean[c]
            m2[m] = m2[c]
        else:
            cid[m] = next_id
            next_id += 1
            level[m] = 0
            kind[m] = 0
            last[m] = b
        # add this merge's own distance (Welford)
        cnt[m] += 1
        d1 = h[m] - mean[m]
        mean[m] += d1 / cnt[m]
        m2[m] += d1 * (h[m] - mean[m])
    return cid, level, kind, merged, cnt, mean, m2, last, fill_lo, fill_hi, fill_node, max_level, next_id


@njit
def _orders(left, right, size, n):  # pragma: no cover - compiled
    """Start of each merge's distance run in the right-first post-order (0.65's
    ``sample_dist`` layout) and of its points in a left-first leaf order."""
    m_rows = n - 1
    sd_start = np.zeros(m_rows, np.int64)
    leaf_start = np.zeros(m_rows, np.int64)
    leaves = np.empty(n, np.int64)
    for m in range(m_rows - 1, -1, -1):
        a = left[m]
        b = right[m]
        sa = size[a - n] if a >= n else 1
        sb = size[b - n] if b >= n else 1
        s = sd_start[m]
        if b >= n:
            sd_start[b - n] = s
        if a >= n:
            sd_start[a - n] = s + sb - 1
        ls = leaf_start[m]
        if a >= n:
            leaf_start[a - n] = ls
        else:
            leaves[ls] = a
        if b >= n:
            leaf_start[b - n] = ls + sa
        else:
            leaves[ls + sa] = b
    return sd_start, leaf_start, leaves


@dataclass
class ClusterTree:
    """0.65's cluster history in arrays: merge row m has cluster id ``cid[m]`` at ``level[m]``."""

    n: int
    z: np.ndarray
    left: np.ndarray
    right: np.ndarray
    size: np.ndarray
    h32: np.ndarray
    cid: np.ndarray
    level: np.ndarray
    kind: np.ndarray
    merged: np.ndarray
    cnt: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    last: np.ndarray
    fill_lo: np.ndarray
    fill_hi: np.ndarray
    fill_node: np.ndarray
    max_level: int
    max_clusters: int
    sd_post: np.ndarray
    sd_start: np.ndarray
    leaf_start: np.ndarray
    leaves: np.ndarray

    @classmethod
    def from_linkage(cls, z: np.ndarray) -> ClusterTree:
        n = z.shape[0] + 1
        left = z[:, 0].astype(np.int64)
        right = z[:, 1].astype(np.int64)
        size = z[:, 3].astype(np.int64)
        h32 = z[:, 2].astype(np.float32)
        walk = _walk(left, right, h32.astype(np.float64), size, n)
        sd_start, leaf_start, leaves = _orders(left, right, size, n)
        sd_post = np.empty(n - 1, np.float32)
        sd_post[sd_start + size - 2] = h32
        return cls(n, z, left, right, size, h32, *walk[:11], int(walk[11]), int(walk[12]),
                   sd_post, sd_start, leaf_start, leaves)  # fmt: skip

    # ---------------------------------------------------------------- per-merge statistics

    def run(self, m: int) -> np.ndarray:
        """0.65's ``sample_dist`` of the cluster made by merge m (float32, fresh array)."""
        s = self.sd_start[m]
        return self.sd_post[s : s + self.size[m] - 1].copy()

    def exact_avg_std(self, m: int) -> tuple[float, float]:
        """``dist_avg`` and ``dist_std`` of merge m's cluster as 0.65's numpy calls give them."""
        sd = self.run(m)
        if sd.size == 1:
            return float(sd[0]), 1e-5
        return float(np.mean(sd)), float(np.std(sd))

    def estimates(self) -> tuple[np.ndarray, np.ndarray]:
        std = np.where(self.cnt > 1, np.sqrt(np.maximum(self.m2, 0.0) / np.maximum(self.cnt, 1)), 1e-5)
        avg = np.where(self.cnt > 1, self.mean, self.h32.astype(np.float64))
        return avg, std

    def flags(self) -> tuple[np.ndarray, np.ndarray]:
        """``out1``, ``out2`` of every merge's cluster, decided exactly."""
        avg, std = self.estimates()
        dist = self.h32.astype(np.float64)
        out1 = dist > avg + std
        out2 = dist > avg + 2 * std
        band = GUARD * (np.abs(avg) + std + np.abs(dist)) + 1e-300
        unsure = (self.cnt > 1) & (
            (np.abs(dist - (avg + std)) <= band) | (np.abs(dist - (avg + 2 * std)) <= band)
        )
        for m in np.nonzero(unsure)[0].tolist():
            a, s = self.exact_avg_std(m)
            out1[m] = dist[m] > a + s
            out2[m] = dist[m] > a + s + s
        single = self.cnt <= 1
        out1[single] = False
        out2[single] = False
        return out1, out2

    def leaves_of(self, m: int) -> np.ndarray:
        s = self.leaf_start[m]
        return self.leaves[s : s + self.size[m]]

    def child_nodes(self, m: int) -> tuple[int, int]:
        return int(self.left[m]), int(self.right[m])
