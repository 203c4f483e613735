"""The grey thumbnails that verify near-hash pairs: a float64 reference of the thumbnail and of
the detail correlation, and the compiled CPU path against the tensor (CUDA) path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.accumulators.hash_rows import centre_crop, hash_rows
from dataeval_gpu.functional.hashing import (
    THUMB_SIDE,
    compiled_ready,
    detail_correlation,
    near_hash,
    near_hash_thumbs,
)
from dataeval_gpu.functional.hashing.thumbs import thumbnails_from_small


def _lanczos_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Pillow's LANCZOS (a = 3) weights as a float64 ``(n_out, n_in)`` matrix, unquantised
    (Pillow's ``precompute_coeffs`` with real instead of fixed-point coefficients)."""
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = 3.0 * fscale
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        x = (np.arange(lo, hi) - centre + 0.5) / fscale
        w = np.sinc(x) * np.sinc(x / 3.0) * (np.abs(x) < 3.0)
        m[i, lo:hi] = w / w.sum()
    return m


def _reference_thumbnail(grey: np.ndarray) -> np.ndarray:
    """float64: the LANCZOS resize of a grey ``(H, W)`` image to 32 x 32, rounded and clipped."""
    h, w = grey.shape
    small = _lanczos_matrix(h, THUMB_SIDE) @ grey.astype(np.float64) @ _lanczos_matrix(w, THUMB_SIDE).T
    return np.clip(np.round(small), 0, 255)


