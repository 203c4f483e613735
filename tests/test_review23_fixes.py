"""review23: the merges of session 17 - recall17's pictures in bars read the thumbnails a step at a
time (mem17's rows= reads), the same pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import window_pairs as wp
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.functional.hashing import near_hash_thumbs

from .test_recall17_content_pairs import pad_to  # the same framing helper

skdata = pytest.importorskip("skimage.data")


def _rows() -> tuple[torch.Tensor, np.ndarray, np.ndarray, PairFigures]:
    coffee = np.ascontiguousarray(skdata.coffee()[..., :3])
    chelsea = np.ascontiguousarray(skdata.chelsea()[..., :3])
    rng = np.random.default_rng(3)
    noise = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(5)]
    imgs = [noise[0], coffee, noise[1], pad_to(coffee, 400, 940, 0), noise[2], chelsea, noise[3]]
    imgs += [pad_to(chelsea, 451, 451, 255), noise[4]]
    hashes, _, thumbs = near_hash_thumbs([torch.from_numpy(a).permute(2, 0, 1) for a in imgs], "pchash_d4")
    hw = np.array([a.shape[:2] for a in imgs])
    plain = np.zeros(len(imgs))
    plain[[3, 7]] = 0.45  # the framed copies' bars: plain background, outside the window views' scope
    return hashes, thumbs.numpy(), hw, PairFigures(plain=plain, opacity=np.ones(len(imgs)))


def test_framed_pairs_are_the_same_read_a_step_at_a_time(monkeypatch) -> None:
    hashes, thumbs, hw, figs = _rows()
    valid = torch.ones(len(hw), dtype=torch.bool)
    whole = wp.window_pairs(hashes, valid, thumbs, hw, figs, 4, known=np.zeros((0, 2)))
    assert [1, 3] in whole.tolist() and [5, 7] in whole.tolist()  # both framed copies found
    seen: dict[str, list[int]] = {"boxes": [], "hashes": []}
    boxes, hashes_of = wp.content_boxes, wp.content_hashes

    def spy_boxes(t):  # noqa: ANN001, ANN202
        seen["boxes"].append(len(t))
        return boxes(t)

    def spy_hashes(t, b, a):  # noqa: ANN001, ANN202
        seen["hashes"].append(len(t))
        return hashes_of(t, b, a)

    monkeypatch.setattr(wp, "IMAGES_PER_STEP", 2)
    monkeypatch.setattr(wp, "content_boxes", spy_boxes)
    monkeypatch.setattr(wp, "content_hashes", spy_hashes)
    stepped = wp.window_pairs(hashes, valid, thumbs, hw, figs, 4, known=np.zeros((0, 2)))
    np.testing.assert_array_equal(stepped, whole)
    # 9 framed-scope thumbnails read 2 at a time; the boxes hashed: the two with bars only
    assert seen["boxes"] == [2, 2, 2, 2, 1]
    assert seen["hashes"] == [2]
