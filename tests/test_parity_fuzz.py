"""Differential ("fuzz") parity with DataEval 0.65: both packages on the same generated inputs.

Every output field is compared: keys and their order, shapes, values (0.65 rounds its floats to
float16: 2e-3 relative / 1e-3 absolute, and float16's overflow to inf), hash strings, group
lists and their order, ``ch_idx_map``, ``.dict()`` / ``.meta()`` keys, and the exception type
where 0.65 raises.  The inputs go beyond the pleasant cases: 1 × 1, 1 × N, N × 1 and 9 × 3000
images, 1-7 channels, uint8 / uint16 / int32 / int64 / float32 / float64, constant images,
NaN and ±inf, flipped and strided views, torch tensors, (H, W) arrays, batches as one array.

Left out of the value comparison, each a documented difference (``docs/metrics.md``, "Differences
from 0.65"): our floats are float64 (0.65 float16; ``channelstats`` float16 arrays), whole-number
statistics are int64 (0.65 float64); bool, float16, bfloat16 images (0.65 raises or computes in
float16); signed 8/16-bit images with negatives (0.65 overflows in the input's dtype); uint32 /
uint64 / big-endian xxhash (ours hashes the converted bytes); skew / kurtosis of a constant
image or channel (ours NaN); pchash of a side under 9 (ours ""); ``channelstats`` of an (H, W)
or (1, C, H, W) image (0.65 reshapes by the input's first axis); (B, C, H, W) items with B > 1
and images given as nested Python lists (ours raises); ``channelstats([])`` (0.65 KeyError).
The bigger random sweeps are marked ``slow``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import Clusterer, Duplicates, Linter
from dataeval_gpu.errors import ChannelsLastWarning, ImageShapeError
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.metrics import channelstats, imagestats

pytest.importorskip("dataeval")
from dataeval.detectors import Clusterer as RefClusterer  # noqa: E402
from dataeval.detectors import Duplicates as RefDuplicates  # noqa: E402
from dataeval.detectors import Linter as RefLinter  # noqa: E402
from dataeval.flags import ImageStat as RefStat  # noqa: E402
from dataeval.metrics import channelstats as ref_channelstats  # noqa: E402
from dataeval.metrics import imagestats as ref_imagestats  # noqa: E402

pytestmark = pytest.mark.parity

INT_KEYS = {"width", "height", "channels", "size", "depth", "histogram"}
SIDES = (1, 2, 7, 9, 10, 16, 33)
DTYPES = ("uint8", "uint16", "int32", "int64", "float32", "float64")


def _ref(fn: Any, *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def _ours(fn: Any, *args: Any) -> Any:
    logging.disable(logging.WARNING)  # "image(s) smaller than 9x9 have no perceptual hash"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ChannelsLastWarning)  # a (5, 16, 1) image is (C, H, W) here
            return fn(*args)
    finally:
        logging.disable(logging.NOTSET)


# ------------------------------------------------------------------ generated images


def _pixels(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    kind = rng.integers(6)
    if kind == 0:  # constant
        hi = {"uint8": 255, "uint16": 65535}.get(dtype, 1000)
        return np.full(shape, rng.integers(0, hi + 1) if dtype[0] in "ui" else rng.random(), dtype)
    if dtype.startswith("float"):
        x = rng.random(shape)
        if kind == 1:
            x = x * 255.0  # floats beyond 1: depth 8
        elif kind == 2:
            x = x * 1e5  # depth 32
        elif kind == 3 and x.size > 1:
            x.flat[rng.integers(x.size)] = rng.choice([np.nan, np.inf, -np.inf])
        elif kind == 4:
            x = x - 0.5  # negatives: depth 0
        return x.astype(dtype)
    if dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if dtype == "uint16":
        return rng.integers(0, [256, 4096, 65536][kind % 3], shape).astype(np.uint16)
    lo = -300 if kind == 4 else 0  # int32 / int64 with negatives: no overflow in 0.65's arithmetic
    return rng.integers(lo, [256, 4096, 70000][kind % 3], shape).astype(dtype)


def _image(rng: np.random.Generator, dtype: str | None = None) -> Any:
    """One image: a random size (odd sides, huge aspect ratios), 1-7 channels, dtype, layout."""
    dtype = dtype or str(rng.choice(DTYPES))
    if rng.random() < 0.1:
        h, w = (1, int(rng.integers(9, 3000))) if rng.random() < 0.5 else (int(rng.integers(9, 3000)), 9)
    else:
        h, w = (int(rng.choice(SIDES)) for _ in range(2))
    c = int(rng.choice([1, 1, 2, 3, 3, 4, 5, 7]))
    layout = rng.integers(8)
    if layout == 0:  # (H, W)
        return _pixels(rng, (h, w), dtype)
    x = _pixels(rng, (c, h, w), dtype)
    if layout == 1:
        return x[:, ::-1, :]  # a flipped view: negative strides
    if layout == 2 and w > 2:
        return _pixels(rng, (c, h, 2 * w), dtype)[:, :, ::2]  # a strided view
    if layout == 3:
        return torch.from_numpy(np.ascontiguousarray(x))
    if layout == 4:
        return x[None]  # (1, C, H, W)
    return x


def _images(seed: int, n: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    imgs = [_image(rng) for _ in range(n)]
    if n > 3:
        imgs[1] = imgs[0].copy() if isinstance(imgs[0], np.ndarray) else imgs[0].clone()  # an exact copy
    return imgs


# ------------------------------------------------------------------ comparison


def _constant_mask(images: list[Any]) -> np.ndarray:
    """Per image: every channel constant (skew / kurtosis NaN in ours, noise in 0.65)."""
    out = []
    for im in images:
        a = np.asarray(im)
        a = a.reshape(-1, *a.shape[-2:]) if a.ndim > 2 else a[None]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN channels
            out.append(bool(np.all(np.nanmax(a, axis=(1, 2)) == np.nanmin(a, axis=(1, 2)))))
    return np.array(out)


def _close(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isclose(g, w, rtol=2e-3, atol=1e-3, equal_nan=True)
        ok |= (
            np.isinf(w) & ~np.isinf(g) & (np.abs(g) > 65504) & (np.sign(g) == np.sign(w))
        )  # float16 overflow
        ok |= g == w  # the same infinity
    return ok


def _check_values(name: str, got: Any, want: Any, skip: np.ndarray | None = None) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    ok = _close(got, want)
    if skip is not None:
        ok |= (
            skip.reshape(skip.shape + (1,) * (ok.ndim - skip.ndim)) if ok.shape[0] == skip.shape[0] else skip
        )
    assert np.all(ok), (name, np.argwhere(~ok)[:5].tolist(), got[~ok][:5], want[~ok][:5])


def compare_imagestats(images: list[Any], flags_names: tuple[str, ...] = ("ALL",)) -> None:
    """imagestats of both packages on ``images``: every field, key order, dtypes, hashes."""
    rflag = RefStat(0)
    gflag = ImageStat(0)
    for n in flags_names:
        rflag |= RefStat[n]
        gflag |= ImageStat[n]
    hashable = all(min(np.asarray(i).shape[-2:]) >= 9 for i in images) if len(images) else True
    if not hashable:  # 0.65 raises on a side under 9; ours has no hash there ("")
        rflag &= ~RefStat.PCHASH
    want = _ref(ref_imagestats, images, rflag).dict()
    out = _ours(imagestats, images, gflag)
    got = out.dict()
    if not hashable and gflag & ImageStat.PCHASH:
        small = [min(np.asarray(i).shape[-2:]) < 9 for i in images]
        assert [h == "" for h in got.pop("pchash")] == small
    assert list(got) == list(want)
    constant = _constant_mask(images)
    for k, w in want.items():
        g = got[k]
        if k in ("xxhash", "pchash"):
            assert g == w, k
            continue
        assert g.dtype == (np.int64 if k in INT_KEYS else np.float64), (k, g.dtype)
        _check_values(k, g, w, skip=constant if k in ("skew", "kurtosis") else None)


def compare_channelstats(images: list[Any]) -> None:
    want = _ref(ref_channelstats, images, RefStat.ALL_PIXELSTATS).dict()
    got = _ours(channelstats, images, ImageStat.ALL_PIXELSTATS).dict()
    assert list(got) == list(want)
    assert got["ch_idx_map"] == want["ch_idx_map"]
    assert list(got["ch_idx_map"]) == list(want["ch_idx_map"])  # group order: first seen
    for k, w in want.items():
        if k == "ch_idx_map":
            continue
        assert list(got[k]) == list(w), k
        for c, arr in w.items():
            g = got[k][c]
            assert g.dtype == (np.int64 if k == "histogram" else np.float64), (k, g.dtype)
            skip = None
            if k in ("skew", "kurtosis"):  # constant channels: ours NaN
                sel = [images[i] for i in want["ch_idx_map"][c]]
                skip = np.array(
                    [[np.ptp(np.nan_to_num(np.asarray(im).reshape(c, -1)[j], nan=0.5)) == 0 for im in sel]
                     for j in range(c)]
                )  # fmt: skip
            _check_values(f"{k}[{c}]", g, arr, skip=skip)


def _channel_ok(im: Any) -> bool:
    """0.65's channelstats reshapes by the input's first axis: only (C, H, W) inputs compare."""
    return np.asarray(im).ndim == 3


# ------------------------------------------------------------------ imagestats / channelstats


@pytest.mark.parametrize("seed", range(4))
def test_imagestats_random_mixed_inputs(seed: int) -> None:
    compare_imagestats(_images(seed, 14))


@pytest.mark.parametrize("dtype", DTYPES)
def test_imagestats_each_dtype(dtype: str) -> None:
    rng = np.random.default_rng(abs(hash(dtype)) % 1000)
    compare_imagestats([_image(rng, dtype) for _ in range(8)])


@pytest.mark.parametrize("seed", range(3))
def test_channelstats_random_mixed_inputs(seed: int) -> None:
    compare_channelstats([im for im in _images(100 + seed, 16) if _channel_ok(im)])


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((1, 1, 1), np.uint8),
        np.full((3, 1, 1), 255, np.uint8),
        np.arange(7, dtype=np.uint8)[None, None],
        np.arange(7, dtype=np.uint16)[None, :, None] * 9000,
        np.random.default_rng(0).integers(0, 256, (1, 9, 3000), dtype=np.uint8),
        np.random.default_rng(1).random((4, 3000, 9)),
        np.full((2, 10, 10), np.nan),
        np.full((1, 10, 10), np.inf),
        np.zeros((3, 12, 12), np.float32),
        np.ones((3, 12, 12), np.float64),
        np.full((1, 12, 12), 2.0**33),
        np.random.default_rng(2).integers(0, 256, (12, 11), dtype=np.uint8),
    ],
    ids=["1x1", "1x1x3", "1x7", "7x1-u16", "9x3000", "3000x9-f64", "all-nan", "all-inf", "zeros-f32",
         "ones-f64", "2^33", "hw"],
)  # fmt: skip
def test_single_odd_images(image: np.ndarray) -> None:
    compare_imagestats([image])
    if image.ndim == 3:
        compare_channelstats([image])


def test_flipped_and_strided_views_are_measured_as_065() -> None:
    """A flipped numpy view (negative strides) raised torch's ValueError before; 0.65 measures it."""
    base = np.random.default_rng(7).integers(0, 65536, (3, 24, 28)).astype(np.uint16)
    views = [base[:, ::-1], base[:, :, ::-1], base[::-1], base[:, ::2, ::-3], np.asfortranarray(base)]
    compare_imagestats(views)
    compare_channelstats(views)
    dups = Duplicates().evaluate(views + [np.ascontiguousarray(base[:, ::-1])])
    assert dups.exact == _ref(RefDuplicates().evaluate, views + [np.ascontiguousarray(base[:, ::-1])]).exact


