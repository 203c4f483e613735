"""polish2: kernels that compile less on a first run give the same values bit for bit.

``texture_levels`` selects its block quantile with the integer counting selection
(``kth_smallest_bits``) instead of ``np.partition``; the hash kernels copy rows in loops (no
array assignment, whose shape check compiles numba's string formatting) and read a strided
crop from a contiguous copy.  Each is checked against an independent numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("numba")

from dataeval_gpu.functional.quality_median import kth_smallest_bits  # noqa: E402
from dataeval_gpu.functional.quality_texture_compiled import TEXTURE_ARGS, texture_levels  # noqa: E402


def _kth(values: np.ndarray, k: int) -> int:
    bits = values.astype(np.uint32)
    return int(kth_smallest_bits(bits, k, np.empty(4 << 12, np.int64), np.empty(bits.size, np.uint32)))


@pytest.mark.parametrize(
    "values",
    [
        np.zeros(50, np.int64),  # all equal (a flat window: every block sum 0)
        np.full(7, 32640, np.int64),  # all equal at the largest block sum of the defaults
        np.array([5], np.int64),
        np.array([3, 1, 3, 1, 3, 1, 2, 2, 2], np.int64),  # ties
        np.array([0, 2**32 - 1, 1 << 20, (1 << 20) - 1, 1 << 8, 255, 256, 2**31, 2**31 - 1], np.int64),  # digit edges
        np.random.default_rng(0).integers(0, 40000, 4096),
        np.random.default_rng(1).integers(0, 2**32, 999),
        np.random.default_rng(2).integers(0, 3, 1000),  # few distinct values, many ties
    ],
)
def test_kth_smallest_integers_match_partition(values: np.ndarray) -> None:
    for k in sorted({0, 1, values.size // 20, values.size // 2, values.size - 1} & set(range(values.size))):
        assert _kth(values, k) == int(np.partition(values, k)[k])


def _reference(lev: np.ndarray, fb: int, qnum: int, qden: int, step: int) -> tuple[float, float]:
    """noise_flat / impulse_share in numpy (float64 / int64), np.partition for the quantile."""
    x = lev.astype(np.int64)
    h, w = x.shape
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])
    r = sum(mask[i, j] * x[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3))
    a = np.abs(r)
    nh, nw = (h - 2) // fb, (w - 2) // fb
    flat = np.nan
    if nh * nw:
        sums = a[: nh * fb, : nw * fb].reshape(nh, fb, nw, fb).sum(axis=(1, 3)).ravel()
        k = max(-(-(nh * nw * qnum) // qden) - 1, 0)
        flat = np.float64(np.partition(sums, k)[k]) / (fb * fb) * (math.sqrt(math.pi / 2.0) / 6.0)
    v = x[1:-1, 1:-1]
    nb = [x[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    hi, lo = np.max(nb, axis=0), np.min(nb, axis=0)
    share = np.float64(((v - hi > step) | (lo - v > step)).sum()) / v.size
    return flat, share


def _levels() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    check = (np.indices((42, 38)).sum(0) % 2 * 255).astype(np.int32)  # extremes: the largest responses
    spikes = np.full((30, 30), 128, np.int32)
    spikes[rng.integers(1, 29, 40), rng.integers(1, 29, 40)] = 255
    blocks = np.kron(rng.integers(0, 2, (8, 8)), np.ones((5, 5), np.int64)).astype(np.int32) * 255
    return [
        np.zeros((3, 3), np.int32),  # no whole block: noise_flat untouched
        np.full((6, 6), 77, np.int32),  # one block, all equal
        np.full((64, 64), 255, np.int32),
        check,
        spikes,
        blocks,  # many tied block sums
        rng.integers(0, 256, (67, 91)).astype(np.int32),
        rng.integers(0, 256, (256, 256)).astype(np.int32),
        (rng.integers(0, 3, (100, 80)) * 127).astype(np.int32),
    ]


@pytest.mark.parametrize("i", range(9))
def test_texture_levels_bit_identical_to_partition_reference(i: int) -> None:
    lev = _levels()[i]
    out = np.full(2, np.nan)
    texture_levels(lev, *TEXTURE_ARGS, out)
    flat, share = _reference(lev, *TEXTURE_ARGS)
    assert out[1] == share
    if math.isnan(flat):
        assert math.isnan(out[0])
    else:
        assert out[0] == flat  # bit for bit (the same float64 steps on the same integer)


def _crops() -> list:
    import torch

    rng = np.random.default_rng(7)
    full = torch.from_numpy(rng.integers(0, 256, (3, 97, 131), dtype=np.uint8))
    batch = torch.from_numpy(rng.integers(0, 256, (4, 3, 60, 70), dtype=np.uint8))
    grey = torch.from_numpy(rng.integers(0, 256, (1, 80, 90), dtype=np.uint8))
    four = torch.from_numpy(rng.integers(0, 256, (4, 64, 64), dtype=np.uint8))
    hwc = torch.from_numpy(rng.integers(0, 256, (50, 66, 3), dtype=np.uint8))
    return [
        full,  # contiguous
        full[:, 5:92, 6:125],  # a central crop
        full[:, 0:60, 71:131],  # at the right / top edges
        full[:, 37:97, 0:40],  # at the bottom / left edges
        batch[2, :, 4:56, 3:67],  # a crop of a batch element (storage offset past other images)
        batch[3],  # the last batch element, contiguous
        grey[:, 8:72, 9:81],
        four[:, 4:60, 2:62],
        full[1:, 3:90, 3:120],  # a channel slice: two channels
        hwc.permute(2, 0, 1),  # channels last: not rows of a (C, H, W) buffer, copied
        full[:, ::2, ::3],  # stepped: copied
        torch.zeros(3, 40, 40, dtype=torch.uint8)[:, 2:38, 2:38],  # not bit depth 8: grey8 first
    ]


@pytest.mark.parametrize("i", range(12))
def test_crops_read_in_place_match_contiguous_copies(i: int) -> None:
    """``small_grey_cpu`` / ``small_exact_cpu`` of a view (a crop read in place from its parent
    buffer, or copied) equal those of a contiguous copy and Pillow's resize (u8 path)."""
    from PIL import Image

    from dataeval_gpu.functional.hashing import cpu

    img = _crops()[i]
    copy = img.contiguous().clone()
    for oh, ow in ((32, 32), (9, 8)):
        a, b = cpu.small_grey_cpu(img, oh, ow), cpu.small_grey_cpu(copy, oh, ow)
        assert a.dtype == np.uint8 and (a == b).all()
        assert (cpu.small_exact_cpu(img, oh, ow) == cpu.small_exact_cpu(copy, oh, ow)).all()
        arr = copy.numpy()
        if arr.max() >= 2:  # bit depth 8: grey = floor(channel mean), then Pillow's LANCZOS
            g = (arr.astype(np.int64).sum(0) // arr.shape[0]).astype(np.uint8)
            want = np.asarray(Image.fromarray(g).resize((ow, oh), Image.LANCZOS))
            assert (a == want).all()


def test_parent_box_of_a_crop() -> None:
    import torch

    from dataeval_gpu.functional.hashing.cpu import _parent_box

    full = torch.arange(2 * 3 * 10 * 12, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(2, 3, 10, 12)
    crop = full[1, :, 2:9, 3:11]
    parent, box = _parent_box(crop)
    assert parent.flags.c_contiguous and parent.shape == (6, 10, 12)
    assert box == (3, 2, 3, 3, 7, 8)
    c0, y0, x0, c, h, w = box
    assert (parent[c0 : c0 + c, y0 : y0 + h, x0 : x0 + w] == crop.numpy()).all()
    assert _parent_box(full[0])[1] is None  # contiguous: itself
    rows = full[0, :, ::2]  # every other row: rows of a buffer twice as wide
    parent, box = _parent_box(rows)
    assert box == (0, 0, 0, 3, 5, 12) and parent.shape == (6, 5, 24)
    assert (parent[:3, :, :12] == rows.numpy()).all()
    assert _parent_box(full[0, :, :, ::2])[1] is None  # stepped columns: copied by the wrapper
    assert _parent_box(full[0].permute(0, 2, 1))[1] is None


def test_resize_kernels_compile_one_layout() -> None:
    """Whole images and crop views give each resize kernel one specialization (C layout)."""
    from dataeval_gpu.functional.hashing import compiled, cpu

    for img in _crops():
        cpu.small_grey_cpu(img, 32, 32)
        cpu.small_exact_cpu(img, 32, 32)
    for k in (compiled._grey_resize_kernel, compiled._grey_resize_exact_kernel):
        layouts = {sig[0].layout for sig in k.signatures}
        assert layouts == {"C"}, k.signatures


def test_a_box_outside_the_image_is_refused() -> None:
    from dataeval_gpu.errors import InvalidArgumentError
    from dataeval_gpu.functional.hashing import compiled

    img = np.zeros((3, 40, 50), np.uint8)
    assert compiled.grey_lanczos_u8(img, 8, 8, True, False, (0, 2, 3, 3, 30, 40)).shape == (8, 8)
    for box in ((0, 20, 0, 3, 30, 40), (1, 0, 0, 3, 30, 40), (0, 0, 20, 3, 30, 40), (0, -1, 0, 3, 30, 40)):
        with pytest.raises(InvalidArgumentError, match="box"):
            compiled.grey_lanczos_exact(img, 8, 8, True, box)
    with pytest.raises(InvalidArgumentError, match="C-contiguous"):
        compiled.grey_lanczos_exact(img[:, :, ::2], 8, 8, True, (0, 0, 0, 3, 30, 20))
