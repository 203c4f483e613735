"""What a metric's function receives: the inputs of each kind of pass, with shared work cached.

* :class:`Shapes` — image sizes (``"shape"`` metrics).
* :class:`CountRows` — rows of raw-value counts of 8-bit images (``"counts"`` metrics).
* :class:`FloatRows` — the same rows as float64 values, for images of other dtypes (the
  direct float pass of ``"counts"`` metrics).
* :class:`Bucket` — a stack of same-size images, all pixels jointly (``"joint"`` metrics).
* :class:`BucketGroup` — the buckets of one batch (any sizes), for a ``"joint"`` metric's
  ``compute_group``.

Intermediate results several metrics share (the moments, the percentiles, the histogram)
are ``cached_property``: computed once per pass, whatever the number of metrics reading them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import torch

from .bitdepth import bit_depth, depth_scale
from .stats_kernels import (
    QUARTILES,
    entropy,
    hist_bins,
    histogram_rows,
    lerp,
    moments,
    sorted_percentiles,
)

__all__ = ["Shapes", "CountRows", "FloatRows", "Bucket"]


@dataclass
class Shapes:
    """``(N,)`` int64 channels, heights and widths of the images, on their device."""

    channels: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor


class CountRows:
    """Rows of counts of the raw values 0..255 (8-bit images).

    Parameters
    ----------
    counts : ``(R, 256)`` int64.
    depth : ``(R,)`` bit depth used for scaling (1 or 8).
    hw : ``(R,)`` pixels per channel.
    channels : ``(R,)`` channels of the row's image (image rows only).
    lap, cmax : counts of the integer Laplacian of the channel sum and its offset (image
        rows only; see :func:`~dataeval_gpu.functional.stats_kernels.count_uint8`).
    """

    def __init__(
        self,
        counts: torch.Tensor,
        depth: torch.Tensor,
        hw: torch.Tensor,
        channels: torch.Tensor | None = None,
        lap: torch.Tensor | None = None,
        cmax: int = 0,
    ) -> None:
        self.counts = counts
        self.depth = depth
        self.hw = hw
        self.channels = channels
        self.lap = lap
        self.cmax = cmax

    @cached_property
    def n(self) -> torch.Tensor:
        """Values per row, float64."""
        return self.counts.sum(-1).to(torch.float64)

    @cached_property
    def scale(self) -> torch.Tensor:
        """The divisor of 0.65's rescale (1 for depth 1: the identity)."""
        return depth_scale(self.depth)

    @cached_property
    def scaled(self) -> torch.Tensor:
        """``(R, 256)`` float64: the scaled value of each raw value."""
        v = torch.arange(256, device=self.counts.device, dtype=torch.float64)
        return v.unsqueeze(0) / self.scale.unsqueeze(1)

    @cached_property
    def moments(self) -> dict[str, torch.Tensor]:
        """mean, std, var, skew, kurtosis of the scaled values."""
        n, s = self.n, self.scaled
        w = self.counts.to(torch.float64)
        mean = (w * s).sum(-1) / n
        d = s - mean.unsqueeze(1)
        d2 = d * d
        m2 = (w * d2).sum(-1) / n
        m3 = (w * d2 * d).sum(-1) / n
        m4 = (w * d2 * d2).sum(-1) / n
        return moments(mean, m2, m3, m4, constant=(self.counts > 0).sum(-1) == 1)

    @cached_property
    def percentiles(self) -> torch.Tensor:
        """``(R, 5)`` numpy 'linear' quartiles: the k-th smallest value is the first raw value
        whose running count exceeds k."""
        n, s = self.n, self.scaled
        cum = self.counts.cumsum(-1)
        q = torch.tensor(QUARTILES, device=s.device, dtype=torch.float64) / 100.0
        virt = q.unsqueeze(0) * (n.unsqueeze(1) - 1)
        lo = torch.floor(virt)
        hi = torch.clamp(lo + 1, max=n.unsqueeze(1) - 1)
        vlo = torch.searchsorted(cum, lo.to(torch.int64), right=True).clamp(max=255)
        vhi = torch.searchsorted(cum, hi.to(torch.int64), right=True).clamp(max=255)
        return lerp(torch.gather(s, 1, vlo), torch.gather(s, 1, vhi), virt - lo)

    @cached_property
    def histogram(self) -> torch.Tensor:
        """``(R, 256)`` int64 counts in 256 bins over [0, 1]."""
        hist = torch.zeros(self.counts.shape[0], 257, device=self.counts.device, dtype=torch.int64)
        hist.scatter_add_(1, hist_bins(self.scale), self.counts)
        return hist[:, :256]

    @cached_property
    def entropy(self) -> torch.Tensor:
        return entropy(self.histogram)


