"""Motion blur: how unevenly the picture lost its pixel-scale detail over four directions.

A blur along a line (camera shake, a pan, a moving subject) takes the detail along that
direction and keeps it across; the isotropic octave ratios of ``norm_sharpness`` /
``fine_sharpness`` barely fall, since a box blur keeps energy at pixel scale (its response at
0.5 cycle/px is ``1/L``, the sinc's side lobes).  Here, on the 256-level grey image ``G`` of the
central :data:`MOTION_WINDOW` px window (exact integers for uint8, as ``fine_sharpness``; offsets on
the 8-px JPEG grid), for each direction ``d`` of :data:`MOTION_DIRECTIONS` (horizontal, the two
diagonals, vertical) and each step ``s`` of :data:`MOTION_STEPS` (2 and 8 px) the second difference
``G(p + s d) - 2 G(p) + G(p - s d)`` over the positions ``p`` at least :data:`MOTION_MARGIN` px
inside the window (the same positions for all eight), and its energy, the mean square, less the
8-bit rounding noise's (:data:`MOTION_NOISE`: ``6 / 12`` grey levels², the three-tap difference of
independent rounding errors of variance ``1/12``): ``E_s,d``.  The step-2 difference peaks at
0.25 cycle/px, where a 5-15 px box along ``d`` has its first zeros, the step-8 one at 1/16 cycle/px,
where such a blur keeps most of the structure, so ``q_d = sqrt(E_2,d / E_8,d)`` falls along the
blur and a natural picture's own anisotropy, the same at both steps, cancels in

* ``motion_ratio`` - ``min_d q_d / max_d q_d`` over the directions with detail at step 8
  (``E_8,d`` at least :data:`MOTION_FLAT`: the length of a stripe or a flag's band, where nothing
  changes, takes no part; energies clamped at :data:`MOTION_TINY`): about 0.7-1 for a sharp photo,
  under 0.42 for most 9-15 px box blurs along a line;
* ``motion_energy`` - ``E_8,d`` (grey levels², at least 0) of the weakest direction (the one of
  the least ``q_d``): what there is to judge along it (a smooth gradient has none);
* ``motion_angle`` - that direction in degrees counter-clockwise from the image's rows with the
  y axis up: 0 (horizontal), 45 (rising ``/``), 90 (vertical), 135 (falling ``\\``);
* ``motion_cross`` - ``q`` of the direction perpendicular to the weakest over the least ``q`` of the
  two directions between them (45 degrees from both), at most 1; 1 where the perpendicular or both
  of those take no part.  A blur along a line keeps the most detail across it (the directions
  between lose part of theirs): 1, or close; a pattern on the axes - a checkerboard, a grid of
  tiles - loses the fine detail of its rows and its columns alike and keeps its diagonals': 0.3-0.4.
* ``motion_peak`` - the weakest direction's ``sqrt(T_2 / T_8)`` at its sharpest place: ``T_s`` the
  greatest mean square (less :data:`MOTION_NOISE`, clamped at :data:`MOTION_TINY`) over the whole
  :data:`MOTION_TILE` x :data:`MOTION_TILE` tiles of the positions, tiled from the first.  A box blur of
  L px along a line turns every step along it into a ramp of L px: at most ``2 / L`` anywhere (0.4 at
  5 px); a design drawn one way (planks, corrugated metal, bars) keeps sharp steps where something
  crosses its streaks: 0.4-1.2.

An image under :data:`MOTION_MIN_SIDE` px a side or whose step-8 energies are all under
:data:`MOTION_FLAT` (a flat window: no direction takes part) has ``motion_ratio`` 1, ``motion_energy`` 0, ``motion_angle``
0, ``motion_cross`` 1, ``motion_peak`` 1: nothing to judge.  An image with alpha is measured as seen (composited on mid grey, as every
spatial metric).  The ``blurry`` rule reads them (``detectors.quality_rules``).

The sums are exact integers (``int64``; a window has at most 768² positions, each square at most
1020²): the numba kernel of 8-bit CPU images (:func:`motion_rows_u8`) and the torch code of every
other stack (:func:`motion_rows`; a GPU's path: shifted integer differences, one ``sum`` per
direction and step, no host sync) give the same rows, and :func:`motion_figures` turns them into
the metrics on either device.
"""

from __future__ import annotations

import numpy as np
import torch

from . import quality_compiled
from .pixels import grey_image, grey_levels, scale_stored
from .stats_compiled import njit

