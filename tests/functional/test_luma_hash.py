"""The D4 hashes read BT.601 luma (luma13): a grey copy made by Pillow / OpenCV / torchvision hashes
as its colour source.  Values against independent references: Pillow's own ``convert("L")`` for the
grey, and a numpy float64 D4 pHash (Pillow's LANCZOS coefficients rebuilt here, scipy's DCT) for
the hash; the plain (0.65) hashes keep the channel mean."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataeval_gpu.functional import hashing as H
from dataeval_gpu.functional.hashing.grey import grey8, hash_grey8, luma8

PIL = pytest.importorskip("PIL.Image")
fft = pytest.importorskip("scipy.fft")


def _pillow_l(rgb: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` uint8 -> Pillow's ``convert("L")`` ``(H, W)`` uint8 (Pillow's C code)."""
    return np.asarray(PIL.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0))).convert("L"))


def _ref_taps(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` Pillow's 22-bit LANCZOS taps (precompute_coeffs + normalize_coeffs_8bpc)."""
    scale = n_in / n_out
    fs = max(scale, 1.0)
    support = 3.0 * fs
    m = np.zeros((n_out, n_in))

    def lanczos(x: float) -> float:
        sinc = lambda v: 1.0 if v == 0.0 else math.sin(math.pi * v) / (math.pi * v)  # noqa: E731
        return sinc(x) * sinc(x / 3.0) if -3.0 <= x < 3.0 else 0.0

    for j in range(n_out):
        centre = (j + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        w = np.array([lanczos((x - centre + 0.5) / fs) for x in range(lo, hi)])
        w = w / w.sum()
        m[j, lo:hi] = [int(v * (1 << 22) + (0.5 if v >= 0 else -0.5)) for v in w]  # C cast: toward 0
    return m


def _ref_pchash_d4(grey: np.ndarray) -> int:
    """The D4 pHash of a ``(H, W)`` grey image in float64: the unrounded LANCZOS resize on the
    1/65536 grid, the 8 flips / turns each through scipy's DCT, bit = coefficient > median, the
    smallest unsigned value."""
    h, w = grey.shape
    r = 8 * min((min(h, w) - 1) // 8, 4)
    sums = _ref_taps(h, r) @ grey.astype(np.float64) @ _ref_taps(w, r).T
    small = np.round(sums / 2.0**28) / 65536.0
    values = []
    for sq in (small, small.T):
        for v in (sq, sq[::-1], sq[:, ::-1], sq[::-1, ::-1]):
            c = fft.dct(fft.dct(np.ascontiguousarray(v), axis=0), axis=1)[:8, :8].ravel()
            bits = c > np.median(c)
            values.append(int("".join("1" if b else "0" for b in bits), 2))
    return min(values)


def _u64(v: int) -> int:
    return v & ((1 << 64) - 1)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, order="C"))


def test_luma_is_pillows_convert_l_and_a_grey_image_keeps_its_grey() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (3, 23, 31)).astype(np.uint8)
    rgb[:, 0, :4] = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]]  # red, green, blue, white
    got = luma8(_t(rgb)[None])[0]
    assert np.array_equal(got.numpy().astype(np.uint8), _pillow_l(rgb))
    # hand-checked: (255 * 19595 + 2**15) >> 16 = 76, green 150, blue 29, white 255
    assert got[0, :4].tolist() == [76.0, 150.0, 29.0, 255.0]
    # RGBA: alpha averaged in as the channel mean averages it, floor((3 Y + A) / 4)
    alpha = rng.integers(0, 256, (1, 23, 31)).astype(np.uint8)
    rgba = np.concatenate([rgb, alpha])
    want = (3 * _pillow_l(rgb).astype(np.int64) + alpha[0]) // 4
    assert np.array_equal(luma8(_t(rgba)[None])[0].numpy(), want)
    # an image with R = G = B (a grey copy stored as RGB / RGBA) has the same grey either way
    g = rng.integers(0, 256, (1, 23, 31)).astype(np.uint8)
    for im in (np.repeat(g, 3, 0), np.concatenate([np.repeat(g, 3, 0), alpha])):
        assert torch.equal(luma8(_t(im)[None]).double(), grey8(_t(im)[None]).double())
    # other channel counts and dtypes: the channel mean
    two = rng.integers(0, 256, (2, 20, 20)).astype(np.uint8)
    assert torch.equal(hash_grey8(_t(two)[None], "luma"), grey8(_t(two)[None]))
    # a grey peaking under 2 takes 0.65's rescale (0 -> 0, 1 -> 255), as the mean's does
    dark = (rng.random((3, 20, 20)) > 0.5).astype(np.uint8)
    lum = _pillow_l(dark)
    assert lum.max() == 1
    assert np.array_equal(luma8(_t(dark)[None])[0].numpy(), lum.astype(np.float64) * 255)


@pytest.mark.parametrize("device_type", [None, "cuda"], ids=["compiled", "tensor-path"])
def test_d4_hash_equals_a_float64_reference_on_small_images(device_type) -> None:
    """Small colour images (hand-made and random; 3 and 4 channels, sides 9..70) and their crops
    read in place: the D4 pHash of their Pillow luma grey, computed independently."""
    rng = np.random.default_rng(7)
    images = []
    for c, h, w in ((3, 16, 16), (3, 20, 27), (3, 41, 33), (4, 35, 50), (3, 70, 45), (3, 9, 12)):
        images.append(rng.integers(0, 256, (c, h, w)).astype(np.uint8))
    ramp = np.zeros((3, 24, 24), dtype=np.uint8)  # red rising left to right over a blue checker
    ramp[0] = np.linspace(0, 255, 24).astype(np.uint8)[None, :]
    ramp[2] = ((np.arange(24)[:, None] // 6 + np.arange(24)[None, :] // 6) % 2) * 200
    images.append(ramp)
    tensors = [_t(a) for a in images]
    parent = _t(rng.integers(0, 256, (3, 60, 80)).astype(np.uint8))
    tensors.append(parent[:, 5:55, 10:70])  # a central crop, strided
    images.append(parent[:, 5:55, 10:70].numpy())
    hashes, valid = H.near_hash(tensors, "pchash_d4", device_type=device_type)
    for k, a in enumerate(images):
        if a.shape[0] == 4:
            grey = (3 * _pillow_l(a[:3]).astype(np.int64) + a[3]) // 4
        else:
            grey = _pillow_l(a)
        assert bool(valid[k])
        assert _u64(int(hashes[k])) == _ref_pchash_d4(grey), (k, a.shape)


def test_grey_copies_hash_as_their_source_and_the_plain_hash_keeps_the_mean() -> None:
    """A red / blue picture whose channel mean is flat: its luma has the edge.  Its Pillow grey
    copy (as L and as RGB) has its D4 hashes exactly; the 0.65 pchash still reads the
    channel mean (the flat grey: every coefficient but the DC is 0)."""
    src = np.zeros((3, 40, 40), dtype=np.uint8)
    src[0, :, :20] = 255  # red left half: mean 85, luma 76
    src[2, :, 20:] = 255  # blue right half: mean 85, luma 29
    lum = _pillow_l(src)
    assert set(np.unique(lum).tolist()) == {29, 76}
    tensors = [_t(src), _t(lum[None]), _t(np.repeat(lum[None], 3, 0))]
    for kind in ("pchash_d4", "dhash_d4"):
        for dev in (None, "cuda"):
            h = H.near_hash(tensors, kind, device_type=dev)[0].tolist()
            assert h[1:] == [h[0]] * 2, (kind, dev)
    flat = H.near_hash([_t(src), _t(np.full((1, 40, 40), 85, np.uint8))], "pchash")[0].tolist()
    assert flat[0] == flat[1]  # the mean grey of the source is the flat 85
    assert H.near_hash([_t(src)], "pchash_d4")[0].tolist() != H.near_hash([_t(np.full((1, 40, 40), 85, np.uint8))], "pchash_d4")[0].tolist()


def test_thumbnails_are_the_luma_square() -> None:
    """The pair rules' thumbnails are the D4 hash's own square: of the luma grey too, so a grey
    copy's thumbnail equals its source's (compiled and tensor paths)."""
    rng = np.random.default_rng(11)
    src = rng.integers(0, 256, (3, 64, 48)).astype(np.uint8)
    grey = np.repeat(_pillow_l(src)[None], 3, 0)
    for dev in (None, "cuda"):
        _, _, th = H.near_hash_thumbs([_t(src), _t(grey)], "pchash_d4", device_type=dev)
        assert torch.equal(th[0], th[1])


@pytest.mark.parametrize("device_type", [None, "cuda"], ids=["compiled", "tensor-path"])
def test_16_bit_and_float_colour_images_read_luma_too(device_type) -> None:
    """review19: a 16-bit or float RGB(A) image's D4 hash read the channel mean while its 8-bit copy
    read luma (scikit-image's chelsea as float32 / 8, or as 16-bit, 20 bits from itself as uint8).
    Now the same weights in float64 and 0.65's rescale of that grey: against a numpy reference
    (``floor(Y · 255 / 65535)`` for 16 bits, ``floor(255 Y)`` for floats in [0, 1]), and a photo's
    16-bit / float copies hash as its 8-bit self."""
    rng = np.random.default_rng(19)
    w = np.array([19595.0, 38470.0, 7471.0]) / 65536.0
    u16 = rng.integers(0, 65536, (3, 30, 37)).astype(np.uint16)
    u16a = rng.integers(0, 65536, (4, 26, 41)).astype(np.uint16)
    f32 = rng.random((3, 33, 29)).astype(np.float32)
    y16 = np.tensordot(w, u16.astype(np.float64), 1)
    y16a = (3.0 * np.tensordot(w, u16a[:3].astype(np.float64), 1) + u16a[3]) / 4.0
    yf = np.tensordot(w, f32.astype(np.float64), 1)
    greys = [np.floor(y16 * 255.0 / 65535.0), np.floor(y16a * 255.0 / 65535.0), np.floor(yf * 255.0)]
    hashes, valid = H.near_hash([_t(u16), _t(u16a), _t(f32)], "pchash_d4", device_type=device_type)
    for k, grey in enumerate(greys):
        assert bool(valid[k])
        assert _u64(int(hashes[k])) == _ref_pchash_d4(grey.astype(np.int64)), k
    data = pytest.importorskip("skimage.data")
    photo = np.ascontiguousarray(data.chelsea().transpose(2, 0, 1))
    copies = [photo, photo.astype(np.float32) / 255.0, photo.astype(np.uint16) * 257]
    h = H.near_hash([_t(a) for a in copies], "pchash_d4", device_type=device_type)[0].tolist()
    assert h == [h[0]] * 3
