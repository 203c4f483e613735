"""review20: a DataLoader given a ``batch_sampler`` (a bucketing or custom batch sampler) batches
automatically with the default collate as ``batch_size=`` does - its ``batch_size`` attribute is
None - so its ``(B, H, W)`` batches of bare grey images are B images too (``stacks_items`` read
only ``batch_size``: 10 images gave 3 rows of 4/4/2 channels)."""

from __future__ import annotations

import numpy as np
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from dataeval_gpu.audit import scan
from dataeval_gpu.batching import stacks_items


def test_a_batch_sampler_loader_of_bare_grey_images() -> None:
    rng = np.random.default_rng(3)
    xs = [rng.integers(0, 256, (20, 24), dtype=np.uint8) for _ in range(10)]
    loader = DataLoader(xs, batch_sampler=BatchSampler(SequentialSampler(xs), 4, drop_last=False))
    assert loader.batch_size is None and stacks_items(loader)
    table = scan(loader).to_pandas()
    assert table.index.tolist() == list(range(10))
    assert table["channels"].tolist() == [1] * 10
    want = np.array([x.astype(np.float64).mean() / 255 for x in xs])
    np.testing.assert_allclose(table["brightness"].to_numpy(float), want, rtol=1e-6)
    # no automatic batching (batch_size=None, no batch sampler): items as they are
    assert not stacks_items(DataLoader(xs, batch_size=None))
