"""Off-centre crops (crops14): a crop keeping 80 % / 70 % of each side at a place off the centre,
plain or mirrored, pairs with its source through a grid of windows hashed from the source's
thumbnail and verified on the source's thumbnail grid (docs/duplicates.md, "Off-centre crops")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.window_pairs import (
    CROP_BUSY_MIN,
    CROP_DETAIL_MIN,
    CROP_FINE_MIN,
    CROP_PLAIN_MIN,
    CROP_SPREAD_MIN,
)
from dataeval_gpu.functional.hashing import hamming_distance, near_hash_thumbs
from dataeval_gpu.functional.hashing.block_search import window_matches
from dataeval_gpu.functional.hashing.offcentre import (
    GRID_RADIUS,
    busy_share,
    crop_scores,
    grid_hashes,
    grid_views,
    plain_hashes,
)

fft = pytest.importorskip("scipy.fft")
skdata = pytest.importorskip("skimage.data")


def _crop(a: np.ndarray, keep: float, fy: float, fx: float) -> np.ndarray:
    """``keep`` of each side, its top-left corner at ``fy`` / ``fx`` of the room left."""
    h, w = a.shape[:2]
    ch, cw = round(h * keep), round(w * keep)
    y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
    return np.ascontiguousarray(a[y0 : y0 + ch, x0 : x0 + cw])


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    pics = {
        n: np.ascontiguousarray(getattr(skdata, n)()[..., :3])
        for n in ("astronaut", "chelsea", "coffee", "rocket")
    }
    return {
        **pics,
        "astronaut_crop80": _crop(pics["astronaut"], 0.8, 0.63, 0.12),
        "coffee_flip_crop70": np.ascontiguousarray(_crop(pics["coffee"], 0.7, 0.2, 0.9)[:, ::-1]),
    }


def _tensors(p: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(v).permute(2, 0, 1) for v in p.values()]


def _scipy_phash(x: np.ndarray) -> int:
    """The pchash's bits of a square grey image by scipy's DCT, as an int64 (first bit the top)."""
    c = fft.dct(fft.dct(x.astype(np.float64), axis=0), axis=1)[:8, :8].ravel()
    bits = c > np.median(c)
    v = int("".join("1" if b else "0" for b in bits), 2)
    return v - (1 << 64) if v >= 1 << 63 else v


def test_grid_and_plain_hashes_match_scipy() -> None:
    rng = np.random.default_rng(5)
    t = rng.integers(0, 256, (3, 32, 32)).astype(np.uint8)
    g = grid_hashes(t).numpy()
    views = grid_views()
    assert g.shape == (3, len(views)) == (3, 36 + 64)
    s = np.arange(32) + 0.5
    for k in (
        0,
        7,
        35,
        36,
        99,
    ):  # a window sampled bilinearly at its own pixel centres (scipy's map_coordinates)
        scale, oy, ox = views[k]
        ys, xs = np.meshgrid(
            (oy + scale * s / 32) * 32 - 0.5, (ox + scale * s / 32) * 32 - 0.5, indexing="ij"
        )
        for n in range(3):
            pytest.importorskip("scipy.ndimage")
            from scipy.ndimage import map_coordinates

            w = map_coordinates(t[n].astype(np.float64), [np.clip(ys, 0, 31), np.clip(xs, 0, 31)], order=1)
            assert g[n, k] == _scipy_phash(w), (k, n)
    p = plain_hashes(t).numpy()
    for n in range(3):
        assert p[n, 0] == _scipy_phash(t[n]) and p[n, 1] == _scipy_phash(t[n][:, ::-1])


def test_window_matches_is_the_brute_force_search() -> None:
    rng = np.random.default_rng(7)
    base = rng.integers(-(2**63), 2**63 - 1, 200, dtype=np.int64)
    flips = [
        np.bitwise_or.reduce(np.int64(1) << rng.integers(0, 64, (200, k)).astype(np.int64), axis=1)
        if k
        else 0
        for k in range(10)
    ]
    probes = np.concatenate([base ^ f for f in flips] + [base[:5]])
    refs = np.concatenate([base[:150], rng.integers(-(2**63), 2**63 - 1, 100, dtype=np.int64)])
    d = np.bitwise_count((probes[:, None] ^ refs[None, :]).view(np.uint64))
    for radius in (0, 3, GRID_RADIUS):
        a, b = window_matches(probes, refs, radius)
        assert sorted(zip(a.tolist(), b.tolist())) == sorted(zip(*np.nonzero(d <= radius))), radius
    with pytest.raises(ValueError):
        window_matches(probes, refs, 9)


def test_off_centre_crops_hash_near_a_grid_window_and_verify(photos) -> None:
    names = list(photos)
    images = _tensors(photos)
    hashes, _, thumbs = near_hash_thumbs(images, "pchash_d4")
    t = thumbs.numpy().reshape(len(images), -1)[:, : 32 * 32].reshape(-1, 32, 32)
    grid, plain = grid_hashes(t), plain_hashes(t)
    views = grid_views()
    for copy, source, mirrored in (
        ("astronaut_crop80", "astronaut", False),
        ("coffee_flip_crop70", "coffee", True),
    ):
        c, s = names.index(copy), names.index(source)
        assert int(hamming_distance(hashes[c], hashes[s])) > 12  # the whole hashes do not pair them
        dist = hamming_distance(grid[s], plain[c, int(mirrored)].expand(len(views)))
        k = int(dist.argmin())
        assert int(dist[k]) <= GRID_RADIUS, (copy, dist.min())
        p, d, f, sp = crop_scores(t[[s]], views[k], t[[c]], np.array([mirrored]))
        assert p[0] >= CROP_PLAIN_MIN and d[0] >= CROP_DETAIL_MIN and f[0] >= CROP_FINE_MIN, (copy, p, d, f)
        assert sp[0] >= CROP_SPREAD_MIN
        # not mirrored back, or another photo: not that window
        p, d, f, sp = crop_scores(t[[s]], views[k], t[[c]], np.array([not mirrored]))
        assert p[0] < 0.9
        other = names.index("rocket")
        p, d, f, sp = crop_scores(t[[s]], views[k], t[[other]], np.array([mirrored]))
        assert p[0] < 0.6 and d[0] < 0.6 and f[0] < 0.6
    assert (busy_share(t) >= CROP_BUSY_MIN).all()  # photos: detail nearly everywhere


def test_busy_share_counts_pixels_off_their_box_mean() -> None:
    flag = np.zeros((1, 32, 32), dtype=np.uint8)
    flag[:, 11:22] = 120
    flag[:, 22:] = 240  # three stripes: detail only beside the two edges (4 rows of 32)
    assert busy_share(flag).tolist() == [4 * 32 / 1024]
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, (2, 32, 32))
    box = np.pad(noise.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    mean = sum(box[:, dy : dy + 32, dx : dx + 32] for dy in range(3) for dx in range(3)) / 9.0
    np.testing.assert_allclose(busy_share(noise, 4.0), (np.abs(noise - mean) >= 4.0).mean(axis=(1, 2)))


def test_near_duplicates_group_the_crops_and_radius_0_does_not(photos) -> None:
    names = list(photos)
    images = _tensors(photos)
    out = NearDuplicates().evaluate(images)
    groups = sorted(sorted(names[i] for i in g) for g in out.hash)
    assert groups == [["astronaut", "astronaut_crop80"], ["coffee", "coffee_flip_crop70"]]
    assert NearDuplicates(radius=0).evaluate(images).hash == []


def test_grid_hashes_in_steps_are_the_same(monkeypatch) -> None:
    from dataeval_gpu.functional.hashing import offcentre

    t = np.random.default_rng(9).integers(0, 256, (5, 32, 32)).astype(np.uint8)
    whole = grid_hashes(t)
    monkeypatch.setattr(offcentre, "IMAGES_PER_STEP", 2)
    assert torch.equal(grid_hashes(t), whole)
