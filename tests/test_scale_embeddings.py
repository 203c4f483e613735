"""The embedding findings at scale: the rows' positions found by sorted searches (not a dict of
every dataset index), the thumbnails handed to the pair rules as they are when the rows line up
(a copy of 3 KB an image before), and the embedding accumulator's rows joined once and not
copied when already in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dataeval_gpu.detectors.near_duplicates as nd
from dataeval_gpu.accumulators.embeddings import EmbeddingAccumulator
from dataeval_gpu.audit.embedded import embedding_duplicate_groups, group_embeddings, positions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_positions_equal_a_dict_lookup(seed: int) -> None:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 300, 200)  # repeats: the last position wins, as a dict built in order
    wanted = rng.integers(-5, 320, 500)
    at = {int(k): p for p, k in enumerate(keys)}
    assert positions(keys, wanted).tolist() == [at.get(int(w), -1) for w in wanted]
    assert positions(np.zeros(0, np.int64), wanted).tolist() == [-1] * len(wanted)


def _former_inputs(emb_idx, thumbs, thumb_index, rows):  # noqa: ANN001, ANN202
    """What embedding_duplicate_groups handed embedding_groups before (dict lookups, a copy)."""
    finite = torch.isfinite(emb).all(dim=1) if (emb := _STATE["emb"]) is not None else None
    idx = emb_idx[finite].numpy()
    t = thumbs.numpy().reshape(thumbs.shape[0], -1)
    at = {int(i): p for p, i in enumerate(thumb_index)}
    thumb_rows = np.zeros((idx.size, t.shape[1]), dtype=np.uint8)
    have = np.array([int(i) in at for i in idx], dtype=bool)
    thumb_rows[have] = t[[at[int(i)] for i in idx[have]]]
    hw = np.stack([np.asarray(rows[k], dtype=np.float64).reshape(-1) for k in ("height", "width")], 1)
    sides = hw[[at[int(i)] for i in idx]] if all(int(i) in at for i in idx) else None
    return thumb_rows, sides


_STATE: dict = {}


@pytest.mark.parametrize("shuffled", [False, True])
def test_embedding_duplicate_groups_hands_the_former_rows(monkeypatch: pytest.MonkeyPatch, shuffled: bool) -> None:
    rng = np.random.default_rng(3)
    n = 300
    emb = torch.from_numpy(rng.normal(0, 1, (n, 16)).astype(np.float32))
    emb[1::7] = emb[::7][: len(emb[1::7])] + 0.001  # near copies
    if shuffled:
        emb[5] = float("nan")  # left out: the rows no longer line up
    emb_idx = torch.arange(n, dtype=torch.int64) * 2
    thumb_index = emb_idx.numpy().copy()
    thumbs = torch.from_numpy(rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8))
    thumbs[1::7] = thumbs[::7][: len(thumbs[1::7])]
    rows = {"height": torch.full((n,), 40), "width": torch.from_numpy(rng.choice([40, 90], n))}
    if shuffled:  # the thumbnails' rows in another order, one missing
        perm = rng.permutation(n)[1:]
        thumb_index, thumbs = thumb_index[perm], thumbs[torch.from_numpy(perm)]
        rows = {k: v[torch.from_numpy(perm)] for k, v in rows.items()}
    _STATE["emb"] = emb
    seen: dict = {}
    real = nd.embedding_groups

    def spy(x, **kw):  # noqa: ANN001, ANN003, ANN202
        seen.update(kw)
        return real(x, **kw)

    monkeypatch.setattr(nd, "embedding_groups", spy)
    groups = embedding_duplicate_groups(emb_idx, emb, thumbs, thumb_index, rows)
    ref_thumbs, ref_sides = _former_inputs(emb_idx, thumbs, thumb_index, rows)
    assert np.array_equal(seen["thumbs"], ref_thumbs)
    assert (seen["sides"] is None) == (ref_sides is None) == shuffled
    if not shuffled:
        assert np.array_equal(seen["sides"], ref_sides)
        assert np.shares_memory(seen["thumbs"], thumbs.numpy())  # the rows as they are, not a copy
        assert not seen["thumbs"].flags.writeable
    assert len(groups) > 10 and all(len(g) >= 2 for g in groups)
    monkeypatch.setattr(nd, "embedding_groups", real)
    members = sorted({i for g in groups for i in g})
    kept = group_embeddings(groups, emb_idx, emb)
    assert sorted(kept) == members
    assert all(torch.equal(torch.from_numpy(kept[i]), emb[i // 2]) for i in members)


def test_embedding_accumulator_joins_once_and_keeps_order() -> None:
    acc = EmbeddingAccumulator(model=torch.nn.Identity())
    rows = torch.arange(40, dtype=torch.float32).reshape(10, 4)
    for s in range(0, 10, 3):
        acc.append_rows(torch.arange(s, min(s + 3, 10)), rows[s : s + 3])
    idx, emb = acc.compute_with_indices()
    assert torch.equal(idx, torch.arange(10)) and torch.equal(emb, rows)
    assert len(acc.embeddings) == 1  # the four fed parts joined once
    idx2, emb2 = acc.compute_with_indices()
    assert emb2.data_ptr() == emb.data_ptr()  # in order: the joined rows themselves, no copy
    # out of order, with a repeated index: sorted, the first row of each index kept
    acc.append_rows(torch.tensor([3, 20, 15]), torch.full((3, 4), -1.0))
    idx3, emb3 = acc.compute_with_indices()
    assert idx3.tolist() == [*range(10), 15, 20]
    assert torch.equal(emb3[:10], rows) and (emb3[10:] == -1).all()
