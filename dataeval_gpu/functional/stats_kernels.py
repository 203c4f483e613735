"""Batched numerical kernels of the statistics: moments, percentiles, histograms, Laplacians.

Row-wise tensor math shared by the 8-bit (value counts) and direct (float) passes of
:mod:`dataeval_gpu.functional.stats`.  No Python loop runs over pixels; every function keeps
its input's device.
"""

from __future__ import annotations

import torch

__all__ = [
    "QUARTILES",
    "EPS",
    "lerp",
    "laplacian",
    "moments",
    "entropy",
    "hist_bins",
    "sorted_percentiles",
    "histogram_rows",
    "float_laplacian",
    "population_std",
    "blur_from_lap_counts",
    "count_uint8",
]

QUARTILES = (0.0, 25.0, 50.0, 75.0, 100.0)
EPS = 1e-12  # DataEval 1.x's EPSILON, used by contrast


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """numpy's ``_lerp`` (the 'linear' percentile method), same rounding branches."""
    diff = b - a
    return torch.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _pad_replicate(x: torch.Tensor) -> torch.Tensor:
    """Replicate-pad the last two dims by one (works for integer dtypes, unlike F.pad)."""
    x = torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=-2)
    return torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """3×3 Laplacian with all −1 and centre 8, replicate border (scipy ``boundary="symm"``).

    ``(..., H, W)`` in, same shape and dtype out.  Computed as ``9·x − box3×3(x)`` with a
    separable box sum, so integer inputs give exact integer results.
    """
    p = _pad_replicate(x)
    rows = p[..., :, :-2] + p[..., :, 1:-1] + p[..., :, 2:]
    box = rows[..., :-2, :] + rows[..., 1:-1, :] + rows[..., 2:, :]
    return x * 9 - box


