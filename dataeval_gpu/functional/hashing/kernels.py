"""The near-hash kernels on stacks of resized grey images, and the table of near hashes.

A near hash is a :class:`HashSpec`: the size the grey image is resized to, whether the
resize is Pillow's two 8-bit passes (``exact=False``) or the unrounded, transform-commuting
resize of the D4 hashes (``exact=True``), and the kernel that turns a ``(B, h, w)`` float64
stack into ``(B,)`` packed int64 hashes.  The kernels are plain tensor ops (any device);
which resize runs is the device's business (see :mod:`.dispatch`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ...errors import InvalidArgumentError

__all__ = [
    "HASH_SIZE",
    "MIN_SIDE",
    "NEAR_HASHES",
    "HashSpec",
    "near_kind",
    "pack_bits",
    "perceptual_hash_size",
]

HASH_SIZE = 8
"""Side of the bit grid: every perceptual hash has ``HASH_SIZE ** 2 = 64`` bits."""
MAX_FACTOR = 4
MIN_SIDE = HASH_SIZE + 1
"""Smallest ``min(H, W)`` that has a perceptual hash (DataEval 0.65 raises below it)."""

_SIGN = -(1 << 63)
_SNAP = 1e-11
#: CPU tensors take numpy's packbits / partition; tests switch this off to run the torch code (what
#: a GPU runs) on the CPU
_NUMPY_ON_CPU = True


@functools.lru_cache(maxsize=64)
def _dct_rows(n: int, device: str) -> torch.Tensor:
    """First ``HASH_SIZE`` rows of scipy's unnormalised DCT-II matrix, ``(8, n)`` float64:
    ``D[k, i] = 2 cos(pi k (2 i + 1) / (2 n))``."""
    k = np.arange(HASH_SIZE, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    return torch.from_numpy(2.0 * np.cos(np.pi * k * (2.0 * i + 1.0) / (2.0 * n))).to(device)


def pack_bits(bits: torch.Tensor) -> torch.Tensor:
    """``(..., 64)`` bool -> ``(...)`` int64, the first bit the most significant (bit 63)."""
    if _NUMPY_ON_CPU and bits.device.type == "cpu":  # numpy packs 8 bits a byte, big-endian: the same int64s, ~5x faster
        packed = np.packbits(bits.contiguous().numpy(), axis=-1).view(">i8")[..., 0]
        return torch.from_numpy(packed.astype(np.int64))
    shifts = torch.arange(63, -1, -1, dtype=torch.int64, device=bits.device)
    weights = torch.bitwise_left_shift(torch.ones_like(shifts), shifts)  # bit 63 wraps to -2**63
    return (bits.to(torch.int64) * weights).sum(dim=-1)


def _median_bits(coeffs: torch.Tensor) -> torch.Tensor:
    """``(..., 8, 8)`` float64 -> ``(...)`` int64: bit = coefficient > numpy-style median."""
    return pack_bits(_above_median(coeffs))


def _above_median(coeffs: torch.Tensor) -> torch.Tensor:
    """``(..., 8, 8)`` float64 -> ``(..., 64)`` bool: coefficient > numpy-style median (the mean
    of the 32nd and 33rd smallest)."""
    flat = coeffs.reshape(*coeffs.shape[:-2], HASH_SIZE * HASH_SIZE)
    half = HASH_SIZE * HASH_SIZE // 2
    if _NUMPY_ON_CPU and flat.device.type == "cpu":  # numpy's partition: the same two order statistics, ~10x faster
        part = torch.from_numpy(np.partition(flat.contiguous().numpy(), (half - 1, half), axis=-1))
    else:
        part = flat.sort(dim=-1).values
    med = (part[..., half - 1] + part[..., half]) / 2
    return flat > med[..., None]


def perceptual_hash_size(h: int, w: int) -> int:
    """Side ``R`` of the square the pHash resizes to: ``8 * min((min(H, W) - 1) // 8, 4)``."""
    return HASH_SIZE * min((min(h, w) - 1) // HASH_SIZE, MAX_FACTOR)


def _dct8(small: torch.Tensor) -> torch.Tensor:
    """``(B, R, R)`` -> top-left ``(B, 8, 8)`` of scipy's ``dct(dct(x.T).T)``: ``D x D^T``.

    Coefficients smaller than ``1e-11 * (|DC| + 255)`` are set to exactly 0.  They are
    float noise around a true zero (the noise of a float64 matmul is ~1e-14 of the DC,
    a real coefficient of an 8-bit image is many orders above the threshold), and scipy's
    FFT returns exact zeros there for flat, striped and one-directional images: without
    the snap such images hash by rounding noise around a median of tied zeros (measured on
    600 structured images: 2/600 equal to scipy without, 547/600 with).
    """
    d = _dct_rows(small.shape[-1], str(small.device))
    c = torch.matmul(torch.matmul(d, small), d.T)
    tol = _SNAP * (c[..., :1, :1].abs() + 255.0)
    return torch.where(c.abs() <= tol, torch.zeros_like(c), c)


def _unsigned_min(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Minimum of bit-cast unsigned 64-bit values along ``dim``."""
    sign = torch.tensor(_SIGN, dtype=torch.int64, device=values.device)
    return (values ^ sign).amin(dim=dim) ^ sign


def phash_kernel(small: torch.Tensor) -> torch.Tensor:
    """pHash bits of ``(B, R, R)`` resized grey images."""
    return _median_bits(_dct8(small))


def dhash_kernel(small: torch.Tensor) -> torch.Tensor:
    """dHash bits of ``(B, 9, 9)`` resized grey images: first 8 rows, pixel > right neighbour."""
    im = small[..., :HASH_SIZE, :]  # 9x9 -> first 8 rows, as DataEval 1.x
    bits = im[..., :, :-1] > im[..., :, 1:]
    return pack_bits(bits.reshape(*bits.shape[:-2], HASH_SIZE * HASH_SIZE))


def phash_turns_kernel(small: torch.Tensor) -> torch.Tensor:
    """``(B, 8)`` pHashes of the 8 dihedral turns of ``(B, R, R)`` resized grey images, taken in
    the DCT domain (a mirror flips the sign of the odd rows / columns of the coefficients, a
    transpose transposes them); :func:`phash_d4_kernel` keeps their smallest."""
    return dct_turns_bits(_dct8(small))


def dct_turns_bits(c: torch.Tensor) -> torch.Tensor:
    """``(B, 8)`` pHashes of the 8 dihedral turns of an image from its ``(B, 8, 8)`` lowest DCT-II
    coefficients (:func:`phash_turns_kernel` after its DCT; the window views of
    :mod:`~dataeval_gpu.functional.hashing.windows` take their coefficients by one linear map).

    Turn ``4 t + 2 r + s``: the coefficients transposed (``t``), their odd rows (``r``) and odd
    columns (``s``) negated.  A transposed turn holds the same 64 values as the plain turn with
    ``r`` and ``s`` swapped, so the same median: its bits are that turn's, transposed (the medians
    of 4 turns are taken, not 8; the same bits)."""
    alt = 1.0 - 2.0 * (torch.arange(HASH_SIZE, device=c.device) % 2).to(c.dtype)  # (-1)**k
    rows, cols = alt[:, None], alt[None, :]
    plain = torch.stack([c, c * cols, c * rows, c * rows * cols], dim=1)  # turns 0-3: 2 r + s
    bits = _above_median(plain).reshape(*plain.shape[:2], HASH_SIZE, HASH_SIZE)
    turned = bits[:, [0, 2, 1, 3]].transpose(-1, -2)  # turn 4 + 2 r + s: turn 2 s + r transposed
    both = torch.cat([bits, turned], dim=1).reshape(len(c), 8, HASH_SIZE * HASH_SIZE)
    return pack_bits(both)


def dct_bits(c: torch.Tensor) -> torch.Tensor:
    """``(...)`` int64: the pHash of ``(..., 8, 8)`` lowest DCT-II coefficients as they are (no
    turn): bit = coefficient > their median (the off-centre windows of
    :mod:`~dataeval_gpu.functional.hashing.offcentre`)."""
    return _median_bits(c)


def dct_d4_hash(c: torch.Tensor) -> torch.Tensor:
    """``(B,)`` the D4 pHash (the smallest of :func:`dct_turns_bits`) from ``(B, 8, 8)`` coefficients."""
    return _unsigned_min(dct_turns_bits(c), dim=1)


def phash_d4_kernel(small: torch.Tensor) -> torch.Tensor:
    """The smallest of the 8 dihedral pHashes (:func:`phash_turns_kernel`)."""
    return _unsigned_min(phash_turns_kernel(small), dim=1)


def dhash_d4_kernel(small: torch.Tensor) -> torch.Tensor:
    """The smallest of the dHashes of the 8 dihedral transforms of the 9x9 image."""
    variants = []
    for block in (small, small.transpose(-1, -2)):
        for dims in ((), (-2,), (-1,), (-2, -1)):
            variants.append(block.flip(dims) if dims else block)
    return _unsigned_min(dhash_kernel(torch.stack(variants, dim=1)), dim=1)


def phash_side(h: int, w: int) -> tuple[int, int]:
    r = perceptual_hash_size(h, w)
    return r, r


def dhash_side(h: int, w: int) -> tuple[int, int]:
    return HASH_SIZE + 1, HASH_SIZE + 1


@dataclass(frozen=True)
class HashSpec:
    """One near hash.

    Attributes:
        name: ``"pchash"``, ``"pchash_d4"``, ``"dhash"`` or ``"dhash_d4"``.
        side: the resized ``(out_h, out_w)`` for an ``(H, W)`` image.
        kernel: ``(B, out_h, out_w)`` float64 stack -> ``(B,)`` int64 hashes.
        exact: False: Pillow's 8-bit two-pass resize; True: the unrounded resize of the
            D4 hashes (``resample.symmetric_resize``).
        grey: the grey image it reads (``grey.hash_grey8``): ``"mean"``, DataEval 0.65's channel
            mean (the plain hashes: 0.65's and DataEval 1.x's values), or ``"luma"``, BT.601 luma
            (the D4 hashes: a grey copy made by Pillow / OpenCV / torchvision hashes as its source).
    """

    name: str
    side: Callable[[int, int], tuple[int, int]]
    kernel: Callable[[torch.Tensor], torch.Tensor]
    exact: bool = False
    grey: str = "mean"


NEAR_HASHES: dict[str, HashSpec] = {
    "pchash": HashSpec("pchash", phash_side, phash_kernel),
    "pchash_d4": HashSpec("pchash_d4", phash_side, phash_d4_kernel, exact=True, grey="luma"),
    "dhash": HashSpec("dhash", dhash_side, dhash_kernel),
    "dhash_d4": HashSpec("dhash_d4", dhash_side, dhash_d4_kernel, exact=True, grey="luma"),
}
"""Every near hash by name (the table to extend with a new hash)."""

_ALIASES = {"pchash": "pchash", "phash": "pchash", "dhash": "dhash"}


def near_kind(hash: str, d4: bool = False) -> str:
    """The table name of a near hash: ``near_kind("dhash", d4=True) == "dhash_d4"``.

    Raises:
        InvalidArgumentError: for a hash other than ``"pchash"`` (alias ``"phash"``) or
            ``"dhash"``.
    """
    if isinstance(hash, str) and hash.endswith("_d4") and hash in NEAR_HASHES:
        return hash  # already a table name
    base = _ALIASES.get(hash) if isinstance(hash, str) else None
    if base is None:
        raise InvalidArgumentError(f"hash must be 'pchash' or 'dhash', got {hash!r}")
    return base + ("_d4" if d4 else "")


def clear_cache() -> None:
    """Forget the cached DCT rows."""
    _dct_rows.cache_clear()
