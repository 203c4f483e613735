"""The one feed loop (dataeval_gpu.audit.feed): its failure policy, the batch parser, checkpoints
through torchmetrics' state API, and the file scan that measures in DataLoader workers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import dataeval_gpu.audit as audit_mod
from dataeval_gpu.audit import CheckpointMismatchError, DataAudit, FeedLoop, scan
from dataeval_gpu.batching import LoadFailure, split_batch, split_item


def _imgs(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (3, 10 + k, 12), dtype=np.uint8) for k in range(n)]


def test_bad_inputs_are_listed_and_the_rest_measured() -> None:
    imgs: list = _imgs(5)
    imgs[1] = np.zeros((2, 2, 3, 3))  # 4-D: not an image
    imgs[3] = LoadFailure("OSError: truncated")
    audit = DataAudit(hashes=False)
    loop = FeedLoop(audit)
    assert loop.feed(imgs, indices=[10, 11, 12, 13, 14], labels=[0, 1, 2, 3, 4]) == 5
    rep = audit.compute()
    assert rep.index.tolist() == [10, 12, 14]
    assert set(rep.failed) == {11, 13}
    assert "shape" in rep.failed[11] and rep.failed[13] == "OSError: truncated"
    assert rep.labels == {10: 0, 11: 1, 12: 2, 13: 3, 14: 4}
    # the measured rows equal a plain audit of the good images
    ref = DataAudit(hashes=False)
    ref.update([imgs[0], imgs[2], imgs[4]], indices=[10, 12, 14])
    for key, val in ref.compute().stats.items():
        np.testing.assert_array_equal(rep.stats[key], val, err_msg=key)


def test_other_errors_isolate_the_failing_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule 4: a non-memory error on a batch → image by image; only the image that fails alone is listed."""
    calls: list[int] = []

    def broken_on_big(n: int) -> None:
        calls.append(n)
        if n > 1:
            raise RuntimeError("a bug on batches")

    imgs = _imgs(4)
    audit = DataAudit(hashes=False)
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", broken_on_big)
    FeedLoop(audit).feed(imgs, indices=range(4))
    assert calls == [4, 1, 1, 1, 1]
    assert audit.compute().index.tolist() == [0, 1, 2, 3]

    def always(n: int) -> None:
        raise ValueError("kernel failed")

    audit = DataAudit(hashes=False)
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", always)
    FeedLoop(audit).feed(imgs, indices=range(4))
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    rep = audit.compute()
    assert len(rep.index) == 0 and rep.failed == {i: "ValueError: kernel failed" for i in range(4)}


def test_scan_lists_items_that_raise() -> None:
    class Flaky(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int):
            if i == 2:
                raise OSError("unreadable")
            return np.full((1, 9, 9), i, np.uint8), i

    rep = scan(Flaky(), batch_size=3, hashes=False)
    assert rep.index.tolist() == [0, 1, 3] and rep.failed == {2: "OSError: unreadable"}
    assert rep.labels == {0: 0, 1: 1, 3: 3}


def test_one_batch_parser() -> None:
    x = torch.zeros(2, 3, 8, 8)
    assert split_batch(x)[0] is x
    imgs, labels, idx = split_batch([torch.zeros(3, 8, 8), torch.ones(3, 9, 9)])
    assert len(imgs) == 2 and labels is None and idx is None
    imgs, labels, idx = split_batch({"image": x, "label": torch.tensor([1, 2]), "index": torch.tensor([5, 9])})
    assert labels.tolist() == [1, 2] and idx.tolist() == [5, 9]
    assert split_batch((x, torch.tensor([0, 1]), torch.rand(2, 4)))[2] is None  # not indices
    assert split_batch((x, torch.tensor([0, 1]), torch.tensor([0.5, 1.5])))[2] is None  # floats: not indices
    _, labels, idx = split_batch(([torch.zeros(3, 4, 4)] * 2, [7, 8], torch.tensor([3, 4])))
    assert labels == [7, 8] and idx.tolist() == [3, 4]
    one = np.zeros((3, 5, 5))
    assert split_batch(one)[0].shape == (1, 3, 5, 5)
    assert split_item((one, 4)) == (one, 4)
    assert split_item({"image": one, "labels": [1, 2]})[1] == [1, 2]
    assert split_item(one)[1] is None


