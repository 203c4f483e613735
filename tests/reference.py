"""Straightforward float64 numpy/scipy implementations of the metric definitions in docs/metrics.md.

Written from the definitions, one image at a time, as the independent reference the tests
compare against (the reference ``dataeval`` package is compared too, where installed).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, stats

QUARTILES = (0, 25, 50, 75, 100)


def chw(x: np.ndarray) -> np.ndarray:
    return x[None] if x.ndim == 2 else x


def depth(x: np.ndarray) -> int:
    lo, hi = np.min(x), np.max(x)
    if lo < 0:
        return 0
    for d in (1, 8, 12, 16, 32):
        if 2**d > hi:
            return d
    return 32


def scaled(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    d = depth(x)
    if d == 1:
        return x
    if d == 0:
        lo, hi = np.min(x), np.max(x)
        return (x + lo) / (hi - lo)
    return x / (2.0**d - 1)


def laplacian_std(grey: np.ndarray) -> float:
    k = -np.ones((3, 3))
    k[1, 1] = 8
    lap = ndimage.convolve(grey.astype(np.float64), k, mode="nearest")
    return float(np.std(np.clip(lap + 0.5, 0, 255)))


def image_stats(img: np.ndarray) -> dict:
    x = chw(np.asarray(img))
    c, h, w = x.shape
    xf = x.astype(np.float64)
    s = scaled(xf)
    hist = np.histogram(s, 256, (0, 1))[0]
    p = np.clip(s * 255, 0, 255)
    pct = np.percentile(s, QUARTILES)
    p255 = np.clip(pct * 255, 0, 255)
    return {
        "width": w,
        "height": h,
        "channels": c,
        "size": h * w,
        "aspect_ratio": w / h,
        "depth": depth(xf),
        "brightness": s.mean(),
        "blurriness": laplacian_std(xf.mean(0)),
        "missing": np.isnan(xf).sum() / (h * w),
        "zero": np.count_nonzero(xf == 0) / (h * w),
        "mean": s.mean(),
        "std": s.std(),
        "var": s.var(),
        "skew": stats.skew(s.ravel()),
        "kurtosis": stats.kurtosis(s.ravel()),
        "percentiles": pct,
        "histogram": hist,
        "entropy": stats.entropy(hist),
        "darkness": p255[3],
        "contrast": (p255.max() - p255.min()) / (p255.mean() + 1e-12),
        "sharpness": laplacian_std(p.mean(0)),
        "zeros": np.count_nonzero(xf == 0) / (c * h * w),
    }


def channel_stats(img: np.ndarray) -> dict:
    x = chw(np.asarray(img)).astype(np.float64)
    s = scaled(x).reshape(x.shape[0], -1)
    hist = np.stack([np.histogram(r, 256, (0, 1))[0] for r in s])
    return {
        "mean": s.mean(1),
        "std": s.std(1),
        "var": s.var(1),
        "skew": stats.skew(s, axis=1),
        "kurtosis": stats.kurtosis(s, axis=1),
        "percentiles": np.percentile(s, QUARTILES, axis=1).T,
        "histogram": hist,
        "entropy": stats.entropy(hist, axis=1),
    }


def close(a, b, rtol=2e-3, atol=1e-6) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.isclose(a, b, rtol=rtol, atol=atol) | (np.isnan(a) & np.isnan(b))


def grey_levels_ref(x: np.ndarray) -> np.ndarray:
    """The 256-level grey image of a ``(C, H, W)`` image on the 0..255 scale: for integer values
    the exact ``round((299 R + 587 G + 114 B) / 1000)`` with ties to even (the value of a
    one-channel image), otherwise ``round(255 g)`` of the float64 BT.601 luma."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 3:
        return np.clip(np.round(x[0]), 0, 255).astype(np.int64)
    if np.array_equal(x[:3], np.round(x[:3])):
        s = (299 * x[0] + 587 * x[1] + 114 * x[2]).astype(np.int64)
        q, rem = np.divmod(s, 1000)
        return q + ((rem > 500) | ((rem == 500) & (q % 2 == 1)))
    g = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    return np.clip(np.round(g), 0, 255).astype(np.int64)


