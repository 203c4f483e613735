"""The hashing engine (issue 11): thread-safe caches (bug b), bounded CPU memory (bug d),
HashAccumulator, the per-device kernel table, cross-set matches, DataAudit/CLI hash options."""

from __future__ import annotations

import gc
import sys
import threading
import types

import numpy as np
import pytest
import torch

import dataeval_gpu.functional.hashing as H


def _matrix_fn():
    # today's public helper; main's private one (the same cache the tensor path uses)
    fn = getattr(H, "resample_matrix", None)
    if fn is None:
        fn = H._resample_matrix
    return fn


def test_resample_matrix_cache_is_thread_safe(monkeypatch) -> None:
    """Many threads build and evict matrices of distinct sizes at once: every call returns
    the right matrix and none raises (main's OrderedDict LRU raised KeyError / returned
    matrices evicted under it)."""
    fn = _matrix_fn()
    monkeypatch.setattr(H, "_CACHE_SIZE", 4, raising=False)  # main: a tiny cache evicts constantly
    sizes = [(n, 8) for n in range(12, 18)]  # 6 sizes: frequent hits and evictions
    want = {(n, m): fn(n, m, torch.device("cpu")).clone() for n, m in sizes}
    errors: list[BaseException] = []
    wrong: list[tuple[int, int]] = []
    start = threading.Barrier(8)

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            start.wait()
            for _ in range(3000):
                for k in rng.permutation(len(sizes)):
                    n, m = sizes[k]
                    got = fn(n, m, torch.device("cpu"))
                    if (n, m) in want and not torch.equal(got, want[(n, m)]):
                        wrong.append((n, m))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, f"{len(errors)} thread(s) failed, first: {errors[0]!r}"
    assert not wrong


# ----------------------------------------------------------------- bug (d): bounded memory


def _retained_array_bytes(root: object) -> int:
    """Bytes of the numpy arrays reachable from ``root`` (not through callables, modules,
    classes, tensors or the thread pool): what a hasher keeps between calls."""
    from concurrent.futures import ThreadPoolExecutor

    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            total += o.nbytes
            continue
        if callable(o) or isinstance(o, (type, types.ModuleType, torch.Tensor, ThreadPoolExecutor, threading.Thread)):
            continue
        stack.extend(gc.get_referents(o))
    return total


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
def test_cpu_hasher_keeps_only_the_hashes() -> None:
    """Bug (d) of issue 11: CpuHasher kept every resized image until result() (~8 KB per
    image with D4: 3000 images, 24 MB).  Now finished images become 8-byte hashes as new
    ones are queued: what it holds stays a bounded window, whatever N."""
    n, window = 3000, 64
    hasher = H.CpuHasher(exact=True, near=H.cpu_near_plan("pchash", True), max_in_flight=window)
    rng = np.random.default_rng(0)
    kept = []
    for b in range(n // 100):
        imgs = [torch.from_numpy(rng.integers(0, 256, (3, 40, 40), dtype=np.uint8)) for _ in range(100)]
        if b == 0:
            kept = imgs[:20]
        hasher.submit(imgs, imgs)
    retained = _retained_array_bytes(hasher)
    per_image = 32 * 32 * 8  # the D4 resize of a 40x40 image: 32x32 int64 sums
    # at most the queued window plus one flush buffer per output size (256 images)
    assert retained <= (window + 256 + 16) * per_image, f"{retained / 1e6:.1f} MB held for {n} images"
    xx, near, valid = hasher.result()
    assert near is not None and valid is not None and xx is not None
    assert near.shape == (n,) and bool(valid.all())
    want, _ = H.perceptual_hash_d4(kept)
    assert near[:20].tolist() == want.tolist()
    assert xx[:20].tolist() == H.xxhash64(kept).tolist()


def test_cpu_hasher_inline_and_strided_views_equal_the_tensor_hashes(monkeypatch) -> None:
    """With one torch thread (a scan's worker) CpuHasher hashes inline, and the compiled
    kernels read central crops (strided views, HWC-backed views) in place: the same hashes as
    contiguous copies through the tensor path."""
    from dataeval_gpu.accumulators.hash_rows import centre_crop

    rng = np.random.default_rng(5)
    base = [torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)) for h, w in ((61, 90), (120, 77))]
    views = [centre_crop(t, f) for t in base for f in (0.9, 0.8)]
    views.append(base[0].permute(1, 2, 0).contiguous().permute(2, 0, 1))  # CHW view of HWC memory
    assert not any(v.is_contiguous() for v in views)
    copies = [v.contiguous() for v in views]
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    refs = {"pchash_d4": H.perceptual_hash_d4, "pchash": H.perceptual_hash, "dhash_d4": H.difference_hash_d4}
    for name, ref in refs.items():
        hasher = H.CpuHasher(exact=False, near=H.cpu_near_plan(name))
        hasher.submit(views, views)
        _, near, valid = hasher.result()
        assert bool(valid.all())
        want, ok = ref(copies)
        assert bool(ok.all()) and near.tolist() == want.tolist(), name


