"""review19: the window views' hashes in bounded memory.

``view_hashes`` held every searched image's float64 thumbnail and 12 views' coefficients at once
(~14 KB an image: ~14 GB for a million photos, at the end of a scan).  It now transforms
:data:`VIEW_CHUNK` images at a time, deciding which shapes take a map over the whole call, so the
hashes do not depend on the chunking."""

from __future__ import annotations

import tracemalloc

import numpy as np
import torch

from dataeval_gpu.functional.hashing import windows
from dataeval_gpu.functional.hashing.windows import WINDOW_VIEWS, view_hashes


def _thumbs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random thumbnails (uint8) and shapes: 10 common shapes and rare ones."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, 8, 8))
    t = np.clip(np.kron(base, np.ones((4, 4))) * 255 + rng.normal(0, 6, (n, 32, 32)), 0, 255).astype(np.uint8)
    hw = np.stack([np.full(n, 480.0), rng.choice([640.0, 720.0, 480.0, 360.0, 853.0], n)], axis=1)
    hw[::7, 1] = 300.0 + np.arange(len(hw[::7]))  # every 7th image a shape of its own
    return t, hw


def test_chunked_views_hash_as_one_call(monkeypatch) -> None:
    t, hw = _thumbs(60)
    whole = view_hashes(t, hw, turns=True)
    assert whole.shape == (60, len(WINDOW_VIEWS), 8)
    monkeypatch.setattr(windows, "VIEW_CHUNK", 7)  # common shapes split across chunks, a few images each
    assert torch.equal(view_hashes(t, hw, turns=True), whole)
    d4 = whole.numpy().view(np.uint64).min(axis=2).view(np.int64)
    assert np.array_equal(view_hashes(torch.from_numpy(t), hw).numpy(), d4)
    # a rare shape's views sampled directly and a common one's through its map agree with the map of one image
    one = view_hashes(t[:1], hw[:1], turns=True)
    assert torch.equal(one[0], whole[0])


def test_memory_stays_bounded() -> None:
    t, hw = _thumbs(5000, seed=1)
    hw[:, 1] = 640.0  # one shape: its maps (the fast path; rare shapes cost time, not memory)
    tracemalloc.start()
    view_hashes(t, hw, turns=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # one call held 5,000 x (8 KB float64 thumbnail, 6 KB coefficients, 8 turns' copies) ~ 250 MB at once
    assert peak < 160e6, peak
