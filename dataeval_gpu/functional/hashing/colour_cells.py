"""A coarse colour figure of each image - the mean colour of the cells of a ``4 x 4`` grid - and
how far two such figures are from one picture under one global colour change.

The D4 hashes and the thumbnails that verify their pairs read luma (BT.601) alone, so that a grey
copy hashes as its colour source.  Two flags of one layout whose stripes differ in colour only
(Guinea's red / yellow / green and Ireland's green / white / orange: their luma stripes line up)
then hash and verify as one picture, and the one colour rule they met, the mean colour cast, is a
whole-image mean.  :func:`colour_cells` keeps per image the ``4 x 4`` cell means of R, G and B
(48 bytes; alpha premultiplied, area averaged on a lattice of at most about 64 samples a side);
:func:`chroma_residual` compares two figures in CIELAB: the second in the D4 turn that fits best,
each side's cell chroma ``(a*, b*)`` explained by the other's through one global change ``z' = s z
+ t`` (``s >= 0``: a colour cast, more or less saturation, a contrast or exposure change), and the
RMS of what is left, the larger of the two directions.  One picture at another colour leaves
little (survey copies: at most 14); a flag with its stripes in other colours leaves its stripes'
difference (docs/duplicates.md, lumaprec14).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..pixels import scale_stored
from .colour_regions import srgb_to_lab

__all__ = ["CELL_GRID", "CELL_SAMPLES", "chroma_residual", "colour_cells"]

CELL_GRID = 4
"""Cells a side of the colour figure (:func:`colour_cells`: ``3 * CELL_GRID ** 2`` bytes an image)."""
CELL_SAMPLES = 64
"""About this many samples a side are averaged (every ``k``-th pixel, ``k = short side // 64``)."""


def colour_cells(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(N, 3 * CELL_GRID ** 2)`` uint8 on the CPU: each ``(C, H, W)`` image's mean R, G, B over
    the cells of a ``CELL_GRID x CELL_GRID`` grid (adaptive average pooling, channel-major, rows
    then columns), on the 0-255 scale.  1 channel (grey) and 2 (grey + alpha) are replicated to
    R = G = B; with alpha the colour is premultiplied and divided by the cell's mean alpha (a
    transparent cell is black).  Other dtypes are read on the quality metrics' scale
    (:func:`~dataeval_gpu.functional.pixels.scale_stored`: ``uint16`` over 65,535 levels, floats
    and other integers by 0.65's bit depth of the whole image - 0-1 or 0-255 floats alike) times 255.  Every
    ``k``-th row and column is read (``k = max(1, short side // CELL_SAMPLES)``).

    Example:
        >>> img = torch.zeros(3, 40, 40, dtype=torch.uint8)
        >>> img[0, :, :20] = 200  # a red left half
        >>> colour_cells([img])[0, :4].tolist()  # R of the first row of cells
        [200, 200, 0, 0]
    """
    rows = []  # on each image's device, copied to the host once (no sync per image)
    for t in images:
        step = max(1, min(int(t.shape[-2]), int(t.shape[-1])) // CELL_SAMPLES)
        x = t[..., ::step, ::step]
        # uint8 as stored; else on the scale the quality metrics read (scale_stored: uint16 over
        # 65,535 levels, floats and other integers by 0.65's bit depth - the whole image's, not the
        # sample's: its maximum can lie between the sampled pixels); tensor ops, no host sync
        x = (
            x.to(torch.float32)
            if x.dtype == torch.uint8
            else scale_stored(x[None], whole=t[None])[0].to(torch.float32) * 255.0
        )
        c = x.shape[0]
        colour = x[: c - 1] if c in (2, 4) else x
        alpha = x[-1:] / 255.0 if c in (2, 4) else torch.ones_like(x[:1])
        colour = colour[:1].expand(3, -1, -1) if colour.shape[0] == 1 else colour[:3]
        pooled = F.adaptive_avg_pool2d(torch.cat([colour * alpha, alpha])[None], CELL_GRID)[0]
        rgb = pooled[:3] / pooled[3:].clamp_min(1e-6)
        rows.append(rgb.clamp(0.0, 255.0).round().to(torch.uint8).reshape(-1))
    if not rows:
        return torch.zeros(0, 3 * CELL_GRID**2, dtype=torch.uint8)
    return torch.stack([r.to(rows[0].device) for r in rows]).cpu()


def _turns(z: np.ndarray) -> np.ndarray:
    """``(P, 8, G * G)``: the 8 flips / rotations of ``(P, G, G)`` cells, flattened."""
    ts = [np.rot90(v, r, axes=(1, 2)) for v in (z, np.swapaxes(z, 1, 2)) for r in range(4)]
    return np.stack([t.reshape(t.shape[0], -1) for t in ts], axis=1)


def _chroma(cells: np.ndarray) -> np.ndarray:
    """``(P, G, G)`` complex ``a* + i b*`` of ``(P, 3 * G * G)`` uint8 cell colours."""
    rgb = np.asarray(cells, dtype=np.float64).reshape(-1, 3, CELL_GRID, CELL_GRID).transpose(0, 2, 3, 1)
    lab = srgb_to_lab(rgb)
    return lab[..., 1] + 1j * lab[..., 2]


def _left(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """RMS of ``zb - (s za + t)`` with the least-squares ``s >= 0`` (real) and ``t`` (complex),
    over the last axis."""
    da = za - za.mean(axis=-1, keepdims=True)
    db = zb - zb.mean(axis=-1, keepdims=True)
    va = (np.abs(da) ** 2).sum(axis=-1)
    s = np.where(va > 1e-9, (np.conj(da) * db).sum(axis=-1).real / np.maximum(va, 1e-9), 0.0)
    s = np.maximum(s, 0.0)[..., None]
    return np.sqrt((np.abs(db - s * da) ** 2).mean(axis=-1))


def chroma_residual(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(P,)`` float64, CIELAB units: how far the cell colours ``second[p]`` are from
    ``first[p]`` under one global colour change (both ``(P, 3 * CELL_GRID ** 2)`` uint8 rows of
    :func:`colour_cells`).  Each side's cell chroma is fitted from the other's as ``s z + t``
    (real ``s >= 0``, complex ``t``: :func:`_left`), the larger residual RMS of the two directions
    kept, the smallest over the second figure's 8 D4 turns.

    Example:
        >>> flag = np.zeros((3, 4, 4), np.uint8); flag[0, :, :2] = 200; flag[2, :, 2:] = 200  # red | blue
        >>> swap = flag[[2, 1, 0]]  # blue | red: the same flag turned
        >>> other = flag.copy(); other[1, :, :2] = 200  # yellow | blue
        >>> chroma_residual(np.stack([flag.ravel()] * 2), np.stack([swap.ravel(), other.ravel()])).round(1).tolist()
        [0.0, 42.4]
    """
    a, b = np.atleast_2d(first), np.atleast_2d(second)
    if not a.shape[0]:
        return np.zeros(0)
    za = _chroma(a).reshape(a.shape[0], 1, -1)
    zb = _turns(_chroma(b))
    return np.maximum(_left(za, zb), _left(zb, za)).min(axis=1)
