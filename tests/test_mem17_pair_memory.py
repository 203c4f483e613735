"""mem17: the near-duplicate pair stage in less memory, with the same pairs.

The searches' blocks are computed :data:`~dataeval_gpu.functional.hashing.block_search.KEYS_PER_STEP`
hashes at a time as uint32 (no int64 copies of every probe), :func:`window_matches` takes the
probes' distinct values without their inverse (the members found for the matched values only),
and the searched rows' thumbnails are read a step at a time (``rows=``) instead of copied
(``t[rows]``).  Each is checked here against the unchunked computation and hand-checked cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import scale_pairs as scale_mod
from dataeval_gpu.detectors.hash_pairs import hash_pairs
from dataeval_gpu.detectors.scale_pairs import thumbs_at
from dataeval_gpu.functional.hashing import block_search, offcentre, windows
from dataeval_gpu.functional.hashing.block_search import _presence, cross_matches, window_matches
from dataeval_gpu.functional.hashing.offcentre import busy_share, grid_hashes, plain_hashes
from dataeval_gpu.functional.hashing.windows import view_hashes

ROOT = Path(__file__).resolve().parents[1]


def _presence_reference(sorted_blocks: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """The bitmap as computed before mem17 (every probe at once, int64)."""
    bits = min(width, max(24, int(np.ceil(np.log2(16 * max(sorted_blocks.size, 1))))))
    drop = width - bits
    top = sorted_blocks.astype(np.int64) >> drop
    present = np.zeros((1 << bits) >> 3 or 1, dtype=np.uint8)
    for v in np.unique(top):
        present[v >> 3] |= np.uint8(1 << (v & 7))
    return present, drop


@pytest.mark.parametrize("width", [21, 32])
def test_presence_in_steps_is_the_bitmap_of_every_block(width, monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(width)
    blocks = np.sort(rng.integers(0, 1 << width, 5000).astype(np.uint32))
    blocks = np.sort(np.concatenate([blocks, blocks[:50]]))  # repeated blocks, several in one byte
    want, drop = _presence_reference(blocks, width)
    monkeypatch.setattr(block_search, "KEYS_PER_STEP", 7)  # a byte's run split across steps
    got, got_drop = _presence(blocks, width)
    assert got_drop == drop and np.array_equal(got, want)
    # hand-checked: blocks 0, 9 and 10 set bit 0 of byte 0 and bits 1, 2 of byte 1
    small, d = _presence(np.array([0, 9, 10], dtype=np.uint32), 24)
    assert d == 0 and small[:2].tolist() == [0b1, 0b110] and int(small[2:].sum()) == 0


def test_window_matches_hand_checked_members_and_order(monkeypatch) -> None:  # noqa: ANN001
    h = np.int64(0x0F0F0F0F0F0F0F0F)
    far = np.int64(0x7123456789ABCDEF)
    # probes: h twice (indices 1 and 4), h with one bit flipped (0), a far hash (2), h ^ 3 bits (3)
    probes = np.array([h ^ 1, h, far, h ^ 0b111, h], dtype=np.int64)
    refs = np.array([far ^ (1 << 40), h, h], dtype=np.int64)  # h twice: each of its probes pairs with both
    monkeypatch.setattr(block_search, "KEYS_PER_STEP", 2)
    a, b = window_matches(probes, refs, 2, plan="exact")
    # sorted by the probe's value, then the reference's value, then probe index, then reference index
    # (values as int64: h ^ 1 < h < far; the reference values h < far ^ bit 40)
    assert list(zip(a.tolist(), b.tolist())) == [(0, 1), (0, 2), (1, 1), (1, 2), (4, 1), (4, 2), (2, 0)]


def _old_window_matches(
    probes: np.ndarray, refs: np.ndarray, radius: int, plan: str
) -> tuple[np.ndarray, np.ndarray]:
    """window_matches before mem17: the probes' inverse and every value's members."""
    ua, ia = np.unique(probes, return_inverse=True)
    ub = np.unique(refs)
    va, vb, _ = block_search.block_join(ua, ub, radius, plan)
    oa = np.argsort(ia, kind="stable")
    sa = np.searchsorted(ia[oa], np.arange(ua.size + 1))
    rb = np.searchsorted(ub, refs)
    ob = np.argsort(rb, kind="stable")
    sb = np.searchsorted(rb[ob], np.arange(ub.size + 1))
    na, nb = sa[va + 1] - sa[va], sb[vb + 1] - sb[vb]
    cnt = na * nb
    pid = np.repeat(np.arange(va.size), cnt)
    off = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return oa[sa[va][pid] + off // nb[pid]], ob[sb[vb][pid] + off % nb[pid]]


@pytest.mark.parametrize("plan", ["exact", "rotated"])
def test_window_matches_in_steps_equal_the_former_search(plan, monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(5)
    base = rng.integers(-(2**63), 2**63 - 1, 200, dtype=np.int64)
    flips = np.bitwise_or.reduce(np.int64(1) << rng.integers(0, 64, (200, 3)).astype(np.int64), axis=1)
    probes = np.concatenate(
        [base, base ^ flips, base[:30], base[:30], rng.integers(-(2**63), 2**63 - 1, 300)]
    )
    probes = rng.permutation(probes)
    refs = np.concatenate([base[::2], base[:9]])
    want = _old_window_matches(probes, refs, 8, plan)
    for steps in (1 << 20, 13):
        monkeypatch.setattr(block_search, "KEYS_PER_STEP", steps)
        a, b = window_matches(probes, refs, 8, plan=plan)
        assert np.array_equal(a, want[0]) and np.array_equal(b, want[1])
    assert want[0].size > 200  # the copies and the repeated probes found


def test_cross_matches_in_key_steps_unchanged(monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    refs = rng.integers(-(2**63), 2**63 - 1, 300, dtype=np.int64)
    probes = np.concatenate(
        [refs ^ (np.int64(1) << rng.integers(0, 64, 300)), rng.integers(-(2**63), 2**63 - 1, 900)]
    )
    want = cross_matches(probes, refs, 4)
    monkeypatch.setattr(block_search, "KEYS_PER_STEP", 11)
    assert np.array_equal(cross_matches(probes, refs, 4), want) and len(want) >= 300


def test_rows_read_in_steps_equal_the_copied_rows(monkeypatch) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    flat = rng.integers(0, 256, (40, 3 * 32 * 32), dtype=np.uint8)
    t = flat[:, : 32 * 32].reshape(40, 32, 32)  # the whole thumbnails as the stage views them (strided)
    rows = np.sort(rng.choice(40, 23, replace=False))
    hw = rng.choice([256.0, 320.0, 333.0], (40, 2))
    want = {
        "busy": busy_share(t[rows]), "grid": grid_hashes(t[rows]), "plain": plain_hashes(t[rows]),
        "views": view_hashes(t[rows], hw[rows], turns=True), "small": thumbs_at(t[rows], 16, enlarge=False)[0],
    }  # fmt: skip
    monkeypatch.setattr(offcentre, "IMAGES_PER_STEP", 5)
    monkeypatch.setattr(windows, "VIEW_CHUNK", 6)
    monkeypatch.setattr(scale_mod, "_STEP", (4, 4))
    assert np.array_equal(busy_share(t, rows=rows), want["busy"])
    assert torch.equal(grid_hashes(t, rows=rows), want["grid"])
    assert torch.equal(plain_hashes(t, rows=rows), want["plain"])
    assert torch.equal(view_hashes(t, hw[rows], turns=True, rows=rows), want["views"])
    assert torch.equal(thumbs_at(t, 16, enlarge=False, rows=rows)[0], want["small"])


def _rows_module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(
        "memory_check_pairs", ROOT / "scripts" / "memory_check_pairs.py"
    )
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_pair_stage_in_small_steps_equals_one_step(monkeypatch) -> None:  # noqa: ANN001
    """Every search of ``hash_pairs(windows=True)`` (whole hashes, turns, window views, off-centre
    crops, scale pairs) on planted synthetic rows: the same pairs with every step a few rows."""
    rows = _rows_module().build_rows(400, seed=3, planted=0.25)
    whole = hash_pairs(**rows, windows=True, progress=False)
    assert len(whole) >= 40  # planted copies of every kind found
    for mod, name, value in (
        (block_search, "KEYS_PER_STEP", 97), (offcentre, "IMAGES_PER_STEP", 31), (block_search, "REFS_PER_STEP", 17),
        (block_search, "PAIRS_PER_STEP", 23), (windows, "VIEW_CHUNK", 29), (scale_mod, "_STEP", (8, 8)),
    ):  # fmt: skip
        monkeypatch.setattr(mod, name, value)
    assert np.array_equal(hash_pairs(**rows, windows=True, progress=False), whole)
