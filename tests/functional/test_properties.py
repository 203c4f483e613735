"""Property tests: the batched statistics and hashes against the float64 references, on
random shapes (1..40 a side, 1..5 channels), dtypes (uint8, uint16, float32, float64, bool)
and values (including NaN, ±inf, negatives and constant images).

Bounded so the default run stays short: ``max_examples`` 30-50 per property, no deadline.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dataeval_gpu.functional import registry
from dataeval_gpu.functional.stats import CHANNEL_KEYS, IMAGE_KEYS, image_statistics

from .. import reference as R

#: more examples for a deeper search: DATAEVAL_GPU_EXAMPLES=500 pytest tests/functional/test_properties.py
EXAMPLES = int(os.environ.get("DATAEVAL_GPU_EXAMPLES", "40"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = ("uint8", "uint16", "float32", "float64", "bool")
SPECIAL = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.0)


@st.composite
def images(draw: st.DrawFn, max_side: int = 40, max_channels: int = 5) -> np.ndarray:
    """One (C, H, W) numpy image: structure from hypothesis, bulk values from a seeded RNG
    (realistic noise) or from hypothesis itself (mostly-constant arrays with a few
    drawn values: the edge cases)."""
    c = draw(st.integers(1, max_channels))
    h = draw(st.integers(1, max_side))
    w = draw(st.integers(1, max_side))
    dtype = draw(st.sampled_from(DTYPES))
    shape = (c, h, w)
    if draw(st.booleans()):  # seeded noise over a drawn range
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        if dtype == "bool":
            return rng.random(shape) < draw(st.floats(0, 1))
        if dtype in ("uint8", "uint16"):
            top = draw(st.sampled_from([1, 2, 255] if dtype == "uint8" else [1, 255, 4095, 4096, 65535]))
            return rng.integers(0, top + 1, shape).astype(dtype)
        lo, hi = draw(st.sampled_from([(0.0, 1.0), (0.0, 255.0), (-1.0, 1.0), (-1e3, 5e4), (0.0, 1e-6)]))
        arr = (lo + (hi - lo) * rng.random(shape)).astype(dtype)
        n_special = draw(st.integers(0, 3))
        for _ in range(n_special):
            arr[tuple(int(rng.integers(0, s)) for s in shape)] = draw(st.sampled_from(SPECIAL))
        return arr
    if dtype == "bool":
        elements = st.booleans()
    elif dtype == "uint8":
        elements = st.integers(0, 255)
    elif dtype == "uint16":
        elements = st.integers(0, 65535)
    else:
        width = 32 if dtype == "float32" else 64
        elements = st.one_of(
            st.floats(-1e4, 1e4, width=width), st.floats(0, 1, width=width), st.sampled_from(SPECIAL)
        )
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _constant(x: np.ndarray) -> bool:
    """One distinct value (NaN never counts as constant)."""
    x = np.asarray(x, dtype=np.float64)
    return bool(x.size) and bool(np.nanmax(x) == np.nanmin(x)) and not np.isnan(x).any()


def _undefined_moments(ref: dict, data: list[np.ndarray]) -> None:
    """skew and kurtosis of a constant image or channel are NaN (undefined), whatever
    rounding noise scipy's mean leaves (scipy >= 1.14 may return e.g. -1.0 there)."""
    for key in ("skew", "kurtosis"):
        vals = np.array(ref[key], dtype=np.float64, ndmin=1)
        for k, part in enumerate(data):
            if _constant(part):
                vals[k] = np.nan
        ref[key] = vals if np.ndim(ref[key]) else vals[0]


def _check(name: str, got: np.ndarray, want: np.ndarray, arr: np.ndarray) -> None:
    ok = R.close(got, want)
    assert ok.all(), (
        f"{name}: got {np.asarray(got).ravel()[:8]} want {np.asarray(want).ravel()[:8]} "
        f"for {arr.dtype} {arr.shape} (min {np.nanmin(arr) if arr.size and not np.isnan(arr.astype(float)).all() else 'nan'})"
    )


@SETTINGS
@given(arr=images())
def test_image_statistics_match_reference(arr: np.ndarray) -> None:
    st_img, _ = image_statistics([torch.from_numpy(arr.copy())])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = R.image_stats(arr)
    _undefined_moments(ref, [arr])
    assert set(ref) <= set(IMAGE_KEYS)
    for key, want in ref.items():
        _check(key, st_img[key][0].cpu().numpy(), want, arr)


@SETTINGS
@given(arr=images())
def test_channel_statistics_match_reference(arr: np.ndarray) -> None:
    _, ch = image_statistics([torch.from_numpy(arr.copy())], per_image=False, per_channel=True)
    assert ch is not None
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = R.channel_stats(arr)
    _undefined_moments(ref, list(arr))
    assert ch["row_channel"].tolist() == list(range(arr.shape[0]))
    for key in CHANNEL_KEYS:
        _check(f"channel {key}", ch[key].cpu().numpy(), ref[key], arr)


