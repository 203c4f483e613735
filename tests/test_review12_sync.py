"""review12: the row gather and the embeddings' kept rows on edge inputs.

* ``gather_rows`` refused a state it cannot exchange (rows of more than ``MAX_ROW_DIMS``
  dimensions, a dtype outside its table) on the rank holding it *before* the first collective:
  that rank raised while the others waited in ``all_gather`` (a hang until the group's timeout).
  Every rank must raise the same ``RowSyncError``.
* ``EmbeddingAccumulator`` kept its gathered rows (under ``torch.distributed``) across a
  ``load_state_dict``, which replaces the rows without an update, and did not move them with
  ``.to()``.
"""

from __future__ import annotations

import datetime
import traceback
from pathlib import Path

import pytest
import torch

from dataeval_gpu.accumulators import embeddings as emb_mod
from dataeval_gpu.accumulators.embeddings import EmbeddingAccumulator
from tests.ddp_ranks import save_rank, spawn_ranks

WORLD = 2


def _states(rank: int) -> list[torch.Tensor]:
    """Per case, what ``rank`` holds: rank 0 nothing (torchmetrics' 1-D float32 placeholder), rank 1
    rows of 7 dimensions; then rank 1 rows of an unlisted dtype; then a pair that gathers."""
    if rank == 0:
        return [torch.zeros(0), torch.zeros(0), torch.tensor([[1, 2]], dtype=torch.int64)]
    return [
        torch.zeros((2, 1, 1, 1, 1, 1, 1, 1)),
        torch.zeros((2, 3), dtype=torch.uint16),
        torch.tensor([[3, 4], [5, 6]], dtype=torch.int64),
    ]


def _worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    from dataeval_gpu.accumulators.sync import gather_rows

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=init, rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=20)
    )
    results = []
    try:
        for state in _states(rank):
            try:
                results.append(("ok", [p.tolist() for p in gather_rows(state)]))
            except Exception as exc:  # noqa: BLE001 - the test compares the errors of the ranks
                name = type(exc).__name__
                results.append((name, str(exc) if name == "RowSyncError" else traceback.format_exc()))
    finally:
        save_rank(out, rank, results)
        dist.destroy_process_group()


@pytest.mark.integration
def test_a_state_refused_on_one_rank_raises_on_every_rank(tmp_path: Path) -> None:
    got = spawn_ranks(_worker, tmp_path, WORLD)
    for rank in range(WORLD):
        assert len(got[rank]) == 3, got[rank]
        dims, dtype, fine = got[rank]
        assert dims == (
            "RowSyncError",
            "rank 1 holds rows of 7 dimensions; at most 6 are gathered",
        ), (rank, dims)
        assert dtype[0] == "RowSyncError", (rank, dtype)
        assert dtype[1].startswith("rank 1 holds rows of a dtype that cannot be gathered"), (rank, dtype)
        assert fine == ("ok", [[[1, 2]], [[3, 4], [5, 6]]]), (rank, fine)
    assert "torch.uint16" in got[1][1][1]  # the rank holding it names the dtype


def _rows(acc: EmbeddingAccumulator, idx: list[int], value: float) -> None:
    acc.append_rows(torch.tensor(idx), torch.full((len(idx), 4), value))


def test_kept_rows_are_dropped_by_load_state_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a group (world 2 here; outside a process group sync gathers nothing) the rows are kept
    for a second call, and no longer once ``load_state_dict`` replaced them."""
    monkeypatch.setattr(emb_mod, "distributed_world", lambda: 2)
    acc, other = EmbeddingAccumulator(), EmbeddingAccumulator()
    acc.persistent(True)
    other.persistent(True)
    _rows(acc, [0, 1], 1.0)
    idx, emb = acc.compute_with_indices()
    assert idx.tolist() == [0, 1] and emb[:, 0].tolist() == [1.0, 1.0]
    assert acc.compute_with_indices()[1] is emb  # kept: a second call gathers nothing
    _rows(other, [5], 7.0)
    acc.load_state_dict(other.state_dict())
    idx, emb = acc.compute_with_indices()
    assert idx.tolist() == [5] and emb[:, 0].tolist() == [7.0]


def test_kept_rows_follow_to(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emb_mod, "distributed_world", lambda: 2)
    acc = EmbeddingAccumulator()
    _rows(acc, [0, 1], 1.0)
    acc.compute_with_indices()
    acc.to(torch.float64)
    idx, emb = acc.compute_with_indices()
    assert emb.dtype == torch.float64 and idx.dtype == torch.int64
    assert emb[:, 0].tolist() == [1.0, 1.0]
