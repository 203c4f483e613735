"""Pictures in a frame (recallframe18): a photo given a uniform frame of a few per cent of its side
on all four sides pairs with the photo through the box inside the frame, found on the thumbnail
where every side's outermost line is near one level (docs/duplicates.md, "Pictures in a frame");
two different photos in the same frame do not pair; a copy with bars of 2 px (under a tenth of a
thumbnail pixel) pairs through its whole hash."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.window_pairs import CROP_FINE_MIN, CROP_PLAIN_MIN
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.content import (
    FRAME_SHAPE_TOL,
    FRAME_TOL,
    SHAPE_TOL,
    box_shape,
    content_boxes,
    content_scores,
)

skdata = pytest.importorskip("skimage.data")


def _frame(a: np.ndarray, width: int, colour: tuple[int, int, int]) -> np.ndarray:
    """``a`` (``(H, W, 3)``) with a frame of ``width`` px of ``colour`` around it (the canvas grows)."""
    h, w = a.shape[:2]
    out = np.empty((h + 2 * width, w + 2 * width, 3), dtype=np.uint8)
    out[:] = np.array(colour, dtype=np.uint8)
    out[width : width + h, width : width + w] = a
    return out


def _inset(a: np.ndarray, width: int, colour: tuple[int, int, int]) -> np.ndarray:
    """``a`` scaled into a frame of ``width`` px of ``colour`` of its own size."""
    h, w = a.shape[:2]
    inner = np.asarray(Image.fromarray(a).resize((w - 2 * width, h - 2 * width), Image.Resampling.LANCZOS))
    return _frame(inner, width, colour)


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    coffee = np.ascontiguousarray(skdata.coffee()[..., :3])  # 400 x 600
    cat = np.array(Image.fromarray(np.ascontiguousarray(skdata.chelsea()[..., :3])).resize((600, 400)))
    bars = np.zeros((404, 600, 3), dtype=np.uint8)  # 2-px black bars above and below
    bars[2:402] = coffee
    return {
        "coffee": coffee,
        "cat": np.ascontiguousarray(cat),  # another photo of the same shape
        "coffee_white6": _frame(coffee, 24, (255, 255, 255)),  # 6 % of the short side, white
        "cat_white6": _frame(np.ascontiguousarray(cat), 24, (255, 255, 255)),  # the same frame
        "coffee_bars2": bars,
    }


def _thumbs(images: list[np.ndarray]) -> tuple[torch.Tensor, np.ndarray]:
    hashes, _, thumbs = near_hash_thumbs([torch.from_numpy(a).permute(2, 0, 1) for a in images], "pchash_d4")
    return hashes, thumbs.numpy().reshape(len(images), -1)[:, : 32 * 32].reshape(-1, 32, 32)


def test_the_box_inside_a_thin_frame_is_found(photos) -> None:
    _, t = _thumbs([photos["coffee_white6"], photos["coffee"]])
    boxes, active = content_boxes(t)
    # the true box: 24 px of 448 rows and of 648 columns on each side (1.71 and 1.19 thumbnail px);
    # a white frame is one thumbnail line or so: no side has the 2 flat lines of a bar
    true = [24 / 448 * 32, 424 / 448 * 32, 24 / 648 * 32, 624 / 648 * 32]
    assert active[0].tolist() == [True] * 4
    np.testing.assert_allclose(boxes[0], true, atol=0.3)
    assert not active[1].any()  # the photo itself: no frame
    assert abs(box_shape(boxes[0], 648 / 448) - np.log(600 / 400)) < SHAPE_TOL


def test_a_frame_is_one_level_on_all_four_sides() -> None:
    rng = np.random.default_rng(5)
    t = np.zeros((3, 32, 32), dtype=np.uint8)
    t[0] = 200  # a frame of level 200, 2 lines a side; the top line FRAME_TOL off in places (ringing)
    t[0, 2:30, 2:30] = rng.integers(30, 160, (28, 28))
    t[0, 0, ::3] = 200 - FRAME_TOL  # the top and left outermost lines are no bar's (FLAT_TOL 2)
    t[1] = t[0]
    t[1, :, 0] = 200 - FRAME_TOL - 3  # the left side past FRAME_TOL from the frame's level
    t[2] = 200  # one line a side: the top white, the others 200 - four flat sides of two colours
    t[2, 1:31, 1:31] = rng.integers(30, 160, (30, 30))
    t[2, 0] = 255
    boxes, active = content_boxes(t)
    assert active[0].tolist() == [True] * 4
    np.testing.assert_allclose(boxes[0], [2, 30, 2, 30], atol=0.35)
    assert not active[1].any() and not active[2].any()  # no frame, and no side has a bar's 2 lines
    assert boxes[1].tolist() == boxes[2].tolist() == [0.0, 32.0, 0.0, 32.0]


def test_a_photo_scaled_into_a_frame_of_its_size_keeps_nearly_its_shape(photos) -> None:
    coffee = photos["coffee"]
    framed = _inset(coffee, 32, (40, 40, 180))  # 8 % of the short side, a blue frame, 400 x 600 still
    _, t = _thumbs([framed, coffee])
    boxes, active = content_boxes(t)
    assert active[0].all()
    shape = box_shape(boxes[0], 600 / 400)
    # the picture is 536 x 336: 6.3 % wider than the photo's 3 : 2 (the fitted box: 7.3 %) - past a
    # padded copy's tolerance, within a frame's
    assert SHAPE_TOL < abs(shape - np.log(1.5)) < FRAME_SHAPE_TOL
    p, f, spread, busy, clipped = content_scores(t[0], boxes[0], active[0], t[1], (1.5, 1.5))
    assert p >= CROP_PLAIN_MIN and f >= CROP_FINE_MIN and spread > 8 and busy > 0.4 and clipped < 0.4


def test_a_framed_photo_groups_with_the_photo_and_not_with_another_photo_in_the_same_frame(photos) -> None:
    names = list(photos)
    imgs = list(photos.values())
    hashes, _ = _thumbs(imgs)
    c, f = names.index("coffee"), names.index("coffee_white6")
    assert int(hamming_distance(hashes[c], hashes[f])) > 4  # the whole hashes do not pair them
    out = NearDuplicates().evaluate([torch.from_numpy(a).permute(2, 0, 1) for a in imgs])
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    # the 2-px bars: a fifteenth of a thumbnail pixel, the whole hashes pair them
    assert groups == [["cat", "cat_white6"], ["coffee", "coffee_bars2", "coffee_white6"]]


def test_two_photos_in_the_same_frame_are_not_one_picture(photos) -> None:
    imgs = [photos["coffee_white6"], photos["cat_white6"]]
    _, t = _thumbs(imgs)
    boxes, active = content_boxes(t)
    assert active.all()
    for a, b in ((0, 1), (1, 0)):  # the other's frame against the box's edges: plain 0.56-0.60, fine 0.51
        p, f, *_ = content_scores(t[a], boxes[a], active[a], t[b], (648 / 448, 648 / 448))
        assert p < 0.7 < CROP_PLAIN_MIN and f < 0.6 < CROP_FINE_MIN
    out = NearDuplicates().evaluate([torch.from_numpy(a).permute(2, 0, 1) for a in imgs])
    assert out.hash == []
