"""review17: a PNG's ``tRNS`` chunk read as libpng reads it, on torchvision's path and Pillow's.

The PNGs are written chunk by chunk here (an independent encoder: IHDR, PLTE, tRNS, tEXt and IDAT
in the order a case needs, CRCs right or wrong on purpose); what libpng gives for each was checked
with a small C program decoding through libpng 1.6's ``png_set_expand`` (the warnings named below
are libpng's).  The expected pixels are numpy's: the palette looked up, the key compared with
the stored samples."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch

from dataeval_gpu import image_ops
from dataeval_gpu.io import decode_bytes
from dataeval_gpu.png_key import palette_alpha, png_key

_RNG = np.random.default_rng(17)
_PAL = _RNG.integers(0, 256, (4, 3)).astype(np.uint8)
_IDX = _RNG.integers(0, 4, (9, 13)).astype(np.uint8)
_GREY = (_RNG.integers(0, 3, (9, 13)) * 100).astype(np.uint8)  # 0, 100, 200


def _chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    c = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", c)


def _png(pixels: np.ndarray, colour: int, chunks: list[bytes], after: list[bytes] | None = None) -> bytes:
    """An 8-bit PNG of ``pixels`` ``(H, W)`` or ``(H, W, 3)``; ``chunks`` between IHDR and IDAT."""
    h, w = pixels.shape[:2]
    raw = b"".join(b"\0" + pixels[y].tobytes() for y in range(h))
    head = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
    tail = b"".join(after or []) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + head + b"".join(chunks) + _chunk(b"IDAT", zlib.compress(raw)) + tail


def _plte() -> bytes:
    return _chunk(b"PLTE", _PAL.tobytes())


def _pillow_path(monkeypatch: pytest.MonkeyPatch, data: bytes) -> torch.Tensor:
    def fail(*_a: object, **_k: object) -> torch.Tensor:
        raise RuntimeError("torchvision unavailable")

    monkeypatch.setattr(image_ops, "decode_image", fail)
    return decode_bytes(data)


_TRNS = bytes([0, 128])  # entry 0 transparent, entry 1 half, 2 and 3 opaque
_IGNORED_PALETTE_TRNS = {
    # a palette PNG whose bytes hold "tRNS" that libpng does not keep: decoded as RGB by libpng
    "tRNS in a tEXt chunk": [_chunk(b"tEXt", b"Comment\0tRNS"), _plte()],
    "tRNS before PLTE": [_chunk(b"tRNS", _TRNS), _plte()],  # "tRNS: out of place"
    "tRNS CRC error": [_plte(), _chunk(b"tRNS", _TRNS, crc=5)],  # "tRNS: CRC error"
    "tRNS longer than the palette": [_plte(), _chunk(b"tRNS", bytes(5))],  # "tRNS: invalid"
}


@pytest.mark.parametrize("case", sorted(_IGNORED_PALETTE_TRNS))
def test_palette_png_with_an_ignored_trns_is_rgb(case: str) -> None:
    """torchvision's RGB + alpha mode on a palette PNG whose tRNS libpng dropped gave 4 channels of
    misaligned rows (colour and alpha garbage: alpha values 4, 10, 19, ... on a 4-colour image);
    the bytes "tRNS" were searched for anywhere before "IDAT".  Now: the palette's colours, RGB."""
    data = _png(_IDX, 3, _IGNORED_PALETTE_TRNS[case])
    assert not palette_alpha(data)
    got = decode_bytes(data)
    np.testing.assert_array_equal(got.numpy(), _PAL[_IDX].transpose(2, 0, 1))


