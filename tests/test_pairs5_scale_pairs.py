"""A small image and a larger copy of it: an image under 33 px a side is hashed on an 8-24 px
square, a larger one on a 32 px square, and the two hashes of one picture can lie far apart (the
D4 hash's smallest variant changes with the square).  The larger image is now hashed again at the
small one's square size (from its thumbnail) and the pair checked there as two small images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_pairs import PairFigures
from dataeval_gpu.detectors.scale_pairs import SCALE_RATIO, scale_pairs, thumbs_at
from dataeval_gpu.functional.hashing import hamming_distance, perceptual_hash_d4


def _icon(seed: int, side: int = 128) -> Image.Image:
    """A picture of 40 small shapes on a smooth ground (no plain background)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    ground = np.stack([60 + 80 * xx, 90 + 60 * yy, 120 + 40 * xx * yy], -1).astype(np.uint8)
    im = Image.fromarray(ground)
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        x0, y0 = (int(v) for v in rng.integers(0, side * 3 // 4, 2))
        w, h = (int(v) for v in rng.integers(side // 16, side // 6, 2))
        fill = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=fill)
    return im


def _tensor(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)


def _pair(seed: int, small: int, large: int) -> list[torch.Tensor]:
    big = _icon(seed)
    return [_tensor(big.resize((small, small), Image.LANCZOS)), _tensor(big.resize((large, large), Image.LANCZOS))]


def test_thumbs_at_is_the_hash_at_that_size() -> None:
    # a 32 x 32 grey image taken as a thumbnail: at 24 px the smallest of its 8 turned hashes is
    # the D4 pchash of the image itself (a 25-32 px image is hashed on a 24 px square), and the
    # thumbnail is the one the image gets
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (6, 32, 32), dtype=np.uint8)
    images = [torch.from_numpy(g[None].copy()) for g in grey]
    h, t = thumbs_at(grey, 24)
    sign = -(1 << 63)
    assert h.shape == (6, 8)
    assert torch.equal((h ^ sign).amin(dim=1) ^ sign, perceptual_hash_d4(images)[0])
    # a turned or mirrored thumbnail gives the same 8 hashes in another order
    for turned in (np.rot90(grey, 1, axes=(1, 2)), grey[:, :, ::-1], grey.transpose(0, 2, 1)):
        ht = thumbs_at(np.ascontiguousarray(turned), 24, enlarge=False)[0]
        assert torch.equal(ht.sort(dim=1).values, h.sort(dim=1).values)
        assert not torch.equal(ht, h)
    own = NearDuplicates(embedding_threshold=None).thumbnails(images).reshape(6, -1, 32, 32)[:, 0]
    assert torch.equal(t, torch.as_tensor(own))
    assert thumbs_at(grey[:0], 8)[0].shape == (0, 8)


def test_small_and_large_copy_found() -> None:
    # seed 75: the 32 px and 64 px versions hash 36 bits apart at their own square sizes (seed 17,
    # 32 bits apart while the D4 hash read the channel mean, is 0 bits apart on luma)
    ims = _pair(75, 32, 64)
    own = int(hamming_distance(*perceptual_hash_d4(ims)[0].split(1))[0])
    assert own > 4
    out = NearDuplicates(embedding_threshold=None).evaluate(ims)
    assert sorted(map(sorted, out.hash)) == [[0, 1]]


def test_small_against_larger_sizes_only_their_own_picture() -> None:
    # 20 pictures, each at 24 px and 64 px (5 of them 24-34 bits apart at their own square sizes,
    # 0 and 1 also at the small size, where another turn of the square hashes smallest): every
    # pair found, no picture paired with another's
    ims = [t for s in range(20) for t in _pair(s, 24, 64)]
    groups = sorted(map(sorted, NearDuplicates(embedding_threshold=None).evaluate(ims).hash))
    assert groups == [[2 * s, 2 * s + 1] for s in range(20)]


def test_different_small_icons_not_paired() -> None:
    # two different 32 px icons and their 64 px versions, crossed: nothing pairs
    a, b = _pair(3, 32, 64), _pair(5, 32, 64)
    out = NearDuplicates(embedding_threshold=None).evaluate([a[0], b[1]])
    assert out.hash == []
    out = NearDuplicates(embedding_threshold=None).evaluate([a[0], b[0]])
    assert out.hash == []


def test_scale_pairs_needs_the_size_ratio() -> None:
    # the same picture at 24 and 32 px (ratio 1.33 < SCALE_RATIO): not a scale pair
    ims = _pair(13, 24, 32)
    h, ok = perceptual_hash_d4(ims)
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(ims)
    side = np.array([24.0, 32.0])
    assert 32 / 24 < SCALE_RATIO
    assert scale_pairs(h, ok, PairFigures(thumbs=thumbs, side=side)).shape == (0, 2)
    ims = _pair(13, 24, 64)
    h, ok = perceptual_hash_d4(ims)
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(ims)
    assert scale_pairs(h, ok, PairFigures(thumbs=thumbs, side=np.array([24.0, 64.0]))).tolist() == [[0, 1]]


def test_no_scale_pair_without_a_thumbnail() -> None:
    # a row without a thumbnail (all zero: a dhash, index rows stored before them) would hash as a
    # flat square at the small size: it pairs with nothing here
    ims = _pair(13, 24, 64)
    h, ok = perceptual_hash_d4(ims)
    thumbs = np.asarray(NearDuplicates(embedding_threshold=None).thumbnails(ims)).copy()
    side = np.array([24.0, 64.0])
    assert scale_pairs(h, ok, PairFigures(thumbs=thumbs, side=side)).tolist() == [[0, 1]]
    for row in (0, 1):
        blank = thumbs.copy()
        blank[row] = 0
        assert scale_pairs(h, ok, PairFigures(thumbs=blank, side=side)).shape == (0, 2)
