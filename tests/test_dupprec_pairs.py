"""Embedding pairs that look alike only in part must be one picture turned by a few degrees
(:data:`~dataeval_gpu.detectors.embedding_pairs.LOOK_SURE`, :func:`rotated_correlation`), and a
pair nothing compares is not kept across shapes far apart (:data:`SHAPE_FAR`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors.embedding_pairs import (
    LOOK_MIN,
    LOOK_SURE,
    SHAPE_COSINE,
    SHAPE_FAR,
    TURN_MIN,
    embedding_pairs_ok,
    look_scores,
)
from dataeval_gpu.detectors.near_duplicates import NearDuplicates, embedding_groups
from dataeval_gpu.functional.hashing.align import rotated_correlation

ndimage = pytest.importorskip("scipy.ndimage")
PIL = pytest.importorskip("PIL.Image")


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random picture (a photo's blobs of light and dark), uint8."""
    x = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(h, w)), 12)
    return ((x - x.min()) / np.ptp(x) * 255).astype(np.uint8)


def _turned(a: np.ndarray, deg: float) -> np.ndarray:
    """``a`` turned by ``deg`` degrees (Pillow, bicubic) and cut to the largest centred box of its
    shape inside the turned frame, as the planted corpus's ``rot5`` (scripts/quality_corpus.py)."""
    im = PIL.fromarray(a)
    w, h = im.size
    r = im.rotate(deg, resample=PIL.Resampling.BICUBIC)
    t = np.deg2rad(abs(deg))
    s = 1.0 / (np.cos(t) + max(w / h, h / w) * np.sin(t))
    cw, ch = int(w * s) - 2, int(h * s) - 2
    return np.asarray(r.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)))


def _dialog(rows: int) -> np.ndarray:
    """A dialog window with ``rows`` table rows filled in: one state of a program's screen."""
    a = np.full((300, 400), 230, np.uint8)
    a[:20], a[280:] = 60, 200
    for k in range(rows):
        a[40 + 30 * k : 60 + 30 * k, 20:380] = 120
        a[45 + 30 * k : 55 + 30 * k, 30:100] = 20
    return a


def _reference_turn(x: np.ndarray, hw_x: np.ndarray, y: np.ndarray, hw_y: np.ndarray, angles: tuple) -> float:
    """Independent reference for two images of one shape: the crop is ``s`` times the big image
    (``s = 1 / (cos t + max(r, 1 / r) sin t)``, the corpus's formula), its thumbnail's pixel centres
    mapped into the big image turned by ``t`` and sampled by scipy's linear ``map_coordinates``."""
    best = -np.inf
    for big, hb, crop in ((x, hw_x, y), (y, hw_y, x)):
        h, w = hb
        for deg in [a * sgn for a in angles for sgn in (1.0, -1.0)]:
            t = np.deg2rad(deg)
            s = 1.0 / (np.cos(t) + max(w / h, h / w) * np.sin(abs(t)))
            g = (np.arange(32) + 0.5) / 32 - 0.5
            v, u = np.meshgrid(g * s * h, g * s * w, indexing="ij")
            px, py = u * np.cos(t) - v * np.sin(t), u * np.sin(t) + v * np.cos(t)
            rows, cols = (py / h + 0.5) * 32 - 0.5, (px / w + 0.5) * 32 - 0.5
            win = ndimage.map_coordinates(big.astype(np.float64), [rows, cols], order=1, mode="nearest")
            best = max(best, float(np.corrcoef(win.ravel(), crop.astype(np.float64).ravel())[0, 1]))
    return best


def test_rotated_correlation_matches_an_independent_reference() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    y = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    hw = np.array([[300.0, 400.0], [640.0, 480.0], [100.0, 100.0], [90.0, 160.0]])
    for angles in ((4.0,), (1.0, 7.0)):
        got, checked = rotated_correlation(x, hw, y, hw, angles)
        want = [_reference_turn(x[p], hw[p], y[p], hw[p], angles) for p in range(4)]
        assert checked.all()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # no turn: the crop box is the whole image, sampled at its own pixel centres
    same, _ = rotated_correlation(x, hw, x, hw, (0.0,))
    np.testing.assert_allclose(same, 1.0, atol=1e-12)
    flat, checked = rotated_correlation(np.full((1, 32, 32), 7, np.uint8), hw[:1], x[:1], hw[:1])
    assert not checked[0] and flat[0] == -np.inf  # a flat thumbnail: nothing to compare


