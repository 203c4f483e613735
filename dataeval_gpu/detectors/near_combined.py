"""The combined near-duplicate groups and their pair list (:meth:`NearDuplicates.combine
<dataeval_gpu.detectors.near_duplicates.NearDuplicates.combine>`): the centre rule that every
method groups by (:func:`centre_groups`: greedy centres by descending degree, no chaining), the
same rule again over all methods' groups (:func:`union_centre_groups`), and every pair inside a
combined group described by the methods that grouped the two, their Hamming distance and their
cosine (:func:`combined_output`, :class:`NearDuplicatesOutput`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch

from ..functional.hashing import hamming_distance
from ..output import OutputMetadata

__all__ = ["NearDuplicatesOutput", "centre_groups", "combined_output", "union_centre_groups", "union_degrees"]


def centre_groups(n: int, src: np.ndarray, dst: np.ndarray) -> list[list[int]]:
    """Greedy centres on an undirected edge list: by descending degree (ties: lowest index),
    an unassigned node becomes a centre and takes its unassigned neighbours."""
    if src.size == 0:
        return []
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    key = np.unique(a * n + b)  # dedupe both directions
    a, b = key // n, key % n
    deg = np.bincount(a, minlength=n)
    bounds = np.concatenate([[0], np.cumsum(deg)])
    order = np.lexsort((np.arange(n), -deg))
    assigned = np.zeros(n, dtype=bool)
    groups: list[list[int]] = []
    for v in order:
        if deg[v] == 0:
            break
        if assigned[v]:
            continue
        nb = b[bounds[v] : bounds[v + 1]]
        nb = nb[~assigned[nb]]
        if nb.size == 0:
            continue
        members = np.concatenate([[v], nb])
        assigned[members] = True
        groups.append(sorted(int(i) for i in members))
    return sorted(groups)


def _method_labels(n: int, group_sets: Sequence[list[list[int]]]) -> list[np.ndarray] | None:
    """Each method's ``(n,)`` group of every image (-1: in none of its groups); None where a
    method's groups overlap or repeat an image (not a method's output: the pairs are listed then)."""
    labels = []
    for groups in group_sets:
        label = np.full(n, -1, dtype=np.int64)
        for k, g in enumerate(groups):
            a = np.asarray(g, dtype=np.int64).reshape(-1)
            if a.size and (bool((label[a] >= 0).any()) or np.unique(a).size != a.size):
                return None
            label[a] = k
        labels.append(label)
    return labels


def union_degrees(labels: Sequence[np.ndarray]) -> np.ndarray:
    """``(n,)`` int64: how many other images share a group of some method with each image (its
    degree over the pairs of every method's groups), by inclusion-exclusion over the methods: the
    size of the union of an image's groups is the sum, over each set of methods it has a group in,
    of ``(-1) ** (size + 1)`` times the number of images in all of those groups (images with the
    same labels), without listing a pair.  ``labels``: each method's group of every image, -1: none."""
    n = labels[0].size if len(labels) else 0
    union = np.zeros(n, dtype=np.int64)
    for r in range(1, len(labels) + 1):
        for subset in combinations(labels, r):
            cols = np.stack(subset, axis=1)
            inside = np.nonzero((cols >= 0).all(axis=1))[0]
            if inside.size:
                _, back, count = np.unique(cols[inside], axis=0, return_inverse=True, return_counts=True)
                union[inside] += (-1) ** (r + 1) * count[back.reshape(-1)]
    return np.maximum(union - 1, 0)


def union_centre_groups(n: int, group_sets: Sequence[list[list[int]]]) -> list[list[int]]:
    """The centre rule again over the pairs of every method's groups (no chaining across methods):
    by descending degree (:func:`union_degrees`; ties: lowest index) an unassigned image becomes a
    centre and takes the unassigned images of its groups, read from the groups themselves - the
    same groups as :func:`centre_groups` on every pair inside every group, without listing those
    pairs (a group of ``m`` identical images held ``m (m - 1) / 2`` of them, for each method)."""
    labels = _method_labels(n, group_sets)
    if labels is None:  # overlapping groups within one method: the pairs written out
        src, dst = [], []
        for groups in group_sets:
            for g in groups:
                a = np.asarray(g, dtype=np.int64)
                i, j = np.triu_indices(a.size, 1)
                src.append(a[i])
                dst.append(a[j])
        return centre_groups(n, np.concatenate(src), np.concatenate(dst)) if src else []
    members = [[np.asarray(g, dtype=np.int64).reshape(-1) for g in groups] for groups in group_sets]
    deg = union_degrees(labels)
    assigned = np.zeros(n, dtype=bool)
    out: list[list[int]] = []
    for v in np.lexsort((np.arange(n), -deg)):
        if deg[v] == 0:
            break
        if assigned[v]:
            continue
        near = np.unique(np.concatenate([members[m][lab[v]] for m, lab in enumerate(labels) if lab[v] >= 0]))
        near = near[~assigned[near]]  # v itself and its unassigned neighbours
        if near.size < 2:
            continue
        assigned[near] = True
        out.append([int(i) for i in near])
    return sorted(out)


@dataclass
class NearDuplicatesOutput(OutputMetadata):
    """Exact, hash and embedding groups, the combined groups and their pairs.

    Attributes:
        exact: groups of byte-identical images (xxhash).
        hash: perceptual-hash groups (within ``radius``, whole images and their central
            crops), centre rule.
        embedding: embedding groups (cosine ``>= threshold`` to the centre); empty without embeddings.
        groups: the three combined by the centre rule over all their pairs (no chaining).
        pairs: dict of ``(P,)`` arrays: ``first``, ``second`` (indices), ``exact``, ``hash``,
            ``embedding`` (bool: the method grouped the two itself), ``hamming`` (int, -1
            without a hash), ``cosine`` (float, NaN without embeddings).  Every pair inside every
            combined group, none left out: a group of ``m`` images gives ``m (m - 1) / 2`` rows
            (35 bytes each: 1,000 identical images 499,500 rows, 17 MB; 5,000 12.5 M, 437 MB).
    """

    exact: list[list[int]]
    hash: list[list[int]]
    embedding: list[list[int]]
    groups: list[list[int]]
    pairs: dict[str, np.ndarray]

    def methods(self, p: int) -> list[str]:
        """The methods that found pair ``p``."""
        return [m for m in ("exact", "hash", "embedding") if bool(self.pairs[m][p])]

    def to_pandas(self) -> Any:
        """The pairs as a DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.pairs)


def combined_output(
    n: int,
    exact: list[list[int]],
    near: list[list[int]],
    emb_groups: list[list[int]],
    near_hashes: torch.Tensor | None = None,
    embeddings: torch.Tensor | None = None,
) -> NearDuplicatesOutput:
    """Merge the method groups (:func:`union_centre_groups`) and describe every pair inside a
    merged group (:class:`NearDuplicatesOutput`): its methods, the Hamming distance of the two
    ``near_hashes`` and the cosine of the two ``embeddings`` (float64, from each group's Gram matrix:
    the memory of a group's ``m x m`` cosines, not of its pairs' ``(P, D)`` rows)."""
    groups = union_centre_groups(n, [exact, near, emb_groups])
    e = None if embeddings is None else embeddings.cpu()
    first, second, cosine = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for g in groups:
        a = np.asarray(g, dtype=np.int64)
        i, j = np.triu_indices(a.size, 1)
        first.append(a[i])
        second.append(a[j])
        if e is not None:  # the group's cosines from its Gram matrix: no (pairs, D) gather
            x = e[torch.from_numpy(a)].to(torch.float64)
            x = x / x.norm(dim=1, keepdim=True).clamp(min=1e-12)
            cosine.append((x @ x.T).numpy()[i, j])
    f, s = np.concatenate(first), np.concatenate(second)
    pairs: dict[str, np.ndarray] = {"first": f, "second": s}
    label = np.full(n, -1)
    for name, gs in (("exact", exact), ("hash", near), ("embedding", emb_groups)):
        label[:] = -1
        for gi, g in enumerate(gs):
            label[np.asarray(g)] = gi
        pairs[name] = (label[f] >= 0) & (label[f] == label[s])
    if near_hashes is not None and f.size:
        h = near_hashes.reshape(-1).cpu()
        pairs["hamming"] = hamming_distance(h[f], h[s]).numpy().astype(np.int64)
    else:
        pairs["hamming"] = np.full(f.size, -1, dtype=np.int64)
    pairs["cosine"] = np.concatenate(cosine) if e is not None and f.size else np.full(f.size, np.nan)
    return NearDuplicatesOutput(exact=exact, hash=near, embedding=emb_groups, groups=groups, pairs=pairs)