def test_same_shape_images_of_other_dtypes_in_one_batch() -> None:
    """A torch uint16 image beside an int32 / float image of its shape: one stack per shape and
    dtype (torch.stack refused to promote uint16 before, and promoted int64 to float32)."""
    rng = np.random.default_rng(8)
    u16 = rng.integers(0, 65536, (3, 10, 12)).astype(np.uint16)
    imgs = [torch.from_numpy(u16), rng.integers(0, 4096, (3, 10, 12)).astype(np.int32),
            rng.random((3, 10, 12)).astype(np.float32), np.full((3, 10, 12), 2**40 + 1, np.int64)]  # fmt: skip
    compare_imagestats(imgs)
    compare_channelstats(imgs)


def test_same_shape_other_dtypes_device_plan_equals_cpu_plan() -> None:
    """The device plan (``backend="cuda"``, forced on CPU tensors) stacks by shape and dtype too."""
    from dataeval_gpu.functional.stats import image_statistics

    rng = np.random.default_rng(9)
    imgs = [
        torch.from_numpy(rng.integers(0, 65536, (3, 10, 12)).astype(np.uint16)),
        torch.from_numpy(rng.integers(0, 4096, (3, 10, 12)).astype(np.int32)),
        torch.from_numpy(np.full((3, 10, 12), 2**40 + 1, np.int64)),
        torch.from_numpy(rng.random((3, 10, 12)).astype(np.float32)),
    ]
    cpu, cpu_ch = image_statistics(imgs, per_channel=True, backend="cpu")
    dev, dev_ch = image_statistics(imgs, per_channel=True, backend="cuda")
    for k in cpu:
        np.testing.assert_allclose(dev[k].numpy(), cpu[k].numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    for k in cpu_ch:
        np.testing.assert_allclose(dev_ch[k].numpy(), cpu_ch[k].numpy(), rtol=1e-12, atol=1e-12, err_msg=k)


def test_containers_give_the_same_answers() -> None:
    """A list of arrays, a list of tensors, one (N, C, H, W) array or tensor, a generator."""
    x = np.random.default_rng(3).integers(0, 256, (5, 3, 10, 11)).astype(np.uint8)
    want = _ref(ref_imagestats, list(x), RefStat.ALL).dict()
    for images in (list(x), x, torch.from_numpy(x), [torch.from_numpy(i) for i in x], (i for i in x)):
        got = _ours(imagestats, images, ImageStat.ALL).dict()
        assert list(got) == list(want)
        for k in want:
            if k in ("xxhash", "pchash"):
                assert got[k] == want[k], k
            else:
                _check_values(k, got[k], want[k])


def test_empty_and_single() -> None:
    want = _ref(ref_imagestats, [], RefStat.ALL).dict()
    assert _ours(imagestats, [], ImageStat.ALL).dict() == want == {}
    compare_imagestats([np.random.default_rng(4).integers(0, 256, (3, 20, 20), dtype=np.uint8)])
    # 0.65's channelstats([]) raises KeyError('ch_idx_map'); ours is empty (documented)
    assert channelstats([]).dict() == {}


@pytest.mark.parametrize(
    "flags",
    [("ALL_HASHES",), ("ALL_PROPERTIES",), ("ALL_VISUALS",), ("ALL_PIXELSTATS",), ("XXHASH", "DEPTH", "ENTROPY"),
     ("HISTOGRAM",), ("PERCENTILES", "WIDTH")],
)  # fmt: skip
def test_imagestats_flag_subsets(flags: tuple[str, ...]) -> None:
    compare_imagestats(_images(21, 10), flags)


# ------------------------------------------------------------------ errors


def _raises_like_065(ref_call: Any, our_call: Any) -> Exception:
    with pytest.raises(Exception) as want:
        _ref(ref_call)
    with pytest.raises(type(want.value)) as got:
        _ours(our_call)
    return got.value


@pytest.mark.parametrize(
    ("bad", "text"),
    [
        (np.zeros(5, np.uint8), "expected an image"),
        (np.uint8(3), "got uint8"),
        (np.array(3.0), "expected an image"),
        (None, "got NoneType"),
        ("not an image", "got str"),
    ],
)
def test_bad_images_raise_065s_exception_type(bad: Any, text: str) -> None:
    good = np.zeros((1, 10, 10), np.uint8)
    err = _raises_like_065(lambda: ref_imagestats([good, bad]), lambda: imagestats([good, bad]))
    assert "image 1" in str(err) and text in str(err)
    _raises_like_065(lambda: ref_channelstats([good, bad]), lambda: channelstats([good, bad]))


def test_bad_flags_raise_065s_exception_type() -> None:
    imgs = [np.zeros((1, 10, 10), np.uint8)]
    err = _raises_like_065(
        lambda: ref_channelstats(imgs, RefStat.WIDTH), lambda: channelstats(imgs, ImageStat.WIDTH)
    )
    assert "WIDTH" in str(err) or "width" in str(err).lower()
    _raises_like_065(
        lambda: RefLinter(RefStat.XXHASH).evaluate(imgs), lambda: Linter(ImageStat.XXHASH).evaluate(imgs)
    )
    _raises_like_065(
        lambda: RefLinter(outlier_method="nope").evaluate(_images(0, 6)),  # type: ignore[arg-type]
        lambda: Linter(outlier_method="nope").evaluate(_images(0, 6)),  # type: ignore[arg-type]
    )


def test_documented_refusals() -> None:
    """Where 0.65 quietly measures something else, ours raises (documented): a (B, C, H, W) item."""
    batch = np.zeros((2, 3, 10, 10), np.uint8)
    assert _ref(ref_imagestats, [batch], RefStat.WIDTH).width.tolist() == [10.0]  # 0.65: batch[0] only
    with pytest.raises(ImageShapeError, match="image 0"):
        imagestats([batch])


# ------------------------------------------------------------------ Linter


def _issues(out: Any) -> dict[int, dict[str, float]]:
    return {int(k): {m: float(v) for m, v in d.items()} for k, d in out.issues.items()}


def _lint_images(seed: int, n: int) -> list[np.ndarray]:
    """Images whose linted statistics are exact in float16 (sides, channels, depth), so 0.65's
    rounding cannot move a value across a threshold: shapes with outliers, ties and duplicates."""
    rng = np.random.default_rng(seed)
    sides = rng.choice([8, 9, 10, 10, 10, 11, 12, 40], size=(n, 2))
    out = []
    for h, w in sides:
        c = int(rng.choice([1, 3, 3, 3, 4]))
        hi = int(rng.choice([2, 256, 256, 4096]))
        out.append(rng.integers(0, hi, (c, int(h), int(w))).astype(np.uint16 if hi > 256 else np.uint8))
    return out


LINT_FLAGS = ("WIDTH", "HEIGHT", "SIZE", "CHANNELS", "DEPTH")


@pytest.mark.parametrize("method", ["zscore", "modzscore", "iqr"])
@pytest.mark.parametrize("threshold", [None, 0, 0.5, 1.0, 2.5])
def test_linter_evaluate_methods_and_thresholds(method: str, threshold: float | None) -> None:
    rflag, gflag = RefStat(0), ImageStat(0)
    for n in LINT_FLAGS:
        rflag |= RefStat[n]
        gflag |= ImageStat[n]
    for seed in range(3):
        imgs = _lint_images(seed, 30)
        want = _ref(RefLinter(rflag, method, threshold).evaluate, imgs)  # type: ignore[arg-type]
        got = Linter(gflag, method, threshold).evaluate(imgs)  # type: ignore[arg-type]
        assert got.issues == _issues(want), (seed, method, threshold)
        assert list(got.issues) == list(want.issues)  # sorted by index
        for k in got.issues:
            assert list(got.issues[k]) == list(want.issues[k])  # metric order
        assert list(got.dict()) == list(want.dict()) == ["issues"]
        assert set(got.meta()) == set(want.meta())
        assert got.meta()["state"]["flags"] == want.meta()["state"]["flags"]
        assert got.meta()["state"]["outlier_method"] == method


def test_linter_threshold_zero_is_the_default_as_065() -> None:
    """0.65 reads ``threshold if threshold else default``: 0 is the method's default, not 0."""
    imgs = _lint_images(5, 30)
    for method in ("zscore", "modzscore", "iqr"):
        assert Linter(outlier_method=method, outlier_threshold=0).evaluate(imgs).issues == (  # type: ignore[arg-type]
            Linter(outlier_method=method).evaluate(imgs).issues  # type: ignore[arg-type]
        )


def _stats_sets(seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    normal = rng.standard_normal(n)
    ties = rng.integers(0, 3, n).astype(float)
    spikes = np.where(rng.random(n) < 0.1, 50.0, 1.0)
    halfzero = np.where(np.arange(n) < n // 2 + 1, 0.0, rng.random(n))  # MAD 0: the mean fallback
    nan = normal.copy()
    if n > 2:
        nan[0] = np.nan
    return [
        {"brightness": normal, "width": ties, "zero": spikes},
        {"blurriness": halfzero, "size": np.full(n, 7.0), "mean": nan},
        {"percentiles": rng.random((n, 5)), "entropy": normal * 1e-8},
    ]


@pytest.mark.parametrize("seed", range(6))
def test_linter_on_the_same_statistics(seed: int) -> None:
    """Given the same statistics (``lint.stats = ...; lint._get_outliers()``, the guide's calls),
    the same issues: ties, a zero MAD, constant metrics, NaN, 2-D metrics (not linted), tiny values."""
    from dataeval._internal.metrics.stats import StatsOutput as RefStatsOutput
    from dataeval._internal.output import populate_defaults

    for stats in _stats_sets(seed):
        for method in ("zscore", "modzscore", "iqr"):
            for threshold in (None, 0, 1.0, 3.0):
                ref = RefLinter(outlier_method=method, outlier_threshold=threshold)  # type: ignore[arg-type]
                ref.stats = RefStatsOutput(**populate_defaults(dict(stats), RefStatsOutput))
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    want = {
                        int(k): {m: float(v) for m, v in d.items()} for k, d in ref._get_outliers().items()
                    }
                    ours = Linter(outlier_method=method, outlier_threshold=threshold)  # type: ignore[arg-type]
                    ours.stats = ref.stats
                    got = ours._get_outliers()
                    assert (
                        Linter(outlier_method=method, outlier_threshold=threshold)
                        .evaluate_stats(  # type: ignore[arg-type]
                            stats
                        )
                        .issues
                        == got
                    )
                assert got == want, (seed, method, threshold, list(stats))


def test_linter_empty_and_tiny_inputs() -> None:
    for imgs in (
        [],
        [np.zeros((1, 10, 10), np.uint8)],
        [np.zeros((1, 10, 10), np.uint8), np.ones((3, 12, 9), np.uint8)],
    ):
        want = _ref(RefLinter().evaluate, imgs)
        assert Linter().evaluate(imgs).issues == _issues(want)


# ------------------------------------------------------------------ Duplicates


def _dup_images(seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    base = [_pixels(rng, (int(rng.choice([1, 3])), int(rng.choice([9, 16, 20])), 16), str(rng.choice(DTYPES)))
            for _ in range(10)]  # fmt: skip
    imgs = base + [
        base[2].copy(),
        base[2].copy(),
        base[5].copy(),
        np.zeros((3, 16, 16), np.uint8),
        np.zeros((1, 16, 16), np.uint8),  # same grey image, another shape: a near copy
        np.full((3, 16, 16), 9, np.uint8),
        np.zeros((3, 16, 16), np.float64),  # same values, other bytes
        base[7][:, ::-1].copy(),
    ]
    order = rng.permutation(len(imgs))
    return [imgs[i] for i in order]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("find_exact", "find_near"), [(True, True), (True, False), (False, True), (False, False)]
)
def test_duplicates_groups(seed: int, find_exact: bool, find_near: bool) -> None:
    imgs = _dup_images(seed)
    want = _ref(RefDuplicates(find_exact, find_near).evaluate, imgs)
    got = Duplicates(find_exact=find_exact, find_near=find_near).evaluate(imgs)
    assert got.dict() == want.dict()
    assert list(got.dict()) == list(want.dict())
    assert got.meta()["state"]["find_exact"] == want.meta()["state"]["find_exact"]
    assert got.meta()["state"]["find_near"] == want.meta()["state"]["find_near"]
    assert set(got.meta()) == set(want.meta())


@pytest.mark.parametrize("seed", range(3))
def test_duplicates_on_065_statistics(seed: int) -> None:
    """The guide's calls (``dups.stats = imagestats(..., ALL_HASHES); dups._get_duplicates()``) on
    0.65's own hash strings and on ours; as 0.65, the groups follow the hashes the stats hold,
    whatever ``find_exact`` / ``find_near`` say."""
    imgs = [im for im in _dup_images(seed) if min(np.asarray(im).shape[-2:]) >= 9]
    for find_exact, find_near in ((True, True), (False, True), (True, False)):
        ref = RefDuplicates(find_exact, find_near)
        ref.stats = _ref(ref_imagestats, imgs, RefStat.ALL_HASHES)
        want = ref._get_duplicates()
        ours = Duplicates(find_exact=find_exact, find_near=find_near)
        ours.stats = ref.stats
        assert ours._get_duplicates() == want
        ours.stats = imagestats(imgs, ImageStat.ALL_HASHES)
        assert ours._get_duplicates() == want
        st = ours.stats
        assert Duplicates().from_hashes(st.xxhash, st.pchash).dict() == want


def test_duplicates_torch_and_empty() -> None:
    t = [torch.zeros(3, 16, 16, dtype=torch.uint8)] * 3 + [torch.ones(3, 16, 16, dtype=torch.uint8)]
    assert Duplicates().evaluate(t).dict() == _ref(RefDuplicates().evaluate, t).dict()
    assert Duplicates().evaluate([]).dict() == _ref(RefDuplicates().evaluate, []).dict()


# ------------------------------------------------------------------ Clusterer


def _cluster_data() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    out: dict[str, Any] = {
        f"rand{s}": np.random.default_rng(s).standard_normal((int(5 + 7 * s), 1 + s % 4)) for s in range(5)
    }
    out.update(
        two=np.array([[0.0, 0.0], [1.0, 1.0]]),
        three=np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]),
        identical=np.ones((10, 3)),
        identical_two=np.ones((2, 3)),
        two_identical_groups=np.vstack([np.zeros((6, 2)), np.ones((6, 2))]),
        repeated_points=np.repeat(rng.standard_normal((5, 2)), 3, axis=0),
        collinear=np.arange(20.0)[:, None] * np.array([[1.0, 2.0]]),
        collinear_squares=(np.arange(20.0) ** 2)[:, None] * np.array([[1.0, 2.0]]),
        integers=rng.integers(0, 10, (30, 3)),
        float32=rng.standard_normal((30, 4)).astype(np.float32),
        images_3d=rng.standard_normal((30, 2, 2)),
        torch=torch.from_numpy(rng.standard_normal((30, 3))),
        nested_list=rng.standard_normal((20, 2)).tolist(),
        one_feature=rng.standard_normal((25, 1)),
        bools=rng.random((20, 3)) > 0.5,
    )
    return out


CLUSTER = _cluster_data()


def _lists(out: Any) -> tuple:
    return (
        [int(i) for i in out.outliers],
        [int(i) for i in out.potential_outliers],
        [[int(i) for i in g] for g in out.duplicates],
        [[int(i) for i in g] for g in out.potential_duplicates],
    )


@pytest.mark.parametrize("name", list(CLUSTER))
def test_clusterer_small_and_degenerate(name: str) -> None:
    x = CLUSTER[name]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RefClusterer(x)
        want = ref.evaluate()
        c = Clusterer(x)
        got = c.evaluate()
    assert _lists(got) == _lists(want)
    assert c.last_good_merge_levels == ref.last_good_merge_levels
    assert list(c.last_good_merge_levels) == list(ref.last_good_merge_levels)
    assert list(got.dict()) == list(want.dict())
    assert got.meta()["state"]["data"] == want.meta()["state"]["data"]


@pytest.mark.parametrize(
    "bad", [np.ones((1, 3)), np.ones((5, 0)), np.ones((0, 3)), np.where(np.eye(5, 3) > 0, np.nan, 1.0)],
    ids=["one-sample", "no-feature", "empty", "nan"],
)  # fmt: skip
def test_clusterer_errors_as_065(bad: np.ndarray) -> None:
    def ref() -> Any:
        return RefClusterer(bad).evaluate()

    def ours() -> Any:
        return Clusterer(bad).evaluate()

    _raises_like_065(ref, ours)


# ------------------------------------------------------------------ slow sweeps


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 40))
def test_sweep_imagestats_channelstats(seed: int) -> None:
    imgs = _images(seed, 30)
    compare_imagestats(imgs)
    compare_channelstats([im for im in imgs if _channel_ok(im)])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10, 30))
