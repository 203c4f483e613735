"""The whole image's 8 turns in the window search (lead14): which turn of a D4 pchash is the
smallest flips with a small difference, a JPEG re-save's, and the two whole hashes then lie 30-36
bits apart though the same turn of each is 0-4 bits from the other's."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.windows import WINDOW_VIEWS, view_hashes

PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")


def _jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    PIL.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.array(PIL.open(buf).convert("RGB"))


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    ihc = np.ascontiguousarray(skdata.immunohistochemistry()[..., :3])
    brick = np.ascontiguousarray(np.stack([skdata.brick()] * 3, axis=-1))
    return {
        "ihc": ihc,
        "ihc_q20": _jpeg(ihc, 20),
        "brick": brick,
        "brick_q50": _jpeg(brick, 50),
        "chelsea": np.ascontiguousarray(skdata.chelsea()),
        "coffee": np.ascontiguousarray(skdata.coffee()),
    }


def _tensors(p: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(v).permute(2, 0, 1).contiguous() for v in p.values()]


def test_the_whole_view_is_searched_first() -> None:
    assert WINDOW_VIEWS[0] == (1.0, 0.0, 0.0, 0.0)


def test_a_jpeg_copy_whose_smallest_turn_flipped_lies_near_one_turn_of_its_source(images) -> None:
    ims = _tensors(images)
    hashes, _, thumbs = near_hash_thumbs(ims, "pchash_d4")
    hw = np.array([t.shape[-2:] for t in ims], dtype=np.float64)
    turns = view_hashes(thumbs.numpy(), hw, (WINDOW_VIEWS[0],), turns=True)[:, 0]  # (N, 8)
    names = list(images)
    for copy, source in (("ihc_q20", "ihc"), ("brick_q50", "brick")):
        c, s = names.index(copy), names.index(source)
        far = int(hamming_distance(hashes[c], hashes[s]))
        near = int(hamming_distance(hashes[c].expand(8), turns[s]).min())
        assert far >= 30 and near <= 4, (copy, far, near)  # measured: 30 / 0 and 34 / 2


def test_near_duplicates_group_the_flipped_copies_by_hash(images) -> None:
    names = list(images)
    out = NearDuplicates().evaluate(_tensors(images))
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    assert groups == [["brick", "brick_q50"], ["ihc", "ihc_q20"]]