# ----------------------------------------------------------------- the engine and its users


def _photos(n: int = 24) -> list[torch.Tensor]:
    from dataeval_gpu.datasets import photo_collection

    return [torch.from_numpy(np.array(p, order="C")) for p in photo_collection(n, seed=21, min_side=9, max_side=200)]


def _mirror(t: torch.Tensor) -> torch.Tensor:
    return t.flip(-1).contiguous()


@pytest.mark.parametrize("kind", ["pchash", "dhash_d4"])
def test_hash_accumulator_equals_the_functional_hashes(kind: str, monkeypatch) -> None:
    """Streamed (compiled CPU) and per-batch (dispatch table) rows, fed out of order with a
    repeated index, equal the functional hashes in dataset-index order."""
    from dataeval_gpu.accumulators.hashes import HashAccumulator

    imgs = _photos()
    want_near, want_ok = H.near_hash(imgs, kind, device_type="cuda")  # the tensor path
    want_xx = H.xxhash64(imgs)
    base, d4 = kind.removesuffix("_d4"), kind.endswith("_d4")
    for streaming in (True, False):
        if not streaming:
            monkeypatch.setattr(H._rcpu, "AVAILABLE", False)
        acc = HashAccumulator(hash=base, d4=d4, max_in_flight=5)
        order = np.random.default_rng(1).permutation(len(imgs))
        for part in np.array_split(order, 4):
            acc.update([imgs[i] for i in part], indices=part.tolist())
        acc.update([imgs[3]], indices=[3])  # a DistributedSampler-style repeat: dropped
        out = acc.compute()
        assert out["index"].tolist() == list(range(len(imgs)))
        assert out["near"].tolist() == want_near.tolist(), streaming
        assert out["near_valid"].tolist() == want_ok.tolist()
        assert out["xxhash"].tolist() == want_xx.tolist()


def test_hash_accumulator_merge_and_state_dict_flush_the_stream() -> None:
    from dataeval_gpu.accumulators.hashes import HashAccumulator

    imgs = _photos(10)
    a, b = HashAccumulator(), HashAccumulator()
    a.update(imgs[:6], indices=list(range(6)))
    b.update(imgs[6:], indices=list(range(6, 10)))
    a.merge_state(b)
    out = a.compute()
    assert out["index"].tolist() == list(range(10))
    assert out["near"].tolist() == H.perceptual_hash(imgs)[0].tolist()
    c = HashAccumulator()
    c.update(imgs[:3])
    assert c.state_dict() is not None and len(c.index) == 1  # rows stored by the flush
    with pytest.raises(Exception, match="hash must be"):
        HashAccumulator(hash="ahash")


def test_dispatch_table_registration() -> None:
    """A kernel registered for a device type is the one near_hash runs for it."""
    calls = []

    @H.register_kernel("fakedev")
    def fake(images, spec):
        calls.append(spec.name)
        return H.near_hash_kernel("cuda")(images, spec)

    try:
        imgs = _photos(4)
        got = H.near_hash(imgs, "dhash", device_type="fakedev")
        assert calls == ["dhash"] and "fakedev" in H.registered_devices()
        assert got[0].tolist() == H.difference_hash(imgs)[0].tolist()
        assert H.near_hash_kernel("mps") is H.near_hash_kernel("default")
    finally:
        from dataeval_gpu.functional.hashing import dispatch

        dispatch._KERNELS.pop("fakedev", None)
    with pytest.raises(Exception, match="unknown near hash"):
        H.near_hash(imgs, "ahash")


def _brute_cross(a: np.ndarray, b: np.ndarray, radius: int) -> list[list[int]]:
    d = np.bitwise_count(a[:, None].view(np.uint64) ^ b[None, :].view(np.uint64))
    return [[int(i), int(j)] for i, j in zip(*np.nonzero(d <= radius), strict=True)]


