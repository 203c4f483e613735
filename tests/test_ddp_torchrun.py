"""torchrun with ranks that hold nothing to measure: scripts/torchrun_scan.py with more ranks than
files (and the one file of a rank undecodable), and the Lightning callback whose validation
batches all go to one of two ranks.  Before the row gather (dataeval_gpu.accumulators.sync) both
aborted with gloo "Received data size doesn't match expected size"."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(nproc: int, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **(env or {}))
    for _attempt in range(2):  # one retry: the rendezvous port can be taken between pick and bind
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={nproc}",
            f"--master_port={_free_port()}",
            *argv,
        ]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_three_ranks_two_files_one_broken(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Two files, three ranks: rank 0 reads a.png, rank 1 only b.png (undecodable: no row), rank 2
    a.png again (the sampler's padding).  The files equal `dataeval-gpu scan`'s."""
    import pandas as pd
    from PIL import Image

    from dataeval_gpu.cli import main as cli_main

    root = tmp_path / "imgs"
    root.mkdir()
    rng = np.random.default_rng(4)
    Image.fromarray(rng.integers(0, 256, (31, 43, 3), dtype=np.uint8)).save(root / "a.png")
    (root / "b.png").write_bytes(b"garbage")
    (root / "notes.txt").write_text("metadata beside the images")  # counted, not scanned
    (root / "font.ttf").write_bytes(b"\x00\x01\x00\x00")  # skipped and listed, as the command does
    proc = _torchrun(
        3,
        [
            "scripts/torchrun_scan.py",
            str(root),
            "--out",
            str(tmp_path / "ddp"),
            "--workers",
            "0",
            "--no-progress",
        ],
    )
    assert "on 3 rank(s) (gloo" in proc.stdout
    assert (
        cli_main(
            [
                "scan",
                str(root),
                "--out",
                str(tmp_path / "cli"),
                "--no-plots",
                "--no-progress",
                "--quiet",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    capsys.readouterr()
    found = json.loads((tmp_path / "ddp" / "findings.json").read_text())
    assert found == json.loads((tmp_path / "cli" / "findings.json").read_text())
    assert list(found["failed"]) == ["1"] and "garbage" in found["failed"]["1"]
    # every file of the folder accounted for, as the command does (before: no metadata line, nor in config.json)
    assert "not scanned: metadata beside the images, 1 file (.txt 1)" in proc.stdout
    assert "skipped 1 file (.ttf 1): neither named nor encoded like an image" in proc.stdout
    configs = [json.loads((tmp_path / side / "config.json").read_text()) for side in ("ddp", "cli")]
    for key in ("metadata_not_scanned", "skipped_not_images"):
        assert configs[0][key] == configs[1][key], key
    assert configs[0]["metadata_not_scanned"] == "1 file (.txt 1)"
    rows = pd.read_csv(tmp_path / "ddp" / "results.csv")
    pd.testing.assert_frame_equal(rows, pd.read_csv(tmp_path / "cli" / "results.csv"))
    assert rows["status"].tolist() == ["ok", "failed"] and rows["width"].tolist()[0] == 43


_LIGHTNING_WORKER = r"""
import json, os, sys, warnings
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, IterableDataset
from dataeval_gpu.distributed import IndexedDataset
from dataeval_gpu.integrations.lightning import DataEvalCallback
from tests.integrations.test_lightning import Photos, TinyNet, make_splits

out = sys.argv[1]
rank = int(os.environ["RANK"])
train, val = make_splits()


class RankZeroVal(IterableDataset):
    # every validation item goes to rank 0, none to rank 1 (Lightning refuses a
    # zero-length map-style loader, not an empty stream); dict items carry the index
    def __iter__(self):
        for i, img in enumerate(val if rank == 0 else []):
            yield {"image": torch.from_numpy(img), "label": i % 4, "index": i}


class Net(TinyNet):
    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.nn.functional.cross_entropy(self(batch["image"]), batch["label"]))


cb = DataEvalCallback(mode="first_epoch", leakage="ignore")
trainer = pl.Trainer(
    accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, num_sanity_val_steps=0,
    logger=False, callbacks=[cb], enable_progress_bar=False,
    enable_model_summary=False, enable_checkpointing=False, default_root_dir=out,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    trainer.fit(
        Net(),
        DataLoader(IndexedDataset(Photos(train)), batch_size=4),
        DataLoader(RankZeroVal(), batch_size=3),
    )
view = {
    "val_index": cb.val_report.index.tolist(),
    "val_hashes": cb.val_report.hashes,
    "val_exact": cb.val_report.duplicates["exact"],
    "val_issues": {str(k): v for k, v in cb.val_report.issues.items()},
    "leaks": {str(k): v for k, v in cb.leaks.items()},
}
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump(view, f)
"""


@pytest.mark.slow
def test_lightning_first_epoch_with_an_empty_validation_rank(tmp_path: Path) -> None:
    """mode="first_epoch", two ddp ranks, rank 1 sees no validation batch: both ranks get the val
    report of one process over the val images, and the leaks of the planted copies."""
    pytest.importorskip("lightning")
    from dataeval_gpu.audit import scan
    from tests.integrations.test_lightning import EXACT, NEAR, make_splits

    script = tmp_path / "worker.py"
    script.write_text(_LIGHTNING_WORKER)
    _torchrun(2, [str(script), str(tmp_path)], env={"PYTHONWARNINGS": "ignore::DeprecationWarning"})
    _, val = make_splits()
    ref = scan(val)
    for rank in (0, 1):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert got["val_index"] == list(range(10))
        assert got["val_hashes"] == ref.hashes and got["val_exact"] == ref.duplicates["exact"]
        assert got["val_issues"] == {str(k): v for k, v in ref.issues.items()}
        # the near copy too: rank 1 (no val row of its own) lost it before measured_rows joined the gather
        assert got["leaks"] == {
            **{str(v): {"exact": [t], "near": []} for v, t in EXACT.items()},
            **{str(v): {"exact": [], "near": [t]} for v, t in NEAR.items()},
        }
