"""A copy whose D4 hash took another turn (turns15): the D4 pchash is the smallest of the 8 turns'
pHashes, and a JPEG re-save can flip which turn is the smallest - the two D4 hashes then lie 30-36
bits apart while the same turn is 0-4 bits apart.  Each image's turns are searched against the
other images' D4 hashes and a candidate is judged by the whole-image pair rules (docs/duplicates.md,
"A copy whose smallest turn flipped")."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import PairFigures
from dataeval_gpu.detectors.hash_pairs import hash_pairs_ok
from dataeval_gpu.detectors.turn_pairs import WHOLE_VIEW, turn_candidates, turn_pairs
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.windows import view_hashes

PIL = pytest.importorskip("PIL.Image")
fft = pytest.importorskip("scipy.fft")
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


def _ref_turns(thumb: np.ndarray) -> list[int]:
    """The pHashes (unsigned) of a ``32 x 32`` thumbnail's 8 flips / turns in float64: scipy's DCT,
    the 8 x 8 lowest coefficients, bit = coefficient > their median, first coefficient highest."""
    out = []
    for sq in (thumb.astype(np.float64), thumb.astype(np.float64).T):
        for v in (sq, sq[::-1], sq[:, ::-1], sq[::-1, ::-1]):
            c = fft.dct(fft.dct(np.ascontiguousarray(v), axis=0), axis=1)[:8, :8].ravel()
            out.append(int("".join("1" if b else "0" for b in c > np.median(c)), 2))
    return out


def _u64(h: torch.Tensor) -> int:
    return int(h) & ((1 << 64) - 1)


def test_turn_candidates_equal_a_float64_reference(images) -> None:
    ims = _tensors(images)
    hashes, valid, thumbs = near_hash_thumbs(ims, "pchash_d4")
    whole = thumbs.numpy().reshape(len(ims), 32, 32)
    hw = np.array([t.shape[-2:] for t in ims], dtype=np.float64)
    d4 = [_u64(h) for h in hashes]
    turns = [_ref_turns(t) for t in whole]
    # the turns searched are the reference's, bit for bit (the kernel's order: 4 t + 2 r + s)
    got = view_hashes(whole, hw, (WHOLE_VIEW,), turns=True)[:, 0]
    assert [[_u64(h) for h in row] for row in got] == [[t[k] for k in (0, 2, 1, 3, 4, 6, 5, 7)] for t in turns]
    # their smallest is the image's D4 hash up to the thumbnail's rounding to 8 bits (measured: brick's 2 bits)
    bits = lambda a, b: bin(a ^ b).count("1")  # noqa: E731
    assert [bits(min(t), d) for t, d in zip(turns, d4)] == [0, 0, 2, 2, 0, 0]
    ref = []
    for a in range(len(ims)):
        for b in range(a + 1, len(ims)):
            if bits(d4[a], d4[b]) <= 4:
                continue
            near = min([bits(t, d4[b]) for t in turns[a]] + [bits(t, d4[a]) for t in turns[b]])
            if near <= 4:
                ref.append((a, b, near))
    i, j, dist = turn_candidates(hashes, valid, whole, hw, 4)
    assert list(zip(i.tolist(), j.tolist(), dist.tolist())) == ref
    names = list(images)
    # the measured case: a JPEG re-save whose smallest turn flipped (30 / 34 bits between the D4 hashes)
    assert [(names[a], names[b]) for a, b, _ in ref] == [("ihc", "ihc_q20"), ("brick", "brick_q50")]
    assert [int(hamming_distance(hashes[a], hashes[b])) for a, b, _ in ref] == [30, 34]
    assert [d for _, _, d in ref] == [0, 2]


def test_the_flipped_copies_are_grouped_and_nothing_else(images) -> None:
    names = list(images)
    out = NearDuplicates(embedding_threshold=None).evaluate(_tensors(images))
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    assert groups == [["brick", "brick_q50"], ["ihc", "ihc_q20"]]


def test_a_candidate_is_held_to_the_whole_image_rules(images) -> None:
    """turn_pairs keeps exactly the candidates hash_pairs_ok keeps as two whole images at the turn's
    distance: a candidate whose thumbnails do not verify (one side replaced by another picture's
    thumbnail) or whose cell colours disagree is refused."""
    ims = _tensors(images)
    n = len(ims)
    hashes, valid, thumbs = near_hash_thumbs(ims, "pchash_d4")
    hw = np.array([t.shape[-2:] for t in ims], dtype=np.float64)
    figs = PairFigures(side=hw.min(axis=1), opacity=np.ones(n))
    got = turn_pairs(hashes, valid, thumbs, hw, figs, 4)
    assert got.tolist() == [[0, 1], [2, 3]]
    # ihc_q20's thumbnail swapped for coffee's: the hashes still say candidate, the detail does not
    t = thumbs.clone()
    t[1] = thumbs[5]
    i, j, dist = turn_candidates(hashes, valid, t.numpy().reshape(n, 32, 32), hw, 4)
    figs_t = PairFigures(side=hw.min(axis=1), opacity=np.ones(n), thumbs=t.numpy())
    zero = np.zeros(i.size, dtype=np.int64)
    expected = hash_pairs_ok(figs_t, figs_t, i, zero, j, zero, dist, 4)
    got = turn_pairs(hashes, valid, t, hw, figs, 4)
    assert got.tolist() == np.stack([i, j], axis=1)[expected].tolist()
    assert [0, 1] not in got.tolist()
    # cell colours of two different pictures on the brick pair (opaque colour pictures: refused)
    cells = np.zeros((n, 48), dtype=np.uint8)
    cells[2] = np.tile([200, 30, 30], 16)
    cells[3] = np.tile([30, 30, 200], 16)
    figs_c = PairFigures(side=hw.min(axis=1), opacity=np.ones(n), colour=np.full(n, 0.5), cells=cells)
    assert [2, 3] not in turn_pairs(hashes, valid, thumbs, hw, figs_c, 4).tolist()
    # pairs already known are not judged again
    assert turn_pairs(hashes, valid, thumbs, hw, figs, 4, known=np.array([[0, 1]])).tolist() == [[2, 3]]


def test_images_under_64_px_and_radius_0_add_nothing(images) -> None:
    ims = _tensors(images)
    hashes, valid, thumbs = near_hash_thumbs(ims, "pchash_d4")
    whole = thumbs.numpy().reshape(len(ims), 32, 32)
    hw = np.array([t.shape[-2:] for t in ims], dtype=np.float64)
    # under TURN_MIN_SIDE (64 px) a side: not searched
    assert turn_candidates(hashes, valid, whole, np.full_like(hw, 63.0), 4)[0].size == 0
    assert turn_candidates(hashes, valid, whole, np.full_like(hw, 64.0), 4)[0].size == 2
    # the same turn of ihc and its q20 copy is 0 bits apart, brick's 2: at radius 0 only the first
    i, j, dist = turn_candidates(hashes, valid, whole, hw, 0)
    assert (i.tolist(), j.tolist(), dist.tolist()) == ([0], [1], [0])
    # ... but radius 0 (DataEval 0.65's) searches no turns
    out = NearDuplicates(radius=0, embedding_threshold=None).evaluate(ims)
    assert out.hash == []