def test_sweep_linter_duplicates_clusterer(seed: int) -> None:
    for method in ("zscore", "modzscore", "iqr"):
        imgs = _lint_images(seed, 60)
        want = _ref(
            RefLinter(RefStat.WIDTH | RefStat.HEIGHT | RefStat.SIZE | RefStat.CHANNELS, method).evaluate, imgs
        )  # type: ignore[arg-type]
        got = Linter(
            ImageStat.WIDTH | ImageStat.HEIGHT | ImageStat.SIZE | ImageStat.CHANNELS, method
        ).evaluate(imgs)  # type: ignore[arg-type]
        assert got.issues == _issues(want)
    imgs = _dup_images(seed)
    assert Duplicates().evaluate(imgs).dict() == _ref(RefDuplicates().evaluate, imgs).dict()
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.standard_normal((int(rng.integers(20, 120)), 3)), rng.standard_normal((3, 3)) * 8])
    _assert_clusterer_matches(np.vstack([x, x[:2]]))  # with exact duplicates


def _assert_clusterer_matches(x: np.ndarray) -> None:
    """Our Clusterer's groups and merge levels are 0.65's on ``x``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = RefClusterer(x)
        want = ref.evaluate()
    c = Clusterer(x)
    assert _lists(c.evaluate()) == _lists(want)
    assert c.last_good_merge_levels == ref.last_good_merge_levels


def _tied_data(seed: int) -> np.ndarray:
    """Clusterer data full of tied distances: grids, rounded values, tight blobs, repeated rows."""
    r = np.random.default_rng(seed)
    n = int(r.integers(10, 150))
    kind = seed % 5
    if kind == 0:
        return r.integers(0, 4, (n, 2)).astype(float)
    if kind == 1:
        return np.round(r.standard_normal((n, 3)), 1)
    if kind == 2:
        return np.vstack([r.standard_normal((n, 2)), r.standard_normal((n // 3, 2)) * 0.01 + 5])
    if kind == 3:
        return np.repeat(r.standard_normal((n // 4 + 2, 4)), r.integers(1, 5, n // 4 + 2), axis=0)
    return np.c_[np.arange(n) % 7, np.arange(n) // 7].astype(float)


@pytest.mark.parametrize("seed", range(5))
def test_clusterer_tied_distances(seed: int) -> None:
    _assert_clusterer_matches(_tied_data(seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5, 40))
def test_sweep_clusterer_tied_distances(seed: int) -> None:
    test_clusterer_tied_distances(seed)


@pytest.mark.parametrize("flag", ["MEAN", "HISTOGRAM", "PERCENTILES", "ENTROPY", "SKEW"])
def test_channelstats_single_flags(flag: str) -> None:
    imgs = [im for im in _images(31, 12) if _channel_ok(im)]
    want = _ref(ref_channelstats, imgs, RefStat[flag]).dict()
    got = _ours(channelstats, imgs, ImageStat[flag]).dict()
    assert list(got) == list(want) == [flag.lower(), "ch_idx_map"]
    assert got["ch_idx_map"] == want["ch_idx_map"]
    if flag != "SKEW":  # constant channels aside (ours NaN), compared in compare_channelstats
        for c in want[flag.lower()]:
            _check_values(flag, got[flag.lower()][c], want[flag.lower()][c])
