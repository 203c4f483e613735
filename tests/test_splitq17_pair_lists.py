"""The near-duplicate pair lists scale with a class of identical images (splitq17): the combined
groups of ``NearDuplicates.combine`` are found without listing the pairs inside every method's
groups (:func:`union_centre_groups`), the cosines come from each group's Gram matrix instead of a
``(pairs, D)`` gather, and ``near_hash_pairs`` searches two images of each class of identical rows
and lists every image's pairs from theirs (:func:`class_pairs`).  Every pair is still listed
(docs/duplicates.md, "Pair lists of identical images")."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors.identical_rows import class_pairs, kept_rows
from dataeval_gpu.detectors.near_combined import (
    centre_groups,
    combined_output,
    union_centre_groups,
    union_degrees,
)
from dataeval_gpu.functional.hashing import hamming_distance


def _edge_union(n: int, group_sets: list[list[list[int]]]) -> list[list[int]]:
    """The reference: the centre rule on every pair inside every method's group, written out."""
    src, dst = [], []
    for groups in group_sets:
        for g in groups:
            for a, b in combinations(g, 2):
                src.append(a)
                dst.append(b)
    return centre_groups(n, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64)) if src else []


def _partition(rng: np.random.Generator, n: int, share: float, most: int) -> list[list[int]]:
    """Disjoint groups of 2..most images covering about ``share`` of ``n`` (one method's output)."""
    order = rng.permutation(n)[: int(share * n)]
    groups, at = [], 0
    while at < order.size - 1:
        m = int(rng.integers(2, most + 1))
        groups.append(sorted(int(i) for i in order[at : at + m]))
        at += m
    return [g for g in groups if len(g) > 1]


def test_union_degrees_by_hand() -> None:
    """Image 0 shares exact group {0,1,2} and hash group {0,3}: 3 others; image 4 only embedding {4,5}."""
    exact = np.array([0, 0, 0, -1, -1, -1])
    near = np.array([0, -1, -1, 0, -1, -1])
    emb = np.array([-1, -1, -1, -1, 0, 0])
    assert union_degrees([exact, near, emb]).tolist() == [3, 2, 2, 1, 1, 1]
    # the same images in two methods' groups are counted once
    assert union_degrees([exact, exact]).tolist() == [2, 2, 2, 0, 0, 0]
    groups = union_centre_groups(6, [[[0, 1, 2]], [[0, 3]], [[4, 5]]])
    assert groups == [[0, 1, 2, 3], [4, 5]]


@pytest.mark.parametrize("seed", range(8))
def test_union_centre_groups_match_every_pair(seed: int) -> None:
    """On random method outputs (overlapping across methods, big groups of identical images),
    the groups equal the centre rule on every pair written out."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    sets = [_partition(rng, n, rng.uniform(0.2, 1.0), int(rng.integers(2, 30))) for _ in range(3)]
    assert union_centre_groups(n, sets) == _edge_union(n, sets)


def test_union_centre_groups_overlapping_input() -> None:
    """Groups that overlap within one method (not a method's output) take the pairs written out."""
    sets = [[[0, 1, 2], [2, 3]], [], [[4, 5]]]
    assert union_centre_groups(6, sets) == _edge_union(6, sets) == [[0, 1, 2, 3], [4, 5]]
    assert union_centre_groups(4, [[], [], []]) == []
    assert union_centre_groups(3, [[[1]], [], []]) == []


def test_combined_pairs_against_float64() -> None:
    """Every pair inside a combined group, its methods, Hamming distance and cosine (numpy float64)."""
    rng = np.random.default_rng(5)
    n, d = 9, 16
    emb = rng.standard_normal((n, d))
    emb[3] = emb[2] * 3.0  # the same direction: cosine 1
    hashes = torch.from_numpy(rng.integers(-(2**62), 2**62, n, dtype=np.int64))
    exact, near, embg = [[2, 3]], [[0, 1, 2]], [[5, 6], [7, 8]]
    out = combined_output(n, exact, near, embg, hashes, torch.from_numpy(emb))
    assert out.groups == [[0, 1, 2, 3], [5, 6], [7, 8]]
    f, s = out.pairs["first"], out.pairs["second"]
    assert list(zip(f.tolist(), s.tolist())) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (5, 6), (7, 8)]
    assert f.dtype == s.dtype == np.int64
    assert out.pairs["exact"].tolist() == [False] * 5 + [True, False, False]
    assert out.pairs["hash"].tolist() == [True, True, False, True, False, False, False, False]
    assert out.pairs["embedding"].tolist() == [False] * 6 + [True, True]
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(out.pairs["cosine"], (unit[f] * unit[s]).sum(axis=1), rtol=0, atol=1e-14)
    assert out.pairs["cosine"][5] == pytest.approx(1.0, abs=1e-14)
    h = hashes.numpy().view(np.uint64)
    ref = [bin(int(a ^ b)).count("1") for a, b in zip(h[f], h[s])]
    assert out.pairs["hamming"].tolist() == ref
    assert hamming_distance(hashes[f], hashes[s]).tolist() == ref
    none = combined_output(n, [], [], [], None, None)
    assert none.pairs["first"].size == 0 and none.pairs["cosine"].size == 0


