"""Batched per-image quality metrics: colour, grey-in-RGB, sharpness, noise, exposure, information.

Every metric is computed for a whole size bucket ``(B, C, H, W)`` with tensor ops on the
input's device (CPU and CUDA run the same code; no Python loop over pixels).  Pixel values
are first scaled to ``[0, 1]`` (uint8 by 255; other integers and floats by DataEval 0.65's
bit depth: ``2**d - 1`` with ``d`` the smallest of 1, 8, 12, 16, 32 holding the image's
maximum; NaN and infinite pixels count as 0), then computed in float32 on the device (float64 on the CPU reference path of the
tests).  The grey image is ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (first channel
of a one- or two-channel image).

Images with alpha (grey + alpha, RGBA) are measured as seen (``quality_alpha``): the spatial
metrics on the image composited on mid grey, the levels over the visible pixels (alpha-weighted
histogram), noise and blockiness over the opaque pixels; an opaque alpha changes nothing.

Definitions (formulas, sources and units: the metric table of ``docs/quality.md``):

* ``colourfulness`` - Hasler & Süsstrunk (2003) on 0..255 values; ``channel_spread`` - mean
  ``max(R, G, B) - min(R, G, B)`` in [0, 1] (0: grey stored as RGB); ``chroma_rg`` / ``chroma_bg``
  - mean ``R - G`` / ``B - G`` (the mean colour cast).  All 0 below three channels.
* ``norm_sharpness`` - ``sqrt(E0 / E1)``, the RMS ratio of the two finest Laplacian-pyramid bands
  (5-tap binomial, reflect padding) of the grey image area-downscaled to a short side of at most
  :data:`WORKING_SIDE` px: about 1 for a sharp photo at any size and contrast, < 0.2 after a
  σ = 2 px blur, 0 for a constant image; ``coarse_sharpness`` - the same at :data:`COARSE_SIDE`
  px (upscaled thumbnails); ``detail`` - ``sqrt(E0)`` (contrast dependent).
* ``fine_sharpness`` - the same ratio at native resolution on the 256-level grey image, in the
  central :data:`NOISE_WINDOW` px window (and the quadrants' windows of large images; the one
  with most next-octave energy counts), each energy less the 8-bit rounding noise's
  (:data:`FINE_FLOOR`): ``sqrt(max(E0 - f, 0) / (E1 - f/4))``; 1 when flat (:data:`FINE_FLAT`)
  or under 16 px a side.
* ``noise`` - Immerkær (1996) on 0..255 grey in the central window (offsets on the 8-px grid);
  ``noise_robust`` - the same mask's ``median|g * N| / (6 * 0.6745)`` (lower middle value);
  ``noise_flat`` / ``impulse_share`` - noise in the flattest blocks, isolated impulses (``quality_texture``);
  ``noise_chroma`` - the flattest blocks' noise of the channel differences: noise independent per
  channel, which texture shared by R, G, B does not make (``quality_chroma``).
  ``grain_free`` - ``1 - R²`` of the unclipped positions' channel-mean response regressed on the
  channel differences' (``quality_grain``): about 1 for noise, low for painted grain.
* ``dark_clipped`` / ``bright_clipped`` - share of grey pixels ``<= 5/255`` / ``>= 250/255``;
  ``grey_p0001``, ``grey_p001`` .. ``grey_p99`` - lowest level of the 256-level grey image whose
  cumulative share reaches 0.01 / 0.1 / 1 / 50 / 99 %, / 255; ``dark_p001`` - the same 0.1 % level of
  ``min(R, G, B)`` (``quality_dark``); ``bright_p99`` / ``bright_p9999`` - the 99 / 99.99 % level of
  ``max(R, G, B)`` (``quality_dark``); ``grey_entropy`` - Shannon entropy (bits) of its histogram;
  ``opacity`` - the mean alpha (1 without alpha); ``colour_free`` - the share of the visible
  colour's grey variance its alpha level does not set (0: one ink or a colour that follows the
  alpha - a shadow, a glow; 1 without alpha; ``quality_alpha_colour``, a numba kernel for 8-bit
  CPU images, the same integer sums).
* ``motion_ratio`` / ``motion_energy`` / ``motion_angle`` / ``motion_cross`` / ``motion_peak`` - how unevenly
  the pixel-scale detail fell over four directions (a blur along a line), its weakest direction's
  coarse energy and angle, the detail across it, the weakest direction at its sharpest tile
  (``quality_motion``; the numba kernel for 8-bit CPU stacks, the same integers as the torch code).
* ``occupancy`` - the share of a 16 x 16 grid's cells whose 256-level grey spans at least 64
  levels; ``edge_span`` - the widest cell span over the whole image's (``quality_occupancy``; a
  numba kernel for 8-bit CPU stacks, the same integers).
* ``blockiness`` - mean absolute grey step across the 8-px block borders over the mean step
  elsewhere (at least :data:`BLOCK_FLOOR`), in the central window, times the spread factor
  ``min(1, share / BLOCK_SPREAD) ** 2`` of the 8-px border segments that step
  (``quality_block_compiled``: JPEG blocking is spread, a drawing's few edges on the grid are
  not) and the pattern weight (0 for a checkerboard, a 16-px-period pattern on the grid or
  content repeating at 8 / 16 px, or a strip / grid of 16-64 px tiles stepping on its tile borders
  only, ``block_figures``), its excess over 1 weighed out where the lines off the borders step about
  as often as the borders (a drawing on a coarser grid of its own, ``grid_excess``); about 1 for
  natural images, 1 under 64 px or flat.  With transparent pixels: medians over lines of their opaque pixel
  pairs' steps, and the noise over positions whose 3x3 neighbourhood is opaque (``quality_alpha``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..batching import as_image
from ..errors import ImageShapeError
from . import quality_compiled
from .pixels import composite_on_black, grey_image, grey_levels, scale01, scale_stored
from .quality_alpha import alpha_metrics, composite_on_grey
from .quality_alpha_colour import colour_free
from .quality_chroma import chroma_noise, chroma_rows
from .quality_dark import bright_level, channel_figures, dark_level, peak_level
from .quality_fine_compiled import fine_energies_u8
from .quality_grain import grain_free, grain_free_from_sums, grain_rows
from .quality_motion import motion_figures, motion_metrics, motion_rows_u8
from .quality_occupancy import OCCUPANCY_STEP, cell_levels, occupancy_grid
from .quality_occupancy_compiled import cell_figures_u8
from .quality_seam import seam_figures, seam_sums
from .quality_seam_compiled import seam_rows_u8
from .quality_texture import texture_noise
from .quality_torch import (
    BLOCK_FLOOR,
    MAD_GAUSS,
    TINY,
    band_energy,
    blockiness,
    chroma,
    colour,
    noise,
    sharpness,
    working_size,
)

__all__ = [
    "QUALITY_KEYS", "COARSE_SIDE", "composite_on_black", "composite_on_grey", "FINE_FLAT", "FINE_FLOOR",
    "NOISE_WINDOW", "WORKING_SIDE", "fine_windows", "grey_image", "grey_levels", "scale01",
    "quality_metrics", "quality_metrics_batch",
]

#: short side (px) of the working resolution of ``norm_sharpness`` and ``detail``
WORKING_SIDE = 256
#: short side (px) of the working resolution of ``coarse_sharpness``
COARSE_SIDE = 64
#: largest side (px) of the native-resolution central window of ``noise``, ``noise_robust``
#: and ``blockiness`` (noise and blocking are stationary: a fixed window bounds the cost)
NOISE_WINDOW = 384
#: keys of :func:`quality_metrics`'s output, in order
QUALITY_KEYS = (
    "colourfulness",
    "channel_spread",
    "norm_sharpness",
    "coarse_sharpness",
    "detail",
    "noise",
    "noise_robust",
    "dark_clipped",
    "bright_clipped",
    "grey_p001",
    "grey_p01",
    "grey_p50",
    "grey_p99",
    "grey_entropy",
    "blockiness",
    "chroma_rg",  # appended: the flag values of the metrics above stay as they were
    "chroma_bg",
    "fine_sharpness",
    "opacity",
    "grey_p0001",  # appended: the darkest 0.01 %, the stroke cores under the black point (``light``)
    "dark_p001",  # the black point of min(R, G, B) (``quality_dark``; ``light``)
    "noise_flat",  # appended: noise over the flattest blocks (``quality_texture``; ``noisy``)
    "impulse_share",  # the share of isolated impulses (``quality_texture``; ``noisy``)
    "occupancy",  # appended: the share of grid cells with an edge (``quality_occupancy``; ``low_information``)
    "bright_p99",  # appended: the highlights of max(R, G, B) (``quality_dark``; ``dark``)
    "bright_p9999",  # appended: the peak of max(R, G, B) (``quality_dark``; ``dark``)
    "motion_ratio",  # appended: the weakest direction's detail against the strongest's (``quality_motion``; ``blurry``)
    "motion_energy",  # its coarse-band energy (``quality_motion``)
    "motion_angle",  # its direction, degrees (``quality_motion``)
    "motion_cross",  # appended: the detail across it against the strongest's (``quality_motion``; ``blurry``)
    "noise_chroma",  # appended: noise independent per channel (``quality_chroma``; ``noisy``)
    "motion_peak",  # appended: the weakest direction's ratio at its sharpest tile (``quality_motion``; ``blurry``)
    "colour_free",  # appended: the visible colour's variance its alpha does not set (``quality_alpha_colour``; ``blurry``)
    "seam_ratio",  # appended: the wrap-around seam's step against its neighbours' (``quality_seam``; ``noisy``)
    "seam_corr",  # the border lines' correlation across it (``quality_seam``)
    "edge_span",  # appended: the widest grid cell's share of the tonal range (``quality_occupancy``; ``blurry``)
    "grain_free",  # appended: the grey residual its colour residual does not predict (``quality_grain``; ``noisy``)
)
#: ``fine_sharpness``: the variance (grey levels^2) of the rounding noise of 8-bit levels, taken
#: off both band energies (a blurred 8-bit image keeps this much energy in its finest band)
FINE_FLOOR = 1.0 / 12.0
#: ``fine_sharpness``: a window whose next-octave energy above the floor is under this
#: (grey levels^2) is flat - nothing to judge - and scores 1
FINE_FLAT = 0.05
#: white-noise energy gain of ``1 - binomial5 x binomial5``: 1 - 2 (6/16)^2 + (70/256)^2
_BAND_GAIN = 1.0 - 2.0 * (6.0 / 16.0) ** 2 + (70.0 / 256.0) ** 2


def fine_windows(h: int, w: int, side: int = NOISE_WINDOW) -> list[tuple[int, int, int, int]]:
    """``(y0, x0, height, width)`` of the native-resolution windows of ``fine_sharpness``: the
    central ``side x side`` one and, when a side is at least twice ``side``, the four centred on
    the quadrants' centres (offsets on the 8-px JPEG grid)."""
    wh, ww = min(h, side), min(w, side)
    centres = [(h / 2, w / 2)]
    if max(h, w) >= 2 * side:
        centres += [(h / 4, w / 4), (h / 4, 3 * w / 4), (3 * h / 4, w / 4), (3 * h / 4, 3 * w / 4)]
    return [
        (int(min(max(cy - wh / 2, 0), h - wh)) // 8 * 8, int(min(max(cx - ww / 2, 0), w - ww)) // 8 * 8, wh, ww)
        for cy, cx in centres
    ]


def _fine_sharpness(x: torch.Tensor, xs: torch.Tensor | None = None) -> torch.Tensor:
    """``fine_sharpness`` of a stack ``(B, C, H, W)``: in each window (:func:`fine_windows`) the
    256-level grey image ``G`` (exact integers for uint8), its finest-band energy ``E0`` and the
    next octave's ``E1`` (``G`` 2x2-averaged), each less the energy the 8-bit rounding noise
    leaves in that band; the window with the largest ``E1`` counts:
    ``sqrt(max(E0 - f, 0) / (E1 - f / 4))``, ``f = FINE_FLOOR * _BAND_GAIN``; 1 where that
    ``E1 - f / 4`` is under :data:`FINE_FLAT` (a flat window) or a side is under 16 px."""
    b, _, h, w = x.shape
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    if min(h, w) < 16:
        return torch.ones(b, dtype=dtype, device=x.device)
    f = FINE_FLOOR * _BAND_GAIN
    boxes = fine_windows(h, w)
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        e = torch.from_numpy(np.stack([fine_energies_u8(x[i], boxes) for i in range(b)]))
        return _fine_ratio(e[..., 0], e[..., 1], f).to(dtype)
    e0s, e1s = [], []
    for y0, x0, wh, ww in boxes:
        if x.dtype == torch.uint8:
            lev = grey_levels(x[..., y0 : y0 + wh, x0 : x0 + ww]).to(dtype)
        else:
            part = scale_stored(x[..., y0 : y0 + wh, x0 : x0 + ww]) if xs is None else xs[..., y0 : y0 + wh, x0 : x0 + ww]
            lev = torch.round(grey_image(part)[:, 0] * 255.0).clamp(0, 255).to(dtype)
        lev = lev[:, None]
        e0s.append(band_energy(lev).to(torch.float64))
        e1s.append(band_energy(F.avg_pool2d(lev, 2)).to(torch.float64))
    return _fine_ratio(torch.stack(e0s, dim=1), torch.stack(e1s, dim=1), f).to(dtype)


def _fine_ratio(e0: torch.Tensor, e1: torch.Tensor, f: float) -> torch.Tensor:
    """``(B, windows)`` float64 band energies -> ``fine_sharpness`` of the window with most ``E1``."""
    best = e1.argmax(dim=1, keepdim=True)
    e0, e1c = e0.gather(1, best)[:, 0], e1.gather(1, best)[:, 0] - f / 4.0
    ratio = torch.sqrt((e0 - f).clamp(min=0.0) / e1c.clamp(min=TINY))
    return torch.where(e1c >= FINE_FLAT, ratio, torch.ones_like(ratio))


def _levels(g: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Level statistics of the grey image ``g`` (from ``x`` in integers when it is uint8) and
    its ``occupancy``."""
    b = g.shape[0]
    if x is not None and x.dtype == torch.uint8:
        lev = grey_levels(x)
    else:
        lev = torch.round(g[:, 0] * 255.0).clamp(0, 255).to(torch.int64)
    q = lev.reshape(b, -1)
    offs = torch.arange(b, device=g.device).view(-1, 1) * 256
    hist = torch.bincount((q + offs).reshape(-1), minlength=b * 256).reshape(b, 256)
    out = _levels_from_hist(hist, g.dtype)
    occ, edge = cell_levels(lev)
    out["occupancy"], out["edge_span"] = occ.to(g.dtype), edge.to(g.dtype)
    sides = torch.tensor([lev.shape[1], lev.shape[2]], device=lev.device).expand(b, 2)
    out.update({k: v.to(g.dtype) for k, v in seam_figures(seam_sums(lev), sides).items()})
    return out


#: the grey percentiles: key -> share of the pixels at or below the level
_LEVEL_SHARES = {"grey_p001": 0.001, "grey_p01": 0.01, "grey_p50": 0.5, "grey_p99": 0.99, "grey_p0001": 0.0001}


def _levels_from_hist(hist: torch.Tensor, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Level statistics of ``(B, 256)`` grey-level counts."""
    hist = hist.to(dtype)
    p = hist / hist.sum(dim=1, keepdim=True)
    cdf = p.cumsum(dim=1)
    # lowest level whose cumulative share reaches each share (a tiny slack for float sums),
    # all at once (the thresholds in cdf's dtype, as a Python number is compared)
    thresholds = torch.tensor([s - 1e-9 for s in _LEVEL_SHARES.values()], dtype=dtype, device=hist.device)
    levels = (cdf[:, None, :] < thresholds[:, None]).sum(dim=2).clamp(max=255).to(dtype) / 255.0
    out = dict(zip(_LEVEL_SHARES, levels.unbind(1), strict=True))
    logp = torch.where(p > 0, torch.log2(p.clamp(min=TINY)), torch.zeros_like(p))
    out["grey_entropy"] = 0.0 - (p * logp).sum(dim=1)
    out["dark_clipped"] = p[:, :6].sum(dim=1)
    out["bright_clipped"] = p[:, 250:].sum(dim=1)
    return out


def _window_box(h: int, w: int, side: int = NOISE_WINDOW) -> tuple[int, int, int, int]:
    """``(dy, dx, height, width)`` of the central ``side x side`` window (offsets on the 8-px JPEG grid)."""
    return max(0, (h - side) // 2) // 8 * 8, max(0, (w - side) // 2) // 8 * 8, min(h, side), min(w, side)


def _compiled_raw(x: torch.Tensor, working_side: int) -> tuple[np.ndarray, ...]:
    """The compiled kernels' rows of a uint8 CPU stack of one or three channels for
    :func:`_compiled_finish`: ``measure_u8``'s level counts, colour sums and ``(B, 7)`` values,
    the ``fine_sharpness`` windows' ``(E0, E1)`` (``(B, 5, 2)``, ``E1`` -inf past the image's
    windows), ``(B, 7)`` int64 C, H, W, both working sizes' short sides, the noise window's sides,
    the dark channel's counts ``(B, 256)``, ``(B, 2)`` ``noise_flat`` and ``impulse_share``,
    ``(B, 2)`` float64 ``occupancy`` and ``edge_span``, the bright channel's counts ``(B, 256)`` (``measure_u8``'s, the same pass),
    ``(B, 17)`` int64 ``quality_motion`` rows, ``(B,)`` float64 ``noise_chroma``, ``(B, 2, 3)`` int64 seam sums,
    ``(B, 7)`` int64 ``grain_free`` sums."""
    b, c, h, w = x.shape
    size1, size2 = working_size(h, w, working_side), working_size(h, w, min(COARSE_SIDE, working_side))
    box = _window_box(h, w)
    bright = np.empty((b, 256), np.int64)
    hist, sums, res, dark, tex = quality_compiled.measure_u8(x, size1, size2, box, BLOCK_FLOOR, bright=bright)
    fine = np.zeros((b, 5, 2))  # at most five windows; E1 -inf: never the one with most energy
    fine[:, :, 1] = -np.inf
    if min(h, w) >= 16:
        boxes = fine_windows(h, w)
        fine[:, : len(boxes)] = np.stack([fine_energies_u8(x[i], boxes) for i in range(b)])
    geo = np.tile(np.array([c, h, w, min(size1), min(size2), box[2], box[3]], dtype=np.int64), (b, 1))
    grid = occupancy_grid(h, w)
    cells = np.array([cell_figures_u8(x[i], grid, OCCUPANCY_STEP) for i in range(b)], np.float64)
    cells = cells.reshape(b, 3)
    # occupancy (count / cells) and edge_span (widest / whole span, 0 when flat), float64 as the torch path
    occ = np.stack([cells[:, 0] / (grid[0] * grid[1]), cells[:, 1] / np.maximum(cells[:, 2], 1.0)], axis=1)
    return hist, sums, res, fine, geo, dark, tex, occ, bright, motion_rows_u8(x), chroma_rows(x, box), seam_rows_u8(x), grain_rows(x, box)


def _compiled_finish(  # noqa: PLR0913 - the kernels' rows
    hist: np.ndarray, sums: np.ndarray, res: np.ndarray, fine: np.ndarray, geo: np.ndarray, dark: np.ndarray,
    tex: np.ndarray, occ: np.ndarray, bright: np.ndarray, motion: np.ndarray, chroma: np.ndarray, seam: np.ndarray,
    grain: np.ndarray,
) -> dict[str, torch.Tensor]:
    """Every metric from :func:`_compiled_raw`'s rows (of one stack, or of many stacks of any
    sizes concatenated: every step is per image), float32 like the torch path (exact integer
    sums and counts; band energies and noise of the float32 grey image in float64), the torch
    path's arithmetic elementwise in numpy (the same IEEE operations, without torch's per-call cost)."""
    c, h, w, side1, side2, wh, ww = geo.T
    out = {k: v.numpy() for k, v in _levels_from_hist(torch.from_numpy(hist), torch.float32).items()}
    # torch's float32 sqrt, on (B,) tensors as the torch path takes it
    e = torch.from_numpy(res[:, :4].astype(np.float32))
    out["detail"] = torch.sqrt(e[:, 0]).numpy()
    for j, key, side in ((0, "norm_sharpness", side1), (2, "coarse_sharpness", side2)):
        e0, e1 = e[:, j], e[:, j + 1]
        ratio = torch.sqrt(e0 / e1.clamp(min=TINY)).numpy()
        out[key] = np.where((e1.numpy() > np.float32(TINY)) & (side >= 2), ratio, np.float32(0.0))
    z = np.float32(0.0)
    window = np.minimum(wh, ww) >= 3  # else no noise estimate: 0
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = (res[:, 4] / np.where(window, (wh - 2) * (ww - 2), 1) * math.sqrt(math.pi / 2.0) / 6.0).astype(np.float32)
    out["noise"] = np.where(window, noise, z)
    out["noise_robust"] = np.where(window, (res[:, 5] / (6.0 * MAD_GAUSS)).astype(np.float32), z)
    out["blockiness"] = res[:, 6].astype(np.float32)
    e = torch.from_numpy(fine)
    ratio = _fine_ratio(e[..., 0], e[..., 1], FINE_FLOOR * _BAND_GAIN).to(torch.float32).numpy()
    out["fine_sharpness"] = np.where(np.minimum(h, w) >= 16, ratio, np.float32(1.0))
    s = sums.astype(np.float64) / (h * w).astype(np.float64)[:, None]  # means of the integer terms
    m_rg, m_yb = s[:, 0], s[:, 2] / 2.0  # yb = (R + G - 2B) / 2
    var_rg = np.maximum(s[:, 1] - m_rg**2, 0.0)
    var_yb = np.maximum(s[:, 3] / 4.0 - m_yb**2, 0.0)
    colour = np.sqrt(var_rg + var_yb) + 0.3 * np.sqrt(m_rg**2 + m_yb**2)
    rgb = c >= 3  # below three channels: 0
    out["colourfulness"] = np.where(rgb, colour.astype(np.float32), z)
    out["channel_spread"] = np.where(rgb, (s[:, 5] / 255.0).astype(np.float32), z)
    out["chroma_rg"] = np.where(rgb, m_rg.astype(np.float32), z)
    out["chroma_bg"] = np.where(rgb, s[:, 4].astype(np.float32), z)
    out["opacity"] = np.ones(len(geo), np.float32)  # one or three channels: no alpha here
    out["colour_free"] = np.ones(len(geo), np.float32)
    out["dark_p001"] = dark_level(torch.from_numpy(dark)).numpy()  # row by row: one call for all stacks
    out["noise_flat"], out["impulse_share"] = tex[:, 0].astype(np.float32), tex[:, 1].astype(np.float32)
    out["noise_chroma"] = chroma.astype(np.float32)
    out["grain_free"] = grain_free_from_sums(torch.from_numpy(grain)).numpy().astype(np.float32)
    out["occupancy"] = occ[:, 0].astype(np.float32)  # count / cells in float64, as the torch path's mean
    out["edge_span"] = occ[:, 1].astype(np.float32)
    out["bright_p99"] = bright_level(torch.from_numpy(bright)).numpy()
    out["bright_p9999"] = peak_level(torch.from_numpy(bright)).numpy()  # one or three channels: unit 1
    out.update({k: v.numpy() for k, v in motion_figures(torch.from_numpy(motion)).items()})
    seam_out = seam_figures(torch.from_numpy(seam), torch.from_numpy(np.stack([h, w], axis=1)))
    out.update({k: v.numpy().astype(np.float32) for k, v in seam_out.items()})
    return {k: torch.from_numpy(np.ascontiguousarray(out[k])) for k in QUALITY_KEYS}


def _compiled_ok(x: torch.Tensor) -> bool:
    """A uint8 CPU stack of one or three channels, measured by the compiled kernels as it is."""
    return (
        x.ndim == 4 and x.dtype == torch.uint8 and x.device.type == "cpu" and x.shape[1] in (1, 3)
        and min(x.shape[1:]) >= 1 and quality_compiled.ready()
    )  # fmt: skip


def quality_metrics_stacks(
    stacks: Sequence[torch.Tensor], working_side: int = WORKING_SIDE, map_fn: Any = None
) -> dict[str, torch.Tensor]:
    """:func:`quality_metrics_batch` of each same-size stack, all rows in order (the same values);
    the compiled kernels' stacks are finished together (one set of array operations instead of
    one per stack).  ``map_fn(fn, items)`` runs the per-stack kernels (default: in turn)."""
    fast = [_compiled_ok(x) for x in stacks]
    run = map_fn if map_fn is not None else (lambda fn, items: [fn(t) for t in items])
    raw = run(lambda x: _compiled_raw(x, working_side), [x for x, ok in zip(stacks, fast, strict=True) if ok])
    done = _compiled_finish(*(np.concatenate(part) for part in zip(*raw, strict=True))) if raw else {}
    if all(fast):
        return done
    parts, at = [], 0
    for x, ok in zip(stacks, fast, strict=True):
        if ok:
            parts.append({k: v[at : at + x.shape[0]] for k, v in done.items()})
            at += x.shape[0]
        else:
            parts.append(quality_metrics_batch(x, working_side))
    return {k: torch.cat([p[k] for p in parts]) for k in QUALITY_KEYS}


def quality_metrics_batch(x: torch.Tensor, working_side: int = WORKING_SIDE) -> dict[str, torch.Tensor]:
    """All :data:`QUALITY_KEYS` of one same-size stack ``(B, C, H, W)`` (any dtype).

    Returns a dict of ``(B,)`` float tensors on ``x``'s device (float64 for float64 input,
    else float32).
    """
    if x.ndim != 4 or min(x.shape[1:]) < 1:
        raise ImageShapeError(
            f"expected a (B, C, H, W) stack with non-empty sides, got shape {tuple(x.shape)}"
        )
    raw = x if x.shape[1] in (2, 4) else None
    if raw is not None:  # grey / colour + alpha: the spatial metrics on the composite on grey
        x = composite_on_grey(raw)
    if x.dtype == torch.uint8 and x.device.type == "cpu" and quality_compiled.ready():
        out = _compiled_finish(*_compiled_raw(x, working_side))  # the compiled one-pass kernels
        return _finish(out, raw, x)
    xs = scale_stored(x)
    g = grey_image(xs)
    out = {}
    out["colourfulness"], out["channel_spread"] = colour(xs)
    out["chroma_rg"], out["chroma_bg"] = chroma(xs)
    out.update(_levels(g, x))
    dy, dx, wh, ww = _window_box(*g.shape[-2:])  # the central window, offsets on the 8-px grid
    win = g[..., dy : dy + wh, dx : dx + ww] * 255.0
    out["noise"], out["noise_robust"] = noise(win)
    out["norm_sharpness"], out["detail"] = sharpness(g, working_side)
    out["coarse_sharpness"], _ = sharpness(g, min(COARSE_SIDE, working_side))
    out["blockiness"] = blockiness(win)
    out["fine_sharpness"] = _fine_sharpness(x, xs)
    out.update(motion_metrics(x, xs))
    out.update(channel_figures(x, out["grey_p99"].dtype))  # one min / max pass
    out.update({k: v.to(g.dtype) for k, v in texture_noise(x, _window_box(*x.shape[-2:])).items()})
    out["noise_chroma"] = chroma_noise(x, _window_box(*x.shape[-2:])).to(g.dtype)
    out["grain_free"] = grain_free(x, _window_box(*x.shape[-2:])).to(g.dtype)
    return _finish(out, raw, x)


def _finish(out: dict[str, torch.Tensor], raw: torch.Tensor | None, comp: torch.Tensor) -> dict[str, torch.Tensor]:
    """The metrics in :data:`QUALITY_KEYS` order; for a stack with alpha (``raw``) the levels,
    noise and blockiness replaced by their visible / opaque forms (:func:`_alpha_metrics`)."""
    dtype = out["grey_p99"].dtype
    out.setdefault("colour_free", torch.ones_like(out["grey_p99"]))  # without alpha: all of the colour its own
    if raw is None:
        out["opacity"] = torch.ones_like(out["grey_p99"])
    else:
        seen = alpha_metrics(raw, comp, dtype, _window_box(*raw.shape[-2:]), _levels_from_hist, MAD_GAUSS, BLOCK_FLOOR)
        seen = {k: v.to(out["grey_p99"].device) for k, v in seen.items()}
        # an image without transparent pixels keeps the opaque definitions of noise and blockiness
        # (its levels are the same either way): an opaque alpha channel changes nothing
        seen.update({k: v.to(dtype) for k, v in texture_noise(comp, _window_box(*raw.shape[-2:]), raw).items()})
        seen["noise_chroma"] = chroma_noise(comp, _window_box(*raw.shape[-2:]), raw).to(dtype)
        seen["colour_free"] = colour_free(raw).to(dtype=dtype, device=seen["opacity"].device)
        seen["grain_free"] = grain_free(comp, _window_box(*raw.shape[-2:]), raw).to(dtype)
        opaque = seen["opacity"] >= 1.0
        keep = ("noise", "noise_robust", "blockiness", "noise_flat", "impulse_share", "noise_chroma", "colour_free")
        for key in (*keep, "grain_free"):
            seen[key] = torch.where(opaque, out[key].to(dtype), seen[key])
        out.update(seen)
        out.update(channel_figures(raw, dtype))  # over what is seen (alpha-weighted)
    return {k: out[k] for k in QUALITY_KEYS}


def quality_metrics(
    images: Sequence[Any] | torch.Tensor,
    working_side: int = WORKING_SIDE,
    device: str | torch.device | None = None,
    chunk: int = 32,
) -> dict[str, torch.Tensor]:
    """Quality metrics of every image: a dict of ``(N,)`` tensors, keys :data:`QUALITY_KEYS`.

    Parameters
    ----------
    images : sequence of (C, H, W) / (H, W) arrays, tensors or PIL images, or (N, C, H, W)
        Sizes and dtypes may differ; same-shape images are measured together (``chunk`` at a time).
    working_side : int
        Short side of the working resolution of ``norm_sharpness`` and ``detail``.
    device : str or torch.device, optional
        Where the metrics are computed (default: where each image is).

    Examples
    --------
    >>> import numpy as np
    >>> grey = np.repeat(np.arange(64, dtype=np.uint8).reshape(1, 8, 8), 3, axis=0)
    >>> m = quality_metrics([grey, np.zeros((3, 8, 8), np.uint8)])
    >>> m["channel_spread"].tolist(), m["grey_entropy"].tolist()
    ([0.0, 0.0], [6.0, 0.0])
    """
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        images = list(images)
    tensors = [as_image(im, i) for i, im in enumerate(images)]
    n = len(tensors)
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        buckets[(tuple(t.shape), t.dtype, t.device)].append(i)
    parts: list[tuple[list[int], dict[str, torch.Tensor]]] = []
    for idx in buckets.values():
        for s in range(0, len(idx), chunk):
            sel = idx[s : s + chunk]
            stack = torch.stack([tensors[i] for i in sel])
            if device is not None:
                stack = stack.to(device)
            parts.append((sel, quality_metrics_batch(stack, working_side)))
    out_dev = (
        torch.device(device) if device is not None else (tensors[0].device if n else torch.device("cpu"))
    )
    dtype = torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32
    result = {}
    for key in QUALITY_KEYS:
        col = torch.zeros(n, dtype=dtype, device=out_dev)
        for sel, vals in parts:
            col[torch.tensor(sel, device=out_dev)] = vals[key].to(out_dev, dtype)
        result[key] = col
    return result
