"""Pictures in bars (recall17): a photo letterboxed, pillarboxed or padded to a square pairs with
the photo through the box inside its bars, found and hashed on its thumbnail and verified there
(docs/duplicates.md, "Pictures in bars")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.detectors.window_pairs import CROP_FINE_MIN, CROP_PLAIN_MIN, window_pairs
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.content import (
    PROBE_OFFSETS,
    SHAPE_TOL,
    box_shape,
    content_boxes,
    content_hashes,
    content_scores,
    edge_position,
)
from dataeval_gpu.functional.hashing.offcentre import GRID_RADIUS, plain_hashes

fft = pytest.importorskip("scipy.fft")
ndimage = pytest.importorskip("scipy.ndimage")
skdata = pytest.importorskip("skimage.data")


def pad_to(a: np.ndarray, height: int, width: int, colour: int) -> np.ndarray:
    """``a`` (``(H, W, 3)``) centred on a ``height x width`` canvas of grey ``colour``."""
    out = np.full((height, width, 3), colour, dtype=np.uint8)
    y, x = (height - a.shape[0]) // 2, (width - a.shape[1]) // 2
    out[y : y + a.shape[0], x : x + a.shape[1]] = a
    return out


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    coffee = np.ascontiguousarray(skdata.coffee()[..., :3])  # 400 x 600
    chelsea = np.ascontiguousarray(skdata.chelsea()[..., :3])  # 300 x 451
    return {
        "coffee": coffee,
        "chelsea": chelsea,
        "rocket": np.ascontiguousarray(skdata.rocket()[..., :3]),
        "coffee_letterbox": pad_to(coffee, 400, 940, 0),  # black bars to 2.35 : 1
        "chelsea_square": pad_to(chelsea, 451, 451, 255),  # white bars to a square
    }


def _thumbs(images: list[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    hashes, _, thumbs = near_hash_thumbs([torch.from_numpy(a).permute(2, 0, 1) for a in images], "pchash_d4")
    return hashes, thumbs.numpy().reshape(len(images), -1)[:, : 32 * 32].reshape(-1, 32, 32)


def _scipy_phash(x: np.ndarray) -> int:
    """The pchash's bits of a grey image by scipy's DCT, as an int64 (first bit the top)."""
    c = fft.dct(fft.dct(x.astype(np.float64), axis=0), axis=1)[:8, :8].ravel()
    v = int("".join("1" if b else "0" for b in c > np.median(c)), 2)
    return v - (1 << 64) if v >= 1 << 63 else v


def test_the_box_is_found_to_a_fraction_of_a_pixel(photos) -> None:
    _, t = _thumbs([photos["coffee_letterbox"], photos["chelsea_square"], photos["coffee"]])
    boxes, active = content_boxes(t)
    # true boxes in thumbnail pixels: 600 of 940 columns from 170, 300 of 451 rows from 75
    true = [[0.0, 32.0, 170 / 940 * 32, 770 / 940 * 32], [75 / 451 * 32, 375 / 451 * 32, 0.0, 32.0]]
    np.testing.assert_allclose(boxes[:2], true, atol=0.25)
    assert active[:2].tolist() == [[False, False, True, True], [True, True, False, False]]
    assert not active[2].any() and boxes[2].tolist() == [0.0, 32.0, 0.0, 32.0]  # a photo: no bars
    # the box has the picture's shape in the framed image's pixels
    assert abs(box_shape(boxes[0], 940 / 400) - np.log(600 / 400)) < SHAPE_TOL / 2


def test_edge_position_fits_a_step_blurred_by_the_kernel() -> None:
    u = np.arange(32) + 0.5
    x = np.linspace(-3, 3, 6001)
    k = np.sinc(x) * np.sinc(x / 3)
    cdf = np.cumsum(k) / k.sum()
    for e in (4.3, 7.0, 9.75):  # a bar of level 10 ending at e, then a flat picture of level 110
        col = 10 + 100 * np.interp(u - e, x, cdf, left=0.0, right=1.0)
        lines = np.repeat(col[:, None], 32, axis=1)
        flat = int(np.argmax(np.abs(lines - 10).max(axis=1) > 2))
        assert abs(edge_position(lines, flat, 10.0) - e) <= 0.05


def test_content_hashes_are_scipy_phashes_of_the_sampled_box() -> None:
    rng = np.random.default_rng(3)
    t = np.zeros((2, 32, 32), dtype=np.uint8)
    t[0, :, 7:25] = rng.integers(30, 220, (32, 18))  # pillarboxed
    t[1] = rng.integers(0, 256, (32, 32))  # no bars: no probe
    boxes, active = content_boxes(t)
    h, owner = content_hashes(t, boxes, active)
    assert owner.tolist() == [0] * len(PROBE_OFFSETS) ** 2
    s = np.arange(32) + 0.5
    y0, y1, x0, x1 = boxes[0]
    want = []
    for a in PROBE_OFFSETS:  # the left edge moved inward by a, then the right by b
        for b in PROBE_OFFSETS:
            ys = y0 + (y1 - y0) * s / 32 - 0.5
            xs = (x0 + a) + ((x1 - b) - (x0 + a)) * s / 32 - 0.5
            yy, xx = np.meshgrid(np.clip(ys, 0, 31), np.clip(xs, 0, 31), indexing="ij")
            want.append(_scipy_phash(ndimage.map_coordinates(t[0].astype(np.float64), [yy, xx], order=1)))
    assert h.tolist() == want


def test_a_padded_copy_hashes_near_its_box_and_verifies(photos) -> None:
    names = list(photos)
    imgs = list(photos.values())
    hashes, t = _thumbs(imgs)
    boxes, active = content_boxes(t)
    probes, owner = content_hashes(t, boxes, active)
    plain = plain_hashes(t).numpy()
    hw = np.array([a.shape[:2] for a in imgs], dtype=np.float64)
    for copy, source in (("coffee_letterbox", "coffee"), ("chelsea_square", "chelsea")):
        c, s = names.index(copy), names.index(source)
        assert int(hamming_distance(hashes[c], hashes[s])) > 8  # the whole hashes do not pair them
        d = np.bitwise_count((probes[owner == c] ^ plain[s, 0]).view(np.uint64))
        assert int(d.min()) <= GRID_RADIUS
        aspects = (hw[c, 1] / hw[c, 0], hw[s, 1] / hw[s, 0])
        p, f, spread, busy, clipped = content_scores(t[c], boxes[c], active[c], t[s], aspects)
        assert p >= CROP_PLAIN_MIN and f >= CROP_FINE_MIN and spread > 8 and busy > 0.4 and clipped < 0.4
        # another photo of the same shape in the box: no match
        r = names.index("rocket")
        p, f, *_ = content_scores(t[c], boxes[c], active[c], t[r])
        assert p < 0.6 and f < 0.6
        # a picture of another shape is not scored
        other = (hw[c, 1] / hw[c, 0], aspects[1] * 1.2)
        assert content_scores(t[c], boxes[c], active[c], t[s], other)[0] == -1.0


def test_near_duplicates_group_the_padded_copies(photos) -> None:
    names = list(photos)
    images = [torch.from_numpy(a).permute(2, 0, 1) for a in photos.values()]
    out = NearDuplicates().evaluate(images)
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    assert groups == [["chelsea", "chelsea_square"], ["coffee", "coffee_letterbox"]]
    assert NearDuplicates(radius=0).evaluate(images).hash == []


def test_window_pairs_pairs_a_framed_copy_with_the_only_unframed_picture(photos) -> None:
    # two images: the photo is the only one in the window views' scope (the framed copy's bars
    # make it a plain-background picture), and the pair is still found
    imgs = [photos["coffee"], photos["coffee_letterbox"]]
    hashes, t = _thumbs(imgs)
    hw = np.array([a.shape[:2] for a in imgs])
    figs = PairFigures(plain=np.array([0.0, 0.45]), opacity=np.ones(2))
    got = window_pairs(hashes, torch.ones(2, dtype=torch.bool), t, hw, figs, 4)
    assert got.tolist() == [[0, 1]]
    assert window_pairs(hashes, torch.ones(2, dtype=torch.bool), t, hw, figs, 4, known=got).tolist() == []


def test_a_framed_copy_pairs_with_its_best_match_and_the_pictures_paired_with_it(photos) -> None:
    rng = np.random.default_rng(4)
    coffee = photos["coffee"]
    copy = np.clip(coffee.astype(np.int16) + rng.integers(-2, 3, coffee.shape), 0, 255).astype(np.uint8)
    imgs = [coffee, photos["coffee_letterbox"], copy]
    hashes, t = _thumbs(imgs)
    hw = np.array([a.shape[:2] for a in imgs])
    figs = PairFigures(plain=np.array([0.0, 0.45, 0.0]), opacity=np.ones(3))
    valid = torch.ones(3, dtype=torch.bool)
    framed = [
        p for p in window_pairs(hashes, valid, t, hw, figs, 4, known=np.zeros((0, 2))).tolist() if 1 in p
    ]
    assert framed in ([[0, 1]], [[1, 2]])  # the two photos are not known to be one picture: its best only
    both = window_pairs(hashes, valid, t, hw, figs, 4, known=np.array([[0, 2]])).tolist()
    assert [0, 1] in both and [1, 2] in both
