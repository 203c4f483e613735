"""DataEvalCallback under a real lightning.Trainer on the CPU.

Real photos (scikit-image / scikit-learn), cropped and resized to 32x32; the val split holds
three byte-identical copies of train images and one near copy (one pixel changed: same
perceptual hash, different bytes).
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

pl = pytest.importorskip("lightning.pytorch")
pytest.importorskip("skimage")

from lightning.pytorch.loggers import CSVLogger  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from dataeval_gpu.audit import RepeatedIndexWarning  # noqa: E402
from dataeval_gpu.distributed import IndexedDataset  # noqa: E402
from dataeval_gpu.integrations.lightning import (  # noqa: E402
    ArrivalOrderWarning,
    DataEvalCallback,
    DataLeakageError,
    DataLeakageWarning,
    find_leakage,
)

N_TRAIN, N_VAL = 24, 10
EXACT = {7: 3, 8: 11, 9: 20}  # val index -> train index it copies byte for byte
NEAR = {6: 15}  # val index -> train index it copies with one pixel changed


pytestmark = pytest.mark.usefixtures("one_thread")


def _small(img: np.ndarray, side: int = 32) -> np.ndarray:
    """Centre crop to a square, resize to side x side, 3 channels (uint8 CHW)."""
    t = torch.from_numpy(np.array(img)).float()
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    _, h, w = t.shape
    s = min(h, w)
    t = t[:, (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    t = torch.nn.functional.interpolate(t[None], size=(side, side), mode="bilinear", antialias=True)[0]
    return t.round().clamp(0, 255).to(torch.uint8).numpy()


def make_splits(n_train: int = N_TRAIN, n_val: int = N_VAL) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Train and val photos (3x32x32 uint8) with the copies of EXACT and NEAR planted in val."""
    from dataeval_gpu.datasets import photo_collection

    photos = [_small(p) for p in photo_collection(n_train + n_val, seed=11, min_side=48, max_side=200)]
    train = photos[:n_train]
    val = photos[n_train : n_train + n_val]
    for v, t in EXACT.items():
        val[v] = train[t].copy()
    for v, t in NEAR.items():
        near = train[t].copy()
        near[0, 0, 0] = near[0, 0, 0] ^ 1
        val[v] = near
    return train, val


@pytest.fixture(scope="module")
def splits() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return make_splits()


class Photos(Dataset):
    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.images[i]), i % 4


