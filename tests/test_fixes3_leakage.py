"""The Lightning callback's train/val leakage check finds a training photo re-saved as JPEG
quality 60 in the validation set, as a scan of both sets groups it: it matched only identical
bytes or an identical perceptual hash (the re-save's differs in a few bits).  Distinct photos
are still not reported."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.functional.hashing import hamming_distance, hex_to_hash
from dataeval_gpu.integrations.lightning.leakage import find_leakage

PHOTOS = Path(__file__).resolve().parents[1] / "data_cache" / "photos"


def _photo(k: int, side: int = 96) -> np.ndarray:
    files = sorted(PHOTOS.glob("*.jpg"))
    if len(files) < 12:
        pytest.skip("data_cache/photos is not here")
    img = Image.open(files[k]).convert("RGB").resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(img).transpose(2, 0, 1).copy()


def _jpeg(img: np.ndarray, quality: int = 60) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img.transpose(1, 2, 0)).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).transpose(2, 0, 1).copy()


def _audit(images: list[np.ndarray]) -> tuple[DataAudit, object]:
    audit = DataAudit(device="cpu")
    audit.update(images, indices=list(range(len(images))))
    return audit, audit.compute()


def test_jpeg_q60_resave_is_a_leak_and_distinct_photos_are_not() -> None:
    train = [_photo(k) for k in range(8)]
    val = [_photo(8), _jpeg(train[3]), _photo(9), _photo(10)]
    ta, tr = _audit(train)
    va, vr = _audit(val)
    # the re-save's near hash differs from the original's: an identical-hash check misses it
    d = hamming_distance(hex_to_hash(vr.hashes["pchash_d4"])[0][1:2], hex_to_hash(tr.hashes["pchash_d4"])[0][3:4])
    assert 0 < int(d[0]) <= ta.near_radius
    assert find_leakage(tr, vr) == {}  # the reports alone: the same hash only
    assert find_leakage(tr, vr, train_audit=ta, val_audit=va) == {1: {"exact": [], "near": [3]}}
    # a scan of both sets groups the same pair, and only it
    both = DataAudit(device="cpu")
    both.update(train + val, indices=list(range(len(train) + len(val))))
    assert both.compute().duplicates["near"] == [[3, len(train) + 1]]


def test_two_distinct_photos_are_not_reported() -> None:
    ta, tr = _audit([_photo(0), _photo(1)])
    va, vr = _audit([_photo(2), _photo(11)])
    assert find_leakage(tr, vr, train_audit=ta, val_audit=va) == {}


def test_exact_copy_stays_exact_only() -> None:
    train = [_photo(k) for k in range(3)]
    ta, tr = _audit(train)
    va, vr = _audit([train[2].copy(), _photo(5)])
    assert find_leakage(tr, vr, train_audit=ta, val_audit=va) == {0: {"exact": [2], "near": []}}


@pytest.mark.integration
def test_callback_reports_the_jpeg_resave(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    from dataeval_gpu.integrations.lightning import DataEvalCallback, DataLeakageWarning

    train = [_photo(k) for k in range(8)]
    val = [_photo(8), _jpeg(train[5]), _photo(9), _photo(10)]

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(x.float().mean((2, 3)) / 255.0)

        def training_step(self, batch, batch_idx):  # noqa: ANN001
            return torch.nn.functional.cross_entropy(self(batch[0]), batch[1])

        def validation_step(self, batch, batch_idx):  # noqa: ANN001
            self.log("val_loss", torch.nn.functional.cross_entropy(self(batch[0]), batch[1]))

        def configure_optimizers(self):  # noqa: ANN201
            return torch.optim.SGD(self.parameters(), lr=0.01)

    def loader(images: list[np.ndarray]) -> DataLoader:
        x = torch.from_numpy(np.stack(images))
        return DataLoader(TensorDataset(x, torch.arange(len(images)) % 2), batch_size=4)

    cb = DataEvalCallback(leakage="warn", out_dir=str(tmp_path / "dataeval"))
    trainer = pl.Trainer(
        max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0, accelerator="cpu",
        devices=1, logger=False, callbacks=[cb], enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(Net(), train_dataloaders=loader(train), val_dataloaders=loader(val))
    assert cb.leaks == {1: {"exact": [], "near": [5]}}
    said = [str(w.message) for w in caught if issubclass(w.category, DataLeakageWarning)]
    assert len(said) == 1 and "0 byte-identical, 1 near copies as a scan groups them" in said[0], said
