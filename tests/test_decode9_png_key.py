"""Grey, 1-bit, RGB and 16-bit PNGs whose transparency is one transparent colour (a ``tRNS`` chunk,
no alpha channel) decode with an alpha channel on every path: torchvision's PNG decoder, Pillow's
(the fallback), and PIL images given in memory.  Referenced against Pillow's own
``convert("LA")`` / ``convert("RGBA")`` and, for 16 bits (which Pillow's conversion reduces to 8),
a numpy mask of the stored samples."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu import image_ops
from dataeval_gpu.batching import as_image
from dataeval_gpu.io import decode_bytes, pil_array

_RNG = np.random.default_rng(9)
_LEVELS = (_RNG.integers(0, 4, (13, 17)) * 85).astype(np.uint8)  # 0, 85, 170, 255: many key hits


def _png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def _cases() -> dict[str, tuple[bytes, str]]:
    rgb = np.stack([_LEVELS, _LEVELS, 255 - _LEVELS], -1)
    return {
        "L": (_png(Image.fromarray(_LEVELS), transparency=170), "LA"),
        "1": (_png(Image.fromarray(_LEVELS > 100).convert("1"), transparency=1), "LA"),
        "RGB": (_png(Image.fromarray(rgb), transparency=(170, 170, 85)), "RGBA"),
        "I;16": (_png(Image.fromarray(_LEVELS.astype(np.uint16) * 257), transparency=170 * 257), "I;16"),
    }


def _reference(data: bytes, target: str) -> np.ndarray:
    """``(C, H, W)`` from Pillow: its LA / RGBA conversion, or for 16 bits the samples and a numpy mask."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if target == "I;16":
            grey = np.array(im).astype(np.uint16)
            alpha = np.where(grey == im.info["transparency"], 0, 65535).astype(np.uint16)
            return np.stack([grey, alpha])
        arr = np.array(im.convert(target))
    return arr.transpose(2, 0, 1)


def _pillow_path(monkeypatch: pytest.MonkeyPatch, data: bytes) -> torch.Tensor:
    def fail(*_a, **_k):
        raise RuntimeError("torchvision unavailable")

    monkeypatch.setattr(image_ops, "decode_image", fail)
    return decode_bytes(data)


@pytest.mark.parametrize("name", ["L", "1", "RGB", "I;16"])
def test_transparent_colour_becomes_alpha_on_every_path(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    data, target = _cases()[name]
    ref = _reference(data, target)
    assert (ref[-1] == 0).any() and (ref[-1] > 0).any()  # both transparent and opaque pixels
    tv = decode_bytes(data)
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        mem = as_image(im, 0)
        arr = pil_array(im)
    pil = _pillow_path(monkeypatch, data)
    for got in (tv, pil, mem, torch.from_numpy(np.ascontiguousarray(np.moveaxis(np.atleast_3d(arr), -1, 0)))):
        assert got.dtype == (torch.uint16 if name == "I;16" else torch.uint8)
        assert tuple(got.shape) == ref.shape
        np.testing.assert_array_equal(got.numpy(), ref)


def test_hand_checked_grey_key() -> None:
    data = _png(Image.fromarray(np.array([[0, 170], [170, 255]], np.uint8)), transparency=170)
    img = decode_bytes(data)
    assert img.tolist() == [[[0, 170], [170, 255]], [[255, 0], [0, 255]]]


def test_fully_transparent_one_bit_png_shows_nothing() -> None:
    """supertux's invisible.png / blank.png: 1-bit, every pixel the transparent value."""
    data = _png(Image.new("1", (32, 32), 0), transparency=0)
    img = decode_bytes(data)
    assert tuple(img.shape) == (2, 32, 32)
    assert int(img[1].max()) == 0


def _grey_png(depth: int, rows: list[list[int]], key: int) -> bytes:
    """A grey PNG of bit depth ``depth`` written by hand (Pillow writes no 2- / 4-bit grey)."""
    width = len(rows[0])
    raw = b""
    for row in rows:
        bits = "".join(format(v, f"0{depth}b") for v in row)
        bits += "0" * (-len(bits) % 8)
        raw += b"\x00" + int(bits, 2).to_bytes(len(bits) // 8, "big")

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, len(rows), depth, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"tRNS", struct.pack(">H", key))
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("pillow", [False, True])
@pytest.mark.parametrize("depth", [2, 4])
def test_low_bit_depth_grey_key_is_scaled_with_the_pixels(monkeypatch: pytest.MonkeyPatch, depth: int, pillow: bool) -> None:
    top = (1 << depth) - 1
    rows = [[0, 1, top, 1], [top, 0, 1, 1]]
    data = _grey_png(depth, rows, key=1)
    img = _pillow_path(monkeypatch, data) if pillow else decode_bytes(data)
    scale = 255 // top
    np.testing.assert_array_equal(img[0].numpy(), np.array(rows) * scale)
    np.testing.assert_array_equal(img[1].numpy(), np.where(np.array(rows) == 1, 0, 255))


def test_pngs_without_a_transparent_colour_keep_their_channels() -> None:
    assert decode_bytes(_png(Image.fromarray(_LEVELS))).shape[0] == 1
    assert decode_bytes(_png(Image.fromarray(np.stack([_LEVELS] * 3, -1)))).shape[0] == 3
    assert decode_bytes(_png(Image.fromarray(_LEVELS).convert("P"), transparency=0)).shape[0] == 4
