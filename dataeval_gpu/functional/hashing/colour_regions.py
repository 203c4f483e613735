"""A colour figure of an image's visible part, and how much one region of two such figures
disagrees (a measuring tool; no pair rule reads it yet: docs/duplicates.md, pairs8).

Two drawings on one template - Oxygen's document icons, one page with another emblem - agree in
most of their pixels and hash alike; the emblem, an eighth of the side, differs completely.  The
grey 32 x 32 thumbnails that verify hash pairs see it faintly (the page's outline carries the
detail).  :func:`visible_colour_figure` keeps per image a ``16 x 16`` CIELAB thumbnail of the
*visible* colour (premultiplied by alpha, area averaged, divided by the cell's opacity) and the
cell opacities; :func:`region_disagreement` compares two figures: the D4 turn that agrees best,
each cell's colour difference to the closest of the other's 3 x 3 neighbouring cells (a shift of
up to a cell - a 6 % crop or a resize - costs nothing), and the worst ``4 x 4``-cell window's mean
difference minus the median cell's (a recolour of the whole picture or a brightness shift moves
the median with the window).

Measured (docs/duplicates.md, pairs8): copies of real photos (resized, JPEG 50, blurred,
brightness +25, noise, cropped 5 % a side) score at most 8; synthetic pages with another emblem
18 and more, Oxygen's document icons up to 48 - but so does a sprite with one part recoloured (a
boat's flame fire -> ice: 43; a globe's deserts made green: 33), which the judged pairs count as
the same picture, so no bar on it alone keeps every true pair.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["COLOUR_SIDE", "VISIBLE", "WINDOW", "region_disagreement", "srgb_to_lab", "visible_colour_figure"]

COLOUR_SIDE = 16
"""Side of the colour figure, in cells."""
VISIBLE = 0.5
"""A cell counts as visible from this mean opacity."""
WINDOW = 4
"""Side, in cells, of the window whose disagreement :func:`region_disagreement` reports."""

#: linear sRGB -> XYZ (D65); the white point is its row sums, so that sRGB white is neutral exactly
_M = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
_WHITE = _M.sum(axis=1)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3)`` sRGB on the 0-255 scale -> CIELAB (D65 white), float64.

    Example:
        >>> srgb_to_lab(np.array([255.0, 255.0, 255.0])).round(2).tolist()
        [100.0, 0.0, 0.0]
    """
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = c @ _M.T / _WHITE
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def visible_colour_figure(image: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """``(lab, alpha)``: ``(COLOUR_SIDE, COLOUR_SIDE, 3)`` CIELAB of the mean visible colour of
    each cell and ``(COLOUR_SIDE, COLOUR_SIDE)`` its mean opacity (0-1) of a ``(C, H, W)`` image
    (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA channels; uint8, or float on the 0-1 scale).  The
    colour is premultiplied by the alpha before the area average (adaptive average pooling), so a
    transparent pixel's hidden colour counts for nothing; a cell with no opacity is black."""
    t = image if isinstance(image, torch.Tensor) else torch.tensor(np.asarray(image))
    if t.ndim != 3 or t.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"image: expected (C, H, W) with 1-4 channels, got shape {tuple(t.shape)}")
    x = t.detach().cpu().to(torch.float64)
    if not t.dtype.is_floating_point:
        x = x / 255.0
    has_alpha = t.shape[0] in (2, 4)
    colour = x[: t.shape[0] - 1] if has_alpha else x
    alpha = x[-1:] if has_alpha else torch.ones_like(x[:1])
    if colour.shape[0] == 1:
        colour = colour.expand(3, -1, -1)
    pooled = F.adaptive_avg_pool2d(torch.cat([colour * alpha, alpha]).unsqueeze(0), COLOUR_SIDE)[0].numpy()
    a = pooled[3]
    rgb = np.where(a > 1e-9, pooled[:3] / np.maximum(a, 1e-9), 0.0)
    return srgb_to_lab(np.clip(rgb, 0.0, 1.0).transpose(1, 2, 0) * 255.0), a


def _turns(x: np.ndarray) -> list[np.ndarray]:
    """The 8 flips / rotations of ``(S, S, ...)``."""
    return [np.rot90(t, r, axes=(0, 1)) for t in (x, np.swapaxes(x, 0, 1)) for r in range(4)]


def _tolerant(la: np.ndarray, aa: np.ndarray, lb: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """``(S, S)``: each visible cell of the first figure's colour distance to the closest visible
    cell among the second's 3 x 3 neighbours (inf where none is visible)."""
    s = la.shape[0]
    pl, pa = np.pad(lb, ((1, 1), (1, 1), (0, 0)), mode="edge"), np.pad(ab, 1)
    best = np.full(aa.shape, np.inf)
    for dy in range(3):
        for dx in range(3):
            d = np.linalg.norm(la - pl[dy : dy + s, dx : dx + s], axis=-1)
            best = np.minimum(best, np.where(pa[dy : dy + s, dx : dx + s] > VISIBLE, d, np.inf))
    return best


def _worst_window(d: np.ndarray, ok: np.ndarray, w: int) -> float:
    """The largest mean of ``d`` over the ``ok`` cells of a ``w x w`` window holding at least
    half its cells ``ok`` (integral images); 0 where no window does."""
    z = np.where(ok, d, 0.0)
    integral = lambda v: np.pad(v, ((1, 0), (1, 0))).cumsum(0).cumsum(1)  # noqa: E731
    cs, cn = integral(z), integral(ok.astype(np.float64))
    box = lambda c: c[w:, w:] - c[:-w, w:] - c[w:, :-w] + c[:-w, :-w]  # noqa: E731
    s, n = box(cs), box(cn)
    full = n >= (w * w) / 2
    return float((s[full] / n[full]).max()) if full.any() else 0.0


def region_disagreement(
    first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray], window: int = WINDOW
) -> float:
    """How much the worst ``window x window`` region of two colour figures
    (:func:`visible_colour_figure`) disagrees beyond the rest, in CIELAB units (NaN where the two
    share no visible cell in any turn).

    The second figure is taken in the D4 turn with the smallest mean colour difference over the
    cells visible in both; each cell visible in both scores the larger of the two tolerant
    distances (:func:`_tolerant`: to the closest of the other's 3 x 3 neighbouring cells); the
    result is the worst window's mean score minus the median cell score."""
    (la, aa), (lb, ab) = first, second
    best = None
    for lt, at in zip(_turns(lb), _turns(ab)):
        both = (aa > VISIBLE) & (at > VISIBLE)
        if both.any():
            m = float(np.linalg.norm(la - lt, axis=-1)[both].mean())
            if best is None or m < best[0]:
                best = (m, lt, at)
    if best is None:
        return float("nan")
    _, lt, at = best
    score = np.maximum(_tolerant(la, aa, lt, at), _tolerant(lt, at, la, aa))
    ok = (aa > VISIBLE) & (at > VISIBLE) & np.isfinite(score)
    if not ok.any():
        return float("nan")
    return _worst_window(score, ok, window) - float(np.median(score[ok]))