@settings(SETTINGS, max_examples=max(EXAMPLES * 3 // 4, 1))
@given(batch=st.lists(images(max_side=24, max_channels=4), min_size=2, max_size=5))
@example(  # Hypothesis found it: a 2 x 2 uint16 image's sharpness 1 ulp off when stacked with a NaN one
    batch=[
        np.zeros((1, 1, 1), np.uint8),
        np.zeros((1, 1, 1), np.uint8),
        np.array([[[3484, 2608], [2093, 1105]]], np.uint16),
        np.full((1, 2, 2), np.nan, np.float32),
    ]
)
def test_batched_equals_one_by_one(batch: list[np.ndarray]) -> None:
    """A ragged batch of mixed dtypes gives each image exactly the row it gets alone."""
    tensors = [torch.from_numpy(a.copy()) for a in batch]
    together, ch_together = image_statistics(tensors, per_channel=True)
    offset = 0
    for i, t in enumerate(tensors):
        alone, ch_alone = image_statistics([t], per_channel=True)
        for key in IMAGE_KEYS:
            if registry.get(key).group == "ALL_QUALITY":
                # computed in float32 (float64 only for float64 images) over a size stack: torch
                # may order a reduction differently for a stack of B images than for one (a uint16
                # image stacked with a float32 one of its size: norm_sharpness 1.1835332 vs
                # 1.1835333), so these agree to float32 rounding, not bit for bit
                np.testing.assert_allclose(
                    together[key][i].numpy(), alone[key][0].numpy(), rtol=1e-6, atol=1e-7, err_msg=key
                )
            else:
                np.testing.assert_array_equal(together[key][i].numpy(), alone[key][0].numpy(), err_msg=key)
        c = t.shape[0]
        for key in CHANNEL_KEYS:
            np.testing.assert_array_equal(
                ch_together[key][offset : offset + c].numpy(), ch_alone[key].numpy(), err_msg=f"ch_{key}"
            )
        offset += c


@SETTINGS
@given(arr=images())
def test_input_is_not_modified(arr: np.ndarray) -> None:
    t = torch.from_numpy(arr.copy())
    image_statistics([t], per_image=True, per_channel=True)
    np.testing.assert_array_equal(t.numpy(), arr)  # NaN compares equal here


# ----------------------------------------------------------------------------- hashes

try:
    from dataeval_gpu.functional import hashing
except ImportError:  # pragma: no cover - the hashes are an optional part while being written
    hashing = None  # type: ignore[assignment]
needs_hashing = pytest.mark.skipif(
    hashing is None, reason="dataeval_gpu.functional.hashing is not importable"
)
U64 = (1 << 64) - 1
int64s = st.integers(-(2**63), 2**63 - 1)


@needs_hashing
@SETTINGS
@given(values=st.lists(int64s, min_size=1, max_size=64))
def test_popcount64_matches_python(values: list[int]) -> None:
    got = hashing.popcount64(torch.tensor(values, dtype=torch.int64)).tolist()
    assert got == [bin(v & U64).count("1") for v in values]


@needs_hashing
@SETTINGS
@given(pairs=st.lists(st.tuples(int64s, int64s), min_size=1, max_size=64))
def test_hamming_distance_matches_numpy(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    want = np.unpackbits(np.bitwise_xor(a, b).view(np.uint8).reshape(-1, 8), axis=1).sum(1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    d = hashing.hamming_distance(ta, tb)
    assert d.tolist() == want.tolist()
    assert hashing.hamming_distance(tb, ta).tolist() == want.tolist()
    assert hashing.hamming_distance(ta, ta).eq(0).all()
    # broadcasting: (N, 1) against (1, N) gives the full matrix
    full = hashing.hamming_distance(ta[:, None], tb[None, :])
    assert full.shape == (len(a), len(b)) and torch.equal(full.diagonal(), d)


@needs_hashing
@SETTINGS
@given(arr=images(max_side=30))
def test_xxhash_equals_xxh3_64_of_the_bytes(arr: np.ndarray) -> None:
    import xxhash

    want = xxhash.xxh3_64_hexdigest(np.ascontiguousarray(arr).tobytes())
    from_tensor = hashing.hash_hex(hashing.xxhash64([torch.from_numpy(arr.copy())]))[0]
    from_numpy = hashing.hash_hex(hashing.xxhash64([arr]))[0]
    assert from_tensor == want and from_numpy == want
    # a non-contiguous view hashes as its C-order copy
    view = torch.from_numpy(arr.copy()).transpose(1, 2)
    want_t = xxhash.xxh3_64_hexdigest(np.ascontiguousarray(arr.transpose(0, 2, 1)).tobytes())
    assert hashing.hash_hex(hashing.xxhash64([view]))[0] == want_t


@needs_hashing
@SETTINGS
@given(arr=images(max_side=40), pad=st.integers(1, 3))
def test_perceptual_hash_invariant_to_copies(arr: np.ndarray, pad: int) -> None:
    t = torch.from_numpy(arr.copy())
    c, h, w = t.shape
    big = torch.zeros((c, h + 2 * pad, w + 2 * pad), dtype=t.dtype)
    big[:, pad : pad + h, pad : pad + w] = t
    view = big[:, pad : pad + h, pad : pad + w]  # non-contiguous, same values and dtype
    variants = [t, t.clone(), view, torch.from_numpy(np.array(arr, order="F"))]
    hashes, valid = hashing.perceptual_hash(variants)
    assert valid.tolist() == [min(h, w) >= hashing.MIN_SIDE] * len(variants)
    assert len(set(hashes.tolist())) == 1
    # batched with another image equals alone
    other = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 17, 23)).astype(np.uint8))
    hb, vb = hashing.perceptual_hash([other, t])
    assert int(hb[1]) == int(hashes[0]) and bool(vb[1]) == bool(valid[0])
