"""review20: DataEvalCallback over a DataLoader of bare grey ``(H, W)`` images (no labels: an
autoencoder's data).  The default collate stacks a batch into ``(B, H, W)``; ``scan`` reads it as B
grey images (newuser9, ``stacks_items``), the callback's ``first_epoch`` batches and its
``fit_start`` pass over an iterable dataset read it as one image of B channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")

from torch.utils.data import DataLoader, IterableDataset  # noqa: E402

from dataeval_gpu.integrations.lightning import DataEvalCallback  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

N, H, W = 10, 20, 24


def _greys(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (H, W), dtype=torch.uint8, generator=g) for _ in range(N)]


class Stream(IterableDataset):
    def __init__(self, images: list[torch.Tensor]) -> None:
        self.images = images

    def __iter__(self):  # noqa: ANN204
        return iter(self.images)


class GreyNet(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(H * W, 1)

    def training_step(self, batch, batch_idx):  # noqa: ANN001
        return self.head(batch.float().flatten(1) / 255.0).pow(2).mean()

    def validation_step(self, batch, batch_idx):  # noqa: ANN001
        self.log("val_loss", self.head(batch.float().flatten(1) / 255.0).pow(2).mean())

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _brightness(images: list[torch.Tensor]) -> np.ndarray:
    return np.array([x.numpy().astype(np.float64).mean() / 255.0 for x in images])


@pytest.mark.parametrize(
    ("mode", "iterable"), [("first_epoch", False), ("fit_start", True), ("fit_start", False)]
)
def test_bare_grey_batches_are_b_grey_images(tmp_path: Path, mode: str, iterable: bool) -> None:
    train, val = _greys(0), _greys(1)
    wrap = Stream if iterable else list
    cb = DataEvalCallback(mode=mode, leakage="ignore", hashes=False)
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[cb],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(
        GreyNet(),
        train_dataloaders=DataLoader(wrap(train), batch_size=4),
        val_dataloaders=DataLoader(wrap(val), batch_size=4),
    )
    for report, images in ((cb.train_report, train), (cb.val_report, val)):
        table = report.to_pandas()
        assert report.total == N and not report.failed
        assert table["channels"].tolist() == [1] * N
        np.testing.assert_allclose(table["brightness"].to_numpy(float), _brightness(images), rtol=1e-6)