def _scipy_moment_nan(m2: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """scipy.stats.skew / kurtosis return NaN where the variance is zero to precision."""
    resolution = 1e-15  # np.finfo(np.float64).resolution
    return m2 <= (resolution * mean) ** 2


def moments(
    mean: torch.Tensor,
    m2: torch.Tensor,
    m3: torch.Tensor,
    m4: torch.Tensor,
    constant: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """Moments dict; skew and kurtosis are NaN where the variance is zero to precision and,
    whatever the rounding of the mean, where the row is ``constant`` (one distinct value)."""
    nan = _scipy_moment_nan(m2, mean)
    if constant is not None:
        nan = nan | constant
    # sqrt and products (correctly rounded everywhere), not pow: results must not depend on
    # where a row sits in a vector (SIMD pow and scalar pow differ in the last bit)
    safe = m2.clamp_min(1e-300)
    skew = torch.where(nan, torch.full_like(m2, float("nan")), m3 / (safe * safe.sqrt()))
    kurt = torch.where(nan, torch.full_like(m2, float("nan")), m4 / (safe * safe) - 3.0)
    return {"mean": mean, "std": m2.sqrt(), "var": m2, "skew": skew, "kurtosis": kurt}


def entropy(hist: torch.Tensor) -> torch.Tensor:
    """scipy.stats.entropy of each row of counts: −Σ p ln p (NaN for an all-zero row)."""
    h = hist.to(torch.float64)
    total = h.sum(-1, keepdim=True)
    p = h / total
    terms = torch.where(p > 0, -p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))
    return terms.sum(-1) + torch.where(total.squeeze(-1) > 0, 0.0, float("nan"))


def hist_bins(scale: torch.Tensor) -> torch.Tensor:
    """Histogram bin (256 bins over [0, 1], numpy's edges) of each raw value 0..255 scaled by ``scale``.

    scale: ``(R,)`` float64 divisor.  Returns ``(R, 256)`` int64; values above 1 map to 256
    (outside), which the caller drops.
    """
    v = torch.arange(256, device=scale.device, dtype=torch.float64)
    s = v.unsqueeze(0) / scale.unsqueeze(1)
    b = torch.floor(s * 256).to(torch.int64)
    b = torch.where(s == 1.0, torch.full_like(b, 255), b)
    return torch.where(s > 1.0, torch.full_like(b, 256), b)


def sorted_percentiles(flat: torch.Tensor) -> torch.Tensor:
    """numpy 'linear' percentiles of each row of ``flat (R, M)`` (NaN anywhere → all NaN)."""
    r, m = flat.shape
    srt, _ = torch.sort(flat, dim=-1)
    q = torch.tensor(QUARTILES, device=flat.device, dtype=torch.float64) / 100.0
    virt = q * (m - 1)
    lo = torch.floor(virt)
    hi = torch.clamp(lo + 1, max=m - 1)
    a = srt[:, lo.to(torch.int64)]
    b = srt[:, hi.to(torch.int64)]
    out = lerp(a, b, (virt - lo).unsqueeze(0).expand(r, -1))
    has_nan = torch.isnan(flat).any(-1, keepdim=True)
    return torch.where(has_nan, torch.full_like(out, float("nan")), out)


def histogram_rows(flat: torch.Tensor) -> torch.Tensor:
    """Counts of each row's values in 256 equal bins over [0, 1] (numpy's edges; outside and NaN dropped)."""
    r, m = flat.shape
    inside = (flat >= 0) & (flat <= 1)
    b = torch.floor(flat * 256).clamp(0, 255).to(torch.int64)
    b = torch.where(inside, b, torch.full_like(b, 256))
    rid = torch.arange(r, device=flat.device, dtype=torch.int64).unsqueeze(1) * 257
    h = torch.bincount((b + rid).reshape(-1), minlength=r * 257).reshape(r, 257)
    return h[:, :256]


def float_laplacian(g: torch.Tensor) -> torch.Tensor:
    """Laplacian (centre 8, all −1) of ``(B, H, W)`` float64, replicate border: the separable
    stencil of ``laplacian``, elementwise, so an image's values do not depend on the stack it
    is in (a convolution's blocking does: kornia's ``laplacian``, conv2d, gave a 2 × 2 uint16
    image's sharpness 104.69447314940479 alone and ...477 stacked with another image).

    ``8·x − (sum of the 8 neighbours)``, not ``laplacian``'s ``9·x − box``: at an infinite
    pixel that would be inf − inf (NaN) where the convolution gives ±inf."""
    p = _pad_replicate(g)
    top = p[..., :-2, :-2] + p[..., :-2, 1:-1] + p[..., :-2, 2:]
    bottom = p[..., 2:, :-2] + p[..., 2:, 1:-1] + p[..., 2:, 2:]
    return g * 8 - (top + (p[..., 1:-1, :-2] + p[..., 1:-1, 2:]) + bottom)


def population_std(v: torch.Tensor) -> torch.Tensor:
    """Population std of each row of ``(R, M)``, two-pass as numpy's ``std``.

    Not ``Tensor.std`` nor one ``mean(-1)`` over the rows: torch's CPU kernels give a row a
    result that depends on how many rows are reduced together (last-bit differences), and a
    row's value must not depend on the batch it came in (a split-and-retry or another batch
    size must give the same results).  On a GPU the rows are reduced together (results there
    agree with the CPU's to rounding, not bit for bit).
    """
    if v.device.type != "cpu" or v.shape[-1] == 0:
        d = v - v.mean(-1, keepdim=True)
        return (d * d).mean(-1).sqrt()
    # torch's CPU reduction of a few short rows vectorises across the rows, of one row along
    # it: another summation order (a 2 x 2 image: 125.69001139305661 alone, ...666 stacked
    # with one more).  A cumulative sum adds each row's values in order, however many rows.
    n = v.shape[-1]
    d = v - (v.cumsum(-1)[..., -1:] / n)
    return ((d * d).cumsum(-1)[..., -1] / n).sqrt()


def blur_from_lap_counts(lap: torch.Tensor, cmax: int, c: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """std of clip(k·L/C + 0.5, 0, 255) from counts of the integer Laplacian L of the channel sum.

    With integer ``k`` the value times 2C is the integer g = clip(2kL + C, 0, 510C), so the
    sums of g and g² are exact int64 sums: the result does not depend on how images were
    batched (nor on the summation order of any device).
    """
    off = cmax  # see count_uint8: L clamped to [-cmax, 255·cmax], offset by cmax
    lv = torch.arange(lap.shape[1], device=lap.device, dtype=torch.int64) - off
    c64 = c.to(torch.int64).unsqueeze(1)
    g = torch.minimum(
        torch.clamp_min(2 * k.to(torch.int64).unsqueeze(1) * lv.unsqueeze(0) + c64, 0), 510 * c64
    )
    n = lap.sum(-1).to(torch.float64)
    s1 = (lap * g).sum(-1).to(torch.float64)
    s2 = (lap * g * g).sum(-1).to(torch.float64)
    mean = s1 / n
    var = (s2 / n - mean * mean).clamp_min(0.0)
    return var.sqrt() / (2.0 * c.to(torch.float64))


def count_uint8(
    x: torch.Tensor, cmax: int, per_row_bincount: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Value counts and Laplacian-value counts of a stacked uint8 bucket.

    x: ``(B, C, H, W)`` uint8.  Returns ``counts (B, C, 256)`` int64 and
    ``lap (B, 256·cmax + 1)`` int64, the counts of the integer Laplacian L of the channel
    sum clamped to ``[-cmax, 255·cmax]`` and offset by ``cmax``.  The clamp loses nothing:
    blurriness and sharpness read clip(k·L/C + 0.5, 0, 255) with k >= 1, which is already 0
    for L <= -C/2 and 255 for L >= 254.5·C.

    ``per_row_bincount`` counts each channel straight from its uint8 buffer (no widening:
    fastest for one big image on the CPU); otherwise one bincount over the offset values
    ``(image·C + c)·256 + value`` covers the whole stack (the path of CUDA and of stacks of
    small images).  Both give the same integers.
    """
    b, c, h, w = x.shape
    off = cmax
    nb = 256 * cmax + 1
    sdtype = torch.int16 if c <= 16 else torch.int32
    s = x.sum(1, dtype=sdtype)
    lap = laplacian(s).clamp_(-cmax, 255 * cmax).add_(off)
    if per_row_bincount:
        rows = x.reshape(b * c, h * w)
        counts = torch.stack([torch.bincount(rows[i], minlength=256) for i in range(b * c)])
        lap_flat = lap.reshape(b, h * w)
        lap_counts = torch.stack([torch.bincount(lap_flat[i], minlength=nb) for i in range(b)])
        return counts.reshape(b, c, 256), lap_counts
    ids = torch.arange(b * c, device=x.device, dtype=torch.int64).unsqueeze(1) * 256
    counts = torch.bincount(
        (x.reshape(b * c, h * w).to(torch.int64) + ids).reshape(-1), minlength=b * c * 256
    )
    bid = torch.arange(b, device=x.device, dtype=torch.int64).unsqueeze(1) * nb
    lap_counts = torch.bincount((lap.reshape(b, h * w).to(torch.int64) + bid).reshape(-1), minlength=b * nb)
    return counts.reshape(b, c, 256), lap_counts.reshape(b, nb)
