"""The hashes of one batch at once (the hashing engine's entry point for row accumulators).

Kept apart from :mod:`~dataeval_gpu.accumulators.hashes` (the torchmetrics ``HashAccumulator``)
so that measuring a batch does not import torchmetrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..functional.hashing import (
    HASH_SIZE,
    NEAR_HASHES,
    THUMB_SIDE,
    CpuHasher,
    CpuPlan,
    compiled_ready,
    near_hash,
    near_hash_thumbs,
    xxhash64,
)
from ..functional.hashing.colour_cells import colour_cells

__all__ = ["CROP_MIN_SIDE", "STRIP_ASPECT", "centre_crop", "crop_hashable", "hash_rows", "strip_hashes", "strip_view"]

#: smallest shorter side (pixels) of a central crop whose near hash is kept: the side from which
#: the perceptual hash works at its full 32 x 32 square (``perceptual_hash_size``).  A smaller
#: crop is hashed on a 24 or 16 px square, whose 8 x 8 low frequencies hold little more than
#: the object's outline: Fashion-MNIST's 28 x 28 garments (crops of 26 and 22 px) had crops of
#: different plain pullovers and coats within 4 bits of each other's whole image (660 groups in
#: 70,000, the largest of 45), and such a view has no thumbnail to verify the pair with
CROP_MIN_SIDE = HASH_SIZE * 4 + 1


#: an image whose long side is at least this many times its short side also has its *strip*
#: near hash: the central crop of the inverse shape at its full short side (a 16:9 picture's
#: central 9:16 strip, :func:`strip_view`).  Wallpaper packages ship one picture cropped for
#: phones (1080 x 1920 from 5120 x 2880, docs/quality.md): such a crop is the landscape's
#: strip, which no central crop of either image shows.  3:2 and longer shapes (4:3 is not an
#: aspect-changing shape a picture is cropped to for a screen)
STRIP_ASPECT = 1.5


def strip_view(t: torch.Tensor) -> torch.Tensor | None:
    """The central crop of ``t`` (``(..., H, W)``) with the inverse shape at the full short side
    (``H x round(H * H / W)`` of a wide image, ``round(W * W / H) x W`` of a tall one), or None
    where the image is closer to square than :data:`STRIP_ASPECT` or the strip's short side is
    under :data:`CROP_MIN_SIDE` (a view, as :func:`centre_crop`).

    Example:
        >>> tuple(strip_view(torch.zeros(1, 90, 160)).shape), strip_view(torch.zeros(1, 90, 120))
        ((1, 90, 51), None)
    """
    h, w = t.shape[-2:]
    short, long = min(h, w), max(h, w)
    side = round(short * short / max(long, 1))
    if long < STRIP_ASPECT * short or side < CROP_MIN_SIDE:
        return None
    off = (long - side) // 2
    return t[..., :, off : off + side] if w >= h else t[..., off : off + side, :]


def strip_hashes(images: Sequence[torch.Tensor], kind: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(hashes, valid, thumbs)``: the near hash ``kind`` of each image's inverse-shape strip
    (:func:`strip_view`; 0 / False / an all-zero thumbnail
    where it has none), ``(N,)`` int64, ``(N,)`` bool and ``(N, THUMB_SIDE, THUMB_SIDE)`` uint8
    on the CPU: the scan's rows (``pchash_strip``, :func:`hash_rows` with ``strip``), one code."""
    out = _strip_rows(list(images), kind, thumbs=True)
    return out["strip"], out["strip_valid"], out["strip_thumbs"].reshape(-1, THUMB_SIDE, THUMB_SIDE)


def _strip_rows(images: list[torch.Tensor], kind: str, thumbs: bool) -> dict[str, torch.Tensor]:
    """``{"strip", "strip_valid"[, "strip_thumbs"]}`` of :func:`hash_rows`: only the images of a
    strip shape are hashed, in one submission."""
    views = [strip_view(t) for t in images]
    at = [k for k, v in enumerate(views) if v is not None]
    out = {
        "strip": torch.zeros(len(images), dtype=torch.int64),
        "strip_valid": torch.zeros(len(images), dtype=torch.bool),
    }
    if thumbs:
        out["strip_thumbs"] = torch.zeros(len(images), THUMB_SIDE**2, dtype=torch.uint8)
    if at:
        part = _hash_rows([views[k] for k in at], kind, False, None, thumbs)  # type: ignore[misc]
        idx = torch.tensor(at, dtype=torch.int64)
        out["strip_valid"][idx] = part["near_valid"].cpu()
        out["strip"][idx] = torch.where(part["near_valid"].cpu(), part["near"].cpu(), 0)
        if thumbs:
            out["strip_thumbs"][idx] = part["thumbs"].cpu().reshape(len(at), -1)
    return out


def centre_crop(t: torch.Tensor, fraction: float) -> torch.Tensor:
    """The central ``fraction`` of a ``(..., H, W)`` image per side (a view): ``round((1 - fraction)
    / 2 * side)`` pixels off each border.  The near-duplicate crop hashes
    (:class:`~dataeval_gpu.detectors.NearDuplicates`, the scan's default) hash these views."""
    h, w = t.shape[-2:]
    dy, dx = round((1.0 - fraction) / 2.0 * h), round((1.0 - fraction) / 2.0 * w)
    return t[..., dy : h - dy, dx : w - dx]