def texture_noise_ref(levels: np.ndarray, opaque: np.ndarray | None = None) -> dict:
    """``noise_flat`` and ``impulse_share`` of a 256-level grey window from their written
    definitions (float64, scipy): the Immerkær response summed over 4 x 4 blocks of mask
    positions (blocks whose 3 x 3 neighbourhoods are all opaque), the ``ceil(n / 20)``-th smallest
    block as ``sqrt(pi / 2) / 6`` times its mean response; the share of positions more than 48
    levels above or below all 8 neighbours."""
    g = np.asarray(levels, dtype=np.float64)
    h, w = g.shape
    ok = np.ones((h, w), bool) if opaque is None else np.asarray(opaque, bool)
    out = {"noise_flat": 0.0, "impulse_share": 0.0}
    if min(h, w) < 3:
        return out
    ok3 = ndimage.minimum_filter(ok.astype(np.uint8), size=3, mode="constant")[1:-1, 1:-1].astype(bool)
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    resp = np.abs(ndimage.correlate(g, mask)[1:-1, 1:-1])
    nh, nw = (h - 2) // 4, (w - 2) // 4
    blocks = []
    for by in range(nh):
        for bx in range(nw):
            sl = np.s_[4 * by : 4 * by + 4, 4 * bx : 4 * bx + 4]
            if ok3[sl].all():
                blocks.append(resp[sl].sum())
    if blocks:
        k = -(-len(blocks) // 20)  # ceil(n / 20)
        out["noise_flat"] = sorted(blocks)[k - 1] / 16.0 * math.sqrt(math.pi / 2.0) / 6.0
    centre = g[1:-1, 1:-1]
    foot = np.ones((3, 3), bool)
    foot[1, 1] = False
    hi = ndimage.maximum_filter(g, footprint=foot)[1:-1, 1:-1]
    lo = ndimage.minimum_filter(g, footprint=foot)[1:-1, 1:-1]
    imp = ((centre - hi) > 48) | ((lo - centre) > 48)
    if ok3.any():
        out["impulse_share"] = float((imp & ok3).sum() / ok3.sum())
    return out


def chroma_noise_ref(levels: np.ndarray, opaque: np.ndarray | None = None) -> float:
    """``noise_chroma`` of a window's 256-level channel values ``(C, h, w)`` from its written
    definition (float64, scipy): Immerkær's response of ``R - G`` and of ``B - G``, their absolute
    values summed over 4 x 4 blocks of mask positions (blocks whose 3 x 3 neighbourhoods are all
    opaque), the ``ceil(n / 20)``-th smallest block as ``sqrt(pi / 2) / 6`` times its mean response
    over ``2 sqrt(2)``; 0 below three channels or without a block."""
    v = np.asarray(levels, dtype=np.float64)
    if v.shape[0] < 3:
        return 0.0
    h, w = v.shape[1:]
    ok = np.ones((h, w), bool) if opaque is None else np.asarray(opaque, bool)
    if min(h, w) < 3:
        return 0.0
    ok3 = ndimage.minimum_filter(ok.astype(np.uint8), size=3, mode="constant")[1:-1, 1:-1].astype(bool)
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    resp = sum(np.abs(ndimage.correlate(v[c] - v[1], mask)[1:-1, 1:-1]) for c in (0, 2))
    blocks = [
        resp[4 * by : 4 * by + 4, 4 * bx : 4 * bx + 4].sum()
        for by in range((h - 2) // 4)
        for bx in range((w - 2) // 4)
        if ok3[4 * by : 4 * by + 4, 4 * bx : 4 * bx + 4].all()
    ]
    if not blocks:
        return 0.0
    k = -(-len(blocks) // 20)  # ceil(n / 20)
    return sorted(blocks)[k - 1] / 16.0 * math.sqrt(math.pi / 2.0) / 6.0 / (2.0 * math.sqrt(2.0))


def motion_ref(levels: np.ndarray) -> dict:
    """``motion_ratio``, ``motion_energy``, ``motion_angle``, ``motion_cross`` and ``motion_peak`` of a
    256-level grey image from their
    written definitions (float64, one direction and step at a time): the central window of at most
    768 px a side (offsets on the 8-px grid), second differences at steps 2 and 8 along the rows,
    the falling diagonal, the columns and the rising diagonal over the positions 8 px or more inside
    it, each mean square less 1/2 (8-bit rounding), clamped at 1e-9; ``q = sqrt(E2 / E8)``, over
    the directions whose ``E8`` is at least 0.05 the least ``q`` over the greatest, the weakest
    direction's ``E8`` (at least 0) and angle, the perpendicular direction's ``q`` over the least of the
    two directions between them that take part, at most 1 (1 where the perpendicular or both of those
    have ``E8`` under 0.05); the weakest direction's ``sqrt(T2 / T8)``, ``T_s`` the greatest mean
    square less 1/2 (clamped at 1e-9) over the whole 8 x 8 tiles of the positions, tiled from the
    first; 1, 0, 0, 1, 1 under 64 px a side or without such a direction."""
    none = {"motion_ratio": 1.0, "motion_energy": 0.0, "motion_angle": 0.0, "motion_cross": 1.0, "motion_peak": 1.0}
    g = np.asarray(levels, dtype=np.float64)
    h, w = g.shape
    if min(h, w) < 64:
        return none
    wh, ww = min(h, 768), min(w, 768)
    y0, x0 = max(0, (h - 768) // 2) // 8 * 8, max(0, (w - 768) // 2) // 8 * 8
    g = g[y0 : y0 + wh, x0 : x0 + ww]
    qs, e8s, peaks = [], [], []
    for (dy, dx), angle in zip(((0, 1), (1, 1), (1, 0), (1, -1)), (0.0, 135.0, 90.0, 45.0)):
        energies, tops = [], []
        for s in (2, 8):
            ys, xs = np.arange(8, wh - 8), np.arange(8, ww - 8)
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            d = g[yy + s * dy, xx + s * dx] + g[yy - s * dy, xx - s * dx] - 2.0 * g[yy, xx]
            energies.append(float(np.mean(d * d)) - 0.5)
            tiles = [
                float(np.mean(d[ty : ty + 8, tx : tx + 8] ** 2)) - 0.5
                for ty in range(0, d.shape[0] - 7, 8)
                for tx in range(0, d.shape[1] - 7, 8)
            ]
            tops.append(max(max(tiles), 1e-9))
        qs.append((math.sqrt(max(energies[0], 1e-9) / max(energies[1], 1e-9)), angle))
        e8s.append(energies[1])
        peaks.append(math.sqrt(tops[0] / tops[1]))
    part = [i for i in range(4) if e8s[i] >= 0.05]  # directions with detail at step 8
    if not part:
        return none
    k = min(part, key=lambda i: (qs[i][0], i))
    across = (k + 2) % 4  # the directions are 45 degrees apart: the perpendicular is two places on
    between = [qs[i][0] for i in ((k + 1) % 4, (k + 3) % 4) if i in part]  # 45 degrees from both
    top = max(qs[i][0] for i in part)
    return {
        "motion_ratio": qs[k][0] / top,
        "motion_energy": max(e8s[k], 0.0),
        "motion_angle": qs[k][1],
        "motion_cross": min(1.0, qs[across][0] / min(between)) if across in part and between else 1.0,
        "motion_peak": peaks[k],
    }


def bright_peak_ref(counts: np.ndarray, unit: float = 1.0) -> float:
    """``bright_p9999`` from the bright channel's 256 counts (alpha-weighted; ``unit``: one opaque
    pixel's weight): the lowest level whose cumulative share reaches 99.99 %, on an image of fewer
    than 30,000 seen pixels ``1 - 3 / pixels`` (at most three seen pixels above it), never under
    99 %; nothing seen: one black pixel."""
    h = np.asarray(counts, dtype=np.float64).copy()
    if h.sum() <= 0:
        h[0] = 1.0
    share = min(0.9999, max(1.0 - 3.0 * unit / h.sum(), 0.99))
    return int(np.argmax(np.cumsum(h / h.sum()) >= share - 1e-9)) / 255.0


def colour_free_ref(levels: np.ndarray, alpha: np.ndarray) -> float:
    """``colour_free`` from its definition in float64: the visible colour's 256-level grey ``levels``
    weighted by ``alpha`` (0..255), grouped by ``floor(alpha / 16)`` (16 bins); the within-bin over the
    total weighted variance, the total at least 16 grey levels² per unit weight; 0 with nothing visible."""
    q = np.asarray(levels, dtype=np.float64).ravel()
    a = np.asarray(alpha, dtype=np.float64).ravel()
    if a.sum() <= 0:
        return 0.0
    total = (a * (q - (a * q).sum() / a.sum()) ** 2).sum()
    bins = np.clip(np.floor(a / 16.0), 0, 15)
    within = 0.0
    for k in range(16):
        sel = bins == k
        if a[sel].sum() > 0:
            within += (a[sel] * (q[sel] - (a[sel] * q[sel]).sum() / a[sel].sum()) ** 2).sum()
    return float(np.clip(within / max(total, 16.0 * a.sum()), 0.0, 1.0))


def grain_free_ref(levels: np.ndarray, opaque: np.ndarray | None = None) -> float:
    """``grain_free`` of a window's 256-level channel values ``(C, h, w)`` from its written definition
    (float64, scipy, numpy's least squares): the three channels' Immerkær responses at the mask
    positions whose 3 x 3 neighbourhood has no channel at 0 or 255 (and is opaque), ``1 - R²`` of
    ``rR + rG + rB`` regressed on ``(rR - rG, rB - rG)`` without intercept; 1 below three channels,
    under 256 positions or without a grey residual."""
    v = np.asarray(levels, dtype=np.float64)
    if v.shape[0] < 3 or min(v.shape[1:]) < 3:
        return 1.0
    bad = (v[:3].min(0) <= 0) | (v[:3].max(0) >= 255)
    if opaque is not None:
        bad |= ~np.asarray(opaque, bool)
    ok = ~ndimage.maximum_filter(bad.astype(np.uint8), size=3, mode="constant")[1:-1, 1:-1].astype(bool)
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    r = np.stack([ndimage.correlate(v[c], mask)[1:-1, 1:-1][ok] for c in range(3)], axis=1)
    m = r.sum(axis=1)
    if r.shape[0] < 256 or not (m @ m) > 0:
        return 1.0
    x = np.stack([r[:, 0] - r[:, 1], r[:, 2] - r[:, 1]], axis=1)
    coef = np.linalg.lstsq(x, m, rcond=None)[0]
    resid = m - x @ coef
    return float(min(max((resid @ resid) / (m @ m), 0.0), 1.0))


def seam_ref(lev: np.ndarray) -> dict[str, float]:
    """``seam_ratio`` / ``seam_corr`` of a 256-level grey image ``(H, W)`` from their definition in
    float64 (means and variances of the border lines, not the kernels' integer sums): per direction the
    squared step across the wrap-around seam against the mean of the two beside it, and ``1 -`` that
    step over the two edge lines' summed variances (0 where they sum to under 32, at least -1); the larger ratio
    and the smaller correlation of the two directions; 0 and 0 under 4 px a side."""
    g = np.asarray(lev, dtype=np.float64)
    if min(g.shape) < 4:
        return {"seam_ratio": 0.0, "seam_corr": 0.0}
    ratios, corrs = [], []
    for lines in (g, g.T):  # the columns' seam, then the rows'
        a, b, y, z = lines[:, 0], lines[:, 1], lines[:, -2], lines[:, -1]
        wrap, edge = np.mean((z - a) ** 2), (np.mean((a - b) ** 2) + np.mean((y - z) ** 2)) / 2.0
        var = a.var() + z.var()
        ratios.append(wrap / edge if edge > 0 else 2.0 * len(a) * wrap)
        corrs.append(max(1.0 - wrap / var, -1.0) if var >= 32.0 else 0.0)
    return {"seam_ratio": max(ratios), "seam_corr": min(corrs)}
