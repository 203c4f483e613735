"""Hamming-radius pair search by blocks: every pair of a probe hash and a reference hash (int64)
within a few bits, found through blocks of their bits (pigeonhole) instead of comparing every pair.

Two hashes within ``r`` bits differ in at most two bits of one of ``ceil((r + 1) / 3)`` disjoint
blocks; each block of the references (the small side) is expanded by every flip of up to two bits
and looked up among the probes' sorted blocks (:func:`block_join`).  :data:`BLOCK_PLANS` says
which blocks a search reads: ``"exact"`` (three blocks, every pair within 8 bits: the off-centre
crops' windows against each image's plain and mirrored pHash, :func:`window_matches`, up to
:data:`EXACT_REFS` references), ``"rotated"`` (eight rotated 32-bit blocks: exact up to 5 bits,
linear in the images above it, :func:`search_plan`) and ``"halves32"`` (the two 32-bit halves:
every pair within :data:`HALVES_RADIUS`, the window views' and turns' hashes against the whole
hashes, :func:`cross_matches`).  Memory is bounded by steps (:data:`KEYS_PER_STEP`,
:data:`REFS_PER_STEP`, :data:`PAIRS_PER_STEP`), not by the candidates.

Example:
    >>> probes = np.array([0b1011, 0b1, 1 << 40 | 0b111], dtype=np.int64)  # the last: 4 and 5 bits away
    >>> refs = np.array([0b1000, 0], dtype=np.int64)
    >>> cross_matches(probes, refs, 2).tolist()
    [[0, 0], [1, 0], [1, 1]]
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .offcentre import GRID_RADIUS

__all__ = [
    "BLOCK_PLANS",
    "EXACT_REFS",
    "HALVES_RADIUS",
    "KEYS_PER_STEP",
    "PAIRS_PER_STEP",
    "REFS_PER_STEP",
    "block_join",
    "cross_matches",
    "search_plan",
    "window_matches",
]

#: the block plans of :func:`window_matches`: ``(rotation, shift, width)`` of each block (the
#: hash rotated left by ``rotation`` bits, then ``width`` bits from ``shift``).  ``"exact"``: three
#: blocks of 21-22 bits; two hashes within 8 bits differ by at most 2 in one of them (pigeonhole),
#: so every pair within the radius is found, but a random pair passes a block by chance ~1e-4, and
#: the candidates grow as ~0.05-0.1 N^2 (N images searched: 100 windows against 2 references
#: each).  ``"rotated"``: the two 32-bit halves of the hash rotated by 0, 8, 16 and 24 bits (8
#: blocks); exact up to 5 bits, a pair 6-8 bits apart found when one of the 8 blocks holds at
#: most 2 of its differences; a random pair passes by chance ~1e-6, so the cost is the
#: references' keys (~8,500 an image, linear in N) up to ~10^7 images (docs/duplicates.md,
#: "Off-centre crops at scale")
BLOCK_PLANS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "exact": ((0, 42, 22), (0, 21, 21), (0, 0, 21)),
    "rotated": tuple((r, s, 32) for r in (0, 8, 16, 24) for s in (32, 0)),
    # the two 32-bit halves alone: every pair within 5 bits (one half differs by at most 2), a random
    # pair passing by chance ~2.5e-7: the window views' and turns' search (:func:`cross_matches`)
    "halves32": ((0, 32, 32), (0, 0, 32)),
}
#: the largest radius the ``"halves32"`` plan finds every pair within
HALVES_RADIUS = 5
#: distinct reference hashes up to which :func:`window_matches` runs the ``"exact"`` plan (about
#: 20,000 images searched, where the two plans cost about the same); above it ``"rotated"``
EXACT_REFS = 40_000
#: references expanded per step of :func:`window_matches` (memory: their flipped keys)
REFS_PER_STEP = 4096
#: candidate pairs checked per step of :func:`window_matches` (memory: ~40 bytes a candidate);
#: a single key matching more probes is checked in one step
PAIRS_PER_STEP = 1 << 21


def search_plan(n_refs: int) -> str:
    """The :data:`BLOCK_PLANS` key :func:`window_matches` uses for ``n_refs`` distinct references."""
    return "exact" if n_refs <= EXACT_REFS else "rotated"


@functools.lru_cache(maxsize=4)
def _flips(width: int) -> np.ndarray:
    """Every mask of ``width`` bits with at most two bits set (0 first)."""
    one = [1 << b for b in range(width)]
    return np.array(
        [0, *one, *((1 << a) | (1 << b) for a in range(width) for b in range(a + 1, width))], dtype=np.int64
    )


def _rotl(h: np.ndarray, rot: int) -> np.ndarray:
    """int64 hashes rotated left by ``rot`` bits."""
    if not rot:
        return h
    u = h.view(np.uint64)
    return ((u << np.uint64(rot)) | (u >> np.uint64(64 - rot))).view(np.int64)


def _presence(sorted_blocks: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """``(bitmap, drop)``: a bit for each value of a block's top ``width - drop`` bits (all of
    them up to 2^24 values, else ~16 bits a probe), set where some probe's block has it.  The
    sorted blocks (uint32) are read :data:`KEYS_PER_STEP` at a time (memory: the bitmap and a
    step, not ~40 bytes a probe of int64 copies)."""
    bits = min(width, max(24, int(np.ceil(np.log2(16 * max(sorted_blocks.size, 1))))))
    drop = np.uint32(width - bits)
    present = np.zeros((1 << bits) >> 3 or 1, dtype=np.uint8)
    for s in range(0, sorted_blocks.size, KEYS_PER_STEP):
        top = sorted_blocks[s : s + KEYS_PER_STEP].astype(np.uint32, copy=False) >> drop
        at = top >> np.uint32(3)
        first = np.flatnonzero(np.concatenate([[True], at[1:] != at[:-1]]))  # sorted: each byte's run
        bit = np.left_shift(1, top & np.uint32(7)).astype(np.uint8)
        present[at[first]] |= np.bitwise_or.reduceat(bit, first)
    return present, int(drop)


#: probes whose blocks :func:`block_join` computes, and :func:`_presence` / :func:`window_matches`
#: read, per step (memory: a step's int64 temporaries instead of ~40 bytes a probe at once)
KEYS_PER_STEP = 1 << 20


def _sorted_blocks(h: np.ndarray, rot: int, shift: int, mask: int) -> tuple[np.ndarray, np.ndarray]:
    """``(blocks, order)``, ``(N,)`` uint32 each: block ``(rot, shift, mask)`` of each int64 hash,
    sorted, and the hashes' indices in that order (equal blocks in index order: a stable argsort).
    One uint64 key ``block << 32 | index`` per hash, computed :data:`KEYS_PER_STEP` at a time and
    sorted in place: 16 bytes a hash at the peak, where the blocks' int64 copies, a stable argsort
    (int64) and the sorted copy held ~40."""
    key = np.empty(h.size, dtype=np.uint64)
    for s in range(0, h.size, KEYS_PER_STEP):
        part = (_rotl(h[s : s + KEYS_PER_STEP], rot) >> shift) & mask
        index = np.arange(s, s + part.size, dtype=np.uint64)
        key[s : s + part.size] = (part.astype(np.uint64) << np.uint64(32)) | index
    key.sort()
    blocks, order = np.empty(h.size, dtype=np.uint32), np.empty(h.size, dtype=np.uint32)
    for s in range(0, h.size, KEYS_PER_STEP):
        blocks[s : s + KEYS_PER_STEP] = key[s : s + KEYS_PER_STEP] >> np.uint64(32)
        order[s : s + KEYS_PER_STEP] = key[s : s + KEYS_PER_STEP] & np.uint64(0xFFFFFFFF)
    return blocks, order


def _steps(n: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """``[start, end)`` runs of ``n`` (candidates per key) holding at most ``limit`` candidates
    each (a key with more alone)."""
    cs = np.cumsum(n)
    out, s = [], 0
    while s < n.size:
        e = max(s + 1, int(np.searchsorted(cs, (cs[s - 1] if s else 0) + limit, "right")))
        out.append((s, e))
        s = e
    return out


def block_join(ua: np.ndarray, ub: np.ndarray, radius: int, plan: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(va, vb, candidates)``: the distinct value pairs (indices into ``ua`` and ``ub``, int64
    hashes, sorted by ``va * ub.size + vb``) within Hamming ``radius`` that the block ``plan``
    (:data:`BLOCK_PLANS`) finds, and how many candidate pairs it checked.  Each block of the
    references is expanded by every flip of up to two bits, :data:`REFS_PER_STEP` references at a
    time, tested against a bitmap of the probes' blocks (:func:`_presence`) and the keys present
    looked up among the probes' sorted blocks; the candidates are checked
    :data:`PAIRS_PER_STEP` at a time (memory does not grow with the candidates).  ``ua`` may repeat
    values (:func:`cross_matches` passes its probes as they are): the pairs are then of indices."""
    found, cand = [], 0
    for rot, shift, width in BLOCK_PLANS[plan]:
        mask = (1 << width) - 1
        fl = _flips(width).astype(np.uint32)  # blocks of at most 32 bits: half the bytes to move
        if ua.size >= 2**32:
            raise ValueError(f"at most 2^32 - 1 probes, got {ua.size}")
        pk, po = _sorted_blocks(ua, rot, shift, mask)  # uint32 each: the probes' blocks sorted, their order
        present, drop = _presence(pk, width)
        for r in range(0, ub.size, REFS_PER_STEP):
            rb = np.arange(r, min(ub.size, r + REFS_PER_STEP))
            keys = (((_rotl(ub[rb], rot) >> shift) & mask).astype(np.uint32)[:, None] ^ fl[None, :]).ravel()
            top = keys >> np.uint32(drop)  # the bitmap first: most keys of a large plan match no probe
            hit = np.nonzero((present[top >> np.uint32(3)] >> (top & np.uint32(7)).astype(np.uint8)) & 1)[0]
            keys, owner = keys[hit], rb[hit // fl.size]
            lo = np.searchsorted(pk, keys, "left")
            n = np.searchsorted(pk, keys, "right") - lo
            hit = np.nonzero(n)[0]
            lo, n, owner = lo[hit], n[hit], owner[hit]
            cand += int(n.sum())
            for s, e in _steps(n, PAIRS_PER_STEP):
                m = n[s:e]
                t = int(m.sum())
                a = po[np.repeat(lo[s:e] - np.cumsum(m) + m, m) + np.arange(t)].astype(np.int64)
                b = np.repeat(owner[s:e], m)
                close = np.bitwise_count((ua[a] ^ ub[b]).view(np.uint64)) <= radius
                found.append(a[close] * ub.size + b[close])
    pairs = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return pairs // max(ub.size, 1), pairs % max(ub.size, 1), cand


def window_matches(
    probes: np.ndarray, refs: np.ndarray, radius: int = GRID_RADIUS, plan: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)``: every pair of a probe hash ``probes[a]`` and a reference hash ``refs[b]`` (int64)
    within Hamming ``radius`` (at most 8) that the block ``plan`` finds (:func:`block_join`; by
    default :func:`search_plan` of the distinct references: ``"exact"``, every pair, up to
    :data:`EXACT_REFS`, then ``"rotated"``).  The references are the small side: an image's two
    whole hashes against its 100 windows' hashes."""
    if not 0 <= radius <= 8:
        raise ValueError(f"radius must be in 0..8, got {radius}")
    probes, refs = np.asarray(probes, dtype=np.int64).ravel(), np.asarray(refs, dtype=np.int64).ravel()
    ua = np.unique(probes)  # no inverse: ~30 bytes a probe more; the members are found for the matches only
    ub = np.unique(refs)
    plan = search_plan(ub.size) if plan is None else plan
    if plan not in BLOCK_PLANS:
        raise ValueError(f"plan must be one of {sorted(BLOCK_PLANS)}, got {plan!r}")
    va, vb, _ = block_join(ua, ub, radius, plan)
    if not va.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # members: every probe with value va (in index order within a value), every reference with value vb
    ma = _members(probes, ua[np.unique(va)])
    ka = np.searchsorted(ua, probes[ma])
    oa = ma[np.argsort(ka, kind="stable")]
    ka = np.sort(ka, kind="stable")
    lo_a = np.searchsorted(ka, va, "left")
    na = np.searchsorted(ka, va, "right") - lo_a
    rb = np.searchsorted(ub, refs)
    ob = np.argsort(rb, kind="stable")
    sb = np.searchsorted(rb[ob], np.arange(ub.size + 1))
    nb = sb[vb + 1] - sb[vb]
    cnt = na * nb
    pid = np.repeat(np.arange(va.size), cnt)
    off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    a = oa[lo_a[pid] + off // nb[pid]]
    b = ob[sb[vb][pid] + off % nb[pid]]
    return a, b


def _members(h: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``(M,)`` int64, ascending: the indices of the hashes ``h`` whose value is one of ``values``
    (sorted, distinct), :data:`KEYS_PER_STEP` hashes at a time."""
    if not values.size:
        return np.zeros(0, dtype=np.int64)
    out = []
    for s in range(0, h.size, KEYS_PER_STEP):
        part = h[s : s + KEYS_PER_STEP]
        at = np.minimum(np.searchsorted(values, part), values.size - 1)
        out.append(np.flatnonzero(values[at] == part) + s)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def cross_matches(probes: np.ndarray, refs: np.ndarray, radius: int) -> np.ndarray:
    """``(P, 2)`` int64 ``[a, b]``, sorted lexicographically: every pair of ``probes[a]`` and
    ``refs[b]`` (int64 hashes) within Hamming ``radius``, the pairs of
    :func:`~dataeval_gpu.functional.hashing.groups.cross_pairs` (which a radius over
    :data:`HALVES_RADIUS` still runs).  Up to it by :func:`window_matches`' ``"halves32"`` plan: the references (the small side: the
    images' whole hashes) expanded by every flip of up to two bits in each 32-bit half, looked up
    among the probes' sorted halves (the window views' or the turns' hashes, ~100 or 8 an image).
    Time linear in the hashes up to ~10^7 images (random pairs pass a half by chance ~2.5e-7),
    memory the probes' sorted halves (~24 bytes a probe) plus bounded steps: no search among the probes
    themselves, which the joined search of both sets made (~2.4e-3 N^2 candidates for N images
    with ~97 probes each: docs/duplicates.md, "Window views at scale")."""
    probes, refs = np.asarray(probes, dtype=np.int64).ravel(), np.asarray(refs, dtype=np.int64).ravel()
    if radius > HALVES_RADIUS:
        from .groups import cross_pairs

        return cross_pairs(torch.from_numpy(probes), torch.from_numpy(refs), radius).numpy()
    if radius < 0:
        raise ValueError(f"radius must be in 0..64, got {radius}")
    # the probes as they are (no distinct values: their sort, inverse and order cost ~30 bytes a
    # probe more, and a value repeated among them pairs as often either way), the references' values
    ub, ib = np.unique(refs, return_inverse=True)
    a, vb, _ = block_join(probes, ub, radius, "halves32")
    ob = np.argsort(ib, kind="stable")  # every reference holding value vb
    sb = np.searchsorted(ib[ob], np.arange(ub.size + 1))
    nb = sb[vb + 1] - sb[vb]
    off = np.arange(int(nb.sum())) - np.repeat(np.cumsum(nb) - nb, nb)
    a, b = np.repeat(a, nb), ob[np.repeat(sb[vb], nb) + off]
    order = np.lexsort((b, a))
    return np.stack([a[order], b[order]], axis=1).astype(np.int64)