class BucketGroup:
    """The buckets of one batch, in order (a ``"joint"`` metric's ``compute_group`` gets it;
    ``map_fn(fn, items)`` is how to run a per-bucket step: the CPU plan's thread pool)."""

    def __init__(self, buckets: list[Bucket], map_fn: Callable[[Callable[[Any], Any], list[Any]], list[Any]]) -> None:
        self.buckets = buckets
        self.map_fn = map_fn


class Bucket:
    """A stack ``(B, C, H, W)`` of same-size images in their own dtype (all pixels jointly).

    ``scaled`` is 0.65's rescale to [0, 1] in float64: identity at depth 1,
    ``(x + min) / (max − min)`` at depth 0, ``x / (2**d − 1)`` otherwise.
    """

    def __init__(self, raw: torch.Tensor) -> None:
        self.raw = raw

    @property
    def is_8bit(self) -> bool:
        return self.raw.dtype in (torch.uint8, torch.bool)

    @cached_property
    def as_float(self) -> torch.Tensor:
        """The raw values as float64."""
        return self.raw.to(torch.float64)

    @cached_property
    def extremes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-image (min, max) float64, NaN for an image holding a NaN."""
        flat = self.as_float.reshape(self.raw.shape[0], -1)
        vmin, vmax = flat.amin(-1), flat.amax(-1)
        has_nan = torch.isnan(flat).any(-1)
        nan = torch.full_like(vmin, float("nan"))
        return torch.where(has_nan, nan, vmin), torch.where(has_nan, nan, vmax)

    @cached_property
    def depth(self) -> torch.Tensor:
        """``(B,)`` int64 bit depth."""
        return bit_depth(*self.extremes)

    @cached_property
    def scaled(self) -> torch.Tensor:
        """``(B, C, H, W)`` float64 values scaled to [0, 1] by 0.65's rule."""
        b = self.raw.shape[0]
        depth = self.depth
        vmin, vmax = self.extremes
        pmin = torch.where(depth == 0, vmin, torch.zeros_like(vmin))
        pmax = torch.where(depth == 0, vmax, depth_scale(depth))
        denom = torch.where(depth == 1, torch.ones_like(pmax), pmax - pmin)
        addend = torch.where(depth == 1, torch.zeros_like(pmin), pmin)
        return (self.as_float + addend.view(b, 1, 1, 1)) / denom.view(b, 1, 1, 1)

    @cached_property
    def image_rows(self) -> FloatRows:
        """One float row per image (its channels pooled)."""
        return FloatRows(self.scaled.reshape(self.raw.shape[0], -1), bucket=self)

    @cached_property
    def channel_rows(self) -> FloatRows:
        """One float row per (image, channel)."""
        b, c = self.raw.shape[:2]
        return FloatRows(self.scaled.reshape(b * c, -1))


class FloatRows:
    """Rows of scaled float64 values ``(R, M)`` (images that are not 8-bit).

    ``bucket`` is the :class:`Bucket` of the rows' images for image rows (None for channel
    rows), for metrics that read more than the pooled values.
    """

    def __init__(self, flat: torch.Tensor, bucket: Bucket | None = None) -> None:
        self.flat = flat
        self.bucket = bucket

    @cached_property
    def moments(self) -> dict[str, torch.Tensor]:
        flat = self.flat
        mean = flat.mean(-1)
        d = flat - mean.unsqueeze(1)
        d2 = d * d
        m2 = d2.mean(-1)
        m3 = (d2 * d).mean(-1)
        m4 = (d2 * d2).mean(-1)
        return moments(mean, m2, m3, m4, constant=flat.amax(-1) == flat.amin(-1))

    @cached_property
    def percentiles(self) -> torch.Tensor:
        return sorted_percentiles(self.flat)

    @cached_property
    def histogram(self) -> torch.Tensor:
        return histogram_rows(self.flat)

    @cached_property
    def entropy(self) -> torch.Tensor:
        return entropy(self.histogram)
