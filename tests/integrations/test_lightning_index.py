"""DataEvalCallback(against_index=...): the val loader checked against a saved train index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pl = pytest.importorskip("lightning.pytorch")
pytest.importorskip("skimage")
pytest.importorskip("pyarrow")

from PIL import Image  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from dataeval_gpu.index import DatasetIndex, update_index  # noqa: E402
from dataeval_gpu.integrations.lightning import (  # noqa: E402
    DataEvalCallback,
    DataLeakageError,
    DataLeakageWarning,
)

from .test_lightning import EXACT, NEAR, Photos, TinyNet, make_splits  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def _fit(cb: DataEvalCallback, train: list[np.ndarray], val: list[np.ndarray], root: Path) -> None:
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=3, num_sanity_val_steps=0, accelerator="cpu",
        devices=1, logger=False, callbacks=[cb], enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, default_root_dir=str(root),
    )  # fmt: skip
    trainer.fit(TinyNet(), DataLoader(Photos(train), batch_size=8), DataLoader(Photos(val), batch_size=4))


@pytest.mark.integration
def test_val_loader_checked_against_a_saved_train_index(tmp_path: Path) -> None:
    train, val = make_splits()
    folder = tmp_path / "train"
    folder.mkdir()
    files = []
    for i, img in enumerate(train):  # the train set as files, indexed once
        files.append(str(folder / f"train_{i:02d}.png"))
        Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).save(files[-1])
    update_index(tmp_path / "idx", files, workers=0, progress=False)
    cb = DataEvalCallback(leakage="fail", audit_train=False, against_index=tmp_path / "idx")
    with pytest.raises(DataLeakageError, match="copies of images in the index") as err:
        _fit(cb, train, val, tmp_path)
    found = {m["image"]: Path(m["partner_path"]).name for m in cb.val_report.against["matches"]}
    # PNG keeps the pixels: the byte copies match exactly, the one-pixel change by its hash
    assert found == {v: f"train_{t:02d}.png" for v, t in {**EXACT, **NEAR}.items()}
    assert "train_03.png" in str(err.value)
    ignore = DataEvalCallback(leakage="ignore", audit_train=False, against_index=tmp_path / "idx")
    _fit(ignore, train, [val[i] for i in (0, 1, 2)], tmp_path / "clean")
    assert ignore.val_report.against["matches"] == []


@pytest.mark.integration
def test_the_train_audit_saved_as_an_index_is_checked_against_later(tmp_path: Path) -> None:
    train, val = make_splits()
    saver = DataEvalCallback(leakage="ignore", audit_val=False, save_index=tmp_path / "idx")
    _fit(saver, train, val, tmp_path / "first")
    assert saver.written["index"] == str(tmp_path / "idx")
    saved = DatasetIndex(tmp_path / "idx")
    assert len(saved) == len(train)
    assert saved.report().findings() == saver.train_report.findings()
    checker = DataEvalCallback(leakage="warn", audit_train=False, against_index=tmp_path / "idx")
    with pytest.warns(DataLeakageWarning, match=f"val {min(EXACT)} ~ row {EXACT[min(EXACT)]}"):
        _fit(checker, train, val, tmp_path / "second")
    # rows in dataset-index order: the partner is the train image's index; no paths (tensors)
    found = {m["image"]: (m["partner"], m["partner_path"]) for m in checker.val_report.against["matches"]}
    assert found == {v: (t, "") for v, t in {**EXACT, **NEAR}.items()}
