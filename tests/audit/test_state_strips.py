"""Checkpoints carry the strip hash rows (``pchash_strip*``); one saved before them resumes with
all-zero strips, aligned with the other rows (as rows restored from an index made before them)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.accumulators.stats import STRIP_HASH_KEYS
from dataeval_gpu.audit import DataAudit, load_metric_state, metric_state


def _images() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    # 16:9, 9:16 (strips), 1:1 (none), 16:9 too small for one
    shapes = [(90, 160), (160, 90), (100, 100), (54, 96)]
    return [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for h, w in shapes]


def test_a_checkpoint_carries_the_strip_rows() -> None:
    imgs = _images()
    a = DataAudit(embedding_duplicates=False)
    a.update(imgs)
    want = a._stats.compute()  # noqa: SLF001 - the accumulated rows
    assert want["pchash_strip_valid"].tolist() == [True, True, False, False]  # 54 x 96: a 30 px strip, under CROP_MIN_SIDE
    b = DataAudit(embedding_duplicates=False)
    b.load_state(a.state())
    got = b._stats.compute()  # noqa: SLF001
    for k in STRIP_HASH_KEYS:
        assert torch.equal(got[k].cpu(), want[k].cpu())


@pytest.mark.parametrize("metric", [False, True])
def test_a_checkpoint_saved_before_the_strips_resumes_aligned(metric: bool) -> None:
    imgs = _images()
    a = DataAudit(embedding_duplicates=False)
    a.update(imgs[:2])
    full = a._stats.compute()  # noqa: SLF001
    old = {k: v for k, v in metric_state(a._stats).items() if k not in STRIP_HASH_KEYS}  # noqa: SLF001
    b = DataAudit(embedding_duplicates=False)
    b.update(imgs[2:3])  # creates the accumulators
    acc = b._stats.to_metric() if metric else b._stats  # noqa: SLF001 - the torchmetrics (distributed) form too
    load_metric_state(acc, old)
    acc.update(imgs[2:], indices=[2, 3])
    res = acc.compute()
    n = len(res["index"])
    assert n == 4 and all(res[k].shape[0] == n for k in STRIP_HASH_KEYS)
    pos = {int(i): k for k, i in enumerate(res["index"].tolist())}
    # the restored rows: no strip (0 / False / zero thumbnail); their other hashes as saved
    assert res["pchash_strip_valid"][[pos[0], pos[1]]].tolist() == [False, False]
    assert int(res["pchash_strip_thumbs"][[pos[0], pos[1]]].sum()) == 0
    assert np.array_equal(res["pchash"][[pos[0], pos[1]]].cpu().numpy(), full["pchash"].cpu().numpy())
    assert res["pchash_strip_valid"][[pos[2], pos[3]]].tolist() == [False, False]
