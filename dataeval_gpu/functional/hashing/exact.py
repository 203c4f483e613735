"""Exact-copy hashing: xxh3_64 of an image's raw bytes, and the hex formats of packed hashes.

Every hash of this package is one 64-bit value per image stored as ``int64`` (the unsigned
value bit-cast: bit 63, the first bit of a perceptual hash, is the sign bit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...errors import InvalidArgumentError

__all__ = ["hash_hex", "hex_to_hash", "raw_bytes", "to_signed", "xxhash64", "xxhash_of"]

U64 = (1 << 64) - 1


def raw_bytes(image: Any) -> memoryview:
    """C-order bytes of one image (numpy array or tensor), original dtype, no copy if contiguous."""
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous()
        if t.dtype == torch.bool:
            t = t.view(torch.uint8)
        elif t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        arr = t.numpy()
    else:
        arr = np.asarray(image)
        if arr.dtype == object:
            raise InvalidArgumentError(f"xxhash64: cannot hash an object array of shape {arr.shape}")
    arr = np.ascontiguousarray(arr).reshape(-1)
    return memoryview(arr.view(np.uint8))


def to_signed(v: int) -> int:
    """An unsigned 64-bit integer bit-cast to the int64 range."""
    return v - (1 << 64) if v >= (1 << 63) else v


def xxhash_of(image: Any) -> int:
    """xxh3_64 of one image's raw bytes as a signed int64 value."""
    import xxhash

    return to_signed(xxhash.xxh3_64_intdigest(raw_bytes(image)))


def xxhash64(images: Sequence[Any], device: str | torch.device | None = None) -> torch.Tensor:
    """xxh3_64 of the raw bytes of each image.

    Args:
        images: ``N`` images, each a tensor (any device) or numpy array; its C-contiguous
            bytes in the original dtype are hashed (``bool`` as one byte per element,
            ``bfloat16`` through an ``int16`` view, numpy arrays keep their byte order),
            exactly ``xxhash.xxh3_64(array.ravel().tobytes())`` as DataEval does.
        device: where the result goes (default: the first tensor's device, else the CPU).

    Returns:
        ``(N,)`` int64: the unsigned 64-bit digests bit-cast to int64 (format them with
        :func:`hash_hex`).  Hashing runs on the host; GPU tensors are copied to the CPU.
    """
    values = [xxhash_of(img) for img in images]
    if device is None:
        device = next((i.device for i in images if isinstance(i, torch.Tensor)), torch.device("cpu"))
    return torch.tensor(values, dtype=torch.int64, device=device)


def hash_hex(values: torch.Tensor, strip: bool = False, valid: torch.Tensor | None = None) -> list[str]:
    """Hex strings of packed 64-bit hashes.

    Args:
        values: ``(N,)`` int64 (bit-cast unsigned 64-bit hashes).
        strip: ``False`` gives 16 zero-padded characters (``xxhash.xxh3_64_hexdigest``);
            ``True`` gives DataEval 0.65's ``pchash`` format: leading zeros stripped,
            ``"0"`` for the all-zero hash (``format(value, "x")``).
        valid: optional ``(N,)`` bool; invalid entries become ``""``.

    Returns:
        ``N`` strings.
    """
    vals = values.detach().reshape(-1).cpu().tolist()
    ok = [True] * len(vals) if valid is None else valid.detach().reshape(-1).cpu().tolist()
    fmt = "x" if strip else "016x"
    return [format(v & U64, fmt) if k else "" for v, k in zip(vals, ok, strict=True)]


def hex_to_hash(
    hexes: Sequence[str | None], device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse hex hashes (any of the formats of :func:`hash_hex`) back into packed int64.

    Returns:
        ``(values, valid)``: ``(N,)`` int64 and ``(N,)`` bool; empty strings or ``None``
        (an image without a hash) are invalid with value 0.
    """
    vals, ok = [], []
    for i, h in enumerate(hexes):
        if h is None or h == "":
            vals.append(0)
            ok.append(False)
            continue
        try:
            v = int(h, 16)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"hash {i}: expected a hex string, got {h!r}") from exc
        if v < 0 or v > U64:
            raise InvalidArgumentError(f"hash {i}: {h!r} does not fit in 64 bits")
        vals.append(to_signed(v))
        ok.append(True)
    dev = torch.device("cpu") if device is None else torch.device(device)
    return torch.tensor(vals, dtype=torch.int64, device=dev), torch.tensor(ok, dtype=torch.bool, device=dev)
