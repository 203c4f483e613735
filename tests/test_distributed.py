"""Sharded audits: torchrun with two gloo processes, DistributedSampler shards, DataLoader workers.

The merged result must equal a single-process audit of the same data: statistics arrays,
hashes, linter issues, duplicate groups and labels, with every dataset index exactly once.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dataeval_gpu.audit import AuditReport, DataAudit
from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.distributed import (
    IndexedDataset,
    LoadFailure,
    distributed_scan,
    init_from_env,
    rank_and_world,
    shard_loader,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "torchrun_scan.py"


pytestmark = pytest.mark.usefixtures("one_thread")


def _script_module():
    spec = importlib.util.spec_from_file_location("torchrun_scan", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single_process(items: list[tuple[np.ndarray, int]], batch_size: int = 8, **kw) -> AuditReport:
    """The reference: one DataAudit fed in dataset order."""
    audit = DataAudit(**kw)
    for b0 in range(0, len(items), batch_size):
        chunk = items[b0 : b0 + batch_size]
        audit.update(
            [im for im, _ in chunk], indices=range(b0, b0 + len(chunk)), labels=[lab for _, lab in chunk]
        )
    return audit.compute()


def _assert_same_report(got: AuditReport, ref: AuditReport, float_rows: np.ndarray | None = None) -> None:
    """Equal reports.  Statistics are bit-identical, except on the rows in ``float_rows``
    (images with a float dtype), whose float64 statistics may differ in the last bit with
    the batch they were computed in (size buckets run together); those agree to 1e-12."""
    np.testing.assert_array_equal(got.index, ref.index)
    assert set(got.stats) == set(ref.stats)
    exact = np.ones(len(ref.index), bool) if float_rows is None else ~np.asarray(float_rows)
    for key, val in ref.stats.items():
        assert got.stats[key].dtype == val.dtype, key
        np.testing.assert_array_equal(got.stats[key][exact], val[exact], err_msg=key)
        if val.dtype.kind == "f":
            np.testing.assert_allclose(got.stats[key], val, rtol=1e-12, atol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(got.stats[key], val, err_msg=key)
    assert got.hashes == ref.hashes
    assert got.issues == ref.issues
    assert got.duplicates == ref.duplicates
    assert got.labels == ref.labels
    assert got.failed == ref.failed


def _float_rows(items: list[tuple[np.ndarray, int]]) -> np.ndarray:
    return np.array([im.dtype.kind == "f" for im, _ in items])


@pytest.fixture(scope="module")
def synthetic_items() -> list[tuple[np.ndarray, int]]:
    return _script_module().synthetic_images(37, seed=3)


def test_synthetic_data_is_varied(synthetic_items) -> None:
    shapes = {im.shape for im, _ in synthetic_items}
    assert len(shapes) > 20 and {s[0] for s in shapes} == {1, 3}
    assert {im.dtype for im, _ in synthetic_items} == {np.dtype(np.uint8), np.dtype(np.float32)}
    assert len({lab for _, lab in synthetic_items}) == 3


@pytest.mark.integration
def test_torchrun_two_ranks_equal_single_process(tmp_path: Path, synthetic_items) -> None:
    """torchrun --nproc_per_node=2, gloo, 37 items (odd), shuffled shards, a DataLoader worker per rank."""
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for _attempt in range(2):  # one retry: the rendezvous port can be taken between pick and bind
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
            str(SCRIPT), "--synthetic", "37", "--seed", "3", "--shuffle", "--batch-size", "5", "--workers", "1",
            "--out", str(out), "--pickle", "--no-progress",
        ]  # fmt: skip
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode == 0:
            break
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "on 2 rank(s) (gloo" in proc.stdout
    with (out / "report.pkl").open("rb") as f:
        got: AuditReport = pickle.load(f)
    assert got.config["world_size"] == 2 and got.config["shuffle"] is True
    # every index exactly once (the sampler padded one rank with a repeat: dropped)
    assert got.index.tolist() == list(range(37)) and got.failed == {}
    ref = _single_process(synthetic_items)
    _assert_same_report(got, ref, _float_rows(synthetic_items))
    assert got.duplicates["exact"] and got.duplicates["near"]  # the planted copies were found
    for name in ("results.csv", "results.json", "findings.json", "summary.json", "config.json"):
        assert (out / name).is_file(), name


def test_script_runs_as_one_process(tmp_path: Path, synthetic_items) -> None:
    mod = _script_module()
    assert (
        mod.main(["--synthetic", "37", "--seed", "3", "--out", str(tmp_path), "--workers", "0", "--pickle"])
        == 0
    )
    with (tmp_path / "report.pkl").open("rb") as f:
        got = pickle.load(f)
    assert got.config["world_size"] == 1
    _assert_same_report(got, _single_process(synthetic_items), _float_rows(synthetic_items))


def test_script_reads_a_folder(tmp_path: Path) -> None:
    from PIL import Image

    root = tmp_path / "imgs"
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        arr = rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / ("cats" if i % 2 else "dogs") / f"{i}.png")
    (root / "dogs" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert _script_module().main([str(root), "--out", str(out), "--workers", "0", "--pickle"]) == 0
    with (out / "report.pkl").open("rb") as f:
        got = pickle.load(f)
    assert got.total == 6 and len(got.failed) == 1
    (bad,) = got.failed
    assert got.paths[bad].endswith("broken.png")
    assert got.class_names == ["cats", "dogs"]
    assert set(got.labels.values()) == {0, 1}


def test_shard_loader_covers_each_index_once() -> None:
    """Two shards of 37 items: 19 + 19 with one index repeated; dataset indices, ragged batches."""
    items = [(np.full((1 + i % 3, 5 + i, 7), i, np.uint8), i % 4) for i in range(37)]
    seen: list[int] = []
    for rank in range(2):
        loader = shard_loader(items, batch_size=4, shuffle=True, seed=5, num_replicas=2, rank=rank)
        for images, labels, indices in loader:
            assert isinstance(images, list) and indices.dtype == torch.int64
            for img, lab, i in zip(images, labels.tolist(), indices.tolist(), strict=True):
                assert tuple(img.shape) == items[i][0].shape and int(img.flatten()[0]) == i
                assert lab == i % 4
            seen += indices.tolist()
    assert len(seen) == 38 and sorted(set(seen)) == list(range(37))
    assert seen[:19] != sorted(seen[:19])  # shuffled


def test_sharded_audits_merge_like_one(synthetic_items) -> None:
    """Two shards fed to two accumulators, merged with torchmetrics' merge_state: the one-process result."""
    audits = []
    for rank in range(2):
        audit = DataAudit()
        for images, labels, indices in shard_loader(
            synthetic_items, batch_size=6, shuffle=True, seed=1, num_replicas=2, rank=rank
        ):
            audit.update(images, indices=indices, labels=labels)
        audits.append(audit)
    audits[0]._stats.merge_state(audits[1]._stats)
    audits[0].labels.update(audits[1].labels)
    _assert_same_report(audits[0].compute(), _single_process(synthetic_items), _float_rows(synthetic_items))


