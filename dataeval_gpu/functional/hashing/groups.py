"""Groups of images from their packed hashes: identical hashes, greedy Hamming-radius
centres, and the cross-set matches between two hash sets (train / test leakage)."""

from __future__ import annotations

import numpy as np
import torch

from ...errors import InvalidArgumentError
from .search import as_hash_tensor, cross_near_pairs, near_pairs, search_plan

__all__ = ["cross_pairs", "equal_groups", "radius_groups"]


def equal_groups(hashes: torch.Tensor, valid: torch.Tensor | None = None) -> list[list[int]]:
    """Groups of indices whose hashes are identical (radius 0), DataEval 0.65 style.

    Returns:
        Groups of at least two indices, each sorted ascending, the list sorted.
    """
    h = as_hash_tensor(hashes)
    idx = torch.arange(h.numel(), device=h.device)
    if valid is not None:
        idx = idx[valid.reshape(-1).to(h.device)]
    if idx.numel() < 2:
        return []
    _, inv, counts = torch.unique(h[idx], return_inverse=True, return_counts=True)
    order = torch.argsort(inv, stable=True)
    members = idx[order].cpu().numpy()
    counts_np = counts.cpu().numpy()
    bounds = np.concatenate([[0], np.cumsum(counts_np)])
    groups = [members[bounds[g] : bounds[g + 1]].tolist() for g in np.nonzero(counts_np > 1)[0]]
    return sorted(groups)


def radius_groups(
    hashes: torch.Tensor,
    radius: int,
    valid: torch.Tensor | None = None,
    chunk_size: int = 1 << 23,
) -> list[list[int]]:
    """Group images whose hashes lie within Hamming ``radius`` of a group centre.

    ``radius == 0`` gives exactly the groups of identical hashes (:func:`equal_groups`).
    For ``radius > 0`` groups cannot chain: the rule is *greedy centres*.  Identical hashes
    are merged first; each distinct hash ``v`` scores the number of images within
    ``radius`` of it (its own included).  Taking the distinct hashes by descending score
    (ties: the one whose first image index is lowest), a hash not yet assigned becomes a
    centre and its group is every image whose hash is within ``radius`` of the centre and
    not yet assigned.  So every member is within ``radius`` of its centre (any two members
    within ``2 * radius``), each image is in at most one group, and the result does not
    depend on the input order beyond ties.  Only groups of two or more images are returned.

    Args:
        hashes: ``(N,)`` int64 packed hashes.
        radius: Hamming radius, 0..64.
        valid: optional ``(N,)`` bool; invalid hashes are left out.
        chunk_size: passed to :func:`near_pairs`.

    Returns:
        Groups of indices, each sorted ascending, the list sorted.  Grouping runs on the
        host (numpy) on the pairs :func:`near_pairs` found.
    """
    h = as_hash_tensor(hashes)
    if radius == 0:
        return equal_groups(h, valid)
    idx = torch.arange(h.numel(), device=h.device)
    if valid is not None:
        idx = idx[valid.reshape(-1).to(h.device)]
    if idx.numel() < 2:
        return []
    uniq, inv = torch.unique(h[idx], return_inverse=True)
    pairs = near_pairs(uniq, radius, chunk_size=chunk_size).cpu().numpy()
    inv_np = inv.cpu().numpy()
    idx_np = idx.cpu().numpy()
    u = uniq.numel()
    # images of each distinct hash (CSR), in index order
    order = np.argsort(inv_np, kind="stable")
    counts = np.bincount(inv_np, minlength=u)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    members = idx_np[order]
    first = members[bounds[:-1]]
    # adjacency (CSR) between distinct hashes
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    adj_order = np.argsort(src, kind="stable")
    src, dst = src[adj_order], dst[adj_order]
    deg = np.bincount(src, minlength=u)
    adj_bounds = np.concatenate([[0], np.cumsum(deg)])
    score = counts + np.bincount(src, weights=counts[dst], minlength=u).astype(np.int64)

    groups: list[list[int]] = []
    # distinct hashes without neighbours: their identical copies form the group
    lonely = np.nonzero((deg == 0) & (counts > 1))[0]
    groups.extend(members[bounds[v] : bounds[v + 1]].tolist() for v in lonely)
    connected = np.nonzero(deg > 0)[0]
    connected = connected[np.lexsort((first[connected], -score[connected]))]
    assigned = np.zeros(u, dtype=bool)
    for v in connected:
        if assigned[v]:
            continue
        nb = dst[adj_bounds[v] : adj_bounds[v + 1]]
        nb = nb[~assigned[nb]]
        nodes = np.concatenate([[v], nb])
        assigned[nodes] = True
        g = np.concatenate([members[bounds[x] : bounds[x + 1]] for x in nodes])
        if g.size > 1:
            groups.append(np.sort(g).tolist())
    return sorted(groups)


