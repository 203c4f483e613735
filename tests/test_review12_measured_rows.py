"""review12: ``DataAudit.measured_rows()`` under DDP for an audit made before the group was
initialised (``DataAudit(device=...)`` builds its accumulator at once: the one-process row store,
whose ``compute`` refuses to run under a group).  ``compute()`` turns it into the torchmetrics
accumulator first; ``measured_rows()`` did not and raised "ImageStatsRows holds one process's
rows; under torch.distributed use its to_metric()" (e.g. an audit made in a model's __init__,
fed under DDP; the Lightning callback makes its audits after the group is up).
"""

from __future__ import annotations

import datetime
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.ddp_ranks import save_rank, spawn_ranks

WORLD = 2


def _worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    from dataeval_gpu.audit import DataAudit

    torch.set_num_threads(1)
    audit = DataAudit(device="cpu", quality=False)  # before the group: the one-process row store
    rng = np.random.default_rng(rank)
    share = [0, 1, 2] if rank == 0 else [3]
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 16, 16), dtype=np.uint8)) for _ in share]
    dist.init_process_group(
        "gloo", init_method=init, rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=30)
    )
    try:
        audit.update(imgs, indices=share)
        index, rows, _ = audit.measured_rows()
        result = ("ok", index.tolist(), sorted(rows))
    except Exception:  # noqa: BLE001 - the test shows the traceback
        result = ("error", traceback.format_exc(), [])
    finally:
        save_rank(out, rank, result)
        dist.destroy_process_group()


@pytest.mark.integration
def test_measured_rows_gathers_for_an_audit_made_before_the_group(tmp_path: Path) -> None:
    for rank, (status, index, keys) in enumerate(spawn_ranks(_worker, tmp_path, WORLD)):
        assert status == "ok", index
        assert index == [0, 1, 2, 3], (rank, index)
        assert "xxhash" in keys