def test_palette_png_with_a_kept_trns_is_rgba(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kept tRNS after an "IDAT" text in a tEXt chunk (the old byte search stopped there and
    decoded RGB, the transparency lost) and after an ignored one (CRC error): RGBA, alpha the
    tRNS entries (0, 128; 255 beyond them)."""
    alpha = np.array([0, 128, 255, 255], np.uint8)[_IDX]
    want = np.concatenate([_PAL[_IDX].transpose(2, 0, 1), alpha[None]])
    for chunks in (
        [_chunk(b"tEXt", b"Comment\0IDAT"), _plte(), _chunk(b"tRNS", _TRNS)],
        [_plte(), _chunk(b"tRNS", _TRNS, crc=5), _chunk(b"tRNS", _TRNS)],
    ):
        data = _png(_IDX, 3, chunks)
        assert palette_alpha(data)
        np.testing.assert_array_equal(decode_bytes(data).numpy(), want)
    # Pillow's path (the fallback): a tRNS before PLTE is ignored there too (Pillow kept it: RGBA)
    data = _png(_IDX, 3, _IGNORED_PALETTE_TRNS["tRNS before PLTE"])
    np.testing.assert_array_equal(_pillow_path(monkeypatch, data).numpy(), _PAL[_IDX].transpose(2, 0, 1))


def test_rgb_trns_before_its_suggested_palette_is_dropped() -> None:
    """An RGB PNG may carry a suggested palette; a tRNS before it is dropped by libpng ("PLTE: tRNS
    must be after"): opaque RGB, 3 channels (before: RGBA with the key's pixels transparent).  A
    grey PNG's PLTE is ignored ("PLTE: ignored in grayscale PNG"), its tRNS kept."""
    rgb = np.stack([_GREY, _GREY // 2, _GREY], -1)
    key = struct.pack(">HHH", 100, 50, 100)
    before = _png(rgb, 2, [_chunk(b"tRNS", key), _plte()])
    after = _png(rgb, 2, [_plte(), _chunk(b"tRNS", key)])
    assert png_key(before) is None and png_key(after) == (100, 50, 100)
    np.testing.assert_array_equal(decode_bytes(before).numpy(), rgb.transpose(2, 0, 1))
    seen = np.where(_GREY == 100, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(decode_bytes(after).numpy(), np.concatenate([rgb.transpose(2, 0, 1), seen[None]]))
    grey = _png(_GREY, 0, [_chunk(b"tRNS", struct.pack(">H", 200)), _plte()])
    np.testing.assert_array_equal(decode_bytes(grey).numpy(), np.stack([_GREY, np.where(_GREY == 200, 0, 255)]))


def test_an_8_bit_key_is_compared_by_its_low_byte(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpng compares an 8-bit image's samples with the key's low byte (``trans_color & 0xff``,
    with the warning "tRNS chunk has out-of-range samples for bit_depth"): a key of 0x0164 = 356
    makes the samples 100 transparent (before: no sample matched, every pixel opaque)."""
    data = _png(_GREY, 0, [_chunk(b"tRNS", struct.pack(">H", 0x0164))])
    assert png_key(data) == (100,)
    want = np.stack([_GREY, np.where(_GREY == 100, 0, 255)]).astype(np.uint8)
    np.testing.assert_array_equal(decode_bytes(data).numpy(), want)
    np.testing.assert_array_equal(_pillow_path(monkeypatch, data).numpy(), want)  # Pillow kept 356


@pytest.mark.parametrize(
    "where",
    [
        "after the image data",  # libpng reads no tRNS there (header chunks only)
        "of length 4",  # "tRNS: invalid" (Pillow took its first two bytes)
    ],
)
def test_pillow_path_ignores_the_trns_libpng_ignores(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Pillow's path (the fallback when torchvision fails) gave such a grey PNG an alpha channel
    (Pillow's ``info["transparency"]``), torchvision's path none: now both one channel."""
    if where == "after the image data":
        data = _png(_GREY, 0, [], after=[_chunk(b"tRNS", struct.pack(">H", 100))])
    else:
        data = _png(_GREY, 0, [_chunk(b"tRNS", struct.pack(">HH", 100, 0))])
    assert png_key(data) is None
    np.testing.assert_array_equal(decode_bytes(data).numpy(), _GREY[None])
    np.testing.assert_array_equal(_pillow_path(monkeypatch, data).numpy(), _GREY[None])


def _low_bit_png(depth: int, rows: np.ndarray, key: int) -> bytes:
    """A grey PNG of ``depth`` bits (rows of levels 0 .. 2**depth - 1) with a tRNS ``key``."""
    per = 8 // depth
    packed = []
    for row in rows:
        out = bytearray((len(row) + per - 1) // per)
        for k, v in enumerate(row):
            out[k // per] |= int(v) << (8 - depth * (k % per + 1))
        packed.append(b"\0" + bytes(out))
    h, w = rows.shape
    head = _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 0, 0, 0, 0))
    body = head + _chunk(b"tRNS", struct.pack(">H", key)) + _chunk(b"IDAT", zlib.compress(b"".join(packed)))
    return b"\x89PNG\r\n\x1a\n" + body + _chunk(b"IEND", b"")


@pytest.mark.parametrize("depth", [2, 4])
def test_in_memory_pil_image_of_a_low_bit_png_gets_the_scaled_key(depth: int) -> None:
    """A PIL image opened (not yet loaded) from a 2- / 4-bit grey PNG: Pillow scales the pixels to
    8 bits but keeps the key unscaled (1), so no pixel matched it and the image was opaque; its
    ``tile`` (``L;2`` / ``L;4``) says how the key is scaled: the pixels equal to 1 are transparent,
    as torchvision's path gives them."""
    import io

    from PIL import Image

    from dataeval_gpu.batching import as_image

    top = (1 << depth) - 1
    rows = np.array([[0, 1, top, 1], [top, 0, 1, 1]])
    data = _low_bit_png(depth, rows, key=1)
    want = np.stack([rows * (255 // top), np.where(rows == 1, 0, 255)]).astype(np.uint8)
    np.testing.assert_array_equal(decode_bytes(data).numpy(), want)
    with Image.open(io.BytesIO(data)) as im:
        np.testing.assert_array_equal(as_image(im, 0).numpy(), want)
    # an 8-bit key above 255, in memory: its low byte, as libpng compares it
    with Image.open(io.BytesIO(_png(_GREY, 0, [_chunk(b"tRNS", struct.pack(">H", 0x0164))]))) as im:
        np.testing.assert_array_equal(as_image(im, 0).numpy(), np.stack([_GREY, np.where(_GREY == 100, 0, 255)]))
