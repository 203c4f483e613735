"""The statistics' device plan ("cuda": stacks by size, one offset bincount per stack) forced on
CPU tensors equals the CPU plan (per-image uint8 bincounts on the thread pool)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.datasets import photo_collection
from dataeval_gpu.functional.quality import QUALITY_KEYS
from dataeval_gpu.functional.stats import IMAGE_KEYS, image_statistics
from dataeval_gpu.functional.stats_kernels import count_uint8

from .. import reference as ref


def _mixed() -> list[torch.Tensor]:
    rng = np.random.default_rng(11)
    arrs = [
        rng.integers(0, 256, (3, 300, 260), dtype=np.uint8),  # big: counted on its own by the CPU plan
        rng.integers(0, 256, (1, 256, 300), dtype=np.uint8),
        rng.integers(0, 256, (3, 300, 260), dtype=np.uint8),  # same size as the first: one stack on "cuda"
        rng.integers(0, 256, (3, 17, 23), dtype=np.uint8),
        rng.integers(0, 256, (3, 17, 23), dtype=np.uint8),
        rng.integers(0, 256, (4, 9, 31), dtype=np.uint8),
        rng.integers(0, 2, (1, 40, 30), dtype=np.uint8),  # depth 1
        np.zeros((3, 12, 12), np.uint8),
        rng.integers(0, 65536, (3, 41, 37)).astype(np.uint16).astype(np.int32),  # 16-bit values
        rng.integers(0, 4096, (1, 50, 20)).astype(np.int16),  # 12-bit
        rng.random((3, 33, 29)).astype(np.float32),
        rng.random((3, 33, 29)),
        rng.integers(-9, 300, (2, 15, 16)).astype(np.int32),  # negative: depth 0
    ]
    photo = ref.chw(np.asarray(photo_collection(1, seed=5)[0]))
    arrs.append(np.ascontiguousarray(photo))
    out = [torch.from_numpy(a) for a in arrs]
    out.append(torch.from_numpy(rng.integers(0, 2, (1, 300, 230)).astype(bool)))  # big bool image
    return out


def _assert_same(a: torch.Tensor, b: torch.Tensor, key: str) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, key
    if a.is_floating_point():
        # integer-derived values are exact; float sums over big images may differ in the last
        # bits with the number of intra-op threads
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15, equal_nan=True, msg=key)
    else:
        assert torch.equal(a, b), key


def test_cuda_plan_on_cpu_equals_cpu_plan():
    images = _mixed()
    cpu, cpu_ch = image_statistics(images, per_channel=True, backend="cpu")
    dev, dev_ch = image_statistics(images, per_channel=True, backend="cuda")
    assert list(cpu) == list(dev) == list(IMAGE_KEYS)
    for key in IMAGE_KEYS:
        if key in QUALITY_KEYS:  # computed in float32 (float64 images: float64); sums over stacks
            torch.testing.assert_close(cpu[key], dev[key], rtol=1e-5, atol=1e-6, equal_nan=True, msg=key)
            continue
        _assert_same(cpu[key], dev[key], key)
    assert cpu_ch is not None and dev_ch is not None and list(cpu_ch) == list(dev_ch)
    for key in cpu_ch:
        _assert_same(cpu_ch[key], dev_ch[key], f"channel {key}")
    # the 8-bit images' statistics come from integer counts: identical to the last bit
    for i in (0, 1, 2, 3, 5, 6, 13, 14):
        for key in ("mean", "std", "skew", "blurriness", "sharpness", "percentiles", "entropy"):
            assert torch.equal(cpu[key][i].nan_to_num(-7), dev[key][i].nan_to_num(-7)), (key, i)


def test_both_plans_match_the_float64_reference():
    images = _mixed()
    for backend in ("cpu", "cuda"):
        st, _ = image_statistics(images, backend=backend)
        for i, img in enumerate(images):
            want = ref.image_stats(img.numpy())
            for key in ("depth", "histogram"):
                np.testing.assert_array_equal(st[key][i].numpy(), want[key], err_msg=f"{backend} {key} {i}")
            for key in ("mean", "std", "skew", "kurtosis", "entropy", "percentiles", "blurriness", "zero"):
                ok = ref.close(st[key][i].numpy(), want[key], rtol=1e-9, atol=1e-9)
                assert np.all(ok), f"{backend} {key} of image {i}: {st[key][i]} vs {want[key]}"


@pytest.mark.parametrize("shape", [(1, 3, 300, 260), (4, 1, 7, 5), (2, 4, 16, 9), (3, 20, 6, 6)])
def test_offset_bincount_equals_per_row_bincount(shape):
    rng = np.random.default_rng(sum(shape))
    x = torch.from_numpy(rng.integers(0, 256, shape, dtype=np.uint8))
    cmax = shape[1] + 2  # a wider Laplacian range than the stack needs, as in a mixed batch
    counts_a, lap_a = count_uint8(x, cmax, per_row_bincount=True)
    counts_b, lap_b = count_uint8(x, cmax, per_row_bincount=False)
    assert torch.equal(counts_a, counts_b) and torch.equal(lap_a, lap_b)
    # the counts are the counts
    for i in range(shape[0]):
        for c in range(shape[1]):
            want = np.bincount(x[i, c].numpy().ravel(), minlength=256)
            np.testing.assert_array_equal(counts_a[i, c].numpy(), want)
    assert int(lap_a.sum()) == shape[0] * shape[2] * shape[3]


def test_backend_is_checked():
    with pytest.raises(ValueError, match="backend"):
        image_statistics([torch.zeros(1, 4, 4, dtype=torch.uint8)], backend="gpu")