def test_dataloader_workers_match_compat_api(photos) -> None:
    """DataLoader(shuffle=True, num_workers=2, ragged_collate) into DataAudit == imagestats / Linter / Duplicates."""
    from dataeval_gpu.detectors import Duplicates, Linter
    from dataeval_gpu.flags import ImageStat
    from dataeval_gpu.metrics import imagestats

    images = [np.array(p) for p in photos[:30]]
    images += [images[4].copy(), images[11].copy()]  # exact duplicates
    near = images[7].copy()
    near[0, 0, 0] ^= 1
    images.append(near)  # a near duplicate
    labels = [i % 3 for i in range(len(images))]
    ds = IndexedDataset(list(zip(images, labels, strict=True)))
    loader = DataLoader(ds, batch_size=5, shuffle=True, num_workers=2, collate_fn=ragged_collate)
    audit = DataAudit(preset="dataeval-0.65")  # the compat API's findings exactly
    order: list[int] = []
    for imgs, labs, idx in loader:
        audit.update(imgs, indices=idx, labels=labs)
        order += idx.tolist()
    assert order != sorted(order) and sorted(order) == list(range(len(images)))
    report = audit.compute()

    stats = imagestats(images, ImageStat.ALL_STATS).dict()
    for key, val in stats.items():
        if key in ("xxhash", "pchash"):
            continue
        np.testing.assert_array_equal(report.stats[key], val, err_msg=key)
    hashes = imagestats(images, ImageStat.ALL_HASHES)
    assert report.hashes == {"xxhash": hashes.xxhash, "pchash": hashes.pchash}
    assert report.issues == Linter().evaluate(images).issues
    dups = Duplicates().evaluate(images)
    assert report.duplicates == {
        "exact": sorted(map(sorted, dups.exact)),
        "near": sorted(map(sorted, dups.near)),
    }
    assert [4, 30] in report.duplicates["exact"] and [11, 31] in report.duplicates["exact"]
    assert any({7, 32} <= set(g) for g in report.duplicates["near"])
    assert report.labels == dict(enumerate(labels))


def test_failed_items_are_listed() -> None:
    class Flaky(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 7

        def __getitem__(self, i: int):
            if i == 3:
                raise OSError("truncated file")
            if i == 5:
                return np.zeros((2, 3, 4, 5), np.uint8), 1  # not an image
            return np.full((3, 10, 10 + i), 20 * i, np.uint8), 0

    report = distributed_scan(Flaky(), batch_size=3)
    assert report.index.tolist() == [0, 1, 2, 4, 6]
    assert set(report.failed) == {3, 5}
    assert "truncated file" in report.failed[3] and "shape" in report.failed[5]
    with pytest.raises(OSError):
        next(iter(shard_loader(Flaky(), batch_size=7)))


def test_indexed_dataset_items() -> None:
    ds = IndexedDataset([np.zeros((3, 4, 4)), {"image": np.ones((1, 2, 2)), "label": 7}])
    img, lab, i = ds[0]
    assert lab is None and i == 0 and img.shape == (3, 4, 4)
    assert ds[1][1:] == (7, 1)
    assert isinstance(IndexedDataset(_Broken(), on_error="mark")[0][0], LoadFailure)
    assert pickle.loads(pickle.dumps(LoadFailure("x"))).reason == "x"
    from torch.utils.data import DataLoader

    from dataeval_gpu.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"got DataLoader \(give the DataLoader's .dataset"):
        IndexedDataset(DataLoader([np.zeros((1, 4, 4))]))


