"""Batched image embeddings: preprocessing of ragged batches and the forward pass.

Preprocessing follows the model's config (timm's ``pretrained_cfg``): the shorter side is
resized to ``floor(input_size / crop_pct)`` (antialiased, bicubic or bilinear), the centre
``input_size`` square is cropped, values are clamped to [0, 1] and normalised with the
model's mean / std.  Each image is handled on its own geometry, so a batch may mix sizes;
images of one shape are resized together (one interpolate call per distinct shape).

Value scaling: uint8 is divided by 255; other dtypes follow DataEval's bit-depth rule (the
smallest d in {1, 8, 12, 16, 32} with 2^d > max; d = 1, i.e. values already in [0, 1], and
negative data are left unscaled).  Grey images are repeated to 3 channels.  An image with alpha
(grey + alpha, RGBA) is embedded as it is seen: composited on mid grey first, as the quality
metrics see it (:func:`~dataeval_gpu.functional.quality_alpha.composite_on_grey`; an opaque
image is unchanged, bit for bit), so two sprites whose colour is alike but whose alpha differs
(a white glyph drawn in the alpha channel) are two pictures, not one.

Determinism: the network always runs on fixed-size chunks (8 images on the CPU, 64 on a GPU;
the last chunk is zero-padded), so an image's embedding does not depend on the batch size you
pick or on its neighbours in the batch — measured bit-identical on the CPU here.  On CUDA the
model runs in ``channels_last`` under float16 autocast; the output is float32.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..batching import as_image, iter_batches, resolve_device
from ..errors import ImageShapeError, InvalidArgumentError
from ..functional.bitdepth import bit_depth, depth_scale
from ..functional.pixels import scale01
from ..functional.quality_alpha import ALPHA_BACKDROP, composite_on_grey
from .models import efficientnet_lite0, preprocess_config

__all__ = ["Embedder", "embed", "preprocess_images", "default_model"]

_log = logging.getLogger(__name__)

#: images per forward pass (fixed so results do not depend on the caller's batch size)
CPU_CHUNK = 8
CUDA_CHUNK = 64


@functools.lru_cache(maxsize=4)
def _cached_default(device: str) -> nn.Module:
    return efficientnet_lite0().to(torch.device(device))


def default_model(device: str | torch.device | None = None) -> nn.Module:
    """The default backbone (EfficientNet-Lite0, 1280-d), cached per device."""
    dev = resolve_device(device)
    return _cached_default(str(dev))


def _scale_factor(x: torch.Tensor) -> torch.Tensor:
    """Per-image multiplier (B,) mapping raw values to [0, 1] (DataEval's bit-depth rule)."""
    b = x.shape[0]
    if x.dtype == torch.uint8:
        return torch.full((b,), 1.0 / 255.0, device=x.device)
    flat = x.reshape(b, -1)
    if flat.dtype == torch.bool:
        return torch.ones(b, device=x.device)
    if flat.dtype in (torch.uint16, torch.uint32):  # no amax kernels for these on the CPU
        flat = flat.to(torch.int64)
    depth = bit_depth(flat.amin(dim=1), flat.amax(dim=1))
    # x / (2**d - 1) for d > 1; unchanged at depth 1 and (negative values) depth 0
    factor = torch.where(depth > 1, 1.0 / depth_scale(depth), torch.ones_like(depth, dtype=torch.float64))
    return factor.to(torch.float32)


def _to_rgb(x: torch.Tensor, index: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, 3, H, W); an image with alpha (C = 2 or 4) as seen on mid grey
    (:func:`~dataeval_gpu.functional.quality_alpha.composite_on_grey`: exact integers for uint8;
    other dtypes by :func:`_composite_scaled`, in [0, 1], which the bit-depth rule then leaves unscaled)."""
    c = x.shape[1]
    if c not in (1, 2, 3, 4):
        raise ImageShapeError(
            f"image {index}: the embedding model takes 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) "
            f"channels, got {c}"
        )
    if c in (2, 4):
        x = composite_on_grey(x) if x.dtype == torch.uint8 else _composite_scaled(x)
    return x if x.shape[1] == 3 else x[:, :1].expand(-1, 3, -1, -1)


def _composite_scaled(x: torch.Tensor) -> torch.Tensor:
    """A non-uint8 stack with alpha on mid grey: the colour scaled as an image without alpha is
    (:func:`_scale_factor` over the colour channels alone, so an opaque image embeds bit for bit
    as its colour channels: 12-bit colour beside a 16-bit alpha of 65535 is not darkened 16
    times, negative data stay unscaled), alpha on [0, 1] as the quality metrics scale it
    (:func:`~dataeval_gpu.functional.pixels.scale01` of the whole image)."""
    colour = x[:, :-1]
    colour = colour.to(torch.float32) * _scale_factor(colour).view(-1, 1, 1, 1)
    a = scale01(x)[:, -1:].to(torch.float32)
    return colour * a + (ALPHA_BACKDROP / 255.0) * (1.0 - a)


def preprocess_images(
    images: Sequence[torch.Tensor],
    cfg: dict[str, Any],
    device: torch.device,
    first_index: int = 0,
) -> torch.Tensor:
    """Resize, crop and normalise a ragged batch of ``(C, H, W)`` images to ``(B, 3, S, S)``.

    ``cfg`` comes from :func:`~dataeval_gpu.embeddings.models.preprocess_config`.
    """
    size = int(cfg["input_size"])
    scale_size = int(math.floor(size / float(cfg["crop_pct"])))
    mode = cfg["interpolation"]
    mean = torch.tensor(cfg["mean"], dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], dtype=torch.float32, device=device).view(1, 3, 1, 1)
    out = torch.empty((len(images), 3, size, size), dtype=torch.float32, device=device)
    buckets: dict[tuple[Any, ...], list[int]] = {}
    for j, img in enumerate(images):
        buckets.setdefault((tuple(img.shape), img.dtype), []).append(j)
    for members in buckets.values():
        x = torch.stack([images[j] for j in members]).to(device, non_blocking=True)
        x = _to_rgb(x, first_index + members[0])
        factor = _scale_factor(x).view(-1, 1, 1, 1)
        x = x.to(torch.float32) * factor
        _, _, h, w = x.shape
        if h <= w:
            nh, nw = scale_size, max(1, int(scale_size * w / h))
        else:
            nh, nw = max(1, int(scale_size * h / w)), scale_size
        if (nh, nw) != (h, w):
            if mode == "nearest":
                x = F.interpolate(x, size=(nh, nw), mode="nearest")
            else:
                x = F.interpolate(x, size=(nh, nw), mode=mode, align_corners=False, antialias=True)
        top = int(round((nh - size) / 2.0))
        left = int(round((nw - size) / 2.0))
        if top < 0 or left < 0:  # pragma: no cover - scale_size >= size always
            raise InvalidArgumentError(
                f"crop_pct {cfg['crop_pct']} makes the resized image smaller than the crop"
            )
        x = x[:, :, top : top + size, left : left + size].clamp_(0.0, 1.0)
        out[members] = (x - mean) / std
    return out


class Embedder:
    """A model plus its preprocessing: ``embedder(images) -> (B, D)`` float32 on ``device``.

    ``images`` is a list of ``(C, H, W)`` tensors / arrays of any sizes, or a
    ``(B, C, H, W)`` tensor.
    """

    def __init__(self, model: nn.Module | None = None, device: str | torch.device | None = None) -> None:
        self.device = resolve_device(device)
        self.model = default_model(self.device) if model is None else model.to(self.device).eval()
        self.cfg = preprocess_config(self.model)
        self.chunk = CUDA_CHUNK if self.device.type == "cuda" else CPU_CHUNK
        if self.device.type == "cuda":
            self.model = self.model.to(memory_format=torch.channels_last)

    def __call__(self, images: Any, first_index: int = 0) -> torch.Tensor:
        if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4:
            images = list(images)
        imgs = [as_image(im, first_index + j) for j, im in enumerate(images)]
        if not imgs:
            raise InvalidArgumentError("cannot embed an empty batch of images")
        outs = []
        for s in range(0, len(imgs), self.chunk):
            part = imgs[s : s + self.chunk]
            x = preprocess_images(part, self.cfg, self.device, first_index + s)
            if x.shape[0] < self.chunk:
                pad = torch.zeros((self.chunk - x.shape[0], *x.shape[1:]), dtype=x.dtype, device=x.device)
                x = torch.cat([x, pad])
            outs.append(self._forward(x)[: len(part)])
        return torch.cat(outs)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            if self.device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.float16):
                    y = self.model(x)
            else:
                y = self.model(x)
        if isinstance(y, (tuple, list)):
            y = y[0]
        if not isinstance(y, torch.Tensor):
            raise InvalidArgumentError(f"the embedding model must return a tensor, got {type(y).__name__}")
        if y.ndim > 2:
            y = torch.flatten(y, 1)
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise InvalidArgumentError(
                f"the embedding model must map (B, 3, H, W) to (B, D), got output shape {tuple(y.shape)}"
            )
        return y.float()


def embed(
    data: Any,
    model: nn.Module | None = None,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Embeddings of every image, ``(N, D)`` float32, row i for dataset index i.

    Parameters
    ----------
    data : anything :func:`~dataeval_gpu.batching.iter_batches` takes
        A list of ``(C, H, W)`` arrays / tensors (sizes may differ), a Dataset, a DataLoader.
    model : nn.Module, optional
        Maps ``(B, 3, H, W)`` to ``(B, D)``; default: :func:`efficientnet_lite0` (1280-d).
    batch_size : int
        Images read per step (the network runs on fixed chunks, so the result does not
        depend on it).
    device : str or torch.device, optional
        Where the network runs (default: the CPU).
    progress : bool
        Show a tqdm bar (on a terminal).

    Examples
    --------
    >>> import numpy as np
    >>> imgs = [np.full((3, 40, 60), 128, np.uint8), np.zeros((1, 32, 32), np.uint8)]
    >>> embed(imgs).shape
    (2, 1280)
    """
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be >= 1, got {batch_size}")
    embedder = Embedder(model, device)
    from torch.utils.data import DataLoader

    source = data.dataset if isinstance(data, DataLoader) else data
    total = len(source) if hasattr(source, "__len__") else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        from ..progress import bar_width  # an unsized terminal: COLUMNS or 80 columns, as the scan's bars

        bar = tqdm(total=total, desc="embed", unit="img", disable=not sys.stderr.isatty(), **bar_width(sys.stderr))
    rows: list[torch.Tensor] = []
    idx: list[torch.Tensor] = []
    pending: list[torch.Tensor] = []
    pending_idx: list[torch.Tensor] = []

    def flush(final: bool) -> None:
        nonlocal pending, pending_idx
        take = len(pending) if final else len(pending) - len(pending) % embedder.chunk
        if take == 0:
            return
        rows.append(embedder(pending[:take], first_index=int(pending_idx[0])).cpu())
        idx.append(torch.stack(pending_idx[:take]))
        pending, pending_idx = pending[take:], pending_idx[take:]

    # images are gathered into the embedder's fixed chunks whatever batch_size is, so a
    # small batch_size costs no padded forward passes
    for batch in iter_batches(data, batch_size=batch_size):
        pending.extend(batch.images)
        pending_idx.extend(batch.indices.unbind(0))
        flush(final=False)
        if bar is not None:
            bar.update(len(batch))
    flush(final=True)
    if bar is not None:
        bar.close()
    if not rows:
        raise InvalidArgumentError("no images to embed")
    out = torch.cat(rows)
    order = torch.argsort(torch.cat(idx), stable=True)
    return out[order].numpy().astype(np.float32, copy=False)
