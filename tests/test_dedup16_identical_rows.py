"""Images whose hash rows are identical are searched once (dedup16): :func:`hash_groups` keeps at
most two images of each class of identical rows, and the centre rule over the classes, weighted
by their sizes, gives the groups the search of every image gives (docs/duplicates.md)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates, identical_rows, near_duplicates
from dataeval_gpu.detectors.identical_rows import class_centre_groups, identical_classes, kept_rows

PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")


def _node_centre_groups(n: int, pairs: set[tuple[int, int]]) -> list[list[int]]:
    """The centre rule written out on every image (the reference): by descending degree, ties by
    the lowest index, an unassigned image becomes a centre and takes its unassigned neighbours."""
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for i, j in pairs:
        nbrs[i].add(j)
        nbrs[j].add(i)
    assigned = [False] * n
    groups = []
    for v in sorted(range(n), key=lambda v: (-len(nbrs[v]), v)):
        if not nbrs[v]:
            break
        if assigned[v]:
            continue
        nb = [u for u in nbrs[v] if not assigned[u]]
        if not nb:
            continue
        for u in [v, *nb]:
            assigned[u] = True
        groups.append(sorted([v, *nb]))
    return sorted(groups)


def searched_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of images each pair search (``search_pairs``) is given, appended as it runs
    (``test_splitq17_pair_lists`` counts with it too)."""
    seen: list[int] = []
    real = near_duplicates.search_pairs

    def spy(rows, *args, **kw):  # type: ignore[no-untyped-def]
        seen.append(rows.full.numel())
        return real(rows, *args, **kw)

    monkeypatch.setattr(near_duplicates, "search_pairs", spy)
    return seen


def test_identical_classes_by_bytes() -> None:
    """Rows equal in every array share a label (numbered by first image); one byte apart, not."""
    a = np.array([[1, 2], [3, 4], [1, 2], [1, 2], [3, 4], [5, 6]], dtype=np.int64)
    b = torch.tensor([0.5, 0.25, 0.5, 0.75, 0.25, 0.5])
    assert identical_classes([a, None, b], 6).tolist() == [0, 1, 0, 2, 1, 3]
    assert identical_classes([a], 6).tolist() == [0, 1, 0, 0, 1, 2]
    assert kept_rows(np.array([0, 1, 0, 0, 1, 2, 0])).tolist() == [0, 1, 2, 4, 5]


