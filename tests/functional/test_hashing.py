"""dataeval_gpu.functional.hashing against independent references.

* xxhash: ``xxhash.xxh3_64_hexdigest(arr.ravel().tobytes())`` and DataEval 0.65.
* pchash: a numpy + Pillow + scipy transcription of DataEval 0.65's definition (always),
  and DataEval 0.65 itself (``parity``) on 120 real photos of mixed sizes.
* Pillow's LANCZOS resize, the 8-bit rescale, dHash (DataEval 1.x's definition).
* popcount / Hamming / radius search against numpy brute force.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xxhash
from PIL import Image
from scipy.fftpack import dct

import dataeval_gpu.functional.hashing as H
from dataeval_gpu.datasets import photo_collection
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional.hashing import kernels as K
from dataeval_gpu.functional.hashing import resample as R
from dataeval_gpu.functional.hashing import search as S

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mixed_photos() -> list[np.ndarray]:
    """120 real photos: 1- and 3-channel, sides 9..320 (about 20% with min side < 40)."""
    return photo_collection(120, seed=5, min_side=9, max_side=320)


# ------------------------------------------------------------------ independent references


def ref_grey8(img: np.ndarray) -> np.ndarray:
    """DataEval 0.65's grey image, from its definition: channel mean, 8-bit rescale, cast."""
    grey = np.mean(img, axis=0)
    lo, hi = np.min(grey), np.max(grey)
    if lo < 0:
        depth, pmin, pmax = 0, lo, hi
    else:
        depth = next((d for d in (1, 8, 12, 16, 32) if 2**d > hi), 32)
        pmin, pmax = 0, 2**depth - 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if depth != 8:
            grey = (grey + pmin) / (pmax - pmin) * (2**8 - 1)
        return grey.astype(np.uint8)


