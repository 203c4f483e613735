"""A PNG's single transparent colour (its ``tRNS`` chunk on a grey or RGB image) as an alpha channel.

A grey (colour type 0) or RGB (colour type 2) PNG has no alpha channel but may name one sample
value as fully transparent (``tRNS``): a 1-bit ``invisible.png`` whose every pixel is that
value shows nothing.  torchvision's decoder ignores the chunk for these images (its
``UNCHANGED`` mode gives the colour channels, its alpha modes an opaque alpha), so
:func:`png_key` reads the value from the header chunks and :func:`key_alpha` adds the alpha
libpng's ``png_set_tRNS_to_alpha`` would give: 0 where every channel equals the key, the
dtype's maximum (255, or 65535 for 16-bit) elsewhere.  Grey becomes grey + alpha (2
channels), RGB becomes RGBA; 16 bits stay 16 bits.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["key_alpha", "palette_alpha", "pil_key", "png_key"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """``(kind, start of the body, length)`` of each chunk up to the first ``IDAT`` / ``IEND``
    (header chunks only: libpng reads a ``tRNS`` after the image data as out of place)."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind in (b"IDAT", b"IEND"):
            return
        yield kind, pos + 8, length
        pos += 12 + length


def _whole(data: bytes, kind: bytes, start: int, length: int) -> bytes | None:
    """A chunk's body when it is whole and its CRC right, else None (libpng discards such an
    ancillary chunk)."""
    body, crc = data[start : start + length], data[start + length : start + length + 4]
    if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
        return None
    return body


def _kept_trns(data: bytes, colour: int) -> bytes | None:
    """The body of the ``tRNS`` chunk libpng keeps, or None: the first one whose CRC is right, of
    a length libpng takes (2 bytes grey, 6 RGB, 1 to the palette's entries for a palette), after
    the ``PLTE`` of a palette image; a later ``tRNS`` is a duplicate, and a ``PLTE`` after the kept
    one (an RGB image's suggested palette) discards it ("PLTE: tRNS must be after")."""
    found, palette = None, -1
    for kind, start, length in _chunks(data):
        if kind == b"PLTE" and colour != 0:  # (a grey image's PLTE is ignored)
            if found is not None:
                return None  # libpng drops a tRNS that came before the palette
            palette = length // 3
        elif kind == b"tRNS" and found is None and (body := _whole(data, kind, start, length)) is not None:
            if colour == 3:
                ok = palette >= 0 and 0 < len(body) <= palette  # "out of place" / "invalid" otherwise
            else:
                ok = len(body) == (2 if colour == 0 else 6)  # "tRNS: invalid" otherwise
            if ok:  # else ignored ("invalid", "out of place"), as a CRC error: a later one may be kept
                found = body
    return found


def png_key(data: bytes) -> tuple[int, ...] | None:
    """The transparent colour of a grey / RGB PNG (one value, or R, G, B) as its decoder gives the
    samples (a 1-, 2- or 4-bit grey key scaled to 8 bits as libpng expands the pixels: ×255, ×85,
    ×17; an 8-bit key masked to 8 bits, as libpng compares it), or None: not a PNG, a palette /
    alpha PNG, or no ``tRNS`` chunk before the first ``IDAT`` that libpng keeps (one of 2 / 6
    bytes, its CRC right, no ``PLTE`` after it: it ignores others with a warning, decoding the
    image opaque)."""
    if len(data) < 33 or data[:8] != _SIGNATURE or data[12:16] != b"IHDR":
        return None
    depth, colour = data[24], data[25]
    if colour not in (0, 2):
        return None
    body = _kept_trns(data, colour)
    if body is None:
        return None
    values = struct.unpack(f">{len(body) // 2}H", body)
    if depth < 8:  # libpng masks the key to the bit depth, then scales it with the pixels
        top = (1 << depth) - 1
        values = tuple((v & top) * (255 // top) for v in values)
    elif depth == 8:  # libpng compares an 8-bit image's samples with the key's low byte
        values = tuple(v & 0xFF for v in values)
    return values


def palette_alpha(data: bytes) -> bool:
    """Whether a palette PNG (colour type 3) has a ``tRNS`` chunk libpng keeps (after ``PLTE``,
    before ``IDAT``, its CRC right, 1 to the palette's entries long): libpng then expands it to
    RGBA, else to RGB.  False for any other PNG."""
    if len(data) < 33 or data[:8] != _SIGNATURE or data[12:16] != b"IHDR" or data[25] != 3:
        return False
    return _kept_trns(data, 3) is not None


def key_alpha(img: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
    """``(C, H, W)`` grey or RGB (uint8 / uint16) with an alpha channel appended: 0 where every
    channel equals ``key``, the dtype's maximum elsewhere (``(C + 1, H, W)``)."""
    if len(key) != img.shape[0]:
        return img  # a key that does not match the channels decoded: nothing to do safely
    full = 65535 if img.dtype == torch.uint16 else 255
    if any(not 0 <= int(k) <= full for k in key):  # a key outside the samples' range: no pixel has it
        return torch.cat([img, torch.full((1, *img.shape[1:]), full, dtype=img.dtype, device=img.device)])
    # channel by channel in the image's dtype (a whole-image int32 copy took 4 bytes per sample and
    # the alpha 8 bytes per pixel: ~3.5 GB for a 169-Mpx RGB drawing, past a scan worker's memory)
    seen = img[0] != int(key[0])
    for c in range(1, img.shape[0]):
        seen |= img[c] != int(key[c])
    if img.dtype == torch.uint8:
        alpha = seen.to(torch.uint8).mul_(255)
    else:  # uint16 multiplies nowhere in torch: through int32, one plane
        alpha = seen.to(torch.int32).mul_(full).to(img.dtype)
    return torch.cat([img, alpha[None]], dim=0)


def pil_key(im: Any, key: Any) -> Any:
    """A PNG's key (Pillow's ``info["transparency"]``) as libpng compares it with the samples
    (:func:`png_key`'s rule) where the image's ``tile`` still tells the stored samples (a PIL image not
    yet loaded): an 8-bit one's low byte; a 2- / 4-bit grey one's scaled with the pixels (Pillow keeps
    it unscaled).  Else Pillow's key as it is (a 16-bit RGB PNG, which Pillow reads as 8 bits, too)."""
    tile = getattr(im, "tile", None) or []
    raw = str(getattr(tile[0], "args", "")) if len(tile) == 1 else ""
    if isinstance(key, int) and raw in ("L", "L;2", "L;4"):
        top = {"L": 255, "L;2": 3, "L;4": 15}[raw]
        return (key & top) * (255 // top)
    if isinstance(key, tuple) and raw == "RGB" and all(isinstance(v, int) for v in key):
        return tuple(v & 0xFF for v in key)
    return key
