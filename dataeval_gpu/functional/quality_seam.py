"""``seam_ratio`` and ``seam_corr``: whether an image continues across its own borders (a tile).

A tileable texture - terrain, grass, sand, rock, a normal map, made to repeat on a game's ground -
continues from its last column into its first as from one column into the next: the step across
the wrap-around seam is an ordinary step.  A photograph or a picture does not: its left and right
edges are different parts of a scene.  On the 256-level grey image ``G``
(:func:`~dataeval_gpu.functional.pixels.grey_levels`: exact integers for uint8, ``round(255 g)``
otherwise; with alpha the composite on mid grey), per direction (the columns' seam: first column
``a = G[:, 0]``, ``b = G[:, 1]``, last ``z = G[:, W-1]``, ``y = G[:, W-2]``, n = H values each;
the rows' seam alike):

* ``wrap = Σ (z − a)²``, ``edge = Σ (a − b)² + Σ (y − z)²``: the seam's squared step and the two
  steps beside it;
* ``ratio = 2 wrap / edge`` (0 where both are 0, ``2 wrap`` where only ``edge`` is): 1 where the
  seam steps as its neighbours do.  Noise added to the image adds its variance to every step
  alike and cancels in the ratio's expectation.
* ``corr = 1 − n wrap / V``, ``V = n Σa² − (Σa)² + n Σz² − (Σz)²`` (``n²`` times the two edge
  lines' variances): the correlation of the lines across the seam (for lines of equal mean and
  variance), at least −1; 0 where the lines are about plain, their variances summing to under
  :data:`SEAM_MIN_VAR` grey levels² (``V < SEAM_MIN_VAR · n²``: a black or white ground, a frame,
  whose faint compression ripples may well correlate - the corpus' planets on black).  A plain
  border with noise (a white or sky ground on both sides) steps as little across the seam as beside
  it, ``ratio`` about 1, but has nothing that continues: its noise is uncorrelated, ``corr`` about 0.

``seam_ratio`` is the larger ``ratio`` of the two directions, ``seam_corr`` the smaller ``corr``
(a tile continues both ways); both 0 under 4 px a side.  Integer sums (int64) of the four border
lines per direction: the same values on every device and path - a registry quality metric, by
:func:`~dataeval_gpu.functional.quality_seam_compiled.seam_rows_u8` for 8-bit CPU stacks, by
:func:`seam_sums` (torch, no CUDA-only branch) otherwise.  ``noisy`` reads them
(:func:`~dataeval_gpu.detectors.quality_noise_rules.tileable`).
"""

from __future__ import annotations

import torch

__all__ = ["SEAM_MIN_SIDE", "SEAM_MIN_VAR", "seam_figures", "seam_sums"]

#: the seam figures need two distinct lines on each side: at least this many px a side, else 0
SEAM_MIN_SIDE = 4
#: ``seam_corr`` is 0 where the two edge lines' variances sum to under this (grey levels²: each line's
#: sigma about 4 levels or less): nothing there to continue (tiles of the fit collections: 60 or more)
SEAM_MIN_VAR = 32


def seam_sums(lev: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 3)`` int64 ``(wrap, edge, V)`` of the columns' seam (row 0) and the rows' seam
    (row 1) of 256-level grey images ``lev`` ``(B, H, W)`` (integers); zeros under
    :data:`SEAM_MIN_SIDE` px a side."""
    b, h, w = lev.shape
    out = torch.zeros((b, 2, 3), dtype=torch.int64, device=lev.device)
    if min(h, w) < SEAM_MIN_SIDE:
        return out
    v = lev.to(torch.int64)
    for d, (a, p, y, z) in enumerate(
        ((v[:, :, 0], v[:, :, 1], v[:, :, w - 2], v[:, :, w - 1]), (v[:, 0], v[:, 1], v[:, h - 2], v[:, h - 1]))
    ):
        n = a.shape[1]
        out[:, d, 0] = ((z - a) ** 2).sum(dim=1)
        out[:, d, 1] = ((a - p) ** 2).sum(dim=1) + ((y - z) ** 2).sum(dim=1)
        out[:, d, 2] = n * (a * a).sum(dim=1) - a.sum(dim=1) ** 2 + n * (z * z).sum(dim=1) - z.sum(dim=1) ** 2
    return out


def seam_figures(rows: torch.Tensor, sides: torch.Tensor) -> dict[str, torch.Tensor]:
    """``seam_ratio`` and ``seam_corr`` (float64 ``(B,)``) from :func:`seam_sums`'s rows and the
    images' ``(B, 2)`` int64 line lengths ``(H, W)`` (the columns' seam has H values, the rows' W)."""
    r = rows.to(torch.float64)
    wrap, edge, var = r[..., 0], r[..., 1], r[..., 2]
    n = sides.to(torch.float64)
    ratio = torch.where(edge > 0, 2.0 * wrap / edge.clamp(min=1.0), 2.0 * wrap)
    varied = var >= SEAM_MIN_VAR * n * n
    corr = torch.where(varied, 1.0 - n * wrap / var.clamp(min=1.0), torch.zeros_like(var)).clamp(min=-1.0)
    return {"seam_ratio": ratio.amax(dim=1), "seam_corr": corr.amin(dim=1)}
