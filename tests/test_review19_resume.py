"""review19: a scan resumed from a checkpoint saved with other row settings.

``--resume`` compared the file list only: a default scan's checkpoint resumed with ``--hash dhash``
put dHashes beside the saved pHashes under one column (near groups of two hash kinds, silently);
``--no-d4`` was refused with the wrong reason (the checkpoint "saved before the D4 hashes read luma"),
and the program then said the checkpoint "was made for a different file list".  Now the settings
that decide a row (``DataAudit``'s ``ROW_CONFIG``) must match, and the program says which differ."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import CheckpointMismatchError, DataAudit
from dataeval_gpu.audit.feed import FeedLoop
from dataeval_gpu.cli import CHECKPOINT, main


def _images() -> torch.Tensor:
    return torch.randint(0, 256, (4, 3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize(
    ("kw", "said"),
    [
        ({"hash": "dhash"}, "hash 'pchash' (this run 'dhash')"),
        ({"d4": False}, "d4 True (this run False)"),
        ({"near_crops": ()}, "near_crops [0.9, 0.8] (this run [])"),
    ],
)
def test_a_state_of_other_row_settings_is_refused_naming_them(kw, said) -> None:
    audit = DataAudit(device="cpu")
    audit.update(_images()[:2])
    st = audit.state()
    with pytest.raises(CheckpointMismatchError) as err:
        DataAudit(device="cpu", **kw).load_state(st)
    assert said in str(err.value) and "resume with the options it was saved with" in str(err.value)
    # the same settings (other findings' settings: radius, thresholds) resume and keep every row
    again = DataAudit(device="cpu", near_radius=2, quality_thresholds={"dark": 0.7})
    again.load_state(st)
    again.update(_images()[2:], indices=[2, 3])
    report = again.compute()
    assert report.index.tolist() == [0, 1, 2, 3]
    mine = DataAudit(device="cpu")
    mine.update(_images())
    assert report.hashes["pchash_d4"] == mine.compute().hashes["pchash_d4"]


def test_the_program_names_the_setting_not_a_file_list(tmp_path: Path, monkeypatch, capsys) -> None:
    from PIL import Image

    data = tmp_path / "images"
    data.mkdir()
    for k, img in enumerate(_images().numpy()):
        Image.fromarray(np.moveaxis(img, 0, -1)).save(data / f"{k}.png")
    out = tmp_path / "out"
    kept = tmp_path / "kept.pt"
    save = FeedLoop.save

    def save_and_keep(self: FeedLoop) -> None:  # the finished run removes its checkpoint: keep a copy
        save(self)
        shutil.copyfile(self.checkpoint, kept)

    monkeypatch.setattr(FeedLoop, "save", save_and_keep)
    flags = ["--workers", "0", "--no-plots", "--batch-size", "2", "--checkpoint-every", "1"]
    assert main(["scan", str(data), "--out", str(out), *flags]) == 0
    shutil.copyfile(kept, out / CHECKPOINT)
    capsys.readouterr()
    assert main(["scan", str(data), "--out", str(out), "--resume", "--hash", "dhash", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dataeval-gpu: error: --resume: ") and err.count("\n") == 1
    assert "hash 'pchash' (this run 'dhash')" in err and str(out / CHECKPOINT) in err
    assert "different file list" not in err


def test_a_state_of_another_versions_metrics_is_refused() -> None:
    """A checkpoint records the metric digest an index records; one saved by a version whose kernels
    computed other values (its digest differs) is not resumed into this one's rows."""
    from dataeval_gpu.index.manifest import metric_definitions_digest

    audit = DataAudit(device="cpu")
    audit.update(_images()[:2])
    st = audit.state()
    assert st["metric_digest"] == metric_definitions_digest()
    DataAudit(device="cpu").load_state(st)
    st["metric_digest"] = "0" * 32
    with pytest.raises(CheckpointMismatchError, match="another version of dataeval_gpu"):
        DataAudit(device="cpu").load_state(st)
    del st["metric_digest"]  # saved before the digest was recorded: resumed as before
    DataAudit(device="cpu").load_state(st)
