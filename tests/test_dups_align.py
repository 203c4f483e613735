"""Crops of another shape found on the thumbnails: ``functional.hashing.align`` against a float64
loop reference, and the embedding rule that keeps such neighbours (``crop_pairs_ok``): an
off-centre phone crop of a wide picture, a 16:10 crop of a 16:9 one; not a crop of another picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.embedding_pairs import ALIGN_ASPECT, ALIGN_COSINE, ALIGN_MIN, crop_pairs_ok
from dataeval_gpu.detectors.near_duplicates import embedding_groups
from dataeval_gpu.functional.hashing.align import ALIGN_SCALES, FLAT_STD, aligned_correlation, area_matrix

PIL = pytest.importorskip("PIL.Image")


def test_area_matrix_hand_checked() -> None:
    # 3 -> 2: output 0 covers [0, 1.5): input 0 whole, half of input 1
    assert np.allclose(area_matrix(2, 3), [[2 / 3, 1 / 3, 0.0], [0.0, 1 / 3, 2 / 3]])
    m = area_matrix(16)
    x = np.arange(32.0)
    assert np.allclose(m @ x, x.reshape(16, 2).mean(axis=1))  # 32 -> 16: pairs averaged
    assert np.allclose(area_matrix(29).sum(axis=1), 1.0) and np.allclose(area_matrix(32), np.eye(32))


def _reference(x: np.ndarray, hx: tuple, y: np.ndarray, hy: tuple) -> float:
    """Loops over containers, scales and positions; np.corrcoef per window (float64)."""
    best = -np.inf
    for c, sc, p, sp in ((x, hx, y, hy), (y, hy, x, hx)):
        shape_c, shape_p = sc[1] / sc[0], sp[1] / sp[0]
        for s in ALIGN_SCALES:
            fh, fw = (s, s * shape_p / shape_c) if shape_p <= shape_c else (s * shape_c / shape_p, s)
            h, w = max(round(fh * 32), 3), max(round(fw * 32), 3)
            small = area_matrix(h) @ p.astype(np.float64) @ area_matrix(w).T
            for yy in range(32 - h + 1):
                for xx in range(32 - w + 1):
                    win = c[yy : yy + h, xx : xx + w].astype(np.float64)
                    if win.std() < FLAT_STD or small.std() < FLAT_STD:
                        continue
                    best = max(best, float(np.corrcoef(win.ravel(), small.ravel())[0, 1]))
    return best


def test_aligned_correlation_equals_the_loop_reference() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    y = rng.integers(0, 256, (4, 32, 32)).astype(np.uint8)
    y[3] = 100  # flat: nothing to compare
    hx = np.array([[90, 160], [160, 90], [100, 160], [50, 50]])
    hy = np.array([[160, 90], [90, 160], [90, 160], [50, 50]])
    got, checked = aligned_correlation(x, hx, y, hy)
    want = [_reference(x[k], tuple(hx[k]), y[k], tuple(hy[k])) for k in range(4)]
    assert np.allclose(got[:3], want[:3], atol=1e-9) and checked.tolist() == [True, True, True, False]
    assert got[3] == -np.inf and want[3] == -np.inf


def _picture(seed: int, h: int = 180, w: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 80, (3, h, w)), sigma=(0, 6, 6))
    base += rng.normal(0, 20, (3, 1, 1))
    return np.clip(128 + (base - 128) * 3, 0, 255).astype(np.uint8)


def _resize(a: np.ndarray, h: int, w: int) -> np.ndarray:
    im = PIL.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0))).resize((w, h), PIL.LANCZOS)
    return np.ascontiguousarray(np.asarray(im).transpose(2, 0, 1))


def _set() -> list[torch.Tensor]:
    wide = _picture(0)
    return [
        torch.from_numpy(wide),
        # 1: a 9:16 phone crop of 0 from its left part (columns 30-130, not the central strip)
        torch.from_numpy(_resize(wide[:, :, 30:131], 320, 180)),
        # 2: a 16:10 crop of 0 at its full height (288 of 320 columns, from column 10)
        torch.from_numpy(_resize(wide[:, :, 10:298], 200, 320)),
        # 3: a phone crop of another picture
        torch.from_numpy(_resize(_picture(5)[:, :, 30:131], 320, 180)),
    ]


def test_crop_pairs_ok_off_centre_and_other_aspect_not_another_picture() -> None:
    imgs = _set()
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(imgs)
    sides = np.array([t.shape[-2:] for t in imgs], dtype=np.float64)
    src, dst = np.array([0, 0, 0, 2, 0]), np.array([1, 2, 3, 0, 1])
    cos = np.array([0.6, 0.6, 0.6, 0.6, ALIGN_COSINE - 0.01])
    score, _ = aligned_correlation(thumbs[src, 0].numpy(), sides[src], thumbs[dst, 0].numpy(), sides[dst])
    assert score[0] >= ALIGN_MIN and score[1] >= ALIGN_MIN and score[2] < ALIGN_MIN
    # the portrait crop, the 16:10 crop: kept; another picture's crop: not; the 16:10 crop first (either
    # image may be the crop): kept; under ALIGN_COSINE: not looked at
    assert crop_pairs_ok(src, dst, cos, thumbs, sides).tolist() == [True, True, False, True, False]
    # shapes within ALIGN_ASPECT (a resize of 0) are not this rule's: the look check judges them
    same = np.array([[180, 320], [180, 320 * ALIGN_ASPECT * 0.999]])
    assert not crop_pairs_ok(np.array([0]), np.array([1]), np.array([0.9]), thumbs[[0, 0]], same).any()
    assert not crop_pairs_ok(src, dst, cos, None, sides).any()  # no thumbnails: nothing


def test_embedding_groups_keep_aligned_crops_under_the_threshold() -> None:
    imgs = _set()
    thumbs = NearDuplicates(embedding_threshold=None).thumbnails(imgs)
    sides = np.array([t.shape[-2:] for t in imgs], dtype=np.float64)
    # embeddings with cosine 0.7 between every pair (under the 0.88 threshold)
    e = np.eye(4) * np.sqrt(0.3) + np.sqrt(0.7) * np.ones((4, 4)) / 2.0
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    assert np.allclose((e @ e.T)[0, 1], (e @ e.T)[0, 3])
    assert embedding_groups(e, 0.88, k=3, margin=None) == []
    assert embedding_groups(e, 0.88, k=3, margin=None, thumbs=thumbs, sides=sides) == [[0, 1, 2]]
    out = NearDuplicates(k=3, local_margin=None).evaluate(imgs, embeddings=e)
    assert out.groups == [[0, 1, 2]] and out.hash == []


def test_detail_energy_equals_a_scipy_reference() -> None:
    from dataeval_gpu.functional.hashing.thumbs import detail_energy

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (3, 32, 32)).astype(np.uint8)
    x[2] = 77  # flat: 0
    ref = []
    for t in x.astype(np.float64):
        d = t - ndimage.uniform_filter(t, size=3, mode="nearest")
        ref.append(np.sqrt(((d - d.mean()) ** 2).mean()))
    assert np.allclose(detail_energy(x), ref, atol=1e-9) and detail_energy(x)[2] == 0.0


def _soft_pair(texture: float) -> np.ndarray:
    """Two thumbnails sharing a left-to-right ramp, each with its own smooth blob (look 0.5-0.8);
    ``texture``: the amplitude of a fine checker pattern added to both (their detail energy)."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    ramp = 60 + 2 * xx + 2 * yy
    a = ramp + 100 * np.exp(-((yy - 8) ** 2 + (xx - 10) ** 2) / 30)
    b = ramp + 100 * np.exp(-((yy - 20) ** 2 + (xx - 26) ** 2) / 60)
    checker = texture * ((yy + xx) % 2 * 2 - 1)
    return np.clip(np.stack([a + checker, b + checker]), 0, 255).round().astype(np.uint8)


