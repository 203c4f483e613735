"""XOR + popcount on packed 64-bit hashes and the all-pairs-within-radius search.

The search uses a multi-index (pigeonhole) block join instead of N^2 comparisons when
that is cheaper (see :func:`search_plan`); on the CPU it runs on numpy arrays (faster gathers,
sorts and ``bitwise_count``), elsewhere on torch tensors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ...errors import InvalidArgumentError

__all__ = ["as_hash_tensor", "cross_near_pairs", "hamming_distance", "near_pairs", "popcount64", "search_plan"]

_M1 = 0x5555555555555555
_M2 = 0x3333333333333333
_M4 = 0x0F0F0F0F0F0F0F0F
_LOW63 = 0x7FFFFFFFFFFFFFFF


def popcount64(x: torch.Tensor) -> torch.Tensor:
    """Number of set bits of each int64 (all 64 bits, sign bit included).

    SWAR bit counting on the low 63 bits (every intermediate stays non-negative, so no
    signed overflow) plus the sign bit.  ``(...)`` int64 -> ``(...)`` int64 in 0..64.
    """
    sign = (x < 0).to(torch.int64)
    v = x & _LOW63
    v = v - ((v >> 1) & _M1)
    v = (v & _M2) + ((v >> 2) & _M2)
    v = (v + (v >> 4)) & _M4
    v = v + (v >> 8)
    v = v + (v >> 16)
    v = v + (v >> 32)
    return (v & 0x7F) + sign


def hamming_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamming distance of packed 64-bit hashes (broadcasting), ``int64`` in 0..64."""
    return popcount64(torch.bitwise_xor(a, b))


# ------------------------------------------------------------------- radius search


def as_hash_tensor(hashes: Any) -> torch.Tensor:
    if not isinstance(hashes, torch.Tensor):
        hashes = torch.as_tensor(np.asarray(hashes).astype(np.int64, copy=False))
    if hashes.dtype != torch.int64:
        raise InvalidArgumentError(f"hashes must be int64 packed 64-bit values, got dtype {hashes.dtype}")
    return hashes.reshape(-1)


def _block_widths(m: int) -> list[int]:
    base, extra = divmod(64, m)
    return [base + 1] * extra + [base] * (m - extra)


#: most entries one sort of a block join holds (more are split by their keys' top bits): about
#: five arrays of them (8 bytes an entry) are live at once, ~160 MiB, whatever the number of hashes
SORT_ENTRIES = 1 << 20
_MAX_EXPAND_WIDTH = 32  # a block searched at distance 2 packs key | flip | index in 63 bits


def search_plan(n: int, radius: int) -> tuple[float, list[tuple[int, int, bool]] | None]:
    """Cheapest search for ``n`` hashes: brute force (``None``) or a block join.

    Block join (multi-index hashing with the generalised pigeonhole principle): cut the 64
    bits into ``m`` blocks; if two hashes differ in at most ``radius`` bits, then for any
    per-block thresholds ``t_i`` with ``sum(t_i) >= radius - m + 1`` some block differs by
    at most ``t_i`` (``t_i = -1`` means the block is not searched).  Here ``t_i`` is 0
    (candidates share the block) or 2 (their blocks each flipped in at most one bit meet,
    i.e. the blocks are within distance 2), so ``3 a + b >= radius + 1`` for ``a`` blocks
    searched at distance 2 and ``b`` exactly.  Costs are modelled for uniformly random
    hashes: sorting the ``n (w + 1)`` keys of a distance-2 block and verifying the
    ``~(n (w + 1))**2 / 2**(w + 1)`` candidates it yields, against ``n**2 / 2`` brute
    comparisons.  Returns ``(modelled cost, plan)``; a plan lists ``(shift, width, expand)``.
    """
    brute = 0.5 * n * n
    best: tuple[float, list[tuple[int, int, bool]] | None] = (brute, None)
    if n < 2:
        return best
    for m in range(1, 9):
        widths = _block_widths(m)
        shifts = [64 - sum(widths[: i + 1]) for i in range(m)]
        for a in range(0, m + 1):
            if a and widths[0] > _MAX_EXPAND_WIDTH:
                break
            for b in range(0, m - a + 1):
                if 3 * a + b < radius + 1:
                    continue
                cost = 0.0
                plan = []
                for i in range(a + b):
                    w = widths[i]
                    expand = i < a
                    keys = n * (w + 1 if expand else 1)
                    cost += 4.0 * keys * max(math.log2(max(keys, 2)), 1.0) / 8.0
                    cost += 3.0 * keys * keys / 2.0 ** (w + 1)
                    plan.append((shifts[i], w, expand))
                if cost < best[0]:
                    best = (cost, plan)
                break  # more exact blocks only cost more
    return best


