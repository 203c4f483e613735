"""hash_pairs at scale: the pair figures and thumbnails are taken for the images in a candidate
pair only (the strip's thumbnails joined to every image's view thumbnails were a copy of 4 KB an
image: 7 KB an image above the rows in the audit's duplicate step, 15 GB at 1,000,000 rows), and
the pairs kept are those of every view pair through the rules on the whole figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dataeval_gpu.detectors.hash_pairs as hp
from dataeval_gpu.detectors.hash_pairs import PairFigures, hash_pairs, hash_pairs_ok
from dataeval_gpu.functional.hashing import THUMB_SIDE, hamming_distance, near_pairs
from tests.test_pairperf_rows import _thumbs


def _inputs(rng: np.random.Generator, n: int, views: int = 3) -> dict:
    """Random hashes with near groups planted on the first quarter of the images; ``views``
    thumbnails an image (whole, two crops) and a strip view with its own thumbnail."""
    base = rng.integers(0, 2**63 - 1, n, dtype=np.int64)
    g = n // 4
    base[:g] = np.repeat(base[: g // 4], 4)[:g] ^ (rng.integers(0, 2, g) << rng.integers(0, 64, g))
    full = torch.from_numpy(base)
    ones = torch.ones(n, dtype=torch.bool)
    crops = [(full ^ 1, ones.clone()), (full ^ 3, ones.clone())]
    strip = (full ^ 7, ones.clone(), torch.from_numpy(_thumbs(rng, n, 1).reshape(n, -1)))
    thumbs = _thumbs(rng, n, views).reshape(n, -1)
    thumbs[g:] = rng.integers(0, 256, thumbs[g:].shape)  # the rest: noise, in no pair
    return {
        "full": full, "valid": ones, "crops": crops, "chroma": rng.normal(0, 1, (n, 2)),
        "plain": rng.choice([0.0, 0.3], n), "entropy": rng.choice([3.0, 4.0], n),
        "spread": rng.choice([0.1, 0.12], n), "thumbs": thumbs, "opacity": np.ones(n),
        "level": np.full(n, 0.4), "side": rng.choice([32.0, 64.0], n),
        "strip": strip, "hw": rng.choice([64.0, 300.0], (n, 2)),
    }  # fmt: skip


def _call(x: dict, radius: int) -> np.ndarray:
    return hash_pairs(
        x["full"], x["valid"], x["crops"], radius, x["chroma"], x["plain"], x["entropy"], x["spread"],
        x["thumbs"], x["opacity"], x["level"], x["side"], x["strip"], x["hw"],
    )  # fmt: skip


def _reference(x: dict, radius: int) -> np.ndarray:
    """Every view pair within the radius (one of them a whole view) through hash_pairs_ok on the
    figures of every image, the strip's thumbnail at its view."""
    n = x["full"].numel()
    h = torch.cat([x["full"], *(c for c, _ in x["crops"]), x["strip"][0]])
    pairs = near_pairs(h, radius)
    keep = ((pairs[:, 0] < n) | (pairs[:, 1] < n)) & (pairs[:, 0] % n != pairs[:, 1] % n)
    pairs = pairs[keep]
    a, b = pairs[:, 0].numpy(), pairs[:, 1].numpy()
    dist = hamming_distance(h[pairs[:, 0]], h[pairs[:, 1]]).numpy()
    thumbs = np.concatenate([x["thumbs"], x["strip"][2].numpy()], axis=1)
    figs = PairFigures(
        x["chroma"], x["plain"], x["entropy"], x["spread"], thumbs, x["opacity"], x["level"], x["side"], x["hw"],
        strip_view=1 + len(x["crops"]),
    )  # fmt: skip
    ok = hash_pairs_ok(figs, figs, a % n, a // n, b % n, b // n, dist, radius)
    code = np.unique(np.minimum(a[ok] % n, b[ok] % n) * n + np.maximum(a[ok] % n, b[ok] % n))
    return np.stack([code // n, code % n], axis=1)


def test_hash_pairs_with_strip_keeps_the_reference_pairs() -> None:
    x = _inputs(np.random.default_rng(5), 400)
    for radius in (2, 4):
        got, ref = _call(x, radius), _reference(x, radius)
        assert np.array_equal(got, ref)
        assert 0 < len(got)


def test_hash_pairs_copies_no_thumbnails_of_images_outside_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 images, near pairs among the first 400: the pair figures hold the thumbnails of
    those in a candidate pair only, and no torch op allocates near the size of every image's
    view thumbnails (the strip joined to them: a pad and a cat of all of them)."""
    rng = np.random.default_rng(1)
    n = 20_000
    x = _inputs(rng, 400)
    more = n - 400
    x["full"] = torch.cat([x["full"], torch.from_numpy(rng.integers(-(2**63), 2**63 - 1, more, dtype=np.int64))])
    ones = torch.ones(n, dtype=torch.bool)
    x["valid"] = ones
    x["crops"] = [(x["full"] ^ (1 << 40), ones), (x["full"] ^ (3 << 40), ones)]
    x["strip"] = (x["full"] ^ (7 << 40), ones, torch.zeros(n, THUMB_SIDE**2, dtype=torch.uint8))
    for k in ("chroma", "plain", "entropy", "spread", "opacity", "level", "side", "hw"):
        x[k] = np.concatenate([x[k], x[k][rng.integers(0, 400, more)]])
    x["thumbs"] = np.concatenate([x["thumbs"], rng.integers(0, 256, (more, x["thumbs"].shape[1]), dtype=np.uint8)])
    every = x["thumbs"].nbytes + x["strip"][2].numel()  # 82 MB
    held: list[int] = []
    real = hp.PairFigures

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        figs = real(*a, **k)
        held.append(0 if figs.thumbs is None else figs.thumbs.shape[0])
        return figs

    monkeypatch.setattr(hp, "PairFigures", spy)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        got = _call(x, 2)
    torch_largest = max((e.cpu_memory_usage for e in prof.events()), default=0)
    assert len(got) > 0 and got.max() < 400
    assert held and max(held) <= 400
    assert torch_largest < every / 8, torch_largest