def test_thumbnail_is_the_lanczos_square_of_the_grey_image() -> None:
    rng = np.random.default_rng(3)
    for h, w in ((40, 57), (97, 64), (200, 131)):
        grey = np.kron(rng.integers(0, 256, (h // 4 + 1, w // 4 + 1)), np.ones((4, 4)))[:h, :w]
        grey[0, 0], grey[-1, -1] = 0, 255  # full range: 0.65's 8-bit rescale is the identity
        img = torch.from_numpy(grey.astype(np.uint8))[None]
        _, ok, th = near_hash_thumbs([img], "pchash_d4")
        want = _reference_thumbnail(grey)
        got = th[0].numpy().astype(np.float64)
        assert bool(ok[0]) and th.dtype == torch.uint8 and th.shape == (1, THUMB_SIDE, THUMB_SIDE)
        # Pillow's fixed-point coefficients move a value by < 1e-4 level: a rounding at .5 may flip
        assert np.abs(got - want).max() <= 1
        assert np.mean(got == want) >= 0.99


def test_thumbnail_rounds_clamps_and_is_zero_off_size() -> None:
    small = torch.tensor([[-3.2, 0.5, 1.5, 254.6, 300.0]], dtype=torch.float64).repeat(32, 7)[:, :32]
    th = thumbnails_from_small(small[None])
    assert th.dtype == torch.uint8
    assert th[0, 0, :5].tolist() == [0, 0, 2, 255, 255]  # half to even, clamped
    # a dhash's 8 x 9 grid is no square: no thumbnail (it verifies nothing)
    assert thumbnails_from_small(torch.ones(2, 8, 9, dtype=torch.float64)).abs().sum() == 0


def test_small_images_thumbnail_is_their_square_enlarged_linearly() -> None:
    """An image under 33 px a side has an 8, 16 or 24 px hash square: its thumbnail is that
    square brought to 32 x 32 by linear interpolation between pixel centres (Pillow's BILINEAR
    enlargement of the float square, the reference), rounded - so its pairs can be verified."""
    from PIL import Image

    rng = np.random.default_rng(4)
    for side in (8, 16, 24):
        sq = rng.uniform(0, 255, (side, side))
        got = thumbnails_from_small(torch.from_numpy(sq)[None])[0].numpy().astype(np.float64)
        want = np.asarray(Image.fromarray(sq.astype(np.float32), "F").resize((32, 32), Image.BILINEAR))
        assert np.abs(got - np.clip(np.round(want), 0, 255)).max() <= 1  # float32 reference
        assert np.mean(got == np.clip(np.round(want), 0, 255)) >= 0.98
    # through the hash: a 28 x 28 image has a 24 x 24 square, 30 x 30 the same
    img = torch.from_numpy(rng.integers(0, 256, (1, 28, 28), dtype=np.uint8))
    _, ok, th = near_hash_thumbs([img, torch.full((3, 30, 30), 7, dtype=torch.uint8)], "pchash_d4")
    assert bool(ok.all()) and int(th[0].float().std()) > 10 and th[1].unique().tolist() == [7]


def _reference_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """float64, loop by loop: Pearson correlation of x - box3(x) and of each flip / rotation of
    y - box3(y) (scipy's uniform filter, edges replicated), the largest; 1 when one is flat."""
    dx = x - ndimage.uniform_filter(x, 3, mode="nearest")
    dy = y - ndimage.uniform_filter(y, 3, mode="nearest")
    if dx.std() < 1e-12 or dy.std() < 1e-12:
        return 1.0
    best = -1.0
    for t in (dy, dy.T):
        for r in range(4):
            best = max(best, float(np.corrcoef(dx.ravel(), np.rot90(t, r).ravel())[0, 1]))
    return best


def test_detail_correlation_matches_a_float64_reference() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (12, THUMB_SIDE, THUMB_SIDE)).astype(np.uint8)
    y = x.copy()
    y[:4] = rng.integers(0, 256, (4, THUMB_SIDE, THUMB_SIDE))  # unrelated
    y[4:8] = np.clip(x[4:8].astype(int) + rng.integers(-20, 21, (4, THUMB_SIDE, THUMB_SIDE)), 0, 255)
    y[8] = np.rot90(x[8], 1)
    y[9] = x[9].T[::-1]
    y[10] = 77  # flat
    y[11] = np.clip(x[11] * 0.5 + 40, 0, 255)  # contrast and brightness
    got = detail_correlation(x, torch.from_numpy(y))
    want = np.array([_reference_correlation(a.astype(np.float64), b.astype(np.float64)) for a, b in zip(x, y)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert (got[:4] < 0.3).all() and (got[8:12] > 0.99).all()
    assert detail_correlation(np.zeros((0, 32, 32)), np.zeros((0, 32, 32))).shape == (0,)



def test_detail_check_says_which_pairs_carry_detail_and_scores_in_slices() -> None:
    """``detail_check``: the score and whether both detail images carry something (a missing
    all-zero thumbnail or a flat one does not); over several slices of PAIRS_PER_STEP pairs the
    same scores as the float64 reference, and the memory held bounded by one slice (the whole
    float64 computation at once took ~57 KB a pair: 330 MB for these 6,000 pairs)."""
    import tracemalloc

    from dataeval_gpu.functional.hashing import detail_check
    from dataeval_gpu.functional.hashing.thumbs import PAIRS_PER_STEP

    rng = np.random.default_rng(8)
    p = 6000
    x = rng.integers(0, 256, (p, THUMB_SIDE, THUMB_SIDE), dtype=np.uint8)
    y = x.copy()
    y[::3] = rng.integers(0, 256, (len(y[::3]), THUMB_SIDE, THUMB_SIDE))
    y[5], x[7] = 0, 130  # missing, flat
    tracemalloc.start()
    try:
        score, checked = detail_check(x, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert p > 2 * PAIRS_PER_STEP and peak < 70 * 1024 * PAIRS_PER_STEP  # one slice's worth, not p's
    assert checked.dtype == bool and not checked[5] and not checked[7] and checked.sum() == p - 2
    assert score[5] == score[7] == 1.0
    np.testing.assert_array_equal(detail_correlation(x, y), score)
    for k in (0, 1, 3, PAIRS_PER_STEP - 1, PAIRS_PER_STEP, 2 * PAIRS_PER_STEP + 1, p - 1):
        want = _reference_correlation(x[k].astype(np.float64), y[k].astype(np.float64))
        assert abs(score[k] - want) <= 1e-9

def _images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ims = [torch.randint(0, 256, (3, 40 + 9 * i, 70 - 5 * i), dtype=torch.uint8, generator=g) for i in range(5)]
    ims.append(torch.randint(0, 256, (1, 64, 64), dtype=torch.uint8, generator=g))  # grey
    ims.append(torch.rand(3, 50, 48, generator=g))  # float
    ims.append(torch.randint(0, 40, (3, 60, 60), dtype=torch.uint8, generator=g))  # dark: 0.65 rescales
    ims.append(torch.randint(0, 256, (3, 20, 20), dtype=torch.uint8, generator=g))  # small: its square enlarged
    ims.append(torch.randint(0, 256, (3, 5, 5), dtype=torch.uint8, generator=g))  # no hash
    return ims


@pytest.mark.parametrize("kind", ["pchash_d4", "pchash"])
def test_cpu_kernel_and_tensor_path_give_the_same_thumbnails(kind: str) -> None:
    ims = _images()
    cpu = near_hash_thumbs(ims, kind)
    cuda = near_hash_thumbs(ims, kind, device_type="cuda")  # the CUDA branch on CPU tensors
    for a, b in zip(cpu, cuda):
        assert torch.equal(a, b)
    h, ok = near_hash(ims, kind)
    assert torch.equal(cpu[0], h) and torch.equal(cpu[1], ok)
    # every image with a hash has a thumbnail (the 20 x 20 one its 16 px square enlarged); 5 x 5: none
    assert int(cpu[2][:9].reshape(9, -1).amax(dim=1).min()) > 0 and int(cpu[2][9:].sum()) == 0
    if kind == "pchash_d4":
        # the thumbnail is the hash's own square: the same as a float64 LANCZOS resize of the grey
        grey = ims[5][0].numpy()
        if grey.min() == 0 and grey.max() == 255:
            assert np.abs(cpu[2][5].numpy() - _reference_thumbnail(grey)).max() <= 1


def test_compiled_kernels_are_what_the_cpu_path_runs() -> None:
    assert compiled_ready()  # otherwise the test above compares the tensor path with itself


def test_hash_rows_thumbnails_of_the_image_and_its_crops() -> None:
    ims = _images()
    crops = (0.9, 0.8)
    rows = hash_rows(ims, "pchash_d4", crops=crops, thumbs=True)
    n = len(ims)
    assert rows["thumbs"].shape == (n, 3 * THUMB_SIDE**2) and rows["thumbs"].dtype == torch.uint8
    views = rows["thumbs"].reshape(n, 3, THUMB_SIDE, THUMB_SIDE)
    assert torch.equal(views[:, 0], near_hash_thumbs(ims, "pchash_d4")[2])
    for k, f in enumerate(crops):
        want = near_hash_thumbs([centre_crop(t, f) for t in ims], "pchash_d4", device_type="cuda")[2]
        assert torch.equal(views[:, 1 + k], want)
    assert "thumbs" not in hash_rows(ims, "pchash_d4", crops=crops)


def test_hash_rows_without_the_compiled_kernels_gives_the_same_rows(monkeypatch) -> None:
    """The branch of ``hash_rows`` for device tensors and for a CPU without numba (the tensor
    path's kernels) gives the compiled CPU path's hashes and thumbnails."""
    import dataeval_gpu.accumulators.hash_rows as hr
    import dataeval_gpu.functional.hashing.dispatch as dispatch

    ims = _images()
    want = hash_rows(ims, "pchash_d4", crops=(0.9, 0.8), thumbs=True)
    monkeypatch.setattr(hr, "compiled_ready", lambda: False)
    monkeypatch.setattr(dispatch, "compiled_ready", lambda: False)
    got = hash_rows(ims, "pchash_d4", crops=(0.9, 0.8), thumbs=True)
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key


def _reference_local_detail(x: np.ndarray, y: np.ndarray) -> float:
    """float64, loop by loop: the detail (x - box3 x, scipy's uniform filter, edges replicated)
    divided by the root of its 5 x 5 box mean square plus one grey level; the Pearson correlation
    with each flip / rotation of y's, the largest."""

    def z(a: np.ndarray) -> np.ndarray:
        d = a - ndimage.uniform_filter(a, 3, mode="nearest")
        return d / (np.sqrt(ndimage.uniform_filter(d * d, 5, mode="nearest")) + 1.0)

    zx, zy = z(x), z(y)
    return max(float(np.corrcoef(zx.ravel(), np.rot90(t, r).ravel())[0, 1]) for t in (zy, zy.T) for r in range(4))


def test_local_detail_check_matches_a_float64_reference_and_weighs_regions_by_area() -> None:
    from dataeval_gpu.functional.hashing.thumbs import LOCAL_EPS, LOCAL_RADIUS, local_detail_check

    assert (LOCAL_RADIUS, LOCAL_EPS) == (2, 1.0)
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (5, THUMB_SIDE, THUMB_SIDE)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255).round()
    y[1] = np.rot90(x[1], 3)[::-1]
    # 2 and 3: a strong shared ring (+/- 120 levels) over two unrelated faint textures (+/- 6)
    yy, xx = np.mgrid[0:32, 0:32] - 15.5
    ring = 120.0 * (np.abs(np.hypot(yy, xx) - 12) < 1.0)
    x[2] = 60 + ring + rng.normal(0, 6, (32, 32))
    y[2] = 60 + ring + rng.normal(0, 6, (32, 32))
    x[3], y[3] = x[2], x[2] + rng.normal(0, 1, (32, 32))  # ... and the same picture re-encoded
    y[4] = 90.0  # flat: nothing to compare
    x, y = x.round().clip(0, 255), y.round().clip(0, 255)
    score, checked = local_detail_check(x.astype(np.uint8), torch.from_numpy(y.astype(np.uint8)))
    assert checked.tolist() == [True, True, True, True, False] and score[4] == 1.0
    for p in range(4):
        assert score[p] == pytest.approx(_reference_local_detail(x[p], y[p]), abs=1e-9)
    assert score[1] == pytest.approx(1.0)
    # the plain detail correlation follows the strong ring; the local one the whole picture
    plain = detail_correlation(x[2:4], y[2:4])
    assert plain[0] > 0.8 and score[2] < 0.65 < 0.8 < score[3]


def test_a_small_squares_enlargement_matrix_is_made_once_per_size_and_device(monkeypatch) -> None:
    """The matrix that enlarges a small image's hash square to a thumbnail is made and moved to
    the square's device once per size, not per batch: it was copied from the host on every call
    (on a GPU a blocking copy per batch, waiting for the batch's queued work)."""
    small = torch.from_numpy(np.random.default_rng(2).uniform(0, 255, (3, 16, 16)))
    first = thumbnails_from_small(small)
    made: list[tuple[int, ...]] = []
    real = torch.from_numpy
    monkeypatch.setattr(torch, "from_numpy", lambda a: made.append(a.shape) or real(a))
    for _ in range(3):
        assert torch.equal(thumbnails_from_small(small), first)
    assert made == []
