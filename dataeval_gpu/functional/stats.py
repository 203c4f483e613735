"""Batched per-image and per-channel statistics with DataEval 0.65's definitions.

Two numerical paths, one set of definitions (see DESIGN.md, "The metrics"):

* **8-bit path** (uint8 and bool images): every pixel statistic is a function of the
  per-channel count of each raw value, and blurriness is the population std of a function
  of the integer 3×3 Laplacian of the channel sum, so it too comes from a count of its
  values.  Counting is exact and cheap: on CUDA one ``bincount`` covers a size bucket; on
  the CPU each channel is counted straight from its uint8 buffer and images run on a small
  thread pool (torch releases the GIL).
* **direct path** (floats, 16-bit and wider integers): float64 reductions over a stacked
  size bucket ``(B, C, H, W)``; percentiles by a sort; the Laplacian with kornia.

Both paths end in :func:`_moments_from_counts`-style batched tensor math, so no Python loop
runs over pixels, and the results stay on the input's device.

Outputs are dicts of tensors with one row per image (``(N,)``, ``(N, 5)``, ``(N, 256)``)
or, for the per-channel set, one row per (image, channel) pair.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = [
    "QUARTILES",
    "IMAGE_KEYS",
    "CHANNEL_KEYS",
    "bit_depth",
    "image_statistics",
    "laplacian",
]

QUARTILES = (0.0, 25.0, 50.0, 75.0, 100.0)
_BIT_DEPTHS = (1, 8, 12, 16, 32)
_EPS = 1e-12  # DataEval 1.x's EPSILON, used by contrast

#: keys of :func:`image_statistics`'s per-image output, in DataEval 0.65's order, then 1.x additions
IMAGE_KEYS = (
    "width",
    "height",
    "size",
    "aspect_ratio",
    "channels",
    "depth",
    "brightness",
    "blurriness",
    "missing",
    "zero",
    "mean",
    "std",
    "var",
    "skew",
    "kurtosis",
    "entropy",
    "percentiles",
    "histogram",
    "darkness",
    "contrast",
    "sharpness",
    "zeros",
)
#: keys of the per-channel output (one row per image and channel)
CHANNEL_KEYS = ("mean", "std", "var", "skew", "kurtosis", "entropy", "percentiles", "histogram")


# ----------------------------------------------------------------------------- helpers


def bit_depth(vmin: torch.Tensor, vmax: torch.Tensor) -> torch.Tensor:
    """DataEval 0.65's bit depth from per-image min and max: the smallest d of (1, 8, 12, 16, 32)
    with ``2**d > max``, 0 when ``min < 0``, 32 when no depth fits (and for NaN, whose
    comparisons are all false).  Shapes ``(N,)`` in, int64 ``(N,)`` out."""
    vmax = vmax.to(torch.float64)
    depth = torch.full_like(vmax, 32, dtype=torch.int64)
    for d in reversed(_BIT_DEPTHS):
        depth = torch.where(vmax < float(2**d), torch.full_like(depth, d), depth)
    return torch.where(vmin.to(torch.float64) < 0, torch.zeros_like(depth), depth)


def _lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
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


def _moments(
    mean: torch.Tensor,
    m2: torch.Tensor,
    m3: torch.Tensor,
    m4: torch.Tensor,
    constant: torch.Tensor | None = None,
) -> dict:
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


def _entropy(hist: torch.Tensor) -> torch.Tensor:
    """scipy.stats.entropy of each row of counts: −Σ p ln p (NaN for an all-zero row)."""
    h = hist.to(torch.float64)
    total = h.sum(-1, keepdim=True)
    p = h / total
    terms = torch.where(p > 0, -p * torch.log(p.clamp_min(1e-300)), torch.zeros_like(p))
    return terms.sum(-1) + torch.where(total.squeeze(-1) > 0, 0.0, float("nan"))


# ----------------------------------------------------------------------------- 8-bit path


def _count_uint8(x: torch.Tensor, cmax: int, per_channel_bincount: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Value counts and Laplacian-value counts of a stacked uint8 bucket.

    x: ``(B, C, H, W)`` uint8.  Returns ``counts (B, C, 256)`` int64 and
    ``lap (B, 256·cmax + 1)`` int64, the counts of the integer Laplacian L of the channel
    sum clamped to ``[-cmax, 255·cmax]`` and offset by ``cmax``.  The clamp loses nothing:
    blurriness and sharpness read clip(k·L/C + 0.5, 0, 255) with k >= 1, which is already 0
    for L <= -C/2 and 255 for L >= 254.5·C.
    """
    b, c, h, w = x.shape
    off = cmax
    nb = 256 * cmax + 1
    sdtype = torch.int16 if c <= 16 else torch.int32
    s = x.sum(1, dtype=sdtype)
    lap = laplacian(s).clamp_(-cmax, 255 * cmax).add_(off)
    if x.device.type == "cpu" and per_channel_bincount:
        rows = x.reshape(b * c, h * w)
        counts = torch.stack([torch.bincount(rows[i], minlength=256) for i in range(b * c)])
        lap_flat = lap.reshape(b, h * w)
        lap_counts = torch.stack([torch.bincount(lap_flat[i], minlength=nb) for i in range(b)])
        return counts.reshape(b, c, 256), lap_counts
    ids = torch.arange(b * c, device=x.device, dtype=torch.int64).unsqueeze(1) * 256
    counts = torch.bincount((x.reshape(b * c, h * w).to(torch.int64) + ids).reshape(-1), minlength=b * c * 256)
    bid = torch.arange(b, device=x.device, dtype=torch.int64).unsqueeze(1) * nb
    lap_counts = torch.bincount((lap.reshape(b, h * w).to(torch.int64) + bid).reshape(-1), minlength=b * nb)
    return counts.reshape(b, c, 256), lap_counts.reshape(b, nb)


