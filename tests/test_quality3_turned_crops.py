"""Crops of a picture turned by 90 degrees or mirrored, kept as near duplicates on the thumbnails
(``crop_pairs_ok``, ``TURNED_ALIGN_MIN``): Plasma's Shell wallpaper ships its phone picture as a
1:2 crop of the 16:9 picture turned by 90 degrees."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.embedding_pairs import ALIGN_MIN, TURNED_ALIGN_MIN, crop_pairs_ok
from dataeval_gpu.functional.hashing.align import aligned_correlation


def _picture(seed: int, h: int = 180, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 80, (3, h, w)), sigma=(0, 6, 6))
    base += rng.normal(0, 20, (3, 1, 1))
    return np.clip(128 + (base - 128) * 3, 0, 255).astype(np.uint8)


def _set() -> list[torch.Tensor]:
    wide = _picture(0, 192, 320)  # 5:3; its thumbnail: 6 x 10 px a thumbnail pixel
    turned = np.ascontiguousarray(np.rot90(wide, 1, axes=(1, 2)))  # 320 x 192: the picture turned
    mirrored = np.ascontiguousarray(wide[:, :, ::-1])
    return [
        torch.from_numpy(wide),
        # 1: a 320 x 144 crop of the turned picture, off centre (columns 24-168): a phone picture of it
        torch.from_numpy(turned[:, :, 24:168].copy()),
        # 2: a 4:3 crop of the mirrored picture (full height, 256 of 320 columns from 32)
        torch.from_numpy(mirrored[:, :, 32:288].copy()),
        # 3: the same crop of another picture turned
        torch.from_numpy(np.ascontiguousarray(np.rot90(_picture(5, 192, 320), 1, axes=(1, 2)))[:, :, 24:168].copy()),
    ]


def test_turned_and_mirrored_crops_kept_another_picture_not() -> None:
    imgs = _set()
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(imgs)
    sides = np.array([t.shape[-2:] for t in imgs], dtype=np.float64)
    src, dst = np.array([0, 0, 0, 1]), np.array([1, 2, 3, 0])
    t0 = thumbs[:, 0].numpy()
    # unturned, none aligns (the rule before kept none of them)
    score, _ = aligned_correlation(t0[src], sides[src], t0[dst], sides[dst])
    assert (score < ALIGN_MIN).all()
    # the crop turned back by hand: the thumbnail turned, its sides swapped, aligns as a plain crop
    back = np.ascontiguousarray(np.rot90(t0[1], -1))
    s_back, _ = aligned_correlation(back[None], sides[1][None, ::-1], t0[0][None], sides[0][None])
    assert s_back[0] >= TURNED_ALIGN_MIN
    got = crop_pairs_ok(src, dst, np.full(4, 0.6), thumbs, sides)
    assert got.tolist() == [True, True, False, True]


def test_turned_crop_joins_the_embedding_groups() -> None:
    from dataeval_gpu.detectors.near_duplicates import embedding_groups

    imgs = _set()
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(imgs)
    sides = np.array([t.shape[-2:] for t in imgs], dtype=np.float64)
    # embeddings below the threshold (a phone crop shows part of the picture): 0-1 at 0.7, 0-2 at 0.75
    e = np.array([[1.0, 0.0, 0.0, 0.0], [0.7, 0.714, 0.0, 0.0], [0.75, 0.0, 0.661, 0.0], [0.0, 0.0, 0.0, 1.0]])
    groups = embedding_groups(e, k=3, margin=None, thumbs=thumbs, sides=sides)
    assert groups == [[0, 1, 2]]
