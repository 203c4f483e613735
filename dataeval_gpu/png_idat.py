"""A PNG's image data checked before torchvision's decoder reads it.

torchvision's PNG decoder (libpng underneath) does not survive every error libpng raises while it
reads the image rows: a PNG whose ``IDAT`` chunks have a CRC error, or whose compressed data libpng
cannot inflate, ended the process with a segmentation fault ("libpng error: IDAT: CRC error",
"IDAT: incorrect data check", "IDAT: invalid distance too far back") - in a scan, a worker process
that died, its files failed as if out of memory; with ``--workers 0`` or in a DataLoader loop, the
whole process.  Old GIMP versions wrote the last kind: a zlib header that declares a window
(``CINFO``) smaller than the distances the data uses - 1 KB where 32 KB were needed (enigma-data's
``ic-easymode.png``); Pillow inflates those with the full window and reads the image.

:func:`idat_fault` finds these errors first, with the checks libpng makes: each ``IDAT`` chunk's
CRC, then the zlib stream inflated with the window its header declares (in bounded steps, the
output thrown away); :func:`dataeval_gpu.io.decode_bytes` decodes such a file with Pillow instead.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["idat_fault"]


def _idat(data: bytes) -> tuple[list[bytes], str]:
    """The bodies of the consecutive ``IDAT`` chunks, and the first one's CRC error ("" if none)."""
    pos, bodies = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind != b"IDAT":
            if bodies or kind == b"IEND":
                break
        else:
            body, crc = data[pos + 8 : pos + 8 + length], data[pos + 8 + length : pos + 12 + length]
            if len(crc) < 4:  # a truncated file: libpng reports it (torchvision raises)
                return bodies, ""
            if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
                return bodies, "IDAT: CRC error"
            bodies.append(body)
        pos += 12 + length
    return bodies, ""


def _row_step(data: bytes) -> int:
    """The bytes of one filtered row as libpng inflates it (the first pass's row of an interlaced
    image: its smallest; a stricter check); 0 when the header is not an ``IHDR``."""
    if len(data) < 29 or data[12:16] != b"IHDR":
        return 0
    width, _height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    if interlace:
        width = (width + 7) // 8
    return (width * channels * depth + 7) // 8 + 1


def idat_fault(data: bytes) -> str:
    """libpng's error on the image data of the PNG ``data`` that would crash torchvision's decoder
    (``"IDAT: CRC error"``, ``"IDAT: invalid distance too far back"``), or ``""``.

    Every ``IDAT`` chunk's CRC is checked (cheap).  The zlib stream is inflated only where its
    header declares a window smaller than the image data: there libpng, which inflates a row at a
    time, keeps only that window, and a distance beyond it fails; the stream is inflated here a row
    at a time with the declared window, as libpng does.  (A stream damaged otherwise, its CRCs
    right, is left to the decoder: inflating every PNG twice would cost a third of the decoding.)

    Examples
    --------
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(buf, "PNG")
    >>> good = buf.getvalue()
    >>> idat_fault(good)
    ''
    >>> at = good.index(b"IDAT")
    >>> idat_fault(good[: at + 6] + bytes([good[at + 6] ^ 0xFF]) + good[at + 7 :])  # a flipped byte
    'IDAT: CRC error'
    """
    bodies, fault = _idat(data)
    if fault or not bodies:
        return fault
    stream = b"".join(bodies)
    step = _row_step(data)
    if len(stream) < 2 or stream[0] & 0x0F != 8 or (stream[0] >> 4) >= 7 or step == 0:
        return ""  # a full 32 KB window (or not deflate at all: libpng's own error, raised)
    window = 1 << ((stream[0] >> 4) + 8)
    height = struct.unpack(">I", data[20:24])[0]
    if height * step <= window:  # every distance falls inside the data inflated so far
        return ""
    inflater = zlib.decompressobj((stream[0] >> 4) + 8)
    try:
        out = inflater.decompress(stream, step)
        while out and inflater.unconsumed_tail:
            out = inflater.decompress(inflater.unconsumed_tail, step)
    except zlib.error as exc:  # "Error -3 while decompressing data: invalid distance too far back"
        return "IDAT: " + str(exc).split(": ", 1)[-1]
    return ""