class TinyNet(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(3 * 8 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.avg_pool2d(x.float() / 255.0, 4)
        return self.head(x.flatten(1))

    def training_step(self, batch, batch_idx):  # noqa: ANN001
        x, y = batch[0], batch[1]
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):  # noqa: ANN001
        x, y = batch[0], batch[1]
        self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _fit(
    tmp_path: Path, cb: DataEvalCallback, train_ds: Dataset, val_ds: Dataset, **trainer_kw
) -> pl.Trainer:
    log = CSVLogger(save_dir=str(tmp_path))
    kw = dict(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        accelerator="cpu",
        devices=1,
        logger=log,
        callbacks=[cb],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=1,
    )
    kw.update(trainer_kw)
    trainer = pl.Trainer(**kw)
    trainer.fit(
        TinyNet(),
        train_dataloaders=DataLoader(train_ds, batch_size=8, shuffle=True),
        val_dataloaders=DataLoader(val_ds, batch_size=4),
    )
    return trainer


def _metrics_csv(trainer: pl.Trainer) -> dict[str, float]:
    path = Path(trainer.logger.log_dir) / "metrics.csv"
    with path.open() as f:
        rows = list(csv.DictReader(f))
    out: dict[str, float] = {}
    for row in rows:
        for k, v in row.items():
            if k.startswith("dataeval/") and v not in ("", None):
                out[k] = float(v)
    return out


def test_find_leakage_exact_and_near(splits) -> None:
    from dataeval_gpu.audit import scan

    train, val = splits
    leaks = find_leakage(scan(train), scan(val))
    assert {i for i, m in leaks.items() if m["exact"]} == set(EXACT)
    for v, t in EXACT.items():  # a byte-identical copy once, as exact (it was also listed as near)
        assert leaks[v]["exact"] == [t] and t not in leaks[v]["near"]
    for v, t in NEAR.items():
        assert leaks[v]["exact"] == [] and t in leaks[v]["near"]


@pytest.mark.integration
def test_fit_start_logs_writes_and_warns(tmp_path: Path, splits) -> None:
    train, val = splits
    cb = DataEvalCallback(leakage="warn")
    with pytest.warns(DataLeakageWarning, match="validation image"):
        trainer = _fit(tmp_path, cb, Photos(train), Photos(val))
    assert trainer.global_step == 2  # training went on
    # every dataset index once, whatever the training sampler and limit_*_batches did
    assert cb.train_report.index.tolist() == list(range(N_TRAIN))
    assert cb.val_report.index.tolist() == list(range(N_VAL))
    assert cb.val_report.labels == {i: i % 4 for i in range(N_VAL)}
    assert {i for i, m in cb.leaks.items() if m["exact"]} == set(EXACT)
    assert set(NEAR) <= set(cb.leaks)

    logged = _metrics_csv(trainer)
    assert logged["dataeval/train_images"] == N_TRAIN
    assert logged["dataeval/val_images"] == N_VAL
    assert logged["dataeval/train_failed"] == 0
    assert logged["dataeval/leaked_exact"] == len(EXACT)
    assert logged["dataeval/leaked_images"] == len(cb.leaks) >= len(EXACT) + len(NEAR)
    for key in ("train_flagged", "val_flagged", "train_exact_duplicate_groups", "val_near_duplicate_groups"):
        assert f"dataeval/{key}" in logged
    assert logged == cb.metrics

    out = Path(trainer.log_dir) / "dataeval"
    for name in (
        "train/results.csv",
        "train/results.json",
        "train/summary.json",
        "val/findings.json",
        "leakage.json",
        "summary.json",
    ):
        assert (out / name).is_file(), name
    leak_doc = json.loads((out / "leakage.json").read_text())
    assert leak_doc["leaked_images"] == len(cb.leaks)
    assert leak_doc["val_to_train"]["7"]["exact"] == [EXACT[7]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train"]["images"] == N_TRAIN and summary["figures"] == cb.metrics


@pytest.mark.integration
def test_fit_start_fail_stops_before_training(tmp_path: Path, splits) -> None:
    train, val = splits
    cb = DataEvalCallback(leakage="fail")
    with pytest.raises(DataLeakageError, match="copies of training images") as err:
        _fit(tmp_path, cb, Photos(train), Photos(val))
    assert isinstance(err.value, RuntimeError)
    assert (tmp_path / "lightning_logs" / "version_0" / "dataeval" / "leakage.json").is_file()


@pytest.mark.integration
def test_no_leak_no_warning(tmp_path: Path, splits) -> None:
    import warnings

    train, _ = splits
    cb = DataEvalCallback(leakage="fail")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataLeakageWarning)
        _fit(tmp_path, cb, Photos(train[:16]), Photos(train[16:]))
    assert cb.leaks == {} and cb.metrics["dataeval/leaked_images"] == 0


@pytest.mark.integration
def test_flipped_copy_leaks_only_with_d4(tmp_path: Path, splits) -> None:
    """A horizontally flipped train image planted in val: the callback's leakage check finds it
    when the audit runs the flip/rotation-invariant hash (the default), and not with the 0.65 preset."""
    train, _ = splits
    train, val = train[:16], [img.copy() for img in train[16:]]
    val[2] = np.ascontiguousarray(train[5][:, :, ::-1])  # mirrored: no exact or near pchash match
    plain = DataEvalCallback(leakage="warn", audit_kwargs={"preset": "dataeval-0.65"})
    _fit(tmp_path / "plain", plain, Photos(train), Photos(val))
    assert plain.leaks == {}
    d4 = DataEvalCallback(leakage="warn")  # DataAudit's default: the D4 hash
    with pytest.warns(DataLeakageWarning):
        _fit(tmp_path / "d4", d4, Photos(train), Photos(val))
    assert list(d4.leaks) == [2] and d4.leaks[2]["near"] == [5] and d4.leaks[2]["exact"] == []


@pytest.mark.integration
def test_first_epoch_mode_arrival_order(tmp_path: Path, splits) -> None:
    """Batches as the model sees them (shuffled, no indices): everything seen in epoch 0."""
    train, val = splits
    cb = DataEvalCallback(mode="first_epoch", leakage="warn")
    with pytest.warns(DataLeakageWarning):
        trainer = _fit(
            tmp_path,
            cb,
            Photos(train),
            Photos(val),
            max_epochs=2,
            limit_train_batches=None,
            limit_val_batches=None,
        )
    assert trainer.current_epoch == 2
    assert cb.train_report.total == N_TRAIN and cb.val_report.total == N_VAL  # first epoch only
    assert sum(1 for m in cb.leaks.values() if m["exact"]) == len(EXACT)
    logged = _metrics_csv(trainer)
    assert logged["dataeval/train_images"] == N_TRAIN and logged["dataeval/leaked_exact"] == len(EXACT)
    assert (Path(trainer.log_dir) / "dataeval" / "val" / "results.csv").is_file()


@pytest.mark.integration
def test_first_epoch_mode_says_when_indices_are_shuffled_positions(tmp_path: Path, splits) -> None:
    """A shuffling train DataLoader without dataset indices: the leak warning named train images
    by their position in the shuffled first epoch ("val 2 ~ train [16]" for train image 4) as if
    they were dataset indices, with no word of it.  Now an ArrivalOrderWarning names the train
    loader (not the unshuffled val one) and the leak warning says its indices are positions."""
    train, val = splits
    cb = DataEvalCallback(mode="first_epoch", leakage="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(tmp_path, cb, Photos(train), Photos(val), limit_train_batches=None, limit_val_batches=None)
    said = [str(w.message) for w in caught if issubclass(w.category, ArrivalOrderWarning)]
    assert len(said) == 1 and said[0].startswith("DataEvalCallback(mode='first_epoch'): the train DataLoader shuffles")
    leak = [str(w.message) for w in caught if issubclass(w.category, DataLeakageWarning)]
    assert len(leak) == 1 and "(train indices are positions in the first epoch's shuffled order)" in leak[0]
    # with dataset indices (IndexedDataset) there is nothing to say
    cb = DataEvalCallback(mode="first_epoch", leakage="warn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(tmp_path, cb, IndexedDataset(Photos(train)), Photos(val), limit_train_batches=None, limit_val_batches=None)
    assert not [w for w in caught if issubclass(w.category, ArrivalOrderWarning)]
    assert all(t in cb.leaks[v]["exact"] for v, t in EXACT.items())  # dataset indices


@pytest.mark.integration
def test_first_epoch_mode_with_indices_and_fail(tmp_path: Path, splits) -> None:
    """Batches that carry dataset indices keep them; leakage='fail' raises at the end of epoch 0."""
    train, val = splits
    cb = DataEvalCallback(mode="first_epoch", leakage="fail")
    with pytest.raises(DataLeakageError):
        _fit(
            tmp_path,
            cb,
            IndexedDataset(Photos(train)),
            IndexedDataset(Photos(val)),
            limit_train_batches=None,
            limit_val_batches=None,
        )
    assert cb.val_report.index.tolist() == list(range(N_VAL))
    assert {i for i, m in cb.leaks.items() if m["exact"]} == set(EXACT)
    assert all(t in cb.leaks[v]["exact"] for v, t in EXACT.items())


class PhotosWithCamera(Photos):
    """(image, target, metadata) items whose metadata is a camera id that repeats."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:  # type: ignore[override]
        return torch.from_numpy(self.images[i]), i % 4, i % 3


@pytest.mark.integration
def test_first_epoch_mode_integer_metadata_is_not_an_index(tmp_path: Path, splits) -> None:
    """A third field that is not an IndexedDataset's index is metadata: every image is audited
    (camera ids taken for indices merged 24 train images into 3 rows and the leaks were lost)."""
    train, val = splits
    cb = DataEvalCallback(mode="first_epoch", leakage="warn")
    with pytest.warns(DataLeakageWarning):
        _fit(tmp_path, cb, PhotosWithCamera(train), PhotosWithCamera(val), limit_train_batches=None, limit_val_batches=None)
    assert cb.train_report.index.tolist() == list(range(N_TRAIN)) and cb.train_report.failed == {}
    assert cb.val_report.index.tolist() == list(range(N_VAL))  # unshuffled: positions are dataset indices
    assert cb.val_report.labels == {i: i % 4 for i in range(N_VAL)}
    assert {i for i, m in cb.leaks.items() if m["exact"]} == set(EXACT)


@pytest.mark.integration
def test_first_epoch_mode_plain_tensor_batches(tmp_path: Path, splits) -> None:
    """Batches that are a bare (B, C, H, W) tensor or a list of images."""
    from dataeval_gpu.batching import split_batch as _split_batch

    x = torch.zeros(2, 3, 8, 8)
    assert _split_batch(x)[0] is x
    imgs, labels, idx = _split_batch([torch.zeros(3, 8, 8), torch.ones(3, 9, 9)])
    assert len(imgs) == 2 and labels is None and idx is None
    imgs, labels, idx = _split_batch(
        {"image": x, "label": torch.tensor([1, 2]), "index": torch.tensor([5, 9])}
    )
    assert labels.tolist() == [1, 2] and idx.tolist() == [5, 9]
    _, _, idx = _split_batch((x, torch.tensor([0, 1]), torch.rand(2, 4)))  # not indices
    assert idx is None


def test_arguments_are_checked() -> None:
    from dataeval_gpu.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="mode"):
        DataEvalCallback(mode="always")
    with pytest.raises(InvalidArgumentError, match="leakage"):
        DataEvalCallback(leakage="maybe")
    with pytest.raises(InvalidArgumentError, match="hashes"):
        DataEvalCallback(hashes=False, leakage="warn")
    DataEvalCallback(hashes=False, leakage="ignore")
    # the audit's settings and the device are checked when the callback is made, not at fit start
    with pytest.raises(InvalidArgumentError, match="near_radius must be within 0..64, got 99"):
        DataEvalCallback(audit_kwargs={"near_radius": 99})
    with pytest.raises(TypeError, match="unexpected keyword argument 'radius'"):
        DataEvalCallback(audit_kwargs={"radius": 2})
    # the callback's own arguments: DataAudit got them twice when fit started
    with pytest.raises(InvalidArgumentError, match="audit_kwargs: device is set by the callback"):
        DataEvalCallback(audit_kwargs={"device": "cpu"})
    with pytest.raises(InvalidArgumentError, match="audit_kwargs: device, hashes is set"):
        DataEvalCallback(audit_kwargs={"hashes": False, "device": "cpu"})
    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgumentError, match="CUDA is not available"):
            DataEvalCallback(device="cuda")


_DDP_WORKER = r"""
import json, os, sys, warnings
sys.path.insert(0, os.environ["REPO_ROOT"])
import lightning.pytorch as pl
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader
from dataeval_gpu.distributed import IndexedDataset
from dataeval_gpu.integrations.lightning import DataEvalCallback
from tests.integrations.test_lightning import Photos, TinyNet, make_splits

out = sys.argv[1]
train, val = make_splits(int(sys.argv[2]))
views = {}
for mode in ("fit_start", "first_epoch"):
    cb = DataEvalCallback(mode=mode, leakage="warn")
    wrap = IndexedDataset if mode == "first_epoch" else (lambda d: d)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, num_sanity_val_steps=0,
        limit_train_batches=None if mode == "first_epoch" else 2,
        logger=CSVLogger(os.path.join(out, mode)), callbacks=[cb], enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=1,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(TinyNet(), DataLoader(wrap(Photos(train)), batch_size=4, shuffle=True),
                    DataLoader(wrap(Photos(val)), batch_size=3))
    views[mode] = {
        "train_index": cb.train_report.index.tolist(),
        "val_index": cb.val_report.index.tolist(),
        "train_labels": {str(k): v for k, v in cb.train_report.labels.items()},
        "train_exact": cb.train_report.duplicates.get("exact", []),
        "train_issues": {str(k): v for k, v in cb.train_report.issues.items()},
        "leaks": {str(k): v for k, v in cb.leaks.items()},
        "metrics": cb.metrics,
        "log_dir": trainer.log_dir,
        "warned": sum("validation image" in str(w.message) for w in caught),
    }
with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
    json.dump(views, f)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
def test_ddp_two_processes(tmp_path: Path, splits) -> None:
    """Two gloo ranks under torchrun: each audits its shard; both get the merged reports; rank 0 writes."""
    import os
    import subprocess
    import sys

    from dataeval_gpu.audit import scan

    n_train = 23  # odd: the DistributedSampler pads one rank with a repeated index
    script = tmp_path / "worker.py"
    script.write_text(_DDP_WORKER)
    repo = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ, REPO_ROOT=str(repo), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore::DeprecationWarning"
    )
    for _attempt in range(2):  # one retry: the rendezvous port can be taken between pick and bind
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
            str(script), str(tmp_path), str(n_train),
        ]  # fmt: skip
        proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=400)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    train, val = make_splits(n_train)
    ref_train, ref_val = scan(train), scan(val)
    for mode in ("fit_start", "first_epoch"):
        a, b = r0[mode], r1[mode]
        for key in (
            "train_index",
            "val_index",
            "train_labels",
            "train_exact",
            "train_issues",
            "leaks",
            "metrics",
        ):
            assert a[key] == b[key], (mode, key)  # every rank holds the same merged report
        assert a["train_index"] == list(range(n_train)), mode  # each index once
        assert a["val_index"] == list(range(N_VAL)), mode
        assert a["train_labels"] == {str(i): i % 4 for i in range(n_train)}
        assert a["train_issues"] == {str(k): v for k, v in ref_train.issues.items()}
        assert a["train_exact"] == ref_train.duplicates["exact"]
        assert {int(k) for k, m in a["leaks"].items() if m["exact"]} == set(EXACT)
        assert a["warned"] == 1 and b["warned"] == 0  # rank-zero warning
        out = Path(a["log_dir"]) / "dataeval"
        assert (out / "train" / "results.csv").is_file() and (out / "leakage.json").is_file()
    assert ref_val.index.tolist() == list(range(N_VAL))