def test_checkpoint_roundtrip_and_mismatch(tmp_path: Path) -> None:
    imgs = _imgs(6, seed=3)
    ck = tmp_path / "ck.pt"
    first = DataAudit(hashes=True, channels=True)
    loop = FeedLoop(first, checkpoint=ck, checkpoint_every=1, meta={"files": ["a", "b"]})
    loop.feed(imgs[:3], indices=range(3))
    loop.feed([imgs[3], LoadFailure("could not be loaded")], indices=[3, 4])
    assert ck.exists() and loop.position == 5
    saved = torch.load(ck, weights_only=False)
    assert saved["position"] == 5 and saved["audit"]["stats"]["index"][0].tolist() == [0, 1, 2, 3]

    second = DataAudit(hashes=True, channels=True)
    resumed = FeedLoop(second, checkpoint=ck, meta={"files": ["a", "b"]})
    assert resumed.resume() == 5
    resumed.feed(imgs[5:], indices=[5])
    whole = DataAudit(hashes=True, channels=True)
    whole.update(imgs[:4], indices=range(4))
    whole.mark_failed(4, "could not be loaded")
    whole.update(imgs[5:], indices=[5])
    got, want = second.compute(), whole.compute()
    pd.testing.assert_frame_equal(got.to_pandas(), want.to_pandas(), check_exact=True)
    for key, val in want.channel_stats.items():
        np.testing.assert_array_equal(got.channel_stats[key], val, err_msg=key)
    with pytest.raises(CheckpointMismatchError, match="different inputs"):
        FeedLoop(DataAudit(), checkpoint=ck, meta={"files": ["a"]}).resume()
    resumed.finish()
    assert not ck.exists()


