"""``ragged_collate`` takes what ``as_image`` takes: flipped numpy views (negative strides) and
big-endian arrays (torch's ``from_numpy`` refuses both), so a DataLoader scan measures them."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.audit import scan as audit_scan
from dataeval_gpu.batching import ragged_collate


def _img(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (3, h, w), dtype=np.uint8)


def test_collate_flipped_and_big_endian() -> None:
    a = _img(0, 20, 30)
    b = _img(1, 24, 16).astype(">u2")
    out = ragged_collate([(a[:, :, ::-1], 0), (np.flip(b, 1), 1), (b, 2)])
    images = out[0]
    assert np.array_equal(images[0].numpy(), a[:, :, ::-1])
    assert np.array_equal(images[1].numpy(), np.flip(b, 1).astype(np.uint16))
    assert np.array_equal(images[2].numpy(), b.astype(np.uint16))


def test_loader_scan_of_flipped_views_equals_copies() -> None:
    imgs = [_img(i, 20 + i, 30 - i) for i in range(4)]
    views = [x[:, ::-1, :] for x in imgs]
    copies = [v.copy() for v in views]

    def scan(items):
        loader = torch.utils.data.DataLoader(items, batch_size=2, collate_fn=ragged_collate)
        return audit_scan(loader, progress=False)

    got, want = scan(views), scan(copies)
    assert not got.failed
    assert np.array_equal(got.stats["mean"], want.stats["mean"])