def test_identical_classes_in_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest read a few rows at a time gives the labels np.unique gives on the whole rows."""
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 3, size=(200, 3)).astype(np.uint8)  # 27 possible rows: many repeats
    monkeypatch.setattr(identical_rows, "ROWS_PER_STEP", 7)
    _, first, inv = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    ref = np.argsort(np.argsort(first))[inv.reshape(-1)]
    assert identical_classes([rows], 200).tolist() == ref.tolist()
    # the first byte narrow, digested for every row; the other two wide: only where the first repeats
    monkeypatch.setattr(identical_rows, "NARROW_BYTES", 1)
    label = identical_classes([rows[:, :1], torch.from_numpy(rows[:, 1:].copy())], 200)
    assert label.tolist() == ref.tolist()
    # wide rows alike, narrow ones not: apart; narrow alike, wide not: apart
    narrow, wide = np.array([[0], [1], [0], [0]], np.uint8), np.zeros((4, 300), np.uint8)
    wide[3, 299] = 1
    assert identical_classes([narrow, wide], 4).tolist() == [0, 1, 0, 2]


@pytest.mark.parametrize("seed", range(6))
def test_class_centre_groups_match_every_image(seed: int) -> None:
    """Random class graphs (some classes whose copies do not pair): the class-level centre rule
    equals the rule run on the pairs of every image, listed one by one."""
    rng = np.random.default_rng(seed)
    c = int(rng.integers(3, 12))
    size = rng.integers(1, 6, size=c)
    label = rng.permutation(np.repeat(np.arange(c), size))
    _, first, label = np.unique(label, return_index=True, return_inverse=True)
    label = np.argsort(np.argsort(first))[label]  # classes numbered by their first image
    size = np.bincount(label)
    loop = (rng.random(c) < 0.7) & (size > 1)
    edges = {(p, q) for p in range(c) for q in range(p + 1, c) if rng.random() < 0.25}
    n = label.size
    full = {(i, j) for i in range(n) for j in range(i + 1, n)
            if (label[i] == label[j] and loop[label[i]]) or (min(label[i], label[j]), max(label[i], label[j])) in edges}  # fmt: skip
    kept = kept_rows(label)
    sub = [(p, q) for p in range(kept.size) for q in range(p + 1, kept.size) if (kept[p], kept[q]) in full]
    got = class_centre_groups(label, kept, np.array(sub, dtype=np.int64).reshape(-1, 2))
    assert got == _node_centre_groups(n, full)


def _jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    PIL.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.array(PIL.open(buf).convert("RGB"))


def _small(a: np.ndarray, side: int = 112) -> np.ndarray:
    im = PIL.fromarray(a)
    im.thumbnail((side, side))
    return np.array(im)


@pytest.fixture(scope="module")
def mixed() -> list[torch.Tensor]:
    """Distinct photos, their near copies and several classes of identical images (a busy photo,
    its JPEG copy, a transparent placeholder, a flat grey tile), in a shuffled order."""
    chelsea, coffee = _small(skdata.chelsea()), _small(skdata.coffee())
    astro, rocket = _small(skdata.astronaut()), _small(skdata.rocket())
    rgb = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()  # noqa: E731
    clear = torch.zeros(4, 40, 40, dtype=torch.uint8)
    grey = torch.full((3, 48, 48), 200, dtype=torch.uint8)
    parts = (
        [rgb(chelsea)] * 6 + [rgb(_jpeg(chelsea, 40))] * 3 + [rgb(coffee)] * 4 + [rgb(coffee[:, ::-1])]
        + [rgb(astro), rgb(astro[8:-8, 8:-8]), rgb(rocket)] + [clear] * 5 + [grey] * 3
    )  # fmt: skip
    order = np.random.default_rng(7).permutation(len(parts))
    return [parts[i].clone() for i in order]


@pytest.mark.parametrize("config", [{}, {"hash": "dhash", "crops": ()}])
def test_near_duplicates_same_with_and_without_collapse(
    mixed: list[torch.Tensor], monkeypatch: pytest.MonkeyPatch, config: dict
) -> None:
    """NearDuplicates' every output (exact, hash, combined groups, the pairs' table) is the same
    with the identical rows searched once as with every image searched; and the search did see
    fewer images."""
    nd = NearDuplicates(embedding_threshold=None, **config)
    seen = searched_sizes(monkeypatch)
    new = nd.evaluate(mixed)
    monkeypatch.setattr(near_duplicates, "identical_classes", lambda arrays, n: np.arange(n))
    old = nd.evaluate(mixed)
    n = len(mixed)
    assert seen == [2 + 2 + 2 + 1 + 1 + 1 + 1 + 2 + 2, n] == [14, 25]  # two of each class, then all
    order = np.random.default_rng(7).permutation(n)  # where each part went (the fixture's order)
    at = {k: sorted(np.nonzero((order >= a) & (order < b))[0].tolist()) for k, (a, b) in
          {"chelsea": (0, 9), "coffee": (9, 14), "clear": (17, 22), "grey": (22, 25)}.items()}  # fmt: skip
    for k in ("chelsea", "coffee"):  # the copies, the JPEG re-save and the mirror grouped
        assert any(set(at[k]) <= set(g) for g in new.hash), (k, new.hash)
    assert old.exact == new.exact
    assert old.hash == new.hash
    assert old.groups == new.groups
    assert old.pairs.keys() == new.pairs.keys()
    for k in old.pairs:
        np.testing.assert_array_equal(old.pairs[k], new.pairs[k])


def test_scan_near_groups_same_with_and_without_collapse(
    mixed: list[torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan's duplicates (DataAudit: exact groups, and near groups from the accumulated rows,
    a group inside one exact group left to ``exact``) are the same with the identical rows searched
    once as with every image searched."""
    from dataeval_gpu.audit import DataAudit

    def scan() -> dict:
        audit = DataAudit(device="cpu")
        audit.update(mixed)
        return audit.compute().duplicates

    seen = searched_sizes(monkeypatch)
    new = scan()
    monkeypatch.setattr(near_duplicates, "identical_classes", lambda arrays, n: np.arange(n))
    old = scan()
    assert seen == [14, 25]  # two of each class of identical rows, then every image
    assert new["exact"] == old["exact"]
    assert new["near"] == old["near"]
    order = np.random.default_rng(7).permutation(len(mixed))
    chelsea = set(np.nonzero(order < 9)[0].tolist())  # 6 copies and 3 of its JPEG re-save
    assert any(chelsea <= set(g) for g in new["near"]), new["near"]