def test_missing_lightning_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from dataeval_gpu.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "lightning.pytorch.callbacks", None)
    monkeypatch.setitem(sys.modules, "pytorch_lightning.callbacks", None)
    for name in [m for m in sys.modules if m.startswith("dataeval_gpu.integrations.lightning")]:
        monkeypatch.delitem(sys.modules, name)  # the package and its modules are imported afresh
    with pytest.raises(MissingDependencyError, match=r"dataeval_gpu\[lightning\]") as err:
        importlib.import_module("dataeval_gpu.integrations.lightning")
    assert isinstance(err.value, ImportError)


class TwoValNet(TinyNet):
    def validation_step(self, batch, batch_idx, dataloader_idx=0):  # noqa: ANN001
        x, y = batch[0], batch[1]
        self.log("val_loss", torch.nn.functional.cross_entropy(self(x), y))


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["fit_start", "first_epoch"])
def test_two_val_loaders_with_dataset_indices_keep_every_image(tmp_path: Path, splits, mode: str) -> None:
    """Two val DataLoaders over IndexedDatasets: in ``first_epoch`` mode both carried indices
    0..n-1, so the second loader's images took the first one's rows (4 of 8 inputs lost, a
    RepeatedIndexWarning); they are now offset by the loaders before them, as ``fit_start`` does."""
    import warnings

    train, val = splits
    first, second = val[:4], val[4:8]
    cb = DataEvalCallback(mode=mode, leakage="ignore")
    trainer = pl.Trainer(
        max_epochs=1, num_sanity_val_steps=0, accelerator="cpu", devices=1, logger=False, callbacks=[cb],
        default_root_dir=str(tmp_path),
        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepeatedIndexWarning)
        trainer.fit(
            TwoValNet(),
            train_dataloaders=DataLoader(IndexedDataset(Photos(train[:8])), batch_size=4),
            val_dataloaders=[DataLoader(IndexedDataset(Photos(d)), batch_size=2) for d in (first, second)],
        )
    assert cb.val_report.index.tolist() == list(range(8))
    want = [float(im.astype(np.float64).mean() / 255) for im in first + second]
    np.testing.assert_allclose(cb.val_report.stats["mean"], want, rtol=1e-9)