def crop_hashable(images: Sequence[torch.Tensor], fraction: float) -> torch.Tensor:
    """``(N,)`` bool (CPU): whether the central ``fraction`` of each image (:func:`centre_crop`)
    is at least :data:`CROP_MIN_SIDE` pixels a side, so that its near hash counts.

    Example:
        >>> crop_hashable([torch.zeros(1, 28, 28), torch.zeros(3, 50, 400)], 0.8).tolist()
        [False, True]
    """
    sides = [min(centre_crop(t, fraction).shape[-2:]) for t in images]
    return torch.tensor([s >= CROP_MIN_SIDE for s in sides], dtype=torch.bool)


def hash_rows(
    images: list[torch.Tensor],
    kind: str | None,
    exact: bool = True,
    sources: Sequence[Any] | None = None,
    crops: Sequence[float] = (),
    thumbs: bool = False,
    strip: bool = False,
) -> dict[str, torch.Tensor]:
    """Hashes of one batch of validated ``(C, H, W)`` tensors on one device, at once.

    Args:
        images: the batch.
        kind: the near hash (a ``NEAR_HASHES`` name) or None.
        exact: also the xxhash of each image's bytes.
        sources: what xxhash reads per image (default: the tensors).
        crops: central fractions (:func:`centre_crop`) whose near hash is also computed
            (needs ``kind``).
        thumbs: also the grey thumbnail of each image and of each of its crops (the near
            hash's resized square rounded to 8 bits, :mod:`~dataeval_gpu.functional.hashing.thumbs`;
            needs ``kind``).

    Returns:
        ``{"xxhash", "near", "near_valid"}`` (those asked for), ``(B,)`` CPU tensors; with
        ``crops`` also ``"crops"`` / ``"crops_valid"``, ``(B, len(crops))``: the near hash of
        each image's central crops; with ``thumbs`` also ``"thumbs"``, ``(B, (1 + len(crops))
        * THUMB_SIDE ** 2)`` uint8: the whole image's thumbnail, then each crop's, row-major;
        and ``"colour"``, ``(B, 48)`` uint8: each image's ``4 x 4`` cell colours
        (:func:`~dataeval_gpu.functional.hashing.colour_cells.colour_cells`);
        with ``strip`` (needs ``kind``) also ``"strip"`` / ``"strip_valid"``, ``(B,)``: the near
        hash of each image's :func:`strip_view` (0 / False where it has none; only those images
        are hashed), and with ``thumbs`` ``"strip_thumbs"``, ``(B, THUMB_SIDE ** 2)`` uint8.
    """
    out = _hash_rows(images, kind, exact, sources, thumbs)
    if kind and crops:
        # every crop of the batch in one submission (one pass of the thread pool)
        part = _hash_rows([centre_crop(t, f) for f in crops for t in images], kind, False, None, thumbs)
        out["crops"] = part["near"].reshape(len(crops), len(images)).T.contiguous()
        ok = part["near_valid"].reshape(len(crops), len(images)).T & torch.stack(
            [crop_hashable(images, f) for f in crops], dim=1
        )
        out["crops"] = torch.where(ok, out["crops"], 0).contiguous()
        out["crops_valid"] = ok.contiguous()
        if thumbs:
            views = part["thumbs"].reshape(len(crops), len(images), THUMB_SIDE**2).transpose(0, 1)
            out["thumbs"] = torch.cat([out["thumbs"].reshape(len(images), 1, -1), views], dim=1)
    if kind and thumbs:
        out["thumbs"] = out["thumbs"].reshape(len(images), -1).contiguous()
        out["colour"] = colour_cells(images)  # the 4 x 4 cell colours the pair rules compare
    if kind and strip:
        out.update(_strip_rows(images, kind, thumbs))
    return out


def _hash_rows(
    images: list[torch.Tensor], kind: str | None, exact: bool, sources: Sequence[Any] | None, thumbs: bool = False
) -> dict[str, torch.Tensor]:
    sources = list(images) if sources is None else list(sources)
    out: dict[str, torch.Tensor] = {}
    on_cpu = all(t.device.type == "cpu" for t in images)
    thumbs = thumbs and bool(kind)
    if on_cpu and compiled_ready():
        plan = CpuPlan(NEAR_HASHES[kind]) if kind else None
        hasher = CpuHasher(exact, plan, max_in_flight=len(images) + 1, thumbs=thumbs)
        hasher.submit(sources, images)
        xx, near, ok = hasher.result()
        if thumbs:
            out["thumbs"] = hasher.thumbnails()
    else:
        xx = xxhash64(sources, device="cpu") if exact else None
        near = ok = None
        if kind and thumbs:
            near, ok, th = near_hash_thumbs(images, kind)
            near, ok, out["thumbs"] = near.cpu(), ok.cpu(), th.cpu()
        elif kind:
            near, ok = near_hash(images, kind)
            near, ok = near.cpu(), ok.cpu()
    if exact:
        out["xxhash"] = xx  # type: ignore[assignment]
    if kind:
        out["near"] = near  # type: ignore[assignment]
        out["near_valid"] = ok  # type: ignore[assignment]
    return out