def _hist_bins(scale: torch.Tensor) -> torch.Tensor:
    """Histogram bin (256 bins over [0, 1], numpy's edges) of each raw value 0..255 scaled by ``scale``.

    scale: ``(R,)`` float64 divisor.  Returns ``(R, 256)`` int64; values above 1 map to 256
    (outside), which the caller drops.
    """
    v = torch.arange(256, device=scale.device, dtype=torch.float64)
    s = v.unsqueeze(0) / scale.unsqueeze(1)
    b = torch.floor(s * 256).to(torch.int64)
    b = torch.where(s == 1.0, torch.full_like(b, 255), b)
    return torch.where(s > 1.0, torch.full_like(b, 256), b)


def _stats_from_counts(counts: torch.Tensor, depth: torch.Tensor, hw: torch.Tensor) -> dict:
    """Pixel statistics of rows of raw-value counts.

    counts: ``(R, 256)`` int64 counts of raw values 0..255; depth: ``(R,)`` bit depth used
    for scaling (1 or 8); hw: ``(R,)`` pixels per channel.  Returns per-row tensors.
    """
    dev = counts.device
    n = counts.sum(-1).to(torch.float64)
    scale = (2.0 ** depth.to(torch.float64)) - 1.0  # 1 for depth 1: the identity
    v = torch.arange(256, device=dev, dtype=torch.float64)
    s = v.unsqueeze(0) / scale.unsqueeze(1)  # (R, 256) scaled value of each raw value
    w = counts.to(torch.float64)
    mean = (w * s).sum(-1) / n
    d = s - mean.unsqueeze(1)
    d2 = d * d
    m2 = (w * d2).sum(-1) / n
    m3 = (w * d2 * d).sum(-1) / n
    m4 = (w * d2 * d2).sum(-1) / n
    out = _moments(mean, m2, m3, m4, constant=(counts > 0).sum(-1) == 1)

    # percentiles, numpy 'linear': the k-th smallest value is the first raw value whose
    # running count exceeds k
    cum = counts.cumsum(-1)
    q = torch.tensor(QUARTILES, device=dev, dtype=torch.float64) / 100.0
    virt = q.unsqueeze(0) * (n.unsqueeze(1) - 1)
    lo = torch.floor(virt)
    hi = torch.clamp(lo + 1, max=n.unsqueeze(1) - 1)
    vlo = torch.searchsorted(cum, lo.to(torch.int64), right=True).clamp(max=255)
    vhi = torch.searchsorted(cum, hi.to(torch.int64), right=True).clamp(max=255)
    a = torch.gather(s, 1, vlo)
    b = torch.gather(s, 1, vhi)
    out["percentiles"] = _lerp(a, b, virt - lo)

    bins = _hist_bins(scale)
    hist = torch.zeros(counts.shape[0], 257, device=dev, dtype=torch.int64)
    hist.scatter_add_(1, bins, counts)
    out["histogram"] = hist[:, :256]
    out["entropy"] = _entropy(out["histogram"])
    out["zero"] = counts[:, 0].to(torch.float64) / hw.to(torch.float64)
    return out


