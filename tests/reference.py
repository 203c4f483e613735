"""Straightforward float64 numpy/scipy implementations of the metric definitions in docs/metrics.md.

Written from the definitions, one image at a time, as the independent reference the tests
compare against (the reference ``dataeval`` package is compared too, where installed).
"""

from __future__ import annotations

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
