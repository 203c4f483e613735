"""GIMP's pattern files (``.pat``, magic ``GPAT``), which Pillow does not read: a big-endian header
(its size, version 1, width, height, bytes per pixel: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), the
magic, the pattern's name, then the pixels row by row (GIMP's ``devel-docs/pat.txt``).  GIMP's
brushes (``.gbr``, magic ``GIMP``) are read by Pillow.  Standard library at import (the folder
discovery asks :func:`gimp_magic` without numpy); numpy when a pattern is read."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

__all__ = ["GIMP_MAGICS", "gimp_magic", "read_gimp_pattern"]

#: the magic at bytes 20..24 of a GIMP brush (version 2 and later) and of a GIMP pattern
GIMP_MAGICS = (b"GIMP", b"GPAT")


def gimp_magic(head: bytes) -> bool:
    """True when ``head`` (a file's first 24 bytes or more) opens a GIMP brush or pattern: the
    magic at byte 20 after a header size of at least 24 bytes and a version of 1 to 3."""
    if len(head) < 24 or head[20:24] not in GIMP_MAGICS:
        return False
    size, version = struct.unpack(">II", head[:8])
    return size >= 24 and 1 <= version <= 3


def read_gimp_pattern(data: bytes, guard: Callable[[int], None] | None = None) -> Any:
    """The pixels of a GIMP pattern as ``(H, W)`` (grey) or ``(H, W, C)`` uint8 (grey + alpha,
    RGB, RGBA), as Pillow gives those modes; ``ValueError`` naming what is wrong with the file.
    ``guard(pixels)``: called with the header's pixel count before anything is read (the
    decompression-bomb limit)."""
    if len(data) < 24 or data[20:24] != b"GPAT":
        raise ValueError("not a GIMP pattern (no GPAT magic at byte 20)")
    size, version, width, height, depth = struct.unpack(">IIIII", data[:20])
    if version != 1 or size < 24 or depth not in (1, 2, 3, 4) or not width or not height:
        raise ValueError(
            f"GIMP pattern with an unsupported header (version {version}, header size {size}, "
            f"{width} x {height}, {depth} bytes per pixel)"
        )
    import numpy as np

    if guard is not None:
        guard(width * height)
    need = width * height * depth
    if len(data) < size + need:
        raise ValueError(f"truncated GIMP pattern: {len(data) - size} of its {need} pixel bytes")
    arr = np.frombuffer(data, dtype=np.uint8, count=need, offset=size).reshape(height, width, depth)
    return arr[:, :, 0].copy() if depth == 1 else arr.copy()