class _Broken:
    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int):
        raise ValueError("bad")


def test_init_from_env_without_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    info = init_from_env(device="cpu")
    assert (info.rank, info.world_size, info.backend, info.device) == (0, 1, None, torch.device("cpu"))
    assert info.is_main and rank_and_world() == (0, 1)


def _near_pair_folder(root: Path) -> None:
    """Two class folders: a smooth picture and a noisy copy of it (a near duplicate at Hamming
    distance 1-2, not 0), three unrelated pictures, and a broken file in class ``b``."""
    from PIL import Image

    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
    rng = np.random.default_rng(2)
    base = np.asarray(Image.fromarray(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8)).resize((64, 48), Image.BICUBIC))
    # noise of +-12 levels and one column cut: Hamming distance 2, the thumbnails' detail
    # correlation 0.87 (with +-20 levels of noise on this smooth 64 x 48 picture it fell to 0.78,
    # below VERIFY_MIN: such a noisy copy is no longer paired, docs/quality.md)
    noisy = np.clip(base.astype(int) + rng.integers(-12, 13, base.shape), 0, 255).astype(np.uint8)[:, 1:]
    Image.fromarray(base).save(root / "a" / "0.png")
    Image.fromarray(noisy).save(root / "b" / "1.png")
    for i in range(3):
        small = np.random.default_rng(10 + i).integers(0, 256, (5, 7, 3)).astype(np.uint8)
        Image.fromarray(small).resize((56, 40), Image.BICUBIC).save(root / "a" / f"{i + 2}.png")
    (root / "b" / "broken.png").write_bytes(b"not a png")


def test_script_finds_what_the_command_finds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """torchrun_scan.py with its defaults and `dataeval-gpu scan` with its defaults write the same
    results.csv and findings.json (the script used to pass radius 0 where the command uses 2)."""
    import json

    import pandas as pd

    from dataeval_gpu.cli import main as cli_main

    root = tmp_path / "imgs"
    _near_pair_folder(root)
    assert cli_main(["scan", str(root), "--out", str(tmp_path / "cli"), "--no-plots", "--no-progress", "--quiet",
                     "--workers", "0"]) == 0  # fmt: skip
    capsys.readouterr()
    assert _script_module().main([str(root), "--out", str(tmp_path / "script"), "--workers", "0", "--no-progress"]) == 0
    # the files listed are the files written (config.json was missing from the list), the HTML
    # report with them as the command writes it (the script wrote none)
    listed = "(config.json, findings.json, quality_issues.csv, report.html, results.csv, results.json, summary.json)"
    assert listed in capsys.readouterr().out
    page = (tmp_path / "script" / "report.html").read_text()
    assert "broken.png" in page and json.loads((tmp_path / "script" / "config.json").read_text())["report_s"] >= 0
    found = json.loads((tmp_path / "cli" / "findings.json").read_text())
    # a/0.png, a/2-4.png, b/1.png, b/broken.png in path order: the near pair is 0 and 4
    assert found["duplicates"]["near"] == [[0, 4]] and list(found["failed"]) == ["5"]
    assert json.loads((tmp_path / "script" / "findings.json").read_text()) == found
    cli_rows = pd.read_csv(tmp_path / "cli" / "results.csv")
    script_rows = pd.read_csv(tmp_path / "script" / "results.csv")
    pd.testing.assert_frame_equal(script_rows, cli_rows)
    assert script_rows["label"].tolist() == [0, 0, 0, 0, 1, 1]  # the broken file keeps its class
    # the pair is within radius 2, not 0: the script's --radius 0 (its old default) misses it
    assert _script_module().main([str(root), "--out", str(tmp_path / "r0"), "--workers", "0", "--radius", "0"]) == 0
    assert json.loads((tmp_path / "r0" / "findings.json").read_text())["duplicates"]["near"] == []


def test_script_rejects_bad_arguments_before_starting(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One argparse line and exit status 2 (they were tracebacks from inside the scan, one per rank)."""
    mod = _script_module()
    cases = [
        (["--synthetic", "5", "--batch-size", "0"], "argument --batch-size: expected a whole number >= 1, got 0"),
        (["--synthetic", "5", "--workers", "-1"], "argument --workers: expected a whole number >= 0, got -1"),
        (["--synthetic", "0"], "argument --synthetic: expected a whole number >= 1, got 0"),
        ([str(tmp_path / "missing")], f"no such folder or file list: {tmp_path / 'missing'}"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exc:
            mod.main([*argv, "--out", str(tmp_path / "out")])
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