@pytest.mark.parametrize("radius", [0, 1, 3, 6])
def test_cross_pairs_equal_brute_force(radius: int) -> None:
    rng = np.random.default_rng(radius)
    base = rng.integers(-(2**63), 2**63 - 1, 40, dtype=np.int64)
    a = base[rng.integers(0, 40, 150)] ^ (rng.random(150) < 0.3) * (1 << rng.integers(0, 64, 150))
    b = base[rng.integers(0, 40, 90)] ^ (rng.random(90) < 0.3) * (1 << rng.integers(0, 64, 90))
    a, b = a.astype(np.int64), b.astype(np.int64)
    got = H.cross_pairs(torch.from_numpy(a), torch.from_numpy(b), radius)
    assert got.tolist() == _brute_cross(a, b, radius)
    va = torch.from_numpy(rng.random(150) < 0.8)
    got = H.cross_pairs(torch.from_numpy(a), torch.from_numpy(b), radius, valid=va)
    want = [p for p in _brute_cross(a, b, radius) if va[p[0]]]
    assert got.tolist() == want


def test_audit_with_d4_finds_a_mirrored_copy_and_leakage() -> None:
    """DataAudit(hash=, d4=) groups a mirrored copy; find_leakage (on Duplicates.cross_matches)
    finds a mirrored train image planted in val only with D4."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.integrations.lightning import find_leakage

    imgs = [t for t in _photos(12) if min(t.shape[1:]) >= 40][:8]
    train, val = imgs[:5], imgs[5:] + [_mirror(imgs[2])]
    reports = {}
    for d4 in (False, True):
        for name, data in (("train", train), ("val", val)):
            audit = DataAudit(hash="dhash", d4=d4)
            audit.update(data)
            reports[(name, d4)] = audit.compute()
    assert "dhash_d4" in reports[("val", True)].hashes and "dhash" in reports[("val", False)].hashes
    assert find_leakage(reports[("train", True)], reports[("val", True)]) == {3: {"exact": [], "near": [2]}}
    assert find_leakage(reports[("train", False)], reports[("val", False)]) == {}
    audit = DataAudit(hash="pchash", d4=True)
    audit.update(train + [_mirror(train[1])])
    assert audit.compute().duplicates == {"exact": [], "near": [[1, 5]]}
    with pytest.raises(Exception, match="hash must be"):
        DataAudit(hash="ahash")


def test_cli_takes_hash_and_d4() -> None:
    from dataeval_gpu.cli import _parser

    args = _parser().parse_args(["scan", "x", "--hash", "dhash", "--d4"])
    assert (args.hash, args.d4) == ("dhash", True)
    args = _parser().parse_args(["scan", "x"])
    assert (args.hash, args.d4) == ("pchash", None)  # None: the preset decides (default: D4 on)
    assert _parser().parse_args(["scan", "x", "--no-d4"]).d4 is False


def test_16_bit_stacks_hash_on_the_device(device: torch.device) -> None:
    """uint16 images (16-bit PNGs and TIFFs) hash on the given device as on the CPU: a stack
    mixing an image of 8-bit values with true 16-bit ones takes grey8's indexed path, which
    torch has no CUDA kernel for on uint16 (every 16-bit image failed on a GPU scan with
    '"index_cuda" not implemented for 'UInt16''); ``pytest --device cuda`` runs it there."""
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.functional.hashing import near_hash_thumbs

    g = torch.Generator().manual_seed(3)
    ims = [torch.randint(0, 65536, (3, 48, 40), generator=g, dtype=torch.int32).to(torch.uint16) for _ in range(2)]
    ims.append(torch.randint(0, 256, (3, 48, 40), generator=g, dtype=torch.int32).to(torch.uint16))  # depth 8
    ims.append(torch.cat([ims[0], torch.full((1, 48, 40), 65535, dtype=torch.uint16)]))  # RGBA, opaque
    want = near_hash_thumbs(ims, "pchash_d4")  # the compiled CPU kernels
    got = near_hash_thumbs([t.to(device) for t in ims], "pchash_d4", device_type="cuda")
    assert torch.equal(got[0].cpu(), want[0]) and bool(got[1].all())
    assert int((got[2].cpu().to(torch.int16) - want[2].to(torch.int16)).abs().max()) <= 1
    audit = DataAudit(device=device)
    audit.update([t.to(device) for t in ims])
    rep = audit.compute()
    assert not rep.failed and len(rep.index) == 4
    assert rep.duplicates["exact"] == [] and rep.duplicates["near"] == [[0, 3]]  # RGBA opaque = RGB