class _TorchOps:
    """Array operations of the radius search on torch tensors (any device)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def arange(self, n: int) -> torch.Tensor:
        return torch.arange(n, dtype=torch.int64, device=self.device)

    def const(self, values: list[int]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64, device=self.device)

    def cat(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(xs) if xs else torch.zeros(0, dtype=torch.int64, device=self.device)

    def sort(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x).values

    def argsort(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sort(x, stable=True).indices

    def nonzero(self, mask: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(mask).reshape(-1)

    def popcount(self, x: torch.Tensor) -> torch.Tensor:
        return popcount64(x)

    def cumsum(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, 0)

    def zeros(self, n: int) -> torch.Tensor:
        return torch.zeros(n, dtype=torch.int64, device=self.device)

    def minimum(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.minimum(a, b)

    def maximum(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.maximum(a, b)

    def where(self, c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(c, a, b)

    def unique(self, x: torch.Tensor) -> torch.Tensor:
        return torch.unique(x)


class _NumpyOps(_TorchOps):
    """The same operations on numpy arrays: on the CPU numpy's gathers, sorts and
    ``bitwise_count`` are several times faster than torch's."""

    def __init__(self) -> None:
        super().__init__(torch.device("cpu"))

    def arange(self, n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64)

    def const(self, values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    def cat(self, xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)

    def sort(self, x: np.ndarray) -> np.ndarray:
        x.sort()  # in place: the caller's array is a temporary (no second copy of the entries)
        return x

    def argsort(self, x: np.ndarray) -> np.ndarray:
        return np.argsort(x, kind="stable")

    def nonzero(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    def popcount(self, x: np.ndarray) -> np.ndarray:
        return np.bitwise_count(x.view(np.uint64))

    def cumsum(self, x: np.ndarray) -> np.ndarray:
        return np.cumsum(x)

    def zeros(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int64)

    def minimum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)

    def maximum(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    def where(self, c: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(c, a, b)

    def unique(self, x: np.ndarray) -> np.ndarray:
        return np.unique(x)


_NUMPY_ON_CPU = True  # tests switch this off to run the torch code path on the CPU


def _ops_for(h: torch.Tensor) -> tuple[Any, Any]:
    """(ops, hashes as that ops' array type)."""
    if _NUMPY_ON_CPU and h.device.type == "cpu" and hasattr(np, "bitwise_count"):
        return _NumpyOps(), h.numpy()
    return _TorchOps(h.device), h


def _brute_pairs(ops: Any, h: Any, radius: int, chunk_size: int) -> list[Any]:
    """All pairs by chunks of rows: ``(rows, N - i0)`` XOR + popcount blocks (j > i only)."""
    n = h.shape[0]
    out = []
    rows = max(1, chunk_size // max(n, 1))
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        close = ops.popcount(h[i0:i1, None] ^ h[None, i0:]) <= radius  # (rows, n - i0)
        flat = ops.nonzero(close.reshape(-1))
        ii = flat // (n - i0) + i0
        jj = flat % (n - i0) + i0
        keep = jj > ii
        out.append((ii[keep], jj[keep]))
    return out


def _join_block(
    ops: Any, h: Any, shift: int, width: int, expand: bool, radius: int, chunk_size: int
) -> list[tuple[Any, Any]]:
    """Pairs sharing block ``[shift, shift + width)`` (``expand``: within distance 2 in
    it) that are within ``radius`` on the whole 64 bits.

    Each hash enters with its block key and, when ``expand``, once more per bit of the
    block with that bit flipped (flip code ``j + 1``; 0 for the unflipped key).  Two
    hashes whose blocks differ in at most 2 bits meet under a common key; every such pair
    meets under exactly one key where the lower-index hash has the smaller flip code, or
    both codes are 0 (equal blocks), and only that meeting counts.  Entries are sorted as
    one int64 ``key | flip | index``, so entries with equal keys are contiguous runs; the
    pairs ``(p, p + d)`` inside runs are visited for ``d = 1, 2, ...`` over a shrinking
    set of positions (work = pairs + entries, no per-pair prefix sums).
    """
    n = h.shape[0]
    key = h if width >= 64 else (h >> shift) & ((1 << width) - 1)
    idbits = max(1, (n - 1).bit_length())
    fbits = (width + 1).bit_length() if expand else 0
    low = fbits + idbits
    packed = width + low <= 63
    if expand and not packed:
        raise InvalidArgumentError(f"too many hashes ({n}) for a {width}-bit block join")
    ids = ops.arange(n)
    flips = [0] + (list(range(1, width + 1)) if expand else [])
    consts = [((1 << (f - 1)) << low if f else 0) | (f << idbits) for f in flips]
    # partition the key space so one sort holds at most ~min(4 * chunk_size, SORT_ENTRIES)
    # entries (about five arrays of them are live at once)
    pbits = 0
    while packed and ((n * len(flips)) >> pbits) > min(4 * chunk_size, SORT_ENTRIES) and pbits < width:
        pbits += 1
    top = key >> (width - pbits) if pbits else None  # each key's part
    out: list[tuple[Any, Any]] = []
    for part in range(1 << pbits):
        f_all = None
        if packed:
            srt = ops.sort(_part_entries(ops, key, low, flips, consts, top, width - pbits, part))
            k_all = srt >> low
            i_all = srt & ((1 << idbits) - 1)
            if expand:
                f_all = (srt >> idbits) & ((1 << fbits) - 1)
            del srt
        else:  # a wide exact key (the whole hash): sort the keys, carry the indices
            order = ops.argsort(key)
            k_all, i_all = key[order], ids[order]
        total = k_all.shape[0]
        if total < 2:
            continue
        same = k_all[1:] == k_all[:-1]
        del k_all
        run_id = ops.zeros(total)
        run_id[1:] = ~same
        run_id = ops.cumsum(run_id)
        h_sorted = h[i_all]  # hashes in entry order: read sequentially below
        del same
        d = 1
        pos = None
        # small d: most entries still have a partner d places on in their run, so compare
        # whole shifted slices (contiguous, no gathers); once few do, switch to a shrinking
        # list of positions
        while d < total:
            partner = run_id[: total - d] == run_id[d:]
            count = int(partner.sum())
            if count == 0:
                break
            if count * 4 <= total:
                pos = ops.nonzero(partner)
                break
            for c0 in range(0, total - d, chunk_size):
                c1 = min(total - d, c0 + chunk_size)
                close = ops.popcount(h_sorted[c0:c1] ^ h_sorted[c0 + d : c1 + d]) <= radius
                close &= partner[c0:c1]
                hit = ops.nonzero(close) + c0
                out.append(_canonical(ops, i_all, f_all, hit, hit + d))
            d += 1
        del partner
        while pos is not None and pos.shape[0]:
            for c0 in range(0, pos.shape[0], chunk_size):
                p = pos[c0 : c0 + chunk_size]
                q = p + d
                hit = ops.nonzero(ops.popcount(h_sorted[p] ^ h_sorted[q]) <= radius)
                out.append(_canonical(ops, i_all, f_all, p[hit], q[hit]))
            d += 1
            pos = pos[pos + d < total]
            pos = pos[run_id[pos] == run_id[pos + d]]
    return out


def _part_entries(
    ops: Any, key: Any, low: int, flips: list[int], consts: list[int], top: Any, top_shift: int, part: int
) -> Any:
    """The unsorted entries ``key | flip | index`` of every hash and flip (``consts``) whose
    flipped key's top bits (``key >> top_shift``, ``top``) are ``part``; all of them when
    ``top`` is None.  Flipping key bit ``f - 1`` changes those top bits only when it is one
    of them, so each part is gathered from the few index sets ``top == part ^ flipped top``
    without forming every flip's entries first."""
    base = (key << low) | ops.arange(key.shape[0])
    if top is None:
        return (base[None, :] ^ ops.const(consts)[:, None]).reshape(-1)
    rows: dict[int, Any] = {}
    pieces = []
    for f, c in zip(flips, consts, strict=True):
        t = part ^ (((1 << (f - 1)) >> top_shift) if f else 0)
        if t not in rows:
            rows[t] = ops.nonzero(top == t)
        pieces.append(base[rows[t]] ^ c)
    return ops.cat(pieces)


def _canonical(ops: Any, i_all: Any, f_all: Any, p: Any, q: Any) -> tuple[Any, Any]:
    """Index pairs of entries ``p < q`` (same run), keeping each pair's one counted meeting."""
    a, b = i_all[p], i_all[q]
    if f_all is not None:
        fp, fq = f_all[p], f_all[q]  # fp <= fq inside a run
        keep = ops.nonzero(ops.where(fp == fq, fp == 0, a < b))
        a, b = a[keep], b[keep]
    return ops.minimum(a, b), ops.maximum(a, b)


def _unique_pairs(ops: Any, parts: list[tuple[Any, Any]], n: int) -> Any:
    """Sorted unique ``(P, 2)`` pairs as a torch tensor on ``ops.device``."""
    a = ops.cat([x for x, _ in parts])
    b = ops.cat([y for _, y in parts])
    code = ops.unique(a * n + b)
    pairs = torch.as_tensor(code).to(ops.device)
    return torch.stack([pairs // n, pairs % n], dim=1)


def near_pairs(
    hashes: torch.Tensor,
    radius: int,
    chunk_size: int = 1 << 23,
    method: str = "auto",
) -> torch.Tensor:
    """All pairs of hashes within Hamming distance ``radius``.

    Args:
        hashes: ``(N,)`` int64 packed hashes (any device; the search runs there).
        radius: largest Hamming distance reported, 0..64.
        chunk_size: most candidate pairs (and roughly sort keys / 4) held at once; the
            default keeps the working set to a few hundred MiB.
        method: ``"auto"`` (the cheaper of the two by a cost model), ``"brute"`` (chunked
            all-pairs XOR + popcount, O(N^2)) or ``"blocks"`` (multi-index block join, see
            :func:`search_plan`; roughly O(N log N + candidates) for random hashes).

    Returns:
        ``(P, 2)`` int64 ``[i, j]`` with ``i < j``, sorted lexicographically, on the
        hashes' device.  Identical hashes are pairs too (every pair of them).
    """
    h = as_hash_tensor(hashes)
    if not 0 <= radius <= 64:
        raise InvalidArgumentError(f"radius must be in 0..64, got {radius}")
    if chunk_size < 1:
        raise InvalidArgumentError(f"chunk_size must be >= 1, got {chunk_size}")
    if method not in ("auto", "brute", "blocks"):
        raise InvalidArgumentError(f"method must be 'auto', 'brute' or 'blocks', got {method!r}")
    n = h.numel()
    if n < 2:
        return torch.zeros((0, 2), dtype=torch.int64, device=h.device)
    _, plan = search_plan(n, radius)
    if method == "brute":
        plan = None
    elif method == "blocks" and plan is None:
        plan = _force_plan(radius)
    ops, hx = _ops_for(h)
    if plan is None:
        parts = _brute_pairs(ops, hx, radius, chunk_size)
    else:
        parts = []
        for shift, width, expand in plan:
            parts.extend(_join_block(ops, hx, shift, width, expand, radius, chunk_size))
    return _unique_pairs(ops, parts, n)


def _force_plan(radius: int) -> list[tuple[int, int, bool]]:
    """A valid block plan regardless of cost (for ``method="blocks"``): the fewest blocks."""
    for m in range(1, 9):
        widths = _block_widths(m)
        shifts = [64 - sum(widths[: i + 1]) for i in range(m)]
        for a in range(0, m + 1):
            if a and widths[0] > _MAX_EXPAND_WIDTH:
                break
            b = max(0, radius + 1 - 3 * a)
            if a + b <= m:
                return [(shifts[i], widths[i], i < a) for i in range(a + b)]
    raise InvalidArgumentError(f"no block plan covers radius {radius}; use method='brute'")


#: most comparisons :func:`cross_near_pairs` holds at once: its XOR, popcount and mask of a tile
#: (2 MB of int64) stay in the core's cache (58,000 window-view hashes x 604 images: 0.16 -> 0.08 s
#: of CPU against tiles of ``chunk_size``'s 8 M; the same pairs in the same order)
CROSS_TILE = 1 << 18


def cross_near_pairs(hashes: Any, reference: Any, radius: int, chunk_size: int = 1 << 23) -> torch.Tensor:
    """Every pair ``(i, j)`` with ``hashes[i]`` and ``reference[j]`` within Hamming ``radius``,
    by chunked XOR + popcount of the ``N x M`` blocks (the brute-force search between two
    sets: the cheaper one when one set is small, e.g. new images against an index).

    Returns ``(P, 2)`` int64 on the CPU, sorted lexicographically; at most ``chunk_size``
    comparisons (and :data:`CROSS_TILE`) are held at once.

    Example:
        >>> import torch
        >>> cross_near_pairs(torch.tensor([0, 7]), torch.tensor([1, 12, 7]), 1).tolist()
        [[0, 0], [1, 2]]
    """
    a = as_hash_tensor(hashes).cpu()
    b = as_hash_tensor(reference).cpu()
    if not 0 <= radius <= 64:
        raise InvalidArgumentError(f"radius must be in 0..64, got {radius}")
    ops, ax = _ops_for(a)
    _, bx = _ops_for(b)
    n, m = ax.shape[0], bx.shape[0]
    tile = min(chunk_size, CROSS_TILE)
    cols = max(1, min(m, tile))
    rows = max(1, tile // cols)
    parts_i, parts_j = [], []
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        for j0 in range(0, m, cols):
            j1 = min(m, j0 + cols)
            close = ops.popcount(ax[i0:i1, None] ^ bx[None, j0:j1]) <= radius
            flat = ops.nonzero(close.reshape(-1))
            parts_i.append(flat // (j1 - j0) + i0)
            parts_j.append(flat % (j1 - j0) + j0)
    ii, jj = ops.cat(parts_i), ops.cat(parts_j)  # already in (i, j) order
    return torch.stack([torch.as_tensor(ii), torch.as_tensor(jj)], dim=1).reshape(-1, 2).to(torch.int64)