def ref_pchash(img: np.ndarray) -> str:
    r = 8 * min((min(img.shape[-2:]) - 1) // 8, 4)
    small = np.asarray(Image.fromarray(ref_grey8(img)).resize((r, r), Image.Resampling.LANCZOS))
    coeffs = dct(dct(small.T).T)[:8, :8]
    bits = (coeffs > np.median(coeffs)).ravel()
    return np.packbits(bits).tobytes().hex().lstrip("0") or "0"


def ref_dhash(img: np.ndarray) -> int:
    small = np.asarray(Image.fromarray(ref_grey8(img)).resize((9, 9), Image.Resampling.LANCZOS))[:8, :9]
    bits = (small[:, :-1] > small[:, 1:]).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def to_tensors(images: list[np.ndarray], device: torch.device | str = "cpu") -> list[torch.Tensor]:
    return [torch.from_numpy(np.array(i, order="C")).to(device) for i in images]


def u64(v: int) -> int:
    return v & ((1 << 64) - 1)


# ----------------------------------------------------------------------------------- xxhash


XX_CASES = [
    np.arange(60, dtype=np.uint8).reshape(3, 4, 5),
    np.arange(60, dtype=np.uint16).reshape(1, 6, 10) * 999,
    np.linspace(-1, 1, 48, dtype=np.float32).reshape(3, 4, 4),
    np.linspace(-1, 1, 48).reshape(1, 6, 8),
    (np.arange(30) % 3 == 0).reshape(1, 5, 6),
    np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 12,
    np.arange(24, dtype=">u2").reshape(2, 3, 4),  # big-endian: its own bytes
    np.arange(96, dtype=np.uint8).reshape(4, 4, 6)[:, ::2, 1:5],  # non-contiguous view
]


@pytest.mark.parametrize("arr", XX_CASES, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_xxhash_equals_xxh3_of_the_raw_bytes(arr: np.ndarray) -> None:
    want = xxhash.xxh3_64_hexdigest(arr.ravel().tobytes())
    assert H.hash_hex(H.xxhash64([arr]))[0] == want
    if arr.dtype.isnative:
        assert H.hash_hex(H.xxhash64([torch.from_numpy(np.ascontiguousarray(arr))]))[0] == want


def test_xxhash_of_tensors_bool_bfloat16_and_device(device: torch.device) -> None:
    b = torch.tensor([[[True, False, True]]])
    assert H.hash_hex(H.xxhash64([b.to(device)]))[0] == xxhash.xxh3_64_hexdigest(b.numpy().tobytes())
    bf = torch.linspace(0, 1, 12, dtype=torch.bfloat16).reshape(1, 3, 4)
    want = xxhash.xxh3_64_hexdigest(bf.view(torch.int16).numpy().tobytes())
    out = H.xxhash64([bf.to(device)])
    assert out.dtype == torch.int64 and out.device.type == device.type
    assert H.hash_hex(out)[0] == want


def test_hash_hex_formats_and_round_trip() -> None:
    vals = torch.tensor([0, 1, -1, -(2**63), 0x00F0_0000_0000_0000], dtype=torch.int64)
    assert H.hash_hex(vals) == ["0" * 16, "0" * 15 + "1", "f" * 16, "8" + "0" * 15, "00f0000000000000"]
    assert H.hash_hex(vals, strip=True) == ["0", "1", "f" * 16, "8" + "0" * 15, "f0000000000000"]
    assert H.hash_hex(vals, strip=True, valid=torch.tensor([True, False, True, True, True]))[1] == ""
    back, ok = H.hex_to_hash(H.hash_hex(vals, strip=True) + [""])
    assert back[:5].tolist() == vals.tolist() and ok.tolist() == [True] * 5 + [False]
    with pytest.raises(InvalidArgumentError):
        H.hex_to_hash(["xyz"])
    with pytest.raises(InvalidArgumentError):
        H.hex_to_hash(["1" * 17])


# ------------------------------------------------------------------ grey, resize, pchash


def test_rescale_matches_numpy_cast_on_edge_values() -> None:
    rng = np.random.default_rng(0)
    cases = [
        rng.normal(0, 300, (1, 9, 11)),  # negative min: 0.65's (x + pmin) / (pmax - pmin)
        rng.random((1, 10, 10)) * 1e12,  # depth 32 with max >= 2**32
        rng.random((1, 10, 10)),  # depth 1
        rng.random((3, 10, 10)).astype(np.float32) * 70000,
        rng.normal(0, 1e9, (1, 10, 10)),  # outside int32 after scaling: numpy gives 0
        np.full((1, 9, 9), -3.0),  # constant negative: 0 / 0
        np.array([[[np.nan, 1.0, np.inf], [-np.inf, 5.0, 0.0]]]),
        rng.integers(0, 2, (2, 9, 9)).astype(bool),
        rng.integers(-5, 200, (2, 9, 9)).astype(np.int32),
        rng.random((2, 9, 9)).astype(np.float16) * 3,
    ]
    for img in cases:
        got = H.grey_uint8(torch.from_numpy(img)).numpy()
        np.testing.assert_array_equal(got, ref_grey8(img), err_msg=f"{img.dtype} {img.shape}")


@pytest.mark.parametrize("order", ["auto", "horizontal", "pillow13"])
def test_lanczos_resize_is_pillow_bit_for_bit(order: str) -> None:
    import PIL

    rng = np.random.default_rng(1)
    pillow13 = int(PIL.__version__.split(".")[0]) >= 13
    if order != "auto" and (order == "pillow13") != pillow13:
        pytest.skip(f"the installed Pillow {PIL.__version__} uses the other pass order")
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(9, 260, 2))
        oh, ow = (int(v) for v in rng.integers(2, 48, 2))
        g = rng.integers(0, 256, (h, w)).astype(np.uint8)
        want = np.asarray(Image.fromarray(g).resize((ow, oh), Image.Resampling.LANCZOS))
        got = H.lanczos_resize(torch.from_numpy(g)[None].double(), oh, ow, order=order)[0]
        np.testing.assert_array_equal(got.numpy().astype(np.uint8), want, err_msg=f"{(h, w)} -> {(oh, ow)}")


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
def test_compiled_grey_lanczos_is_pillow_byte_for_byte() -> None:
    """The numba kernel against Pillow itself: random and smooth images, 1..16 channels,
    wide and tall shapes (both of Pillow 13's pass orders), every output size."""
    rng = np.random.default_rng(11)
    orders = set()
    for i in range(160):
        c = int(rng.choice([1, 2, 3, 4, 16]))
        h, w = (int(v) for v in rng.integers(9, 400, 2))
        if i % 4 == 0:  # tall: Pillow 13 runs the vertical pass first
            h, w = max(h, 3 * w), min(w, 60)
        if i % 3:
            yy, xx = np.mgrid[0:h, 0:w]
            base = np.sin(xx / rng.uniform(2, 40)) + np.cos(yy / rng.uniform(2, 40))
            img = np.stack([(base * 60 + 128 + rng.normal(0, 15, (h, w))).clip(0, 255) for _ in range(c)])
            img = img.astype(np.uint8)
        else:
            img = rng.integers(0, 256, (c, h, w)).astype(np.uint8)
        oh, ow = (int(rng.integers(1, min(s - 1, 48) + 1)) for s in (h, w))
        vfirst = R.vertical_first(h, w, oh, ow, "auto")
        orders.add(vfirst)
        grey = (img.astype(np.int64).sum(0) // c).astype(np.uint8)  # depth-8 images: floor of the mean
        want = np.asarray(Image.fromarray(grey).resize((ow, oh), Image.Resampling.LANCZOS))
        got = H._rcpu.grey_lanczos_u8(img, oh, ow, vfirst)
        np.testing.assert_array_equal(got, want, err_msg=f"{img.shape} -> {(oh, ow)}")
    assert orders == {True, False}
    dark = (rng.random((3, 40, 50)) > 0.5).astype(np.uint8)  # max mean < 2: 0.65 rescales it
    assert H._rcpu.grey_lanczos_u8(dark, 32, 32, False) is None
    assert H._rcpu.grey_lanczos_u8(dark, 32, 32, False, need_depth8=False).shape == (32, 32)


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
def test_compiled_exact_resize_equals_symmetric_resize() -> None:
    """The D4 hashes' unrounded resize: the compiled int64 fixed-point sums, put on the
    1/65536 grid, equal the float64 matmuls of symmetric_resize exactly."""
    rng = np.random.default_rng(13)
    for _ in range(60):
        c = int(rng.choice([1, 3, 4]))
        h, w = (int(v) for v in rng.integers(9, 400, 2))
        img = rng.integers(0, 256, (c, h, w)).astype(np.uint8)
        oh, ow = (int(rng.integers(8, min(s, 40) + 1)) for s in (h, w))
        grey = torch.from_numpy((img.astype(np.int64).sum(0) // c).astype(np.float64))[None]
        want = H.symmetric_resize(grey, oh, ow)[0]
        sums = H._rcpu.grey_lanczos_exact(img, oh, ow)
        got = torch.round(torch.from_numpy(sums).double() * 2.0**-28) / 65536.0
        assert torch.equal(got, want), (img.shape, oh, ow)


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize(
    ("fn", "kind"),
    [
        (H.perceptual_hash, "pchash"),
        (H.difference_hash, "dhash"),
        (H.perceptual_hash_d4, "pchash_d4"),
        (H.difference_hash_d4, "dhash_d4"),
    ],
    ids=["pchash", "dhash", "pchash_d4", "dhash_d4"],
)
def test_compiled_cpu_path_equals_the_tensor_path(mixed_photos, fn, kind, monkeypatch) -> None:
    """The three kernels of a near hash, bit for bit on mixed sizes: the compiled CPU kernels,
    the CUDA kernel of the dispatch table forced on CPU tensors (float64 matmul resize and
    DCT), and the CPU fallback without numba (Pillow's resize)."""
    rng = np.random.default_rng(12)
    extra = [
        rng.integers(0, 256, (3, 500, 40)).astype(np.uint8),  # tall: vertical pass first
        (rng.random((3, 30, 30)) > 0.5).astype(np.uint8),  # bit depth 1: rescaled grey
        (rng.random((1, 41, 37)) * 2).astype(np.uint8),  # dark, odd sides
        rng.integers(0, 65536, (3, 19, 23)).astype(np.uint16),
        rng.random((2, 33, 90)).astype(np.float32),
        rng.integers(0, 256, (20, 24, 24)).astype(np.uint8),  # more than 16 channels
        np.ascontiguousarray(rng.integers(0, 256, (40, 30, 3)).astype(np.uint8).transpose(2, 0, 1)),
        rng.integers(0, 256, (40, 30, 3)).astype(np.uint8).transpose(2, 0, 1),  # non-contiguous
        rng.integers(0, 256, (3, 9, 40)).astype(np.uint8),  # dhash: 9 rows, no vertical pass
        rng.integers(0, 256, (4, 37, 29)).astype(np.uint8),  # RGBA: the D4 hashes' luma with alpha
        np.concatenate([(rng.random((3, 30, 30)) > 0.5), np.zeros((1, 30, 30))]).astype(np.uint8),  # dark RGBA
        np.stack([np.full((30, 30), 4), np.zeros((30, 30)), np.zeros((30, 30))]).astype(np.uint8),  # mean 1, luma 1
        rng.integers(0, 256, (3, 8, 40)).astype(np.uint8),  # too small: no hash
    ]
    images = to_tensors(mixed_photos[:40]) + [torch.from_numpy(e) for e in extra]
    compiled = fn(images)
    assert H.near_hash_kernel("cpu") is not H.near_hash_kernel("cuda")
    forced_cuda = H.near_hash(images, kind, device_type="cuda")
    monkeypatch.setattr(H._rcpu, "AVAILABLE", False)
    fallback = fn(images)
    want_valid = [True] * (len(images) - 1) + [False]
    assert compiled[1].tolist() == forced_cuda[1].tolist() == fallback[1].tolist() == want_valid
    assert compiled[0].tolist() == forced_cuda[0].tolist()
    assert compiled[0].tolist() == fallback[0].tolist()


def test_pchash_matches_reference_on_real_photos(mixed_photos, device) -> None:
    hashes, valid = H.perceptual_hash(to_tensors(mixed_photos, device))
    assert hashes.device.type == device.type and valid.all()
    got = H.hash_hex(hashes, strip=True)
    want = [ref_pchash(i) for i in mixed_photos]
    same = sum(a == b for a, b in zip(got, want, strict=True))
    assert same / len(want) >= 0.99, f"{same}/{len(want)} identical"


def test_pchash_synthetic_dtypes_and_flat_images() -> None:
    rng = np.random.default_rng(3)
    x = np.arange(40)
    cases = [
        rng.integers(0, 65536, (3, 19, 23)).astype(np.uint16),
        rng.random((3, 16, 20)).astype(np.float32),
        rng.normal(0, 1, (3, 40, 50)),
        rng.integers(-5, 200, (2, 17, 16)).astype(np.int32),
        rng.integers(0, 2, (3, 20, 20)).astype(bool),
        rng.random((2, 33, 90)).astype(np.float16),
        np.zeros((3, 10, 10), np.uint8),
        np.full((1, 9, 9), 0.25, np.float32),
        np.tile((x % 2 * 255)[None, None, :], (1, 40, 1)).astype(np.uint8),
        np.tile((x * 5)[None, :, None], (1, 1, 40)).astype(np.uint8),
    ]
    hashes, valid = H.perceptual_hash(to_tensors(cases))
    assert valid.all()
    assert H.hash_hex(hashes, strip=True) == [ref_pchash(c) for c in cases]


def test_small_images_have_no_hash_and_batching_is_order_free(mixed_photos) -> None:
    rng = np.random.default_rng(4)
    tiny = [rng.integers(0, 256, s).astype(np.uint8) for s in [(3, 8, 30), (1, 30, 5), (1, 1, 1)]]
    images = mixed_photos[:10] + tiny + mixed_photos[10:20]
    hashes, valid = H.perceptual_hash(to_tensors(images))
    assert valid.tolist() == [True] * 10 + [False] * 3 + [True] * 10
    assert hashes[10:13].tolist() == [0, 0, 0]
    one_by_one = torch.cat([H.perceptual_hash([t])[0] for t in to_tensors(images)])
    assert one_by_one.tolist() == hashes.tolist()
    empty, ok = H.perceptual_hash([])
    assert empty.shape == (0,) and ok.shape == (0,)


@pytest.mark.parity
def test_hashes_identical_to_dataeval_065(mixed_photos) -> None:
    pytest.importorskip("dataeval")
    from dataeval.flags import ImageStat
    from dataeval.metrics import imagestats

    ref = imagestats(mixed_photos, ImageStat.ALL_HASHES)
    tensors = to_tensors(mixed_photos)
    assert H.hash_hex(H.xxhash64(mixed_photos)) == list(ref.xxhash)
    assert H.hash_hex(H.xxhash64(tensors)) == list(ref.xxhash)
    hashes, valid = H.perceptual_hash(tensors)
    got = H.hash_hex(hashes, strip=True, valid=valid)
    same = [a == b for a, b in zip(got, ref.pchash, strict=True)]
    share = sum(same) / len(same)
    rest = [
        bin(int(a, 16) ^ int(b, 16)).count("1")
        for a, b, s in zip(got, ref.pchash, same, strict=True)
        if not s
    ]
    print(
        f"\npchash identical to DataEval 0.65: {sum(same)}/{len(same)} = {share:.1%}; "
        f"mean Hamming distance of the rest: {np.mean(rest) if rest else 0:.2f}"
    )
    assert share >= 0.99


# ---------------------------------------------------------------------- dhash and D4


def test_dhash_matches_its_definition(mixed_photos, device) -> None:
    hashes, valid = H.difference_hash(to_tensors(mixed_photos[:40], device))
    assert valid.all()
    got = [u64(v) for v in hashes.cpu().tolist()]
    assert got == [ref_dhash(i) for i in mixed_photos[:40]]


def _d4_variants(x: np.ndarray) -> list[np.ndarray]:
    out = []
    for k in range(4):
        r = np.rot90(x, k, axes=(-2, -1))
        out += [r, r[..., ::-1]]
    return [np.ascontiguousarray(v) for v in out]


def test_d4_kernels_are_invariant_on_the_resized_square(mixed_photos) -> None:
    for img in mixed_photos[:12]:
        g = H.grey_uint8(torch.from_numpy(img.copy())).double()[None]
        r = H.perceptual_hash_size(*img.shape[1:])
        small = H.symmetric_resize(g, r, r)[0].numpy()
        variants = torch.from_numpy(np.stack(_d4_variants(small)))
        assert len(set(K.phash_d4_kernel(variants).tolist())) == 1
        nine = H.symmetric_resize(g, 9, 9)[0].numpy()
        assert len(set(K.dhash_d4_kernel(torch.from_numpy(np.stack(_d4_variants(nine)))).tolist())) == 1


def test_d4_hashes_of_rotated_photos_agree(mixed_photos) -> None:
    photos = mixed_photos[:30]
    for fn in (H.perceptual_hash_d4, H.difference_hash_d4):
        for img in photos:
            hashes, valid = fn(to_tensors(_d4_variants(img)))
            assert valid.all() and len(set(hashes.tolist())) == 1, (fn.__name__, img.shape)
    plain, _ = H.perceptual_hash(to_tensors([photos[0], np.ascontiguousarray(photos[0][..., ::-1])]))
    assert plain[0] != plain[1]  # the plain hash does see the mirror


# ------------------------------------------------------------------ Hamming and search


def _random_hashes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, n, dtype=np.int64, endpoint=True)


def _clustered_hashes(seed: int) -> np.ndarray:
    """Random centres, each with a few copies 0..12 bits away, plus exact repeats."""
    rng = np.random.default_rng(seed)
    out = []
    for c in _random_hashes(150, seed).view(np.uint64):
        for _ in range(int(rng.integers(1, 5))):
            flip = sum(1 << int(b) for b in rng.choice(64, int(rng.integers(0, 13)), replace=False))
            out.append(int(c) ^ flip)
    h = np.array(out, dtype=np.uint64).view(np.int64)
    return np.concatenate([h, h[:15]])


def _brute(h: np.ndarray, radius: int) -> np.ndarray:
    d = np.array(
        [
            [bin(int(a) ^ int(b) & ((1 << 64) - 1)).count("1") for b in h.view(np.uint64)]
            for a in h.view(np.uint64)
        ]
    )
    ii, jj = np.nonzero(np.triu(d <= radius, 1))
    return np.stack([ii, jj], 1)


def test_popcount_and_hamming_match_python() -> None:
    vals = np.concatenate([_random_hashes(500, 1), np.array([0, -1, -(2**63), 2**63 - 1], dtype=np.int64)])
    want = [bin(int(v) & ((1 << 64) - 1)).count("1") for v in vals]
    assert H.popcount64(torch.from_numpy(vals)).tolist() == want
    a, b = torch.from_numpy(vals[:50]), torch.from_numpy(vals[50:100])
    want_d = [
        bin((int(x) ^ int(y)) & ((1 << 64) - 1)).count("1")
        for x, y in zip(vals[:50], vals[50:100], strict=True)
    ]
    assert H.hamming_distance(a, b).tolist() == want_d
    assert H.hamming_distance(a[:, None], b[None, :]).shape == (50, 50)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_near_pairs_equal_brute_force(backend: str, monkeypatch) -> None:
    monkeypatch.setattr(S, "_NUMPY_ON_CPU", backend == "numpy")
    h = _clustered_hashes(2)
    t = torch.from_numpy(h)
    for radius in (0, 1, 2, 4, 8, 12, 20):
        want = _brute(h, radius)
        for method in ("brute", "blocks", "auto"):
            got = H.near_pairs(t, radius, chunk_size=997, method=method)
            assert got.dtype == torch.int64
            np.testing.assert_array_equal(got.numpy(), want, err_msg=f"radius {radius} {method}")


def test_near_pairs_on_random_hashes_uses_blocks_and_finds_planted() -> None:
    h = _random_hashes(20_000, 5)
    rng = np.random.default_rng(6)
    for k in range(30):  # plant 30 copies with 8 bits flipped
        flip = np.uint64(sum(1 << int(b) for b in rng.choice(64, 8, replace=False)))
        h[-1 - k] = (h[k].view(np.uint64) ^ flip).view(np.int64)
    assert H.search_plan(len(h), 8)[1] is not None
    pairs = H.near_pairs(torch.from_numpy(h), 8)
    found = {tuple(p) for p in pairs.tolist()}
    assert all((k, len(h) - 1 - k) in found for k in range(30))
    d = H.hamming_distance(torch.from_numpy(h)[pairs[:, 0]], torch.from_numpy(h)[pairs[:, 1]])
    assert (d <= 8).all()


def _greedy_reference(h: np.ndarray, radius: int) -> list[list[int]]:
    """The documented greedy-centre rule, written plainly (O(N^2))."""
    uniq = sorted(set(h.tolist()))
    members = {u: [i for i, v in enumerate(h.tolist()) if v == u] for u in uniq}
    dist = lambda a, b: bin((a ^ b) & ((1 << 64) - 1)).count("1")  # noqa: E731
    nbrs = {u: [v for v in uniq if v != u and dist(u, v) <= radius] for u in uniq}
    score = {u: len(members[u]) + sum(len(members[v]) for v in nbrs[u]) for u in uniq}
    order = sorted(uniq, key=lambda u: (-score[u], members[u][0]))
    done: set[int] = set()
    groups = []
    for u in order:
        if u in done:
            continue
        take = [u] + [v for v in nbrs[u] if v not in done]
        done.update(take)
        g = sorted(i for v in take for i in members[v])
        if len(g) > 1:
            groups.append(g)
    return sorted(groups)


def test_radius_groups_follow_the_greedy_centre_rule() -> None:
    h = _clustered_hashes(7)[:200]
    t = torch.from_numpy(h)
    assert H.radius_groups(t, 0) == H.equal_groups(t)
    for radius in (3, 8):
        groups = H.radius_groups(t, radius)
        assert groups == _greedy_reference(h, radius)
        seen = [i for g in groups for i in g]
        assert len(seen) == len(set(seen))  # disjoint
        for g in groups:  # some member (the centre) is within radius of all others
            d = H.hamming_distance(t[g][:, None], t[g][None, :])
            assert (d <= radius).all(dim=1).any()


def test_equal_groups_with_valid_mask() -> None:
    t = torch.tensor([5, 7, 5, 7, 9, 5], dtype=torch.int64)
    assert H.equal_groups(t) == [[0, 2, 5], [1, 3]]
    assert H.equal_groups(t, torch.tensor([True, True, False, True, True, True])) == [[0, 5], [1, 3]]
    assert H.radius_groups(t, 2, valid=torch.tensor([True] + [False] * 5)) == []


def test_search_argument_errors() -> None:
    t = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(InvalidArgumentError):
        H.near_pairs(t, 65)
    with pytest.raises(InvalidArgumentError):
        H.near_pairs(t, 3, method="lsh")
    with pytest.raises(InvalidArgumentError):
        H.near_pairs(t.int(), 3)
    assert H.near_pairs(t[:1], 3).shape == (0, 2)


# ------------------------------------------------------------------------------ CUDA


@pytest.mark.cuda
def test_cuda_hashes_and_search_equal_cpu(mixed_photos) -> None:
    cpu = to_tensors(mixed_photos[:60])
    gpu = to_tensors(mixed_photos[:60], "cuda")
    for fn in (H.perceptual_hash, H.difference_hash, H.perceptual_hash_d4, H.difference_hash_d4):
        hc, vc = fn(cpu)
        hg, vg = fn(gpu)
        assert hg.device.type == "cuda"
        assert hg.cpu().tolist() == hc.tolist() and vg.cpu().tolist() == vc.tolist(), fn.__name__
    h = torch.from_numpy(_clustered_hashes(3))
    for radius in (0, 4, 8):
        for method in ("brute", "blocks"):
            got = H.near_pairs(h.cuda(), radius, method=method, chunk_size=4096)
            assert got.device.type == "cuda"
            assert got.cpu().tolist() == _brute(h.numpy(), radius).tolist()


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
def test_compiled_path_with_two_threads_and_a_cold_tap_cache(mixed_photos) -> None:
    """Pool threads share the per-size tap cache (functools.lru_cache); filling it from two
    threads at once stays correct."""
    images = to_tensors(mixed_photos[:60])
    H._rcpu.lanczos_coeffs.cache_clear()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = H.perceptual_hash(images)
    finally:
        torch.set_num_threads(before)
    assert H._rcpu.lanczos_coeffs.cache_info().currsize > 0
    assert H.hash_hex(got[0], strip=True) == [ref_pchash(i) for i in mixed_photos[:60]]


@pytest.mark.skipif(not H._rcpu.AVAILABLE, reason="numba is not installed")
def test_compiled_taps_equal_the_matrix_builder() -> None:
    """The compiled taps (with their reuse of repeated sub-pixel phases) against the numpy
    resampling matrices of the CUDA path, on regular and odd sizes."""
    sizes = [(n, m) for n in (9, 33, 64, 100, 480, 627, 640, 1080, 1920, 4001) for m in (8, 9, 24, 32) if m < n]
    for n, m in sizes:
        start, count, padded, kk = H._rcpu.lanczos_coeffs(n, m)
        dense = np.zeros((m, n))
        for j in range(m):
            dense[j, start[j] : start[j] + count[j]] = kk[j, : count[j]]
            assert padded[j] % 16 == 0 and not kk[j, count[j] :].any()
        np.testing.assert_array_equal(dense, R.resample_matrix_host(n, m), err_msg=f"{n} -> {m}")
