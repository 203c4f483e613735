"""Batched image hashes and Hamming-radius search on packed 64-bit hashes.

Every hash is one 64-bit value per image, stored as ``int64`` (the unsigned value
bit-cast: bit 63, the first bit of a perceptual hash, is the sign bit).  Functions take a
list of ``(C, H, W)`` tensors of any size, dtype and device; results stay on the images'
device.

* :func:`xxhash64` -- xxh3_64 of the raw bytes (exact duplicates; DataEval's ``xxhash``).
* :func:`perceptual_hash` -- DataEval 0.65's ``pchash`` reproduced bit for bit: channel
  mean, 0.65's 8-bit rescale, Pillow's 8-bit LANCZOS resize, 2-D DCT-II, top-left 8x8
  against its median.
* :func:`difference_hash` -- DataEval 1.x's ``dhash`` on the same grey image.
* :func:`perceptual_hash_d4`, :func:`difference_hash_d4` -- rotation/flip invariant
  versions (the smallest of the 8 dihedral variants).
* :func:`near_hash` -- any near hash by name, through the per-device kernel table
  (:func:`register_kernel`): compiled kernels on the CPU, exact matmuls elsewhere.
* :func:`popcount64`, :func:`hamming_distance`, :func:`near_pairs`, :func:`radius_groups`,
  :func:`equal_groups`, :func:`cross_pairs` -- XOR + popcount, the all-pairs-within-radius
  search, grouping, and cross-set (leakage) matches.

Modules: ``exact`` (bytes hashing, hex formats), ``grey`` (0.65's grey image),
``resample`` (Pillow-exact LANCZOS as matmuls), ``kernels`` (hash kernels and the table of
near hashes), ``cpu`` (compiled kernels, streaming :class:`CpuHasher`), ``dispatch``
(per-device kernels), ``search`` (Hamming-radius search), ``groups`` (grouping), ``thumbs``
(the per-image grey thumbnails that verify hash pairs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from . import compiled as _rcpu  # kept as ``hashing._rcpu`` for its users
from .cpu import CpuHasher, CpuPlan, compiled_ready, cpu_near_plan
from .dispatch import near_hash, near_hash_kernel, near_hash_thumbs, register_kernel, registered_devices
from .exact import hash_hex, hex_to_hash, xxhash64
from .grey import grey_uint8
from .groups import cross_pairs, equal_groups, radius_groups
from .kernels import HASH_SIZE, MIN_SIDE, NEAR_HASHES, HashSpec, near_kind, pack_bits, perceptual_hash_size
from .resample import lanczos_resize, resample_matrix, symmetric_resize
from .search import hamming_distance, near_pairs, popcount64, search_plan
from .thumbs import THUMB_SIDE, detail_check, detail_correlation

__all__ = [
    "HASH_SIZE",
    "MIN_SIDE",
    "NEAR_HASHES",
    "THUMB_SIDE",
    "CpuHasher",
    "CpuPlan",
    "HashSpec",
    "clear_caches",
    "compiled_ready",
    "cpu_near_plan",
    "cross_pairs",
    "detail_check",
    "detail_correlation",
    "difference_hash",
    "difference_hash_d4",
    "equal_groups",
    "grey_uint8",
    "hamming_distance",
    "hash_hex",
    "hex_to_hash",
    "lanczos_resize",
    "near_hash",
    "near_hash_kernel",
    "near_hash_thumbs",
    "near_kind",
    "near_pairs",
    "pack_bits",
    "perceptual_hash",
    "perceptual_hash_d4",
    "perceptual_hash_size",
    "popcount64",
    "radius_groups",
    "register_kernel",
    "registered_devices",
    "resample_matrix",
    "search_plan",
    "symmetric_resize",
    "xxhash64",
]


def clear_caches() -> None:
    """Forget the per-size caches (resampling taps and matrices, DCT rows): the next call
    starts cold (benchmarks)."""
    from . import kernels, resample

    _rcpu.lanczos_coeffs.cache_clear()
    resample.clear_cache()
    kernels.clear_cache()


def perceptual_hash(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """DataEval 0.65's ``pchash`` of each image as a packed 64-bit value.

    Steps (each reproducing 0.65 + Pillow + scipy): grey = channel mean with numpy's dtype
    rules; 0.65's 8-bit rescale and truncating uint8 cast; Pillow's 8-bit LANCZOS resize to
    ``R x R`` (``R = 8 * min((min(H, W) - 1) // 8, 4)``, see :func:`lanczos_resize`);
    the unnormalised 2-D DCT-II (scipy ``dct(dct(x.T).T)``) as matrix products keeping the
    top-left 8x8; bit = coefficient > median of the 64 (numpy's median); bits row-major,
    first bit most significant.  Coefficients that are zero up to float noise are set to
    exactly zero, as scipy's FFT returns them for flat images.  The only difference left
    from 0.65 is the DCT's float rounding (scipy uses an FFT) when two coefficients tie at
    the median (measured: 1999 of 2000 real photo crops identical, the other at Hamming
    distance 1).  Pillow 13 changed which resize pass runs first; the installed Pillow's
    order is followed.

    Args:
        images: ``N`` tensors ``(C, H, W)`` of any dtype, on one device.

    Returns:
        ``(hashes, valid)``: ``(N,)`` int64 and ``(N,)`` bool on the images' device;
        ``valid`` is False (hash 0) where ``min(H, W) < 9`` (0.65 raises there).
    """
    return near_hash(images, "pchash")


def perceptual_hash_d4(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation- and flip-invariant pHash: the smallest of the 8 dihedral variants.

    The grey image (as :func:`perceptual_hash`'s) is resized to ``R x R`` once with
    :func:`symmetric_resize` (Pillow's coefficients, no 8-bit rounding between the passes,
    so the resize commutes with the transforms); the 8 D4 transforms (4 rotations x
    mirror) of that square are taken in the DCT domain: a mirror changes the sign of the
    odd rows or columns of the coefficients, a transpose transposes them, so one DCT gives
    all 8.  Each variant is thresholded at its own median and the canonical hash is the
    smallest as an unsigned 64-bit number (DataEval 1.x's lexicographically smallest
    fixed-width hex).  DataEval 1.x transforms the full image and resizes each variant
    with Pillow's 8-bit passes, so its values can differ in the last bits.

    Returns:
        ``(hashes, valid)`` as :func:`perceptual_hash`.
    """
    return near_hash(images, "pchash_d4")


def difference_hash(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """dHash as DataEval 1.x: resize the grey image to 9x9 (Pillow LANCZOS, exact), keep the
    first 8 rows, bit = pixel > its right neighbour (8x8 bits, row-major, first bit MSB).

    The grey image is :func:`perceptual_hash`'s (0.65 channel mean and 8-bit rescale); for
    single-channel uint8 images this equals DataEval 1.x's ``dhash`` (1.x converts RGB with
    Rec. 601 luma weights instead of the mean).

    Returns:
        ``(hashes, valid)``: ``(N,)`` int64, ``(N,)`` bool (False where ``min(H, W) < 9``).
    """
    return near_hash(images, "dhash")


def difference_hash_d4(images: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation- and flip-invariant dHash: the grey image resized to 9x9 with
    :func:`symmetric_resize`, its 8 dihedral transforms each hashed as
    :func:`difference_hash` does (first 8 rows, pixel > right neighbour), the smallest as
    an unsigned 64-bit number kept.

    Returns:
        ``(hashes, valid)`` as :func:`difference_hash`.
    """
    return near_hash(images, "dhash_d4")