def test_two_soft_pictures_must_look_more_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataeval_gpu.detectors.embedding_pairs as ep
    from dataeval_gpu.detectors.embedding_pairs import (
        LOOK_MIN,
        SOFT_DETAIL,
        SOFT_LOOK_MIN,
        embedding_pairs_ok,
    )
    from dataeval_gpu.functional.hashing.thumbs import detail_energy, look_check

    # the soft rule alone: a pair alike only in part must otherwise be a turned copy (LOOK_SURE,
    # tests/test_dupprec_pairs.py), which these two random pictures are not
    monkeypatch.setattr(ep, "LOOK_SURE", LOOK_MIN)

    src, dst, cos = np.array([0]), np.array([1]), np.array([0.9])
    soft, sharp = _soft_pair(0.0), _soft_pair(12.0)
    look_soft = float(look_check(soft[[0]], soft[[1]])[0][0])
    look_sharp = float(look_check(sharp[[0]], sharp[[1]])[0][0])
    assert LOOK_MIN <= look_soft < SOFT_LOOK_MIN and LOOK_MIN <= look_sharp < SOFT_LOOK_MIN
    assert detail_energy(soft).max() < SOFT_DETAIL <= detail_energy(sharp).min()
    # the same look: two soft pictures are not kept, two with detail are (the look check alone)
    assert embedding_pairs_ok(src, dst, cos, soft[:, None]).tolist() == [False]
    assert embedding_pairs_ok(src, dst, cos, sharp[:, None]).tolist() == [True]
    # a soft pair that looks alike (a copy) is kept
    copy = np.stack([soft[0], soft[0]])
    assert embedding_pairs_ok(src, dst, cos, copy[:, None]).tolist() == [True]


def test_two_soft_glows_need_the_soft_alignment() -> None:
    """A faint round glow (square) and a bright elongated one (2:1): soft pictures whose smooth
    blobs align at ALIGN_MIN or more but under SOFT_ALIGN_MIN (Stellarium's halo and zodiacal light)."""
    import dataeval_gpu.detectors.embedding_pairs as ep
    from dataeval_gpu.functional.hashing.thumbs import detail_energy

    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    halo = 10 + 40 * np.exp(-((yy - 16) ** 2 + (xx - 16) ** 2) / 150)
    zodiac = 5 + 200 * np.exp(-((yy - 15) ** 2) / 90 - ((xx - 16) ** 2) / 40)
    t = np.stack([halo, zodiac]).round().astype(np.uint8)[:, None]
    sides = np.array([[128, 128], [256, 512]], dtype=np.float64)
    score = float(aligned_correlation(t[[0], 0], sides[[0]], t[[1], 0], sides[[1]])[0][0])
    assert ALIGN_MIN <= score < ep.SOFT_ALIGN_MIN and detail_energy(t[:, 0]).max() < ep.SOFT_DETAIL
    src, dst, cos = np.array([0]), np.array([1]), np.array([0.85])
    assert crop_pairs_ok(src, dst, cos, t, sides).tolist() == [False]
    ep.SOFT_DETAIL, kept = 0.0, None  # the soft rule off: the same pair passes ALIGN_MIN
    try:
        kept = crop_pairs_ok(src, dst, cos, t, sides).tolist()
    finally:
        ep.SOFT_DETAIL = 4.5
    assert kept == [True]