__all__ = [
    "MOTION_ANGLES",
    "MOTION_DIRECTIONS",
    "MOTION_FLAT",
    "MOTION_KEYS",
    "MOTION_MARGIN",
    "MOTION_MIN_SIDE",
    "MOTION_NOISE",
    "MOTION_STEPS",
    "MOTION_TILE",
    "MOTION_TINY",
    "MOTION_WINDOW",
    "motion_box",
    "motion_figures",
    "motion_metrics",
    "motion_rows",
    "motion_rows_u8",
]

#: the metrics of this module, in :data:`~dataeval_gpu.functional.quality.QUALITY_KEYS` order
MOTION_KEYS = ("motion_ratio", "motion_energy", "motion_angle", "motion_cross", "motion_peak")
#: largest side (px) of the central window measured
MOTION_WINDOW = 768
#: ``(dy, dx)`` of the directions (rows down): horizontal, falling diagonal, vertical, rising diagonal
MOTION_DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1))
#: ``motion_angle`` of each direction (degrees counter-clockwise from the rows, y up)
MOTION_ANGLES = (0.0, 135.0, 90.0, 45.0)
#: the steps (px) of the second differences: the band a 5-15 px blur removes, the band it keeps
MOTION_STEPS = (2, 8)
#: positions this far (px) inside the window: the step-8 difference of every direction fits
MOTION_MARGIN = 8
#: images with a side under this (px) are not measured (48 positions a side at least): an icon of
#: 32-63 px is its strokes, whose directions are a design (105 of the 116 images of the fit
#: collections that a 32-px minimum added to ``blurry`` were such icons)
MOTION_MIN_SIDE = 64
#: the energy (grey levels²) 8-bit rounding leaves in a second difference: ``(1 + 4 + 1) / 12``
MOTION_NOISE = 0.5
#: a window whose step-8 energies above the noise are all under this (grey levels²) is flat
MOTION_FLAT = 0.05
#: energies are clamped at this before their ratio (a direction without detail at step 2 reads 0)
MOTION_TINY = 1e-9
#: side (px) of the tiles of inner positions whose sums give ``motion_peak``: the sharpest place
MOTION_TILE = 8
#: columns of a row of :func:`motion_rows`: the 4 x 2 sums (direction-major), the 4 x 2 greatest
#: tile sums, then the positions
_COLUMNS = 4 * len(MOTION_DIRECTIONS) + 1