def _write_photos(d: Path, n: int) -> list[str]:
    from PIL import Image

    from dataeval_gpu.datasets import photo_collection

    d.mkdir(parents=True, exist_ok=True)
    files = []
    for k, img in enumerate(photo_collection(n, seed=4, min_side=16, max_side=96)):
        p = d / f"{k:03d}.{'jpg' if k % 2 else 'png'}"
        Image.fromarray(img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)).save(p)
        files.append(str(p))
    (d / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    files.append(str(d / "bad.jpg"))
    return files


def test_file_scan_in_workers_equals_in_process_and_the_audit(tmp_path: Path) -> None:
    """Rows measured in DataLoader workers equal rows measured in this process, whatever the
    batch size, and equal a DataAudit fed the decoded images (integer photos: bit for bit)."""
    from dataeval_gpu.audit.files import scan_files
    from dataeval_gpu.io import decode_file

    files = _write_photos(tmp_path / "img", 13)
    in_workers = scan_files(files, batch_size=4, workers=2, hashes=True)
    assert in_workers.config["measured_in"] == "workers"
    # the kernels' warm-up before the fork is timed, and inside the loop's seconds
    assert 0 < in_workers.config["warm_up_s"] <= in_workers.config["elapsed_s"]
    in_process = scan_files(files, batch_size=5, workers=0, hashes=True)
    assert "warm_up_s" not in in_process.config  # nothing forked, nothing warmed up
    pd.testing.assert_frame_equal(in_workers.to_pandas(), in_process.to_pandas(), check_exact=True)
    # the main-process path (the one CUDA takes: pixels to the main process, measured there)
    main_path = scan_files(files, batch_size=3, workers=1, hashes=True, measure_in_workers=False)
    assert main_path.config["measured_in"] == "main process"
    pd.testing.assert_frame_equal(in_workers.to_pandas(), main_path.to_pandas(), check_exact=True)
    assert list(in_workers.failed) == [13] and "bad.jpg" in in_workers.paths[13]
    ref = DataAudit(hashes=True)
    ref.update([decode_file(f) for f in files[:13]], indices=range(13), paths=files[:13])
    want = ref.compute()
    for key, val in want.stats.items():
        np.testing.assert_array_equal(in_workers.stats[key], val, err_msg=key)
    assert in_workers.hashes == want.hashes and in_workers.duplicates == want.duplicates


def test_file_scan_forked_after_the_pool_was_used(tmp_path: Path) -> None:
    """A DataLoader worker forked after this process used the thread pool at one thread must
    not wait on the parent's pool (its threads do not exist in the child)."""
    from dataeval_gpu.audit.files import one_thread, scan_files

    files = _write_photos(tmp_path / "img", 4)
    with one_thread():
        scan(_imgs(3), hashes=True)  # the pool now exists with one thread, in this process
    if not hasattr(os, "register_at_fork"):
        pytest.skip("no fork")
    rep = scan_files(files, batch_size=2, workers=1, hashes=True)
    assert rep.index.tolist() == [0, 1, 2, 3]


def test_no_private_names_imported_across_modules() -> None:
    """The feed-loop modules reach each other through public names only (relative imports)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "dataeval_gpu"
    files = [*(root / "audit").glob("*.py"), *(root / "integrations" / "lightning").glob("*.py")]
    files += [root / "distributed.py", root / "batching.py", root / "cli.py"]
    bad = []
    for f in files:
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                bad += [f"{f.name}: {name}" for name in private]
    assert bad == []


def test_scan_keeps_the_thumbnails_of_the_largest_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most MAX_THUMBNAILS thumbnails are kept, those of the images with the most pixels."""
    from PIL import Image

    import dataeval_gpu.audit.files as files_mod

    rng = np.random.default_rng(3)
    sizes = [(1024, 1100), (1100, 1300), (1030, 1024), (200, 300)]
    files = []
    for k, (h, w) in enumerate(sizes):
        p = tmp_path / f"{k}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p, compress_level=0)
        files.append(str(p))
    monkeypatch.setattr(files_mod, "MAX_THUMBNAILS", 2)
    rep = files_mod.scan_files(files, batch_size=1, workers=1, hashes=False)
    assert sorted(rep.thumbnails) == [0, 1]  # 1.13 and 1.43 MP kept; 1.05 MP dropped; 0.06 MP never made
    assert rep.thumbnails[1].shape == (3, 217, 256)


@pytest.mark.slow
def test_photo_scan_in_workers_equals_the_main_process() -> None:
    """On the benchmark photos, the rows and findings measured in DataLoader workers (rows, not
    pixels, cross processes) equal those measured in the main process, bit for bit."""
    from dataeval_gpu.audit.files import scan_files
    from dataeval_gpu.datasets import list_image_files

    folder = Path(__file__).resolve().parents[2] / "data_cache" / "photos"
    files = [str(p) for p in list_image_files(folder)] if folder.is_dir() else []
    if len(files) < 600:
        pytest.skip("the benchmark photos are not fetched (make photos)")
    in_workers = scan_files(files, workers=2, progress=False)
    in_main = scan_files(files, workers=2, progress=False, measure_in_workers=False)
    assert in_workers.config["measured_in"] == "workers" and in_main.config["measured_in"] == "main process"
    assert len(in_workers.index) == len(files) and in_workers.thumbnails and not in_main.thumbnails
    pd.testing.assert_frame_equal(in_workers.to_pandas(), in_main.to_pandas(), check_exact=True)
    assert in_workers.findings() == in_main.findings()


class _WithMetadata(torch.utils.data.Dataset):
    """(image, target, metadata) items whose metadata is an integer that repeats (a camera id)."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int, int]:
        return self.images[i], i % 2, i % 3


@pytest.mark.parametrize("workers", [0, 2])
def test_scan_of_a_loader_takes_integer_metadata_for_metadata(workers: int) -> None:
    """A DataLoader of (image, target, camera id): every image is in the report, under its
    position; the camera ids used to be taken for indices (10 images -> 3 rows, the copy lost)."""
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate

    imgs = _imgs(10)
    imgs[7] = imgs[2].copy()
    loader = DataLoader(_WithMetadata(imgs), batch_size=4, num_workers=workers, collate_fn=ragged_collate)
    rep = scan(loader, hashes=True)
    assert rep.index.tolist() == list(range(10)) and rep.failed == {}
    assert rep.labels == {i: i % 2 for i in range(10)}
    assert rep.duplicates["exact"] == [[2, 7]]
    ref = DataAudit()
    ref.update(imgs)
    np.testing.assert_array_equal(rep.stats["mean"], ref.compute().stats["mean"])


def test_scan_of_an_indexed_loader_keeps_the_dataset_indices() -> None:
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.distributed import IndexedDataset

    imgs = _imgs(9)
    loader = DataLoader(
        IndexedDataset([(im, k) for k, im in enumerate(imgs)]),
        batch_size=4,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        collate_fn=ragged_collate,
    )
    rep = scan(loader)
    assert rep.index.tolist() == list(range(9)) and rep.labels == {k: k for k in range(9)}
    heights = rep.stats["height"].tolist()
    assert heights == [10.0 + k for k in range(9)]  # row k is image k, whatever the arrival order


def test_split_batch_repeating_integers_are_not_indices() -> None:
    x = torch.zeros(4, 3, 8, 8)
    assert split_batch((x, torch.tensor([0, 1, 0, 1]), torch.tensor([0, 1, 2, 0])))[2] is None  # repeats
    assert split_batch((x, torch.tensor([0, 1, 0, 1]), torch.tensor([3, -1, 4, 5])))[2] is None  # negative
    assert split_batch((x, None, torch.tensor([7, 3, 4, 5])))[2].tolist() == [7, 3, 4, 5]
    assert split_batch((x, None, torch.tensor([7, 3, 4, 5])), tuple_indices=False)[2] is None
    assert split_batch({"image": x, "index": torch.tensor([7, 3, 4, 5])}, tuple_indices=False)[2].tolist() == [7, 3, 4, 5]


def test_update_refuses_repeated_indices_and_warns_across_batches() -> None:
    from dataeval_gpu.audit import RepeatedIndexWarning
    from dataeval_gpu.errors import InvalidArgumentError

    imgs = _imgs(6)
    audit = DataAudit(hashes=False)
    with pytest.raises(InvalidArgumentError, match=r"distinct within a batch .* \[2\] more than once"):
        audit.update(imgs[:4], indices=[0, 1, 2, 2])
    assert audit.compute().total == 0  # the batch that raised left nothing
    audit.update(imgs[:3], indices=[0, 1, 2])
    audit.update(imgs[3:], indices=[2, 3, 4])  # image 3 under index 2: one of them cannot be in the report
    with pytest.warns(RepeatedIndexWarning, match="1 of 6 inputs"):
        rep = audit.compute()
    assert rep.index.tolist() == [0, 1, 2, 3, 4]
    assert rep.stats["height"].tolist() == [10.0, 11.0, 12.0, 14.0, 15.0]  # index 2 keeps its first row
    audit.reset()  # the count starts over
    audit.update(imgs[:2])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RepeatedIndexWarning)
        assert audit.compute().total == 2
    # a checkpointed state keeps the count
    audit.update(imgs[2:3], indices=[1])
    again = DataAudit(hashes=False)
    again.load_state(audit.state())
    with pytest.warns(RepeatedIndexWarning, match="1 of 3 inputs"):
        again.compute()


def test_update_takes_a_single_image_as_a_batch_of_one() -> None:
    """A lone (C, H, W) tensor or array is one image (it used to fail: "got 1 images but 3 indices")."""
    img = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    for obj in (torch.from_numpy(img), img, img[0]):
        audit = DataAudit(hashes=False)
        audit.update(obj, labels=["x"])
        rep = audit.compute()
        assert rep.index.tolist() == [0] and rep.labels == {0: "x"}
        want = np.asarray(obj, dtype=np.float64) / 255.0
        np.testing.assert_allclose(rep.stats["mean"], [want.mean()], rtol=1e-12)
        assert rep.stats["channels"].tolist() == [want.reshape(-1, 4, 5).shape[0]]


def test_update_and_feed_record_the_same_labels() -> None:
    imgs = _imgs(3)
    direct, fed = DataAudit(hashes=False), DataAudit(hashes=False)
    direct.update(imgs, labels=[None, "b", 0])
    FeedLoop(fed).feed(imgs, [0, 1, 2], labels=[None, "b", 0])
    assert direct.compute().labels == fed.compute().labels == {1: "b", 2: 0}


def test_update_lists_the_items_indexed_dataset_could_not_load() -> None:
    """Your own loop over ``IndexedDataset(dataset, on_error="mark")``: an item that raised arrives
    as a LoadFailure; update() lists it as failed with the reason and measures the rest of its
    batch (it raised "expected a numpy array, torch tensor or PIL image, got LoadFailure", losing
    the batch), as scan() does with the same loader."""
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.distributed import IndexedDataset

    imgs = _imgs(6)

    class Photos(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            if i in (2, 5):
                raise OSError(f"image file is truncated ({i})")
            return imgs[i], i % 2

    loader = DataLoader(IndexedDataset(Photos(), on_error="mark"), batch_size=4, collate_fn=ragged_collate)
    audit = DataAudit(hashes=False)
    for images, labels, indices in loader:
        audit.update(images, indices=indices, labels=labels)
    rep = audit.compute()
    assert rep.index.tolist() == [0, 1, 3, 4]
    assert rep.failed == {2: "OSError: image file is truncated (2)", 5: "OSError: image file is truncated (5)"}
    assert rep.labels == {0: 0, 1: 1, 3: 1, 4: 0}
    ref = scan(loader, progress=False, hashes=False)
    assert ref.failed == rep.failed and ref.index.tolist() == rep.index.tolist()
    for key, val in ref.stats.items():
        np.testing.assert_array_equal(rep.stats[key], val, err_msg=key)
    only_failures = DataAudit(hashes=False)  # a batch of nothing but failures
    only_failures.update([LoadFailure("OSError: gone")], indices=[7])
    assert only_failures.compute().failed == {7: "OSError: gone"}


class _MeanColour(torch.nn.Module):
    """A tiny embedding model: each image's mean colour and spread (NaN pixels give a NaN row)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


def test_a_nan_image_is_left_out_of_the_clusterer_not_the_report() -> None:
    """One float image with a NaN pixel failed compute() ('data contains NaN or infinite values')."""
    rng = np.random.default_rng(0)
    imgs = [(rng.random((3, 16, 16)) * (0.2 + 0.1 * k)).astype(np.float32) for k in range(8)]
    imgs.append(np.full((3, 16, 16), 0.99, np.float32))  # far from the rest: an outlier
    with_nan = [imgs[0].copy()] + imgs
    with_nan[0][1, 2, 3] = np.nan
    audit = DataAudit(embeddings=True, embed_model=_MeanColour(), hashes=False, quality=False)
    audit.update(with_nan)
    rep = audit.compute()
    assert rep.total == 10 and rep.failed == {}
    assert np.isnan(rep.stats["mean"][0])
    assert list(rep.clusters["not_clustered"]) == [0]
    assert rep.findings()["clusters"]["not_clustered"] == {"0": rep.clusters["not_clustered"][0]}
    ref = DataAudit(embeddings=True, embed_model=_MeanColour(), hashes=False, quality=False)
    ref.update(imgs)
    want = ref.compute().clusters
    for key in ("outliers", "potential_outliers"):  # the same findings, one index later
        assert rep.clusters[key] == [i + 1 for i in want[key]], key
    assert 9 in rep.clusters["outliers"] + rep.clusters["potential_outliers"]


def test_scan_of_a_marking_loader_lists_an_item_that_raises() -> None:
    """docs/usage.md: a DataLoader over IndexedDataset(on_error="mark") keeps going past a bad item."""
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.distributed import IndexedDataset

    imgs = _imgs(6)

    class Flaky(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            if i == 4:
                raise OSError("disk hiccup on item 4")
            return imgs[i], i % 2

    with pytest.raises(OSError, match="item 4"):  # a plain DataLoader stops at the bad item
        scan(DataLoader(Flaky(), batch_size=2, collate_fn=ragged_collate))
    loader = DataLoader(IndexedDataset(Flaky(), on_error="mark"), batch_size=2, shuffle=True, collate_fn=ragged_collate)
    rep = scan(loader)
    assert rep.failed == {4: "OSError: disk hiccup on item 4"}
    assert rep.index.tolist() == [0, 1, 2, 3, 5] and rep.labels == {0: 0, 1: 1, 2: 0, 3: 1, 5: 1}
    assert rep.stats["height"].tolist() == [10.0, 11.0, 12.0, 13.0, 15.0]


def test_scan_progress_of_a_loader_counts_images(capsys: pytest.CaptureFixture) -> None:
    """The bar's total is the images, not the DataLoader's batches (it showed 4/5 for 20 images)."""
    from torch.utils.data import DataLoader

    imgs = _imgs(20)
    scan(DataLoader([im[:, :10] for im in imgs], batch_size=4), progress=True, hashes=False)
    err = capsys.readouterr().err
    assert "/20 " in err and "/5 " not in err


def test_scan_of_an_iterable_of_items() -> None:
    """A generator of (image, label) / (image, label, metadata) / {"image", "label"} items: one
    image per item (the labels were measured as images: 8 rows, 4 failed; dicts raised TypeError)."""
    imgs = _imgs(4)
    for items in (
        ((im, k) for k, im in enumerate(imgs)),
        ((im, k, {"source": "cam"}) for k, im in enumerate(imgs)),
        ({"image": im, "label": k} for k, im in enumerate(imgs)),
        ((torch.from_numpy(im), torch.tensor([k, 9])) for k, im in enumerate(imgs)),  # per-object labels
    ):
        rep = scan(items, hashes=False)
        assert rep.index.tolist() == [0, 1, 2, 3] and rep.failed == {}
        assert rep.stats["height"].tolist() == [10.0, 11.0, 12.0, 13.0]
        assert [lab if isinstance(lab, int) else lab[0] for lab in rep.labels.values()] == [0, 1, 2, 3]
    # a batch stays a batch: a list of images
    images, labels, _ = split_batch([torch.zeros(3, 8, 8), torch.ones(3, 9, 9)])
    assert len(images) == 2 and labels is None


def test_paths_must_be_one_per_image() -> None:
    """A short paths list left images without a path (zip truncated it)."""
    from dataeval_gpu.errors import InvalidArgumentError

    imgs = _imgs(3)
    with pytest.raises(InvalidArgumentError, match="got 3 images but 2 paths"):
        DataAudit(hashes=False).update(imgs, paths=["a.png", "b.png"])
    with pytest.raises(InvalidArgumentError, match="got 3 images but 2 paths"):
        FeedLoop(DataAudit(hashes=False)).feed(imgs, [0, 1, 2], paths=["a.png", "b.png"])
    audit = DataAudit(hashes=False)
    audit.update(imgs, paths=["a.png", "b.png", "c.png"])
    assert audit.compute().paths == {0: "a.png", 1: "b.png", 2: "c.png"}


def test_gpu_decode_is_asked_for_and_needs_cuda(tmp_path: Path) -> None:
    """nvJPEG's pixels are not Pillow's: the GPU decoder is opt-in (``gpu_decode``) and refused
    without a CUDA device, naming the argument."""
    from dataeval_gpu.audit.files import scan_files
    from dataeval_gpu.errors import InvalidArgumentError

    files = _write_photos(tmp_path / "img", 2)
    with pytest.raises(InvalidArgumentError, match="gpu_decode=True needs a CUDA device"):
        scan_files(files, device="cpu", gpu_decode=True)


@pytest.mark.cuda
def test_cuda_scan_decodes_as_the_cpu_scan(tmp_path: Path) -> None:
    """On CUDA the files are decoded as on the CPU (Pillow's pixels: the same xxhash and value
    counts), unless gpu_decode=True; the statistics then agree with the CPU scan's."""
    from dataeval_gpu.audit.files import scan_files

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    files = _write_photos(tmp_path / "img", 9)
    cpu = scan_files(files, device="cpu", hashes=True).to_pandas()
    gpu = scan_files(files, device="cuda", hashes=True).to_pandas()
    assert list(gpu["xxhash"]) == list(cpu["xxhash"])
    for col in ("mean", "std", "brightness", "entropy", "zeros", "width", "height"):
        np.testing.assert_allclose(gpu[col].to_numpy(float), cpu[col].to_numpy(float), rtol=1e-6, atol=1e-9, err_msg=col)


@pytest.mark.parametrize(
    ("indices", "match"),
    [
        ([0.5, 1.5, 2.5], r"indices must be whole numbers.*0\.5"),
        (torch.tensor([0.0, 1.0, 2.0]), r"indices must be whole numbers"),
        ([0, -1, 2], r"indices must be >= 0.*-1 \(image 1\)"),
        ([0, True, 2], r"indices must be whole numbers.*True"),
    ],
)
def test_update_and_feed_refuse_indices_that_are_not_dataset_indices(indices, match) -> None:
    """``update(imgs, indices=[0.5, 1.5, 2.5])`` measured the images under 0, 1, 2 (truncated:
    a silent shift, then a repeated-index warning) and negative indices were taken as given;
    ``FeedLoop.feed`` stored float keys.  Both now raise, naming the value and the image."""
    from dataeval_gpu.errors import InvalidArgumentError

    for feed in (lambda a: a.update(_imgs(3), indices=indices), lambda a: FeedLoop(a).feed(_imgs(3), indices)):
        audit = DataAudit(hashes=False)
        with pytest.raises(InvalidArgumentError, match=match):
            feed(audit)
        assert audit.compute().total == 0 and audit.labels == {} and audit.paths == {}
    ok = DataAudit(hashes=False)
    ok.update(_imgs(3), indices=np.array([4, 0, 9], dtype=np.uint8))  # any integer type is fine
    assert ok.compute().index.tolist() == [0, 4, 9]


class _Targets(torch.utils.data.Dataset):
    """Six 16 x 16 images with a detection target dict or a segmentation mask as second field."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.images = [torch.from_numpy(im) for im in _imgs(6, seed=5)]
        self.images = [im[:, :10, :10].contiguous() for im in self.images]

    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> tuple[torch.Tensor, object]:
        if self.kind == "detection":
            return self.images[i], {"boxes": torch.zeros(2, 4), "labels": torch.tensor([i % 3, 2])}
        return self.images[i], torch.full((10, 10), i % 2, dtype=torch.long)  # a segmentation mask


@pytest.mark.parametrize("loader", [False, True])
def test_detection_targets_become_object_class_lists(tmp_path: Path, loader: bool) -> None:
    """A dataset of ``(image, {"boxes", "labels"})``: through a DataLoader (default collate: one
    dict of batched tensors) images 4 and 5 were labelled ``"boxes"`` and ``"labels"`` (the dict's
    keys) and images 0-3 not at all; from the Dataset the labels were the dicts of tensors, and
    ``save(formats=("parquet",))`` raised ArrowInvalid.  Each image's label is now its object list."""
    data = _Targets("detection")
    report = scan(torch.utils.data.DataLoader(data, batch_size=4) if loader else data, progress=False, quality=False)
    assert report.labels == {i: [i % 3, 2] for i in range(6)}
    report.save(tmp_path, formats=("csv", "parquet", "json"))
    assert pd.read_parquet(tmp_path / "results.parquet")["label"].map(list).tolist() == [[i % 3, 2] for i in range(6)]


@pytest.mark.parametrize("loader", [False, True])
def test_a_segmentation_mask_is_not_taken_for_a_label(tmp_path: Path, loader: bool) -> None:
    """``(image, mask)`` items: each (10, 10) mask was kept as the image's "label" (a tensor, or
    10 nested lists), so ``save(parquet)`` raised ArrowInvalid and the HTML report raised "a label
    must be an int, a string or a list of them, got list" (no image named).  The scan now keeps
    no label for them and says so once; ``update`` refuses such a label, naming the image."""
    from dataeval_gpu.errors import InvalidArgumentError
    from dataeval_gpu.report import write_report

    data = _Targets("mask")
    with pytest.warns(UserWarning, match=r"image 0: .*\(10, 10\).* not a class label") as caught:
        report = scan(torch.utils.data.DataLoader(data, batch_size=4) if loader else data, progress=False, quality=False)
    assert sum("not a class label" in str(w.message) for w in caught) == 1  # once, not per image
    assert report.labels == {} and report.total == 6 and not report.failed
    report.save(tmp_path, formats=("csv", "parquet", "json"))
    write_report(report, tmp_path)
    audit = DataAudit(hashes=False)
    with pytest.raises(InvalidArgumentError, match=r"label of image 7: .*\(10, 10\)"):
        audit.update([data[k][0] for k in range(2)], indices=[6, 7], labels=[0, data[1][1]])
    assert audit.compute().total == 0 and audit.labels == {}


def test_a_label_that_is_not_a_class_names_its_image() -> None:
    from dataeval_gpu.errors import InvalidArgumentError
    from dataeval_gpu.labels import normalize_labels

    with pytest.raises(InvalidArgumentError, match=r"label of image 2: .* got list"):
        normalize_labels([0, [1], [2, [3]]])
    with pytest.raises(InvalidArgumentError, match=r"label of image 9: "):
        normalize_labels({4: 0, 9: [[1, 2]]})


def test_an_empty_batch_is_no_images() -> None:
    """A collate that filtered out every item of a batch yields ``[]`` or ``([], [])``:
    ``scan`` raised "cannot find images in a batch of type list" (and ``([], [])`` would be
    read as two images); ``split_batch`` and ``update`` take it as zero images."""
    imgs = [torch.from_numpy(im) for im in _imgs(4)]
    for empty in ([], (), ([], []), ([], torch.zeros(0, dtype=torch.long)), {"image": [], "label": []}):
        images, labels, indices = split_batch(empty)
        assert len(images) == 0 and indices is None, empty
        stream = [(imgs[:2], [0, 1]), empty, (imgs[2:], [0, 1])]
        report = scan(iter(stream), progress=False, quality=False)
        assert report.index.tolist() == [0, 1, 2, 3] and not report.failed, empty
    audit = DataAudit(hashes=False)
    audit.update([], labels=[])
    assert audit.compute().total == 0


def test_a_load_failure_in_the_default_collate_says_what_to_do() -> None:
    """``scan(DataLoader(IndexedDataset(data, on_error="mark"), batch_size=4))`` (torch's default
    collate) stopped with torch's "expected Tensor as element 3 in argument 0, but got LoadFailure";
    the error now names the cause and ``collate_fn=ragged_collate`` (which lists the item as failed)."""
    from torch.utils.data import DataLoader

    from dataeval_gpu.batching import ragged_collate
    from dataeval_gpu.distributed import IndexedDataset
    from dataeval_gpu.errors import InvalidArgumentError

    class Flaky(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 6

        def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
            if i == 3:
                raise OSError("disk read error")
            return torch.full((3, 8, 8), i, dtype=torch.uint8), i % 2

    with pytest.raises(InvalidArgumentError, match=r"could not be loaded .*collate_fn=dataeval_gpu.batching.ragged_collate"):
        scan(DataLoader(IndexedDataset(Flaky(), on_error="mark"), batch_size=4), progress=False, quality=False)
    report = scan(
        DataLoader(IndexedDataset(Flaky(), on_error="mark"), batch_size=4, collate_fn=ragged_collate),
        progress=False,
        quality=False,
    )
    assert report.failed == {3: "OSError: disk read error"} and report.index.tolist() == [0, 1, 2, 4, 5]


def test_a_batch_that_raised_in_update_leaves_no_labels_paths_or_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """``update`` raised for a measuring error but had already recorded the batch's labels and
    paths and advanced the default index: the report listed 3 labels and paths of images it did
    not hold, and the next batch started at index 3."""
    imgs = _imgs(3)
    audit = DataAudit(hashes=False, quality=False)

    def boom(n: int) -> None:
        raise RuntimeError("kernel bug")

    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", boom, raising=False)
    with pytest.raises(RuntimeError, match="kernel bug"):
        audit.update(imgs, labels=[0, 1, 2], paths=["a.png", "b.png", "c.png"])
    monkeypatch.setattr(audit_mod, "_FAULT_INJECTOR", None)
    audit.update(imgs[:1], labels=[5], paths=["d.png"])
    report = audit.compute()
    assert report.index.tolist() == [0] and report.labels == {0: 5} and report.paths == {0: "d.png"}


def test_update_takes_a_single_image_with_its_single_label() -> None:
    """A lone image is a batch of one, and its label may be given alone: ``labels=3``,
    ``labels=torch.tensor(3)`` or a target dict raised (``list(3)``, "got 1 images but 2 labels")."""
    img = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    for label, want in ((3, 3), (torch.tensor(3), 3), ("cat", "cat"), ({"labels": torch.tensor([1, 2])}, [1, 2])):
        audit = DataAudit(hashes=False, quality=False)
        audit.update(img, labels=label)
        assert audit.compute().labels == {0: want}


def test_an_audit_where_every_input_failed_keeps_their_paths_and_labels() -> None:
    """``compute()`` of an audit that measured nothing (every input failed) returned the
    failures without their paths, labels or class names: results.csv had no ``path`` column."""
    audit = DataAudit()
    audit.class_names = ["cat", "dog"]
    audit.mark_failed(0, "truncated", path="a.png", label=1)
    FeedLoop(audit).feed([LoadFailure("OSError: disk")], [1], labels=[0], paths=["b.png"])
    report = audit.compute()
    assert report.failed == {0: "truncated", 1: "OSError: disk"}
    assert report.paths == {0: "a.png", 1: "b.png"} and report.labels == {0: 1, 1: 0}
    assert report.class_names == ["cat", "dog"]
    assert report.to_pandas()["path"].tolist() == ["a.png", "b.png"]
