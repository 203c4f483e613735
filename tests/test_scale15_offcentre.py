"""The off-centre crop search at scale (scale15): :func:`window_matches` in bounded steps, its
``"exact"`` plan the brute-force search and its ``"rotated"`` plan (above
:data:`~dataeval_gpu.functional.hashing.block_search.EXACT_REFS` references) the pairs that one of
eight cyclic 32-bit windows of the bits holds within 2 (docs/duplicates.md, "Off-centre crops at
scale")."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.functional.hashing import block_search
from dataeval_gpu.functional.hashing.block_search import EXACT_REFS, block_join, search_plan, window_matches
from dataeval_gpu.functional.hashing.offcentre import GRID_RADIUS


def _bits(h: np.ndarray) -> np.ndarray:
    """``(..., 64)`` bool: bit ``k`` of each int64 hash."""
    return ((h[..., None] >> np.arange(64)) & 1).astype(bool)


def _brute(probes: np.ndarray, refs: np.ndarray, radius: int, rotated: bool) -> list[tuple[int, int]]:
    """Every (probe, ref) index pair within ``radius``; ``rotated``: also some cyclic window of 32
    bits starting at a multiple of 8 holding at most 2 of the differing bits."""
    diff = _bits(probes[:, None] ^ refs[None, :])  # (P, R, 64)
    ok = diff.sum(axis=-1) <= radius
    if rotated:
        win = np.zeros((8, 64), dtype=bool)
        for w in range(8):
            win[w, (8 * w + np.arange(32)) % 64] = True
        ok &= ((diff[:, :, None, :] & win).sum(axis=-1) <= 2).any(axis=-1)
    return sorted(zip(*(x.tolist() for x in np.nonzero(ok))))


def _sets(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(-(2**63), 2**63 - 1, 60, dtype=np.int64)
    flips = [
        np.bitwise_or.reduce(np.int64(1) << rng.integers(0, 64, (60, k)).astype(np.int64), axis=1)
        for k in range(1, 10)
    ]
    probes = np.concatenate([base, *(base ^ f for f in flips), base[:5]])  # repeated values too
    refs = np.concatenate([base[:40], base[:3], rng.integers(-(2**63), 2**63 - 1, 30, dtype=np.int64)])
    return probes, refs


@pytest.mark.parametrize("plan", ["exact", "rotated"])
def test_window_matches_in_small_steps_is_the_brute_force_search(plan, monkeypatch) -> None:
    probes, refs = _sets(3)
    whole = {r: window_matches(probes, refs, r, plan=plan) for r in (0, 4, GRID_RADIUS)}
    monkeypatch.setattr(block_search, "REFS_PER_STEP", 7)  # several reference steps ...
    monkeypatch.setattr(block_search, "PAIRS_PER_STEP", 5)  # ... and candidate steps
    for radius in (0, 4, GRID_RADIUS):
        a, b = window_matches(probes, refs, radius, plan=plan)
        want = _brute(probes, refs, radius, plan == "rotated")
        assert sorted(zip(a.tolist(), b.tolist())) == want, radius
        assert np.array_equal(a, whole[radius][0]) and np.array_equal(b, whole[radius][1])
    assert len(_brute(probes, refs, GRID_RADIUS, True)) < len(_brute(probes, refs, GRID_RADIUS, False))


def test_rotated_plan_hand_checked_pairs() -> None:
    ref = np.array([0x0123456789ABCDEF], dtype=np.int64)

    def flip(bits: list[int]) -> np.int64:
        return ref[0] ^ np.bitwise_or.reduce(np.int64(1) << np.array(bits, dtype=np.int64))

    spread = flip([0, 8, 16, 24, 32, 40, 48, 56])  # 8 bits, 4 in every window of 32: missed
    packed = flip([0, 1, 2, 3, 4, 5, 6, 7])  # 8 bits, none in the window from bit 8: found
    five = flip([0, 13, 26, 39, 52])  # 5 bits: one window of 32 holds at most 2
    six = flip([0, 11, 22, 33, 44, 55])  # 6 bits spread: every window holds 3
    probes = np.array([spread, packed, five, six], dtype=np.int64)
    a, _ = window_matches(probes, ref, GRID_RADIUS, plan="rotated")
    assert a.tolist() == [1, 2]
    a, _ = window_matches(probes, ref, GRID_RADIUS, plan="exact")
    assert a.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        window_matches(probes, ref, GRID_RADIUS, plan="halves")


def test_block_join_counts_the_candidates_it_checked() -> None:
    ua = np.array([0, 3, (1 << 30) | (1 << 40) | (1 << 41)], dtype=np.int64)  # sorted, distinct
    ub = np.array([0], dtype=np.int64)
    va, vb, cand = block_join(ua, ub, 1, "exact")
    # 0 and 3 lie within 2 flips of 0 in all three blocks (bits 0-20, 21-41, 42-63); the third
    # differs by 3 in bits 21-41 and not at all in the others: 2 candidates; only 0 is within 1 bit
    assert cand == 3 + 3 + 2 and va.tolist() == [0] and vb.tolist() == [0]
    assert search_plan(EXACT_REFS) == "exact" and search_plan(EXACT_REFS + 1) == "rotated"
