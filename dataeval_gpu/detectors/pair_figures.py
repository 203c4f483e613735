"""The per-image figures the near-duplicate pair rules read, measured from the pixels (what the
scan takes from its statistics rows): colour cast, plain share, grey entropy, spread and level,
and the quality figures of images with alpha (:func:`with_alpha`).  Read by
:class:`~dataeval_gpu.detectors.NearDuplicates` and named in
:mod:`~dataeval_gpu.detectors.near_duplicates` as before."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .hash_pairs import plain_and_entropy

__all__ = ["channel_spread", "chroma_signature", "grey_entropy", "pixel_mean", "pixel_std", "plain_share", "with_alpha"]


def chroma_signature(images: Sequence[torch.Tensor], seen: dict | None = None) -> np.ndarray:
    """``(N, 2)`` float64: mean ``R - G`` and ``B - G`` on the 0-255 scale (0 for grey images).

    Flips, rotations, crops, re-encodes and brightness shifts keep it; a contrast change
    scales it.  An image with alpha: the quality metrics' ``chroma_rg`` / ``chroma_bg`` (measured
    as seen, composited), as the audit's pair rules read them."""
    out = np.zeros((len(images), 2))
    seen = with_alpha(images) if seen is None else seen  # NearDuplicates measures them once
    for i, t in enumerate(images):
        if t.shape[0] >= 3 and i not in seen:
            x = t[:3].to(torch.float64)
            scale = 1.0 if t.dtype == torch.uint8 else 255.0 / max(float(x.amax()), 1.0)
            m = x.mean(dim=(1, 2)) * scale
            out[i] = [float(m[0] - m[1]), float(m[2] - m[1])]
    for i, m in seen.items():
        out[i] = [m["chroma_rg"], m["chroma_bg"]]
    return out


def plain_share(images: Sequence[torch.Tensor], seen: dict | None = None) -> np.ndarray:
    """``(N,)`` float64: share of each image's grey pixels at most 5/255 or at least 250/255
    (the ``dark_clipped + bright_clipped`` of the quality metrics).  An image with alpha: its
    visible pixels' share with the transparent background counted in (:func:`plain_and_entropy`),
    as the audit's pair rules read it."""
    from ..functional.pixels import grey_image, scale01

    out = np.zeros(len(images))
    seen = with_alpha(images) if seen is None else seen  # NearDuplicates measures them once
    for i, t in enumerate(images):
        if i in seen:
            continue
        g = grey_image(scale01(t.unsqueeze(0)))
        out[i] = float(((g <= 5.5 / 255.0) | (g >= 249.5 / 255.0)).to(torch.float32).mean())
    for i, m in seen.items():
        out[i] = plain_and_entropy(m["dark_clipped"] + m["bright_clipped"], None, m["opacity"])[0]
    return out


def grey_entropy(images: Sequence[torch.Tensor], seen: dict | None = None) -> np.ndarray:
    """``(N,)`` float64: Shannon entropy (bits) of each image's 256-level grey histogram (the
    ``grey_entropy`` of the quality metrics).  An image with alpha: its visible pixels' entropy
    with the transparent background as one more symbol (:func:`plain_and_entropy`), as the
    audit's pair rules read it."""
    from ..functional.pixels import grey_levels

    out = np.zeros(len(images))
    seen = with_alpha(images) if seen is None else seen  # NearDuplicates measures them once
    for i, t in enumerate(images):
        if i in seen:
            continue
        q = grey_levels(t.unsqueeze(0))
        p = torch.bincount(q.reshape(-1), minlength=256).to(torch.float64)
        p = p[p > 0] / q.numel()
        out[i] = float(-(p * torch.log2(p)).sum())
    for i, m in seen.items():
        out[i] = plain_and_entropy(None, m["grey_entropy"], m["opacity"])[1]
    return out


def with_alpha(images: Sequence[torch.Tensor]) -> dict[int, dict[str, np.ndarray]]:
    """{position: its quality metrics} of the images with alpha (two or four channels): the
    figures the audit's pair rules read, measured as seen (:mod:`~dataeval_gpu.functional.quality`)."""
    from ..functional.quality import quality_metrics

    pos = [i for i, t in enumerate(images) if t.shape[0] in (2, 4)]
    if not pos:
        return {}
    m = quality_metrics([images[i] for i in pos])
    keys = ("chroma_rg", "chroma_bg", "dark_clipped", "bright_clipped", "grey_entropy", "opacity", "channel_spread")
    return {i: {k: m[k][r].to(torch.float64).cpu().numpy() for k in keys} for r, i in enumerate(pos)}


def pixel_std(images: Sequence[torch.Tensor]) -> np.ndarray:
    """``(N,)`` float64: standard deviation of each image's pixel values over all channels, on
    0.65's [0, 1] scale (DataEval 0.65's ``std``, as the audit's statistics have it)."""
    from ..functional.pixels import scale01

    return np.array([float(scale01(t.unsqueeze(0).to(torch.float64)).std(unbiased=False)) for t in images])


def pixel_mean(images: Sequence[torch.Tensor]) -> np.ndarray:
    """``(N,)`` float64: mean of each image's pixel values over all channels, 0-1 scale (0.65's
    ``mean``, as the audit's statistics have it): the level of a flat image (:data:`~dataeval_gpu.detectors.hash_pairs.FLAT_ENTROPY`)."""
    from ..functional.pixels import scale01

    return np.array([float(scale01(t.unsqueeze(0).to(torch.float64)).mean()) for t in images])


def channel_spread(images: Sequence[torch.Tensor], seen: dict | None = None) -> np.ndarray:
    """``(N,)`` float64: mean over the pixels of the spread of the colour channels (max - min),
    0-1 scale (0 for grey images; the quality metrics' ``channel_spread``, as the audit's pair
    rules read it: :data:`~dataeval_gpu.detectors.hash_figures.GREY_SPREAD`).  An image with
    alpha: as seen (:func:`with_alpha`)."""
    from ..functional.pixels import scale01

    out = np.zeros(len(images))
    seen = with_alpha(images) if seen is None else seen  # NearDuplicates measures them once
    for i, t in enumerate(images):
        if t.shape[0] >= 3 and i not in seen:
            x = scale01(t[:3].unsqueeze(0).to(torch.float64))[0]
            out[i] = float((x.amax(dim=0) - x.amin(dim=0)).mean())
    for i, m in seen.items():
        out[i] = float(m["channel_spread"])
    return out
