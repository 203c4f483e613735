"""The Duplicates detector: 0.65 groups on planted copies and crops, cross-set mode,
reuse of precomputed hashes, input kinds, the D4 and radius options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.datasets import photo_collection
from dataeval_gpu.detectors.duplicates import Duplicates, DuplicatesOutput, ImageHashes
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional.hashing import hash_hex, perceptual_hash, xxhash64

from ..functional.test_hashing import ref_pchash

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def planted() -> tuple[list[np.ndarray], dict[str, list[list[int]]]]:
    """40 real photos + planted exact copies, 1..5-pixel crops and an identical-pixel
    copy in another dtype; returns the images and the groups planted by construction."""
    base = photo_collection(40, seed=21, min_side=24, max_side=240)
    extra = [
        base[3].copy(),  # 40: exact copy of 3
        base[10].copy(),  # 41: exact copies of 10
        base[10].copy(),  # 42
        np.ascontiguousarray(base[5][:, 1:-1, 1:-1]),  # 43: crops
        np.ascontiguousarray(base[7][:, :-5, :]),  # 44
        np.ascontiguousarray(base[3][:, 2:, 2:]),  # 45: crop of an image with an exact copy
        base[12].astype(np.uint16),  # 46: same pixels, other bytes
    ]
    return base + extra, {"exact": [[3, 40], [10, 41, 42]]}


def _reference_groups(images: list[np.ndarray]) -> dict[str, list[list[int]]]:
    """0.65's grouping rule on independently computed hashes (xxhash of the bytes, the
    numpy/Pillow/scipy pchash of test_hashing)."""
    import xxhash

    def groups(keys: list[str]) -> list[list[int]]:
        seen: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            seen.setdefault(k, []).append(i)
        return [g for g in seen.values() if len(g) > 1]

    exact = groups([xxhash.xxh3_64_hexdigest(i.ravel().tobytes()) for i in images])
    near = [g for g in groups([ref_pchash(i) for i in images]) if not any(set(g) <= set(e) for e in exact)]
    return {"exact": sorted(exact), "near": sorted(near)}


def test_groups_match_the_065_rule_on_planted_copies(planted, device) -> None:
    images, truth = planted
    out = Duplicates(device=device).evaluate(images)
    assert isinstance(out, DuplicatesOutput)
    assert out.exact == truth["exact"]
    assert out.dict() == _reference_groups(images)
    assert any(set(g) >= {12, 46} for g in out.near)  # same pixels, different bytes: near only


@pytest.mark.parity
def test_groups_identical_to_dataeval_065(planted) -> None:
    pytest.importorskip("dataeval")
    from dataeval.detectors import Duplicates as RefDuplicates

    images, _ = planted
    ref = RefDuplicates().evaluate(images)
    out = Duplicates().evaluate(images)
    assert out.exact == ref.exact
    assert out.near == ref.near
    for kw in ({"find_exact": False}, {"find_near": False}):
        assert Duplicates(**kw).evaluate(images).dict() == RefDuplicates(**kw).evaluate(images).dict()


def test_find_flags_follow_065(planted) -> None:
    images, truth = planted
    assert Duplicates(find_near=False).evaluate(images).near == []
    no_exact = Duplicates(find_exact=False).evaluate(images)
    assert no_exact.exact == []
    # without exact groups nothing is subtracted: the exact copies come back as near groups
    assert [3, 40] in [sorted(set(g) & {3, 40}) for g in no_exact.near]


def test_radius_and_d4_find_more(planted) -> None:
    images, _ = planted
    base = Duplicates().evaluate(images)
    wide = Duplicates(radius=10).evaluate(images)
    covered = lambda out, i, j: any(i in g and j in g for g in out.near)  # noqa: E731
    assert covered(wide, 5, 43) and covered(wide, 7, 44)
    assert len(wide.near) >= len(base.near)
    rotated = images[:40] + [np.ascontiguousarray(np.rot90(images[8], 1, axes=(1, 2)))]
    assert not any(40 in g for g in Duplicates().evaluate(rotated).near)
    for kind in ("pchash", "dhash"):
        assert covered(Duplicates(hash=kind, d4=True).evaluate(rotated), 8, 40), kind


def test_cross_set_reports_only_groups_spanning_both(planted) -> None:
    images, _ = planted
    train = images[:30] + [images[0].copy()]  # an exact copy inside train only
    test = [images[3].copy(), images[31], np.ascontiguousarray(images[20][:, 1:-1, 1:-1]), images[10]]
    out = Duplicates(radius=6).evaluate(train, reference=test)
    members = [m for g in out.exact + out.near for m in g]
    assert all(isinstance(m, tuple) and m[0] in ("images", "reference") for m in members)
    for g in out.exact + out.near:
        assert {s for s, _ in g} == {"images", "reference"}
    assert [("images", 3), ("reference", 0)] in out.exact
    assert [("images", 10), ("reference", 3)] in out.exact
    assert any(("images", 20) in g and ("reference", 2) in g for g in out.near)
    assert not any(("images", 30) in g for g in out.exact)  # inside train: not reported
    both = Duplicates(radius=6).evaluate(train, reference=test, within=True)
    assert [("images", 0), ("images", 30)] in both.exact
    named = Duplicates().evaluate(train, test, names=("train", "test"))
    assert [("train", 3), ("test", 0)] in named.exact


def test_from_hashes_reuses_precomputed_values(planted) -> None:
    images, _ = planted
    tensors = [torch.from_numpy(i) for i in images]
    xx = xxhash64(images)
    ph, valid = perceptual_hash(tensors)
    want = Duplicates(radius=4).evaluate(images)
    assert Duplicates(radius=4).from_hashes(xxhash=xx, pchash=ph, valid=valid) == want
    # hex strings as imagestats returns them ("" = no hash)
    hexes = Duplicates(radius=4).from_hashes(
        xxhash=hash_hex(xx), pchash=hash_hex(ph, strip=True, valid=valid)
    )
    assert hexes == want
    dups = Duplicates()
    dups.stats = {"xxhash": hash_hex(xx), "pchash": hash_hex(ph, strip=True)}
    assert dups._get_duplicates() == Duplicates().evaluate(images).dict()
    hashes = Duplicates().hashes(images)
    assert isinstance(hashes, ImageHashes) and len(hashes) == len(images)
    assert Duplicates().evaluate_hashes(hashes) == Duplicates().evaluate(images)
    cross = Duplicates().from_hashes(
        xxhash=xx[:30], pchash=ph[:30], reference={"xxhash": xx[40:], "pchash": ph[40:]}
    )
    assert [("images", 3), ("reference", 0)] in cross.exact


def test_input_kinds_agree(planted) -> None:
    images, _ = planted
    want = Duplicates().evaluate(images)
    tensors = [torch.from_numpy(i) for i in images]
    assert Duplicates(batch_size=7).evaluate(tensors) == want

    class Ds(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(images)

        def __getitem__(self, i: int):
            return torch.from_numpy(images[i]), i % 3

    assert Duplicates().evaluate(Ds()) == want
    loader = DataLoader(Ds(), batch_size=8, collate_fn=ragged_collate)
    assert Duplicates().evaluate(loader) == want


def test_small_images_and_empty_input() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 6, 6)).astype(np.uint8)
    out = Duplicates().evaluate([a, a.copy(), rng.integers(0, 256, (3, 5, 7)).astype(np.uint8)])
    assert out.exact == [[0, 1]] and out.near == []  # too small for a perceptual hash
    assert Duplicates().evaluate([]) == DuplicatesOutput(exact=[], near=[])


def test_argument_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        Duplicates(hash="ahash")
    with pytest.raises(InvalidArgumentError):
        Duplicates(radius=65)
    with pytest.raises(InvalidArgumentError):
        Duplicates(radius=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Duplicates().from_hashes(
            xxhash=torch.zeros(3, dtype=torch.int64), pchash=torch.zeros(4, dtype=torch.int64)
        )
    with pytest.raises(InvalidArgumentError):
        Duplicates().from_hashes(pchash=[1.5, 2.5])


@pytest.mark.cuda
def test_cuda_detector_equals_cpu(planted) -> None:
    images, _ = planted
    for kw in ({}, {"radius": 8}, {"hash": "dhash", "d4": True}):
        assert Duplicates(device="cuda", **kw).evaluate(images) == Duplicates(**kw).evaluate(images), kw


def test_streamed_cpu_hashes_keep_every_index(planted, monkeypatch) -> None:
    """The CPU path queues images across batches on the thread pool (2 threads here, a small
    in-flight bound): every index gets its own xxhash and pHash, tiny images no pHash."""
    images, _ = planted
    rng = np.random.default_rng(5)
    tiny = [rng.integers(0, 256, s).astype(np.uint8) for s in [(3, 8, 30), (1, 30, 5)]]
    mixed = images[:9] + tiny[:1] + images[9:30] + tiny[1:] + images[30:]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = Duplicates(batch_size=5).hashes(mixed)
        exact_only = Duplicates(find_near=False, batch_size=3).hashes(mixed)
        near_only = Duplicates(find_exact=False, batch_size=64).hashes(mixed)
    finally:
        torch.set_num_threads(before)
    want_xx = xxhash64(mixed).tolist()
    want_ph, want_ok = perceptual_hash([torch.from_numpy(np.ascontiguousarray(i)) for i in mixed])
    assert got.xxhash.tolist() == exact_only.xxhash.tolist() == want_xx
    assert got.near.tolist() == near_only.near.tolist() == want_ph.tolist()
    assert got.near_valid.tolist() == want_ok.tolist()
    assert [i for i, ok in enumerate(got.near_valid.tolist()) if not ok] == [9, 31]
    assert exact_only.near is None and near_only.xxhash is None
    ok = want_ok.tolist()
    assert [h for h, v in zip(hash_hex(got.near, strip=True), ok) if v] == [
        ref_pchash(i) for i, v in zip(mixed, ok) if v
    ]


def test_bad_image_shape_names_its_index() -> None:
    rng = np.random.default_rng(6)
    good = [rng.integers(0, 256, (3, 20, 20)).astype(np.uint8) for _ in range(3)]
    bad = rng.integers(0, 256, (2, 3, 20, 20)).astype(np.uint8)
    with pytest.raises(Exception, match="image 3"):
        Duplicates(batch_size=2).evaluate(good + [bad])


def test_without_numba_the_same_hashes(planted, monkeypatch) -> None:
    """No numba: the CPU falls back to the tensor grey + Pillow path, same hashes."""
    import dataeval_gpu.functional._resample_cpu as rcpu

    images, _ = planted
    with_numba = Duplicates(batch_size=9).hashes(images)
    monkeypatch.setattr(rcpu, "AVAILABLE", False)
    without = Duplicates(batch_size=9).hashes(images)
    assert with_numba.xxhash.tolist() == without.xxhash.tolist()
    assert with_numba.near.tolist() == without.near.tolist()
    assert with_numba.near_valid.tolist() == without.near_valid.tolist()


def test_from_hashes_without_any_hash_says_so() -> None:
    """Nothing to group is a mistake (imagestats without ImageStat.ALL_HASHES), not an empty result."""
    from dataeval_gpu.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"xxhash= or pchash=.*ImageStat.ALL"):
        Duplicates().from_hashes()
    # the documented path: imagestats with the hashes, then from_hashes, equals evaluate
    from dataeval_gpu.flags import ImageStat
    from dataeval_gpu.metrics import imagestats

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(4)]
    imgs.append(imgs[1].copy())
    stats = imagestats(imgs, ImageStat.ALL)
    assert Duplicates().from_hashes(xxhash=stats.xxhash, pchash=stats.pchash).exact == [[1, 4]]
    assert Duplicates().evaluate(imgs).exact == [[1, 4]]


def test_no_images_is_no_duplicates_without_a_warning() -> None:
    """``Duplicates().evaluate([])`` (and an empty ``reference``) warned torchmetrics' "compute
    method ... was called before the update method"; no images is simply no duplicates."""
    import warnings

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Duplicates().evaluate([]).exact == []
        out = Duplicates().evaluate(images, reference=[])
    assert out.exact == [] and out.near == []


@pytest.mark.parametrize(("n_images", "n_reference"), [(1, 1), (1, 3), (3, 1)])
def test_one_image_against_a_reference(n_images: int, n_reference: int) -> None:
    """A set of one image (or a reference of one) raised ``RuntimeError: zero-dimensional
    tensor (at position 0) cannot be concatenated``: a lone image's hashes came back 0-d."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (3, 20, 20), dtype=np.uint8) for _ in range(3)]
    hashes = Duplicates().hashes(images[:1])
    assert hashes.xxhash.shape == hashes.near.shape == hashes.near_valid.shape == (1,)
    out = Duplicates().evaluate(images[:n_images], reference=images[:n_reference])
    assert out.exact == [[("images", 0), ("reference", 0)]] and out.near == []
