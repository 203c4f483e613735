"""Window views (crops13): a copy turned by 10-15 degrees and cut to its shape, or a mirrored 90 %
window at a corner, pairs with its source through the views sampled from the source's thumbnail
(docs/duplicates.md, "Window views"); DataEval 0.65's radius 0 adds nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.window_pairs import WINDOW_DETAIL_MIN, WINDOW_PLAIN_MIN
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.windows import (
    WINDOW_VIEWS,
    half_detail,
    view_hashes,
    view_samples,
    window_scores,
)

PIL = pytest.importorskip("PIL.Image")
ndimage = pytest.importorskip("scipy.ndimage")
skdata = pytest.importorskip("skimage.data")


def _turned(a: np.ndarray, deg: float) -> np.ndarray:
    """Turned by ``deg`` and cut to the largest box of its shape (scripts/quality_corpus.py's rot_small)."""
    im = PIL.fromarray(a)
    w, h = im.size
    r = im.rotate(deg, resample=PIL.Resampling.BICUBIC, expand=False)
    t = np.deg2rad(abs(deg))
    s = 1.0 / (np.cos(t) + max(w / h, h / w) * np.sin(t))
    cw, ch = int(w * s) - 2, int(h * s) - 2
    return np.asarray(r.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)))


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    pics = {n: np.ascontiguousarray(getattr(skdata, n)()[..., :3]) for n in ("astronaut", "chelsea", "coffee", "rocket")}
    return {
        **pics,
        "astronaut_rot10": _turned(pics["astronaut"], 10.0),
        "coffee_rot-15": _turned(pics["coffee"], -15.0),
        "chelsea_flip90": np.ascontiguousarray(pics["chelsea"][-round(0.9 * 300) :, ::-1][:, : round(0.9 * 451)]),
    }


def _tensors(p: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1) for v in p.values()]


def test_view_samples_match_scipy_bilinear() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(0, 256, (2, 32, 32), dtype=np.uint8)
    hw = np.array([[300.0, 451.0], [512.0, 512.0]])
    g = (np.arange(32) + 0.5) / 32
    for view in [(1.0, 0.0, 0.0, 0.0), (0.9, 0.1, 0.0, 0.0), (0.9, 0.05, 0.1, 0.0), (1.0, 0.0, 0.0, 10.0)]:
        got = view_samples(t, hw, view)
        for k in range(2):
            scale, oy, ox, deg = view
            v, u = np.meshgrid(g, g, indexing="ij")
            if deg:
                h, w = hw[k]
                a = np.deg2rad(deg)
                f = 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a))
                xp, yp = (u - 0.5) * w * f, (v - 0.5) * h * f
                y, x = (xp * np.sin(a) + yp * np.cos(a)) / h + 0.5, (xp * np.cos(a) - yp * np.sin(a)) / w + 0.5
            else:
                y, x = oy + scale * v, ox + scale * u
            ref = ndimage.map_coordinates(t[k].astype(np.float64), [y * 32 - 0.5, x * 32 - 0.5], order=1, mode="nearest")
            np.testing.assert_allclose(got[k], ref, rtol=0, atol=1e-9)
    # the whole view is the thumbnail itself
    np.testing.assert_array_equal(view_samples(t, hw, (1.0, 0.0, 0.0, 0.0)), t.astype(np.float64))


def test_half_detail_matches_a_loop_reference() -> None:
    x = np.random.default_rng(5).uniform(0, 255, (1, 32, 32))
    small = x[0].reshape(16, 2, 16, 2).mean(axis=(1, 3))
    ref = np.empty((16, 16))
    for r in range(16):
        for c in range(16):
            box = [small[min(max(r + dr, 0), 15), min(max(c + dc, 0), 15)] for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
            ref[r, c] = small[r, c] - sum(box) / 9.0
    np.testing.assert_allclose(half_detail(x)[0], ref.reshape(-1), rtol=0, atol=1e-10)


def test_turned_and_mirrored_copies_hash_near_the_matching_view(photos) -> None:
    images = _tensors(photos)
    names = list(photos)
    hashes, _, thumbs = near_hash_thumbs(images, "pchash_d4")
    thumbs = thumbs.numpy()
    hw = np.array([t.shape[-2:] for t in images], dtype=np.float64)
    # the whole view of each thumbnail hashes as the image (the thumbnail is the hash's square, rounded)
    whole = view_hashes(thumbs, hw, ((1.0, 0.0, 0.0, 0.0),))[:, 0]
    assert hamming_distance(whole, hashes).tolist() == [0] * len(images)
    vh = view_hashes(thumbs, hw)
    assert vh.shape == (len(images), len(WINDOW_VIEWS)) == (7, 12)
    turns = view_hashes(thumbs, hw, turns=True)
    assert turns.shape == (7, 12, 8)
    # the D4 hash is the smallest of the 8 turns' pHashes, as unsigned 64-bit numbers
    np.testing.assert_array_equal(vh.numpy(), turns.numpy().view(np.uint64).min(axis=2).view(np.int64))
    for copy, source, view in (
        ("astronaut_rot10", "astronaut", (1.0, 0.0, 0.0, 10.0)),
        ("coffee_rot-15", "coffee", (1.0, 0.0, 0.0, -15.0)),
        ("chelsea_flip90", "chelsea", (0.9, 0.1, 0.1, 0.0)),  # mirrored: the right 90 %
    ):
        c, s, v = names.index(copy), names.index(source), WINDOW_VIEWS.index(view)
        far = int(hamming_distance(hashes[c], hashes[s]))
        # the copy's D4 hash is one turn's pHash; the view's matching turn is the one near it (astronaut's
        # smallest turns differ: 32 bits between its D4 hash and the view's, 2 to the view's same turn)
        near = int(hamming_distance(hashes[c].expand(8), turns[s, v]).min())
        assert far > 12 and near <= 4, (copy, far, near)
        plain, detail = window_scores(thumbs[[s]], hw[[s]], view, thumbs[[c]])
        assert plain[0] >= WINDOW_PLAIN_MIN and detail[0] >= WINDOW_DETAIL_MIN, (copy, plain, detail)
        # another photo is not that view
        other = names.index("rocket")
        plain, detail = window_scores(thumbs[[s]], hw[[s]], view, thumbs[[other]])
        assert plain[0] < 0.6 and detail[0] < 0.6


def test_near_duplicates_group_the_copies_and_radius_0_does_not(photos) -> None:
    names = list(photos)
    images = _tensors(photos)
    out = NearDuplicates().evaluate(images)
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    assert groups == [["astronaut", "astronaut_rot10"], ["chelsea", "chelsea_flip90"], ["coffee", "coffee_rot-15"]]
    # DataEval 0.65's rule (radius 0): none of them
    assert NearDuplicates(radius=0).evaluate(images).hash == []
