"""A flat view (a constant thumbnail) pairs unverified only with a view about as flat (pairsprec16).

qr_debs8's flare-game paired `buttons/listbox_char.png` (a dark box with a light 1 px border,
opaque) with `menus/portrait_border.png` (a thin frame on transparent): the frame's central 80 %
crop is empty, so its thumbnail is constant, the thumbnails could not verify the pair and it was
kept at Hamming distance 0.  The reference figures here are computed with scipy (the 3 x 3 box mean
with replicated edges), independently of the library's ``_detail``.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from dataeval_gpu.detectors.hash_pairs import (
    FLAT_PARTNER_RMS,
    FLAT_VIEW_EPS,
    UNVERIFIED_RADIUS,
    PairFigures,
    hash_pairs_ok,
)

S = 32


def _detail_rms(t: np.ndarray) -> float:
    """Reference: the root mean square of a thumbnail minus its 3 x 3 box mean (edges replicated), centred."""
    x = t.astype(np.float64)
    d = x - uniform_filter(x, size=3, mode="nearest")
    d -= d.mean()
    return float(np.sqrt((d * d).mean()))


def _box_with_border(inside: int, border: int) -> np.ndarray:
    t = np.full((S, S), inside, dtype=np.uint8)
    t[0, :] = t[-1, :] = t[:, 0] = t[:, -1] = border
    return t


def _figures() -> PairFigures:
    """Image 0: a dark box with a light border (whole view; its crops the dark inside, flat);
    image 1: a frame whose crops are empty (flat, level 0); image 2: a flat dark picture;
    image 3: level 0 with a faint checker of +-1 level (a nearly flat picture)."""
    box = _box_with_border(20, 200)
    frame = _box_with_border(0, 180)
    flat0, flat20 = np.zeros((S, S), np.uint8), np.full((S, S), 20, np.uint8)
    faint = (np.indices((S, S)).sum(axis=0) % 2).astype(np.uint8)  # 0 / 1 checker
    thumbs = np.stack(
        [
            np.stack([box, flat20, flat20]),
            np.stack([frame, flat0, flat0]),
            np.stack([flat20, flat20, flat20]),
            np.stack([faint, faint, faint]),
        ]
    )
    return PairFigures(thumbs=thumbs, side=np.full(4, 64.0))  # 64 px a side: every view has its thumbnail


def test_reference_figures() -> None:
    box, faint = _box_with_border(20, 200), (np.indices((S, S)).sum(axis=0) % 2).astype(np.uint8)
    assert _detail_rms(np.zeros((S, S), np.uint8)) < FLAT_VIEW_EPS
    assert _detail_rms(box) > FLAT_PARTNER_RMS  # the border carries detail (about 29 levels)
    assert 28.0 < _detail_rms(box) < 30.0  # 28.99
    assert 0.0 < _detail_rms(faint) < FLAT_PARTNER_RMS  # +-1 level: under the bar (about 0.6)


def test_flat_view_against_detail_is_not_kept_unverified() -> None:
    figs = _figures()
    v0, v2 = np.array([0]), np.array([2])
    # the box (whole) against the frame's empty 80 % crop, 0 bits apart: not a copy
    keep = hash_pairs_ok(figs, figs, np.array([0]), v0, np.array([1]), v2, np.array([0]), 4)
    assert keep.tolist() == [False]
    # ... at every distance the unverified radius allows
    for d in range(UNVERIFIED_RADIUS + 1):
        assert not hash_pairs_ok(figs, figs, np.array([0]), v0, np.array([1]), v2, np.array([d]), 4)[0]


def test_flat_views_still_pair_with_flat_ones() -> None:
    figs = _figures()
    z = np.zeros(1, dtype=np.int64)
    # the box's flat crop against a flat picture and the frame's flat crop: kept unverified, within radius 2
    got = [
        bool(hash_pairs_ok(figs, figs, np.array([0]), np.array([1]), np.array([2]), z, np.array([d]), 4)[0])
        for d in (0, 2, 3)
    ]
    assert got == [True, True, False]
    assert hash_pairs_ok(
        figs, figs, np.array([1]), np.array([2]), np.array([2]), z, np.array([1]), 4
    ).tolist() == [True]
    # a nearly flat picture (+-1 level) against a flat view: kept, as before
    assert hash_pairs_ok(
        figs, figs, np.array([3]), z, np.array([1]), np.array([2]), np.array([0]), 4
    ).tolist() == [True]


def test_a_flat_whole_thumbnail_may_be_a_missing_one() -> None:
    """The flat side must be a central crop of an image whose whole thumbnail varies: a constant
    whole thumbnail (a uniform picture, or none stored: an index written without them) and its
    crops are decided as before, kept unverified within radius 2."""
    figs = _figures()
    z = np.zeros(1, dtype=np.int64)
    # the flat picture (whole) against the box (whole), and the flat picture's crop against the box
    assert hash_pairs_ok(figs, figs, np.array([2]), z, np.array([0]), z, np.array([1]), 4).tolist() == [True]
    assert hash_pairs_ok(
        figs, figs, np.array([2]), np.array([1]), np.array([0]), z, np.array([1]), 4
    ).tolist() == [True]
    # ... the same with all-zero thumbnails (none stored)
    figs.thumbs[2] = 0
    assert hash_pairs_ok(
        figs, figs, np.array([2]), np.array([2]), np.array([0]), z, np.array([0]), 4
    ).tolist() == [True]


def test_without_sides_a_zero_thumbnail_may_be_missing() -> None:
    """Without the short sides an all-zero thumbnail may be a missing one (an index row, an image
    under 33 px fed without its side): the pair is kept unverified within radius 2, as before."""
    figs = _figures()
    figs.side = None
    keep = hash_pairs_ok(
        figs, figs, np.array([0]), np.array([0]), np.array([1]), np.array([2]), np.array([0]), 4
    )
    assert keep.tolist() == [True]


def test_small_images_unchanged() -> None:
    """An image under 33 px: its pairs are decided as before (a missing / enlarged thumbnail)."""
    figs = _figures()
    figs.side = np.array([16.0, 16.0, 16.0, 16.0])
    z = np.zeros(1, dtype=np.int64)
    # both small with squares of one size: compared; the box against a flat picture is unverifiable and kept
    assert hash_pairs_ok(figs, figs, np.array([0]), z, np.array([2]), z, np.array([1]), 4).tolist() == [True]