def test_combined_pairs_of_identical_images() -> None:
    """1,000 identical images beside 3 others: all 499,500 pairs, exact and hash, cosine 1."""
    m = 1000
    n = m + 3
    group = list(range(3, n))
    emb = np.ones((n, 8))
    emb[:3] = np.eye(3, 8)
    out = combined_output(n, [group], [group], [group[:11], group[11:22]], torch.zeros(n, dtype=torch.int64),
                          torch.from_numpy(emb))  # fmt: skip
    assert out.groups == [group]
    p = out.pairs
    assert p["first"].size == m * (m - 1) // 2
    assert bool((p["first"] < p["second"]).all()) and bool(p["exact"].all()) and bool(p["hash"].all())
    assert int(p["embedding"].sum()) == 2 * 55
    np.testing.assert_allclose(p["cosine"], 1.0, rtol=0, atol=1e-12)
    assert bool((p["hamming"] == 0).all())


def _every_pair(label: np.ndarray, kept: np.ndarray, pairs: np.ndarray) -> list[list[int]]:
    """The reference, image by image: two images pair when kept images of their classes do."""
    cls = {(int(label[kept[a]]), int(label[kept[b]])) for a, b in pairs.tolist()}
    cls |= {(b, a) for a, b in cls}
    n = label.size
    return [[i, j] for i in range(n) for j in range(i + 1, n) if (int(label[i]), int(label[j])) in cls]


def test_class_pairs_by_hand() -> None:
    """Classes {0, 2, 3}, {1, 5}, {4}: class 0's copies pair, class 1 pairs with class 2, class 0
    with class 2 (found by both kept images of class 0: listed once)."""
    label = np.array([0, 1, 0, 0, 2, 1])
    kept = kept_rows(label)
    assert kept.tolist() == [0, 1, 2, 4, 5]
    pairs = np.array([[0, 2], [1, 3], [0, 3], [2, 3]])  # indices into kept
    got = class_pairs(label, kept, pairs)
    assert got.tolist() == [[0, 2], [0, 3], [0, 4], [1, 4], [2, 3], [2, 4], [3, 4], [4, 5]]
    assert got.dtype == np.int64
    assert class_pairs(label, kept, np.zeros((0, 2), np.int64)).shape == (0, 2)


@pytest.mark.parametrize("seed", range(6))
def test_class_pairs_match_every_image(seed: int) -> None:
    """Random classes and class pairs: the pairs written out image by image."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    label = np.sort(rng.integers(0, max(2, n // 4), n))
    _, label = np.unique(rng.permutation(label), return_inverse=True)
    kept = kept_rows(label)
    cand = [(a, b) for a in range(kept.size) for b in range(a + 1, kept.size)]
    pick = rng.random(len(cand)) < 0.2
    pairs = np.array([c for c, p in zip(cand, pick) if p], dtype=np.int64).reshape(-1, 2)
    # identical rows pair alike: close the picks over the classes, as a search would find them
    cls = {(int(label[kept[a]]), int(label[kept[b]])) for a, b in pairs.tolist()}
    cls |= {(b, a) for a, b in cls}
    pairs = np.array([c for c in cand if (int(label[kept[c[0]]]), int(label[kept[c[1]]])) in cls], np.int64)
    pairs = pairs.reshape(-1, 2)
    assert class_pairs(label, kept, pairs).tolist() == _every_pair(label, kept, pairs)


def test_near_hash_pairs_same_as_every_image_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit's pair list with two images of each class searched equals the search of every
    image (the former near_hash_pairs: ``hash_pairs`` on all rows), on photos, near copies and
    classes of identical images."""
    skdata = pytest.importorskip("skimage.data")
    PIL = pytest.importorskip("PIL.Image")
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.audit.stat_findings import near_hash_pairs
    from dataeval_gpu.detectors import near_duplicates
    from tests.test_dedup16_identical_rows import searched_sizes

    def small(a: np.ndarray) -> torch.Tensor:
        im = PIL.fromarray(a)
        im.thumbnail((96, 96))
        return torch.from_numpy(np.array(im)).permute(2, 0, 1).contiguous()

    chelsea, coffee, astro = small(skdata.chelsea()), small(skdata.coffee()), small(skdata.astronaut())
    clear = torch.zeros(4, 40, 40, dtype=torch.uint8)
    parts = [chelsea] * 5 + [coffee] * 3 + [coffee.flip(-1)] + [astro, astro[:, 6:-6, 6:-6].contiguous()] + [clear] * 4
    imgs = [parts[i].clone() for i in np.random.default_rng(2).permutation(len(parts))]
    audit = DataAudit(device="cpu")
    audit.update(imgs)
    index, rows, _ = audit.measured_rows()
    res = {k: torch.from_numpy(v) for k, v in rows.items()}
    seen = searched_sizes(monkeypatch)
    got = near_hash_pairs(res, rows, index, 4, windows=True)
    monkeypatch.setattr(near_duplicates, "identical_classes", lambda arrays, n: np.arange(n))
    ref = near_hash_pairs(res, rows, index, 4, windows=True)
    assert seen == [2 + 2 + 1 + 1 + 1 + 2, len(imgs)]  # two of each class, then every image
    assert got.dtype == ref.dtype == np.int64
    assert got.tolist() == ref.tolist()
    # the five copies of one photo: their 10 pairs are all listed
    order = np.random.default_rng(2).permutation(len(parts))
    five = sorted(int(k) for k in np.nonzero(order < 5)[0])
    listed = {tuple(p) for p in got.tolist()}
    assert all((a, b) in listed for a, b in combinations(five, 2))