def cross_pairs(
    hashes: torch.Tensor,
    reference: torch.Tensor,
    radius: int = 0,
    valid: torch.Tensor | None = None,
    reference_valid: torch.Tensor | None = None,
    chunk_size: int = 1 << 23,
) -> torch.Tensor:
    """Every pair ``(i, j)`` of an image of one set and an image of another whose hashes lie
    within Hamming distance ``radius`` (0: identical) -- train / test leakage on hashes.

    Args:
        hashes: ``(N,)`` int64 packed hashes of the first set (e.g. validation images).
        reference: ``(M,)`` int64 packed hashes of the second set (e.g. training images),
            of the same kind.
        radius: Hamming radius, 0..64.
        valid, reference_valid: optional ``(N,)`` / ``(M,)`` bool; invalid hashes (images
            without a near hash) match nothing.
        chunk_size: passed to :func:`near_pairs`.

    Returns:
        ``(P, 2)`` int64 on the CPU, ``[i, j]`` with ``i`` an index into ``hashes`` and
        ``j`` into ``reference``, sorted lexicographically.  The work is on the distinct
        hash values (a set with many copies of one hash costs one value).

    Example:
        >>> import torch
        >>> cross_pairs(torch.tensor([5, 7, 9]), torch.tensor([9, 4, 5, 5])).tolist()
        [[0, 2], [0, 3], [2, 0]]
    """
    a = as_hash_tensor(hashes).cpu()
    b = as_hash_tensor(reference).cpu()
    if not 0 <= radius <= 64:
        raise InvalidArgumentError(f"radius must be in 0..64, got {radius}")
    ia = torch.arange(a.numel()) if valid is None else torch.nonzero(valid.reshape(-1).cpu()).reshape(-1)
    ib = torch.arange(b.numel()) if reference_valid is None else torch.nonzero(reference_valid.reshape(-1).cpu()).reshape(-1)
    if ia.numel() == 0 or ib.numel() == 0:
        return torch.zeros((0, 2), dtype=torch.int64)
    direct = float(ia.numel()) * ib.numel()
    if direct <= max(4.0 * chunk_size, search_plan(ia.numel() + ib.numel(), radius)[0]):
        # one set is small (e.g. new images against an index): compare the two sets directly,
        # without sorting the large one or searching pairs inside it
        p = cross_near_pairs(a[ia], b[ib], radius, chunk_size=chunk_size)
        return torch.stack([ia[p[:, 0]], ib[p[:, 1]]], dim=1)
    uniq, inv = torch.unique(torch.cat([a[ia], b[ib]]), return_inverse=True)
    u = uniq.numel()
    inv_a, inv_b = inv[: ia.numel()].numpy(), inv[ia.numel() :].numpy()
    # distinct value pairs (va, vb) within the radius: the value itself, plus near pairs
    vals = np.arange(u)
    pa, pb = [vals], [vals]
    if radius > 0:
        near = near_pairs(uniq, radius, chunk_size=chunk_size).cpu().numpy()
        pa += [near[:, 0], near[:, 1]]
        pb += [near[:, 1], near[:, 0]]
    va, vb = np.concatenate(pa), np.concatenate(pb)
    # CSR of each set's members per distinct value
    members_a, bounds_a = _csr(inv_a, ia.numpy(), u)
    members_b, bounds_b = _csr(inv_b, ib.numpy(), u)
    ca = bounds_a[va + 1] - bounds_a[va]
    cb = bounds_b[vb + 1] - bounds_b[vb]
    keep = (ca > 0) & (cb > 0)
    va, vb, ca, cb = va[keep], vb[keep], ca[keep], cb[keep]
    if va.size == 0:
        return torch.zeros((0, 2), dtype=torch.int64)
    # expand each value pair into its ca x cb image pairs
    reps = ca * cb
    pair_of = np.repeat(np.arange(va.size), reps)
    k = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    i = members_a[bounds_a[va[pair_of]] + k // cb[pair_of]]
    j = members_b[bounds_b[vb[pair_of]] + k % cb[pair_of]]
    out = np.stack([i, j], axis=1)
    out = out[np.lexsort((out[:, 1], out[:, 0]))]
    return torch.from_numpy(np.ascontiguousarray(out))


def _csr(inv: np.ndarray, idx: np.ndarray, u: int) -> tuple[np.ndarray, np.ndarray]:
    """Members (original indices, ascending) of each distinct value, and the bounds."""
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=u)
    return idx[order], np.concatenate([[0], np.cumsum(counts)])
