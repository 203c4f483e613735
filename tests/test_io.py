"""Decoding single files (dataeval_gpu.io) against Pillow, for formats the bad-input corpus
(tests/audit/test_corpus.py) does not hold."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from dataeval_gpu.io import decode_bytes


def _stored(h: int = 24, w: int = 40) -> np.ndarray:
    """An RGB image whose every pixel differs from its mirror images (so any flip shows)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 6, y * 10, (x * 3 + y * 7) % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_webp_exif_orientation_is_applied(orientation: int) -> None:
    """A WebP with an EXIF orientation is turned upright as a JPEG is (it was measured as stored:
    a portrait phone photo saved as WebP came out sideways, with width and height swapped)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(_stored()).save(buf, "WEBP", lossless=True, exif=exif.tobytes())
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    got = decode_bytes(buf.getvalue()).permute(1, 2, 0).numpy()
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def _tiff(arr: np.ndarray, **kw: object) -> bytes:
    tifffile = pytest.importorskip("tifffile")
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("planar", [True, False])
def test_multispectral_tiff_keeps_every_band(planar: bool) -> None:
    """A 5-band 16-bit TIFF (a satellite tile) cannot be opened by Pillow: it is read through
    tifffile with its five channels and exact values (it used to fail as an "unknown format")."""
    bands = np.random.default_rng(0).integers(0, 4096, (5, 20, 30)).astype(np.uint16)
    stored = bands if planar else bands.transpose(1, 2, 0)
    data = _tiff(stored, photometric="minisblack", planarconfig="separate" if planar else "contig")
    with pytest.raises(Exception):  # noqa: B017 - the premise: Pillow cannot read it
        Image.open(io.BytesIO(data))
    got = decode_bytes(data)
    assert got.dtype == torch.uint16 and tuple(got.shape) == (5, 20, 30)
    np.testing.assert_array_equal(got.numpy(), bands)


def test_tiff_pillow_cannot_read_or_reads_at_8_bits() -> None:
    """Planar float64 RGB (Pillow: "cannot identify") keeps its float64 values; 16-bit RGB, which
    Pillow reads as 8-bit RGB (an exact duplicate of the 8-bit file), stays uint16."""
    rgb = np.random.default_rng(1).random((3, 12, 16))
    got = decode_bytes(_tiff(rgb, photometric="rgb", planarconfig="separate"))
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), rgb)
    rgb16 = (rgb * 65535).astype(np.uint16)
    data = _tiff(rgb16.transpose(1, 2, 0), photometric="rgb")
    assert Image.open(io.BytesIO(data)).mode == "RGB"  # the premise: 8 bits through Pillow
    got = decode_bytes(data)
    assert got.dtype == torch.uint16
    np.testing.assert_array_equal(got.numpy(), rgb16)



@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_read_by_tifffile_keeps_its_orientation(orientation: int) -> None:
    """A 16-bit RGB TIFF (read through tifffile) is turned upright by its Orientation tag as
    Pillow turns the 8-bit one (it was measured as stored: width and height swapped for 5-8)."""
    stored = _stored()
    tag = [(274, 3, 1, orientation, True)]
    data8 = _tiff(stored, photometric="rgb", extratags=tag)
    data16 = _tiff(stored.astype(np.uint16) * 257, photometric="rgb", extratags=tag)
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data8))).convert("RGB"))
    got = decode_bytes(data16)
    assert got.dtype == torch.uint16  # the premise: the tifffile path
    np.testing.assert_array_equal((got.numpy() // 257).transpose(1, 2, 0), want)
    np.testing.assert_array_equal(decode_bytes(data8).permute(1, 2, 0).numpy(), want)  # Pillow's path

def test_tiff_without_tifffile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without tifffile: what Pillow cannot read fails, naming the TIFF and what would read it;
    a 16-bit RGB TIFF is Pillow's 8-bit RGB."""
    rgb16 = (np.random.default_rng(2).random((12, 16, 3)) * 65535).astype(np.uint16)
    planar = _tiff(rgb16.astype(np.float64), photometric="rgb", planarconfig="separate")
    contig = _tiff(rgb16, photometric="rgb")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    with pytest.raises(ValueError, match=r"unsupported TIFF image: .*install tifffile to read it"):
        decode_bytes(planar)
    got = decode_bytes(contig)
    assert got.dtype == torch.uint8
    np.testing.assert_array_equal(got.numpy(), (rgb16 >> 8).transpose(2, 0, 1).astype(np.uint8))


def test_undecodable_formats_are_named() -> None:
    """Bytes of a format no decoder here reads fail with the format's name, not as "unknown"."""
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    with pytest.raises(ValueError, match=r"^unsupported HEIF/AVIF image: no installed decoder reads it"):
        decode_bytes(heic)
    with pytest.raises(ValueError, match=r"^unknown or unsupported image format"):
        decode_bytes(b"\x00\x51\x7d" + bytes(64))


def test_tiff_read_by_tifffile_keeps_the_bomb_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TIFF only tifffile reads declares its size before anything is decoded: over Pillow's
    decompression-bomb limit it fails as Pillow's would (in the words of a file Pillow reads, polish18:
    the size, the limit and how to allow it), nothing allocated."""
    data = _tiff(np.zeros((3, 64, 64)), photometric="rgb", planarconfig="separate")  # float64 planar
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 = 4096 > 2 x 1000
    with pytest.raises(ValueError, match=r"^image too large \(decompression-bomb guard\): 4,096 pixels, over the limit of 2,000; "):
        decode_bytes(data)