def _blur_from_lap_counts(lap: torch.Tensor, cmax: int, c: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """std of clip(k·L/C + 0.5, 0, 255) from counts of the integer Laplacian L of the channel sum.

    With integer ``k`` the value times 2C is the integer g = clip(2kL + C, 0, 510C), so the
    sums of g and g² are exact int64 sums: the result does not depend on how images were
    batched (nor on the summation order of any device).
    """
    off = cmax  # see _count_uint8: L clamped to [-cmax, 255·cmax], offset by cmax
    lv = torch.arange(lap.shape[1], device=lap.device, dtype=torch.int64) - off
    c64 = c.to(torch.int64).unsqueeze(1)
    g = torch.minimum(torch.clamp_min(2 * k.to(torch.int64).unsqueeze(1) * lv.unsqueeze(0) + c64, 0), 510 * c64)
    n = lap.sum(-1).to(torch.float64)
    s1 = (lap * g).sum(-1).to(torch.float64)
    s2 = (lap * g * g).sum(-1).to(torch.float64)
    mean = s1 / n
    var = (s2 / n - mean * mean).clamp_min(0.0)
    return var.sqrt() / (2.0 * c.to(torch.float64))


# ----------------------------------------------------------------------------- direct path


def _sorted_percentiles(flat: torch.Tensor) -> torch.Tensor:
    """numpy 'linear' percentiles of each row of ``flat (R, M)`` (NaN anywhere → all NaN)."""
    r, m = flat.shape
    srt, _ = torch.sort(flat, dim=-1)
    q = torch.tensor(QUARTILES, device=flat.device, dtype=torch.float64) / 100.0
    virt = q * (m - 1)
    lo = torch.floor(virt)
    hi = torch.clamp(lo + 1, max=m - 1)
    a = srt[:, lo.to(torch.int64)]
    b = srt[:, hi.to(torch.int64)]
    out = _lerp(a, b, (virt - lo).unsqueeze(0).expand(r, -1))
    has_nan = torch.isnan(flat).any(-1, keepdim=True)
    return torch.where(has_nan, torch.full_like(out, float("nan")), out)


def _histogram_rows(flat: torch.Tensor) -> torch.Tensor:
    """Counts of each row's values in 256 equal bins over [0, 1] (numpy's edges; outside and NaN dropped)."""
    r, m = flat.shape
    inside = (flat >= 0) & (flat <= 1)
    b = torch.floor(flat * 256).clamp(0, 255).to(torch.int64)
    b = torch.where(inside, b, torch.full_like(b, 256))
    rid = torch.arange(r, device=flat.device, dtype=torch.int64).unsqueeze(1) * 257
    h = torch.bincount((b + rid).reshape(-1), minlength=r * 257).reshape(r, 257)
    return h[:, :256]


def _direct_pixel_stats(flat: torch.Tensor) -> dict:
    """Moments, percentiles, histogram and entropy of each row of scaled values ``(R, M)`` float64."""
    mean = flat.mean(-1)
    d = flat - mean.unsqueeze(1)
    d2 = d * d
    m2 = d2.mean(-1)
    m3 = (d2 * d).mean(-1)
    m4 = (d2 * d2).mean(-1)
    out = _moments(mean, m2, m3, m4, constant=flat.amax(-1) == flat.amin(-1))
    out["percentiles"] = _sorted_percentiles(flat)
    out["histogram"] = _histogram_rows(flat)
    out["entropy"] = _entropy(out["histogram"])
    return out


def _float_laplacian(g: torch.Tensor) -> torch.Tensor:
    """Laplacian (centre 8, all −1) of ``(B, H, W)`` float64, replicate border.

    kornia's ``laplacian`` (kernel 3, replicate border, unnormalised) is the negative of
    this kernel; it is used where it handles the shape (both sides ≥ 2), our separable
    stencil otherwise.
    """
    if min(g.shape[-2:]) >= 2:
        import kornia

        return -kornia.filters.laplacian(g.unsqueeze(1), 3, border_type="replicate", normalized=False).squeeze(1)
    return laplacian(g)


def _population_std(v: torch.Tensor) -> torch.Tensor:
    """Population std of each row of ``(R, M)``, two-pass as numpy's ``std``.

    Not ``Tensor.std``: its CPU kernel gives a row a result that depends on how many rows
    are reduced together (last-bit differences), and a row's value must not depend on the
    batch it came in (a split-and-retry or another batch size must give the same results).
    """
    d = v - v.mean(-1, keepdim=True)
    return (d * d).mean(-1).sqrt()


def _direct_bucket(x: torch.Tensor, want_channels: bool) -> tuple[dict, dict | None]:
    """Statistics of a stacked bucket ``(B, C, H, W)`` of any non-8-bit dtype."""
    b, c, h, w = x.shape
    xf = x.to(torch.float64)
    flat = xf.reshape(b, -1)
    vmin = flat.amin(-1)
    vmax = flat.amax(-1)
    has_nan = torch.isnan(flat).any(-1)
    vmin = torch.where(has_nan, torch.full_like(vmin, float("nan")), vmin)
    vmax = torch.where(has_nan, torch.full_like(vmax, float("nan")), vmax)
    depth = bit_depth(vmin, vmax)
    # 0.65's rescale: identity at depth 1, (x + min)/(max − min) at depth 0, x/(2^d − 1) otherwise
    pmin = torch.where(depth == 0, vmin, torch.zeros_like(vmin))
    pmax = torch.where(depth == 0, vmax, 2.0 ** depth.to(torch.float64) - 1.0)
    denom = torch.where(depth == 1, torch.ones_like(pmax), pmax - pmin)
    addend = torch.where(depth == 1, torch.zeros_like(pmin), pmin)
    s = (xf + addend.view(b, 1, 1, 1)) / denom.view(b, 1, 1, 1)
    hw = float(h * w)

    out = _direct_pixel_stats(s.reshape(b, -1))
    out["depth"] = depth
    out["brightness"] = out["mean"]
    out["missing"] = torch.isnan(flat).sum(-1).to(torch.float64) / hw
    nzero = (flat == 0).sum(-1).to(torch.float64)
    out["zero"] = nzero / hw
    out["zeros"] = nzero / (hw * c)
    g = xf.mean(1)
    out["blurriness"] = _population_std((_float_laplacian(g) + 0.5).clamp(0, 255).reshape(b, -1))
    p = (s * 255.0).clamp(0, 255)
    gp = p.mean(1)
    # NaN pixels stay NaN through the clamp, so a NaN image has NaN sharpness; ±inf pixels
    # clamp to 0 / 255 here (finite), even where the raw blurriness is NaN (inf − inf)
    out["sharpness"] = _population_std((_float_laplacian(gp) + 0.5).clamp(0, 255).reshape(b, -1))
    ch = _direct_pixel_stats(s.reshape(b * c, -1)) if want_channels else None
    return out, ch


# ----------------------------------------------------------------------------- driver


def _threads() -> int:
    return max(1, min(8, torch.get_num_threads(), os.cpu_count() or 1))


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _forget_pool_in_child() -> None:
    """A forked child (a DataLoader worker) has none of the parent's pool threads: a pool
    inherited from the parent would queue work that never runs, so start from none."""
    global _POOL, _POOL_SIZE
    _POOL, _POOL_SIZE = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _pool(size: int) -> ThreadPoolExecutor:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE != size:
        _POOL = ThreadPoolExecutor(max_workers=size, thread_name_prefix="dataeval_gpu")
        _POOL_SIZE = size
    return _POOL


def _map_images_cpu(fn, items: list) -> list:
    """Run ``fn`` over images on a thread pool, torch's intra-op threads set to 1 meanwhile.

    Image-level parallelism beats intra-op parallelism for these small kernels (and does not
    collapse when the cores are shared); the caller's thread setting is restored after.
    """
    n_threads = _threads()
    if n_threads == 1 or len(items) == 1:
        return [fn(x) for x in items]
    torch.set_num_threads(1)
    try:
        return list(_pool(n_threads).map(fn, items))
    finally:
        torch.set_num_threads(n_threads)


def _is_8bit(t: torch.Tensor) -> bool:
    return t.dtype in (torch.uint8, torch.bool)


def image_statistics(
    images: Sequence[torch.Tensor],
    per_image: bool = True,
    per_channel: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """All per-image (and optionally per-channel) statistics of a ragged batch.

    Parameters
    ----------
    images : sequence of ``(C, H, W)`` tensors, any real dtype, all on one device.
    per_image : compute the per-image set (:data:`IMAGE_KEYS`).
    per_channel : also compute the per-channel set (:data:`CHANNEL_KEYS`), one row per
        (image, channel) in image order, plus ``"row_image"`` (position in ``images``) and
        ``"row_channel"``.

    Returns
    -------
    (image_stats, channel_stats): dicts of tensors on the images' device; scalars are
    ``(N,)`` float64 (int64 for the properties), ``percentiles`` ``(N, 5)``, ``histogram``
    ``(N, 256)`` int64.  ``channel_stats`` is None unless asked for.

    Examples
    --------
    >>> import torch
    >>> img = torch.tensor([[[0, 255], [255, 0]]], dtype=torch.uint8)
    >>> st, _ = image_statistics([img])
    >>> float(st["mean"][0]), float(st["zero"][0]), int(st["depth"][0])
    (0.5, 0.5, 8)
    """
    n = len(images)
    if n == 0:
        return {}, ({} if per_channel else None)
    dev = images[0].device
    shapes = torch.tensor([list(t.shape) for t in images], dtype=torch.int64)
    c_all, h_all, w_all = shapes[:, 0], shapes[:, 1], shapes[:, 2]

    # buckets: 8-bit images one by one on the CPU (thread pool), by shape elsewhere
    eight = [i for i, t in enumerate(images) if _is_8bit(t)]
    other = [i for i, t in enumerate(images) if not _is_8bit(t)]
    rows: dict[str, list[tuple[list[int], torch.Tensor]]] = defaultdict(list)
    ch_rows: dict[str, list[tuple[list[int], torch.Tensor]]] = defaultdict(list)

    if eight:
        cmax = int(c_all[eight].max())
        as_u8 = [images[i].view(torch.uint8) if images[i].dtype == torch.bool else images[i] for i in eight]
        # tasks: big images one by one (per-channel uint8 bincount, no widening), small ones
        # stacked by shape (one widened bincount per stack: per-image overhead dominates them)
        tasks: list[list[int]] = []
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for j, t in enumerate(as_u8):
            if dev.type == "cpu" and t.numel() >= 65536:
                tasks.append([j])
            else:
                groups[tuple(t.shape)].append(j)
        for shape, js in groups.items():
            per = max(1, (1 << 22) // max(1, int(torch.tensor(shape).prod())))
            tasks.extend(js[k : k + per] for k in range(0, len(js), per))

        def count_task(js: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            x = as_u8[js[0]].unsqueeze(0) if len(js) == 1 else torch.stack([as_u8[j] for j in js])
            return _count_uint8(x, cmax, per_channel_bincount=dev.type == "cpu" and len(js) == 1)

        results = _map_images_cpu(count_task, tasks) if dev.type == "cpu" else [count_task(js) for js in tasks]
        order = torch.tensor([j for js in tasks for j in js], dtype=torch.int64)
        inv = torch.empty_like(order)
        inv[order] = torch.arange(order.numel())
        inv = inv.to(dev)
        lap = torch.cat([r[1] for r in results])[inv]
        # per-image counts (channels summed); per-channel rows in image order
        img_counts = torch.cat([r[0].sum(1) for r in results])[inv]
        if per_channel:
            ch_blocks = [r[0][k] for r in results for k in range(r[0].shape[0])]
            counts_list = [ch_blocks[int(i)] for i in inv.tolist()]
        idx8 = torch.tensor(eight, dtype=torch.int64)
        c8 = c_all[idx8].to(dev)
        hw8 = (h_all[idx8] * w_all[idx8]).to(dev)
        nz = img_counts > 0
        maxv = torch.where(nz, torch.arange(256, device=dev).expand_as(img_counts), -1).amax(-1)
        depth8 = torch.where(maxv < 2, 1, 8).to(torch.int64)
        st = _stats_from_counts(img_counts, depth8, hw8)
        st["depth"] = depth8
        st["brightness"] = st["mean"]
        st["missing"] = torch.zeros(len(eight), dtype=torch.float64, device=dev)
        st["zeros"] = img_counts[:, 0].to(torch.float64) / (hw8 * c8).to(torch.float64)
        st["blurriness"] = _blur_from_lap_counts(lap, cmax, c8, torch.ones_like(hw8))
        # perceptual 0-255 view: x255 at depth 1, unchanged at depth 8
        st["sharpness"] = _blur_from_lap_counts(lap, cmax, c8, torch.where(depth8 == 1, 255, 1))
        for key, val in st.items():
            rows[key].append((eight, val))
        if per_channel:
            ch_counts = torch.cat(list(counts_list))
            rep = c8.to(dev)
            st_c = _stats_from_counts(
                ch_counts, torch.repeat_interleave(depth8, rep), torch.repeat_interleave(hw8, rep)
            )
            for key in CHANNEL_KEYS:
                ch_rows[key].append((eight, st_c[key]))

    if other:
        groups2: dict[tuple, list[int]] = defaultdict(list)
        for i in other:
            groups2[tuple(images[i].shape)].append(i)
        for idxs in groups2.values():
            st, st_c = _direct_bucket(torch.stack([images[i] for i in idxs]), per_channel)
            for key, val in st.items():
                rows[key].append((idxs, val))
            if st_c is not None:
                for key in CHANNEL_KEYS:
                    ch_rows[key].append((idxs, st_c[key]))

    out: dict[str, torch.Tensor] = {}
    if per_image:
        out = {
            "width": w_all.to(dev),
            "height": h_all.to(dev),
            "size": (h_all * w_all).to(dev),
            "aspect_ratio": (w_all.to(torch.float64) / h_all.to(torch.float64)).to(dev),
            "channels": c_all.to(dev),
        }
        for key, parts in rows.items():
            out[key] = _scatter_rows(parts, n, dev)
        pct = out["percentiles"]
        p255 = (pct * 255.0).clamp(0, 255)
        out["darkness"] = p255[:, 3]
        out["contrast"] = (p255.amax(-1) - p255.amin(-1)) / (p255.mean(-1) + _EPS)
        out = {key: out[key] for key in IMAGE_KEYS}

    ch_out = None
    if per_channel:
        ch_out = {}
        # per-channel rows in image order: each part covers whole images, C rows each
        order_parts = [(idxs, torch.repeat_interleave(torch.tensor(idxs), c_all[idxs])) for idxs, _ in ch_rows["mean"]]
        row_image = torch.cat([r for _, r in order_parts])
        perm = torch.argsort(row_image, stable=True).to(dev)
        for key in CHANNEL_KEYS:
            ch_out[key] = torch.cat([v for _, v in ch_rows[key]])[perm]
        ch_out["row_image"] = row_image[perm.cpu()].to(dev)
        ch_out["row_channel"] = torch.cat([torch.arange(int(c)) for c in c_all]).to(dev)
    return out, ch_out


def _scatter_rows(parts: list[tuple[list[int], torch.Tensor]], n: int, dev: torch.device) -> torch.Tensor:
    first = parts[0][1]
    res = torch.empty((n,) + tuple(first.shape[1:]), dtype=first.dtype, device=dev)
    for idxs, val in parts:
        res[torch.tensor(idxs, device=dev)] = val.to(first.dtype)
    return res