def motion_box(h: int, w: int) -> tuple[int, int, int, int]:
    """``(y0, x0, height, width)`` of the central window of an ``h x w`` image (at most
    :data:`MOTION_WINDOW` a side, offsets on the 8-px JPEG grid)."""
    return (
        max(0, (h - MOTION_WINDOW) // 2) // 8 * 8,
        max(0, (w - MOTION_WINDOW) // 2) // 8 * 8,
        min(h, MOTION_WINDOW),
        min(w, MOTION_WINDOW),
    )


@njit
def _motion_u8(a, box, dirs, steps, margin, bs, out):  # noqa: ANN001, ANN202 - numba kernel
    """For each uint8 ``(C, H, W)`` image ``a[b]``: the 256-level grey of its window ``box`` (exact
    integers, ties to even; the first channel below three), the sums of squared second differences
    of each direction and step over the inner positions into ``out[b, :8]`` and the greatest sum over
    one ``bs x bs`` tile of them (whole tiles from the first position) into ``out[b, 8:16]``."""
    nb, c = a.shape[0], a.shape[1]
    y0, x0, wh, ww = box[0], box[1], box[2], box[3]
    g = np.empty((wh, ww), np.int32)
    nd = dirs.shape[0] * steps.shape[0]
    ntx = (ww - 2 * margin) // bs
    cols = np.zeros(ww - 2 * margin, np.int64)  # per column: the squares of the current row of tiles
    for b in range(nb):
        for i in range(wh):
            row = g[i]
            if c >= 3:
                rr, gg, bb = a[b, 0, y0 + i], a[b, 1, y0 + i], a[b, 2, y0 + i]
                for j in range(ww):
                    t = 299 * np.int32(rr[x0 + j]) + 587 * np.int32(gg[x0 + j]) + 114 * np.int32(bb[x0 + j]) + 500
                    q = t // 1000
                    row[j] = q - ((t - 1000 * q == 0) & ((q & 1) == 1))
            else:
                r0 = a[b, 0, y0 + i]
                for j in range(ww):
                    row[j] = np.int32(r0[x0 + j])
        col = 0
        for k in range(dirs.shape[0]):
            for si in range(steps.shape[0]):
                oy, ox = steps[si] * dirs[k, 0], steps[si] * dirs[k, 1]
                acc = np.int64(0)
                best = np.int64(0)
                cols[:] = 0
                for i in range(margin, wh - margin):
                    # row views starting at the first position: non-negative indices, a loop LLVM vectorises
                    up = g[i - oy, margin - ox : ww - margin - ox]
                    mid = g[i, margin : ww - margin]
                    dn = g[i + oy, margin + ox : ww - margin + ox]
                    for j in range(mid.shape[0]):
                        d = up[j] + dn[j] - 2 * mid[j]
                        cols[j] += d * d
                    if (i - margin + 1) % bs == 0:  # a row of whole tiles is complete: its sums, then the next
                        for t in range(ntx):
                            part = np.int64(0)
                            for j in range(t * bs, t * bs + bs):
                                part += cols[j]
                            best = max(best, part)
                        for j in range(cols.shape[0]):
                            acc += cols[j]
                            cols[j] = 0
                for j in range(cols.shape[0]):  # the rows under the last whole tiles
                    acc += cols[j]
                out[b, col] = acc
                out[b, nd + col] = best
                col += 1
        out[b, 2 * nd] = (wh - 2 * margin) * (ww - 2 * margin)


def _measured(h: int, w: int) -> bool:
    return min(h, w) >= MOTION_MIN_SIDE


def motion_rows_u8(x: torch.Tensor) -> np.ndarray:
    """``(B, 17)`` int64 rows of a uint8 ``(B, C, H, W)`` CPU stack (any strides): the sums of
    squared second differences of each direction (:data:`MOTION_DIRECTIONS`) at each step
    (:data:`MOTION_STEPS`), direction-major, the greatest sum over one :data:`MOTION_TILE` square
    tile of them (the same order), then the number of positions; all 0 for an image
    under :data:`MOTION_MIN_SIDE` px a side.  The numba kernel; the same integers as :func:`motion_rows`."""
    b, _, h, w = x.shape
    out = np.zeros((b, _COLUMNS), np.int64)
    if b and _measured(h, w):
        _motion_u8(
            x.numpy(), np.asarray(motion_box(h, w), np.int64), np.asarray(MOTION_DIRECTIONS, np.int64),
            np.asarray(MOTION_STEPS, np.int64), MOTION_MARGIN, MOTION_TILE, out,
        )  # fmt: skip
    return out


def motion_rows(x: torch.Tensor, xs: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`motion_rows_u8`'s ``(B, 17)`` int64 rows of any ``(B, C, H, W)`` stack, on its device:
    the numba kernel for uint8 CPU stacks (while the compiled kernels are ready), torch otherwise
    (what a GPU runs; the same integers).  A stack of another dtype is read as its 256-level grey,
    ``round(255 g)`` of the 0.65-scaled values (``xs``, when given, are them)."""
    b, _, h, w = x.shape
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        return torch.from_numpy(motion_rows_u8(x))
    out = torch.zeros((b, _COLUMNS), dtype=torch.int64, device=x.device)
    if not b or not _measured(h, w):
        return out
    y0, x0, wh, ww = motion_box(h, w)
    if x.dtype == torch.uint8:
        lev = grey_levels(x[..., y0 : y0 + wh, x0 : x0 + ww]).to(torch.int32)
    else:
        part = scale_stored(x[..., y0 : y0 + wh, x0 : x0 + ww]) if xs is None else xs[..., y0 : y0 + wh, x0 : x0 + ww]
        lev = torch.round(grey_image(part)[:, 0] * 255.0).clamp(0, 255).to(torch.int32)
    m, t = MOTION_MARGIN, MOTION_TILE
    ys, xs_ = slice(m, wh - m), slice(m, ww - m)
    mid2 = 2 * lev[:, ys, xs_]
    nty, ntx = (wh - 2 * m) // t, (ww - 2 * m) // t
    sums, peaks = [], []
    for dy, dx in MOTION_DIRECTIONS:
        for s in MOTION_STEPS:
            oy, ox = s * dy, s * dx
            fwd = lev[:, m + oy : wh - m + oy, m + ox : ww - m + ox]
            back = lev[:, m - oy : wh - m - oy, m - ox : ww - m - ox]
            d = fwd + back - mid2
            sq = d * d
            sums.append(sq.sum(dim=(1, 2), dtype=torch.int64))
            tiles = sq[:, : nty * t, : ntx * t].reshape(b, nty, t, ntx, t).sum(dim=(2, 4), dtype=torch.int64)
            peaks.append(tiles.flatten(1).amax(dim=1))
    out[:, :-1] = torch.stack(sums + peaks, dim=1)
    out[:, -1] = (wh - 2 * m) * (ww - 2 * m)
    return out


def motion_figures(rows: torch.Tensor | np.ndarray, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """:data:`MOTION_KEYS` (``(B,)`` each, ``dtype``) from :func:`motion_rows`' rows (of one stack or
    of many concatenated: every step is per row; float64 arithmetic on the rows' device)."""
    rows = torch.as_tensor(rows)
    n = rows[:, -1:].to(torch.float64)
    nd = len(MOTION_DIRECTIONS)
    e = rows[:, : 2 * nd].to(torch.float64) / n.clamp(min=1.0) - MOTION_NOISE
    e = e.reshape(-1, nd, len(MOTION_STEPS))
    tile = (rows[:, 2 * nd : 4 * nd].to(torch.float64) / MOTION_TILE**2 - MOTION_NOISE).reshape(-1, nd, len(MOTION_STEPS))
    fine, coarse = e[..., 0].clamp(min=MOTION_TINY), e[..., 1].clamp(min=MOTION_TINY)
    q = torch.sqrt(fine / coarse)
    # a direction without detail at step 8 (a stripe's length, a flag's bands) takes no part
    part = e[..., 1] >= MOTION_FLAT
    weak = torch.argmin(torch.where(part, q, torch.inf), dim=1, keepdim=True)  # the first of equal ones
    ratio = q.gather(1, weak)[:, 0] / torch.where(part, q, 0.0).max(dim=1).values.clamp(min=MOTION_TINY)
    energy = e[..., 1].gather(1, weak)[:, 0].clamp(min=0.0)
    angles = torch.tensor(MOTION_ANGLES, dtype=torch.float64, device=rows.device)
    # the weakest direction at its sharpest tiles: the greatest tile energies of its two steps
    at = tile.gather(1, weak[:, :, None].expand(-1, 1, len(MOTION_STEPS)))[:, 0]
    peak = torch.sqrt(at[:, 0].clamp(min=MOTION_TINY) / at[:, 1].clamp(min=MOTION_TINY))
    # the direction across the weakest (directions are 45 degrees apart: two places on) against the
    # two between them (one place either side) that take part
    across, sides = (weak + 2) % nd, torch.cat([(weak + 1) % nd, (weak + nd - 1) % nd], dim=1)
    between = torch.where(part.gather(1, sides), q.gather(1, sides), torch.inf).min(dim=1).values
    cross = (q.gather(1, across)[:, 0] / between.clamp(min=MOTION_TINY)).clamp(max=1.0)
    cross = torch.where(part.gather(1, across)[:, 0] & torch.isfinite(between), cross, torch.ones_like(cross))
    judged = (n[:, 0] > 0) & part.any(dim=1)
    zero, one = torch.zeros_like(ratio), torch.ones_like(ratio)
    return {
        "motion_ratio": torch.where(judged, ratio, one).to(dtype),
        "motion_energy": torch.where(judged, energy, zero).to(dtype),
        "motion_angle": torch.where(judged, angles[weak[:, 0]], zero).to(dtype),
        "motion_cross": torch.where(judged, cross, one).to(dtype),
        "motion_peak": torch.where(judged, peak, one).to(dtype),
    }


def motion_metrics(x: torch.Tensor, xs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """:data:`MOTION_KEYS` of a ``(B, C, H, W)`` stack without alpha (any dtype), ``(B,)`` each on
    its device, float64 for float64 stacks, float32 otherwise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = torch.from_numpy(rng.integers(0, 256, (1, 1, 80, 80), dtype=np.uint8))
    >>> round(float(motion_metrics(x)["motion_ratio"][0]), 2)  # white noise: the same every way
    0.96
    >>> blur = torch.nn.functional.conv2d(x.double(), torch.ones(1, 1, 1, 9, dtype=torch.float64) / 9)  # 9 px along rows
    >>> m = motion_metrics(blur.round().to(torch.uint8))
    >>> m["motion_angle"].tolist(), round(float(m["motion_ratio"][0]), 2)
    ([0.0], 0.42)
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return motion_figures(motion_rows(x, xs), dtype)