def test_a_pair_alike_only_in_part_must_be_a_turned_copy() -> None:
    """A photo turned by 6 degrees (cut inside its border) looks 0.69 at 32 x 32 and 0.99 turned
    back: kept.  Two states of one dialog (1 and 5 rows, 3 and 6 rows) look 0.59 / 0.71 and stay
    under TURN_MIN turned: dropped, though the embeddings call them alike (cosine 0.95 here).
    Before LOOK_SURE every pair that looked 0.5 or more was kept."""
    p = _photo(300, 400, 0)
    ims = [p, _turned(p, -6.0), _dialog(1), _dialog(5), _dialog(3), _dialog(6)]
    thumbs = NearDuplicates().thumbnails([torch.from_numpy(a.copy()[None]) for a in ims])
    sides = np.array([a.shape for a in ims], dtype=np.float64)
    src, dst = np.array([0, 2, 4]), np.array([1, 3, 5])
    look, checked = look_scores(thumbs, src, dst)
    assert checked.all() and ((look >= LOOK_MIN) & (look < LOOK_SURE)).all()  # all in the band
    turn, _ = rotated_correlation(thumbs[src, 0].numpy(), sides[src], thumbs[dst, 0].numpy(), sides[dst])
    assert turn[0] >= TURN_MIN > max(turn[1], turn[2])
    ok = embedding_pairs_ok(src, dst, np.full(3, 0.95), thumbs, sides)
    assert ok.tolist() == [True, False, False]
    # without the sides the thumbnails are taken as squares: the same answer here
    assert embedding_pairs_ok(src, dst, np.full(3, 0.95), thumbs).tolist() == [True, False, False]
    # through the groups: the turned copy pairs with its photo, the dialogs do not
    emb = np.zeros((6, 3))
    emb[:, 0] = 1.0
    emb[[1, 3, 5], 1] = np.sqrt(1 / 0.95**2 - 1)  # each pair at cosine 0.95, the others further
    emb[[2, 3], 2], emb[[4, 5], 2] = 3.0, -3.0
    assert embedding_groups(emb, margin=None, thumbs=thumbs, sides=sides) == [[0, 1]]


def test_shapes_far_apart_do_not_pair_on_embeddings_alone() -> None:
    """Stellarium's 2 x 1024 ring textures and its 64 x 64 pointer sprites (cosine 0.951, just
    above SHAPE_COSINE: the model saw a blank square in each) were paired with no thumbnail to
    compare.  Shapes more than SHAPE_FAR apart are not paired whatever the cosine; two images of
    the shape (or 1.33x apart) still pair at SHAPE_COSINE."""
    assert SHAPE_FAR == 2.0 and SHAPE_COSINE == 0.95
    emb = np.array([[1.0, 0.0], [0.951, np.sqrt(1 - 0.951**2)]])
    assert embedding_groups(emb, margin=None, sides=np.array([[2, 1024], [64, 64]])) == []
    assert embedding_groups(emb, margin=None, sides=np.array([[2, 1024], [1, 512]])) == [[0, 1]]
    assert embedding_groups(emb, margin=None, sides=np.array([[30, 40], [33, 33]])) == [[0, 1]]
    assert embedding_groups(emb, margin=None) == [[0, 1]]  # no sides: the cosine alone


def test_small_images_are_not_held_to_the_turn() -> None:
    """Under 33 px a side the thumbnail is an enlarged 8-24 px square, where a 1 px offset (a 22 px
    icon drawn on a 24 px canvas) moves the picture: Tango's icon sizes looked 0.5-0.75 and failed
    the turn (24 true pairs).  The same two thumbnails as two 24 px images are kept (the look
    check alone), as two 300 x 400 images dropped."""
    ims = [_dialog(1), _dialog(5)]
    thumbs = NearDuplicates().thumbnails([torch.from_numpy(a.copy()[None]) for a in ims])
    src, dst, cos = np.array([0]), np.array([1]), np.array([0.95])
    look, _ = look_scores(thumbs, src, dst)
    assert LOOK_MIN <= look[0] < LOOK_SURE
    small, big = np.array([[24.0, 24.0], [24.0, 24.0]]), np.array([[300.0, 400.0], [300.0, 400.0]])
    assert embedding_pairs_ok(src, dst, cos, thumbs, small).tolist() == [True]
    assert embedding_pairs_ok(src, dst, cos, thumbs, big).tolist() == [False]
