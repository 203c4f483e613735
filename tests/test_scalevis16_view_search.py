"""The window views' and turns' search at scale (scalevis16): each image's ~97 view hashes (12
views x 8 turns) and 8 turns' hashes are searched against the images' whole D4 hashes by the
two 32-bit halves of the references expanded within 2 flips (:func:`cross_matches`, the
``"halves32"`` plan), not by a joined search of both sets (which also searched the probes among
themselves: ~2.4e-3 N^2 candidates).  Exact up to 5 bits: the same pairs, in the same order, as
the brute-force cross search (:func:`cross_pairs`), and so the same window and turn pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import turn_pairs as turn_mod
from dataeval_gpu.detectors import window_pairs as window_mod
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.functional.hashing import block_search, offcentre
from dataeval_gpu.functional.hashing.block_search import HALVES_RADIUS, block_join, cross_matches
from dataeval_gpu.functional.hashing.groups import cross_pairs
from dataeval_gpu.functional.hashing.windows import WINDOW_VIEWS, view_hashes, view_samples


def _brute(probes: np.ndarray, refs: np.ndarray, radius: int) -> np.ndarray:
    """Every (probe, ref) index pair within ``radius`` by an N x M popcount table, row-major."""
    d = np.bitwise_count((probes[:, None] ^ refs[None, :]).view(np.uint64))
    return np.argwhere(d <= radius).astype(np.int64)


def _planted(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(-(2**63), 2**63 - 1, 80, dtype=np.int64)
    flips = [
        np.bitwise_or.reduce(np.int64(1) << rng.integers(0, 64, (80, k)).astype(np.int64), axis=1)
        for k in range(1, 9)
    ]
    probes = np.concatenate(
        [*(base ^ f for f in flips), base[:7], rng.integers(-(2**63), 2**63 - 1, 500, dtype=np.int64)]
    )
    refs = np.concatenate([base, base[:4], base[10:12]])  # repeated references: every member pairs
    probes = np.concatenate([probes, probes[:60], probes[:5]])  # repeated probes too
    return rng.permutation(probes), refs


@pytest.mark.parametrize("seed", [0, 1])
def test_cross_matches_are_the_brute_force_and_cross_pairs_pairs(seed, monkeypatch) -> None:  # noqa: ANN001
    probes, refs = _planted(seed)
    whole = {r: cross_matches(probes, refs, r) for r in range(HALVES_RADIUS + 2)}
    monkeypatch.setattr(block_search, "REFS_PER_STEP", 5)  # many reference steps ...
    monkeypatch.setattr(block_search, "PAIRS_PER_STEP", 3)  # ... and candidate steps: the same
    for r in range(HALVES_RADIUS + 2):
        want = _brute(probes, refs, r)
        got = cross_matches(probes, refs, r)
        assert np.array_equal(got, want), r
        assert np.array_equal(got, whole[r]), r
        assert np.array_equal(
            got, cross_pairs(torch.from_numpy(probes), torch.from_numpy(refs), r).numpy()
        ), r
    assert len(whole[4]) > 80 * 4  # the planted pairs within 4 bits (and the repeated references') found


def test_halves_plan_hand_checked() -> None:
    ref = np.array([0x0123456789ABCDEF], dtype=np.int64)

    def flip(bits: list[int]) -> np.int64:
        return ref[0] ^ np.bitwise_or.reduce(np.int64(1) << np.array(bits, dtype=np.int64))

    # 5 bits, 3 in the low half and 2 in the high: found through the high half; 6 bits, 3 in each
    # half: a candidate of neither (the plan's limit); 2 bits in the low half: found in both halves
    probes = np.array([flip([0, 1, 2, 40, 41]), flip([0, 1, 2, 40, 41, 42]), flip([3, 30])], dtype=np.int64)
    va, vb, cand = block_join(np.sort(probes), ref, 6, "halves32")
    assert cand == 1 + 2  # the 5-bit one in its high half, the 2-bit one in each half
    assert cross_matches(probes, ref, 5).tolist() == [[0, 0], [2, 0]]
    assert cross_matches(probes, ref, 6).tolist() == [[0, 0], [1, 0], [2, 0]]  # over 5: cross_pairs
    with pytest.raises(ValueError):
        cross_matches(probes, ref, -1)


def _rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Smooth random thumbnails, some of them window views or turns of others (sampled from the
    source's thumbnail, rounded), their heights and widths and whole D4 hashes."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(32)
    r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    r[0, 0] = 1.0
    spec = (rng.normal(size=(n, 32, 32)) + 1j * rng.normal(size=(n, 32, 32))) / r[None] ** 2
    img = np.fft.ifft2(spec).real
    img = (img - img.mean(axis=(1, 2), keepdims=True)) / img.std(axis=(1, 2), keepdims=True)
    t = np.clip(128 + 45 * img, 0, 255).astype(np.uint8)
    hw = np.full((n, 2), 480.0)
    for k in range(0, n // 3):  # image 3k + 1: a view of image 3k; 3k + 2 its mirror
        v = WINDOW_VIEWS[k % len(WINDOW_VIEWS)]
        t[3 * k + 1] = np.round(view_samples(t[3 * k], hw[:1], v)[0]).astype(np.uint8)
        t[3 * k + 2] = t[3 * k + 1][:, ::-1]
    full = view_hashes(t, hw, ((1.0, 0.0, 0.0, 0.0),)).reshape(-1)
    return t, hw, full


def _old_search(probes: torch.Tensor, refs: torch.Tensor, radius: int) -> np.ndarray:
    return cross_pairs(torch.as_tensor(probes), torch.as_tensor(refs), radius).numpy()


@pytest.mark.parametrize("radius", [2, 4])
def test_window_and_turn_pairs_as_with_the_joined_search(radius, monkeypatch) -> None:  # noqa: ANN001
    t, hw, full = _rows(150, 3)
    valid = torch.ones(len(t), dtype=torch.bool)
    figs = PairFigures(plain=np.zeros(len(t)), opacity=np.ones(len(t)))
    seen: dict[str, list[np.ndarray]] = {"new": [], "old": []}
    real = window_mod.cross_matches

    def spy(which: str, fn):  # noqa: ANN001, ANN202
        def run(p, r, rad):  # noqa: ANN001, ANN202
            out = fn(p, r, rad)
            seen[which].append(out)
            return out

        return run

    monkeypatch.setattr(window_mod, "cross_matches", spy("new", real))
    monkeypatch.setattr(turn_mod, "cross_matches", spy("new", real))
    new_w = window_mod.window_pairs(full, valid, t.reshape(len(t), -1), hw, figs, radius)
    new_t = turn_mod.turn_candidates(full, valid, t, hw, radius)
    monkeypatch.setattr(window_mod, "cross_matches", spy("old", _old_search))
    monkeypatch.setattr(turn_mod, "cross_matches", spy("old", _old_search))
    old_w = window_mod.window_pairs(full, valid, t.reshape(len(t), -1), hw, figs, radius)
    old_t = turn_mod.turn_candidates(full, valid, t, hw, radius)
    for a, b in zip(seen["new"], seen["old"], strict=True):  # the candidates, in the same order
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert sum(len(a) for a in seen["new"]) > len(t)  # view candidates beyond each image's own turn
    assert np.array_equal(new_w, old_w) and all(
        np.array_equal(a, b) for a, b in zip(new_t, old_t, strict=True)
    )
    assert len(new_w) >= 40, len(new_w)  # most of the 50 planted views (and their mirrors') pairs verified


def test_offcentre_figures_in_steps_are_the_whole_sets(monkeypatch) -> None:  # noqa: ANN001
    """``busy_share``, ``plain_hashes`` and ``grid_hashes`` convert the thumbnails to float64 a step at a
    time (every thumbnail at once held ~40 KB an image in ``busy_share``: 4.5 GB at 100,000): the same
    values as the whole set at once (the earlier code, written out here) and as in steps of 3."""
    t = np.random.default_rng(5).integers(0, 256, (11, 32, 32)).astype(np.uint8)
    t[3] = 77  # a flat one: no busy pixel
    x = t.astype(np.float64)
    box = sum(
        np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")[:, dy : dy + 32, dx : dx + 32]
        for dy in range(3)
        for dx in range(3)
    )
    want_busy = (np.abs(x - box / 9.0) >= 1.0).mean(axis=(1, 2))
    a = offcentre.axis_maps(1.0, 1)
    c = a @ x @ a.T
    alt = 1.0 - 2.0 * (np.arange(8) % 2)
    want_plain = offcentre.dct_bits(torch.from_numpy(np.stack([c, c * alt[None, None, :]], axis=1)))
    whole = (offcentre.busy_share(t), offcentre.plain_hashes(t), offcentre.grid_hashes(t))
    assert np.array_equal(whole[0], want_busy) and whole[0][3] == 0.0
    assert torch.equal(whole[1], want_plain)
    monkeypatch.setattr(offcentre, "IMAGES_PER_STEP", 3)
    assert np.array_equal(offcentre.busy_share(torch.from_numpy(t)), want_busy)
    assert torch.equal(offcentre.plain_hashes(t), want_plain) and torch.equal(
        offcentre.grid_hashes(t), whole[2]
    )
