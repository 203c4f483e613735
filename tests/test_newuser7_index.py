"""newuser7: two ways a user's ``--index`` mistake destroyed data.  ``scan NEW --index IDX`` typed
for ``--against IDX`` replaced a 604-photo index by the 4 new images (the 604 rows lost); ``--index
classes`` (the data folder itself) wrote the index's files among the class folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu.discovery import discover
from dataeval_gpu.index import IndexMismatchError, update_index
from tests.cli_run import run

QUIET = ["--no-progress", "--workers", "0", "--no-plots"]


def _folder(root: Path, n: int, seed: int) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        Image.fromarray(rng.integers(0, 256, (16 + k, 20, 3), dtype=np.uint8)).save(root / f"im{k}.png")
    return root


def test_index_typed_for_against_keeps_the_index(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, new, idx = _folder(tmp_path / "data", 6, 0), _folder(tmp_path / "new", 2, 1), tmp_path / "idx"
    status, _, err = run(["scan", str(data), "--index", str(idx), "--out", str(tmp_path / "o1"), *QUIET], capsys)
    assert status == 0, err
    manifest = (idx / "manifest.json").read_bytes()
    status, _, err = run(["scan", str(new), "--index", str(idx), "--out", str(tmp_path / "o2"), *QUIET], capsys)
    assert status == 2
    assert err == (
        f"dataeval-gpu: error: --index {idx}: this update would drop 6 of the index's 6 images (their files are "
        "not among the 2 given); to check new images against the index use --against (scan_against); to index "
        "these files anew give another folder, or remove this one\n"
    )
    assert (idx / "manifest.json").read_bytes() == manifest  # untouched
    status, said, err = run(["scan", str(new), "--against", str(idx), "--out", str(tmp_path / "o3"), *QUIET], capsys)
    assert status == 0 and "against the index" in said, err


def test_moved_or_partly_deleted_folder_still_updates(tmp_path: Path) -> None:
    data, idx = _folder(tmp_path / "data", 6, 0), tmp_path / "idx"
    files, labels, names = discover(data)
    update_index(idx, files, labels, class_names=names, workers=0, progress=False)
    moved = tmp_path / "moved"
    shutil.move(str(data), moved)  # every path changed, every file's bytes stored: rows kept
    for k in (0, 1):  # and 2 of 6 deleted: under half
        (moved / f"im{k}.png").unlink()
    files, labels, names = discover(moved)
    report = update_index(idx, files, labels, class_names=names, workers=0, progress=False)
    up = report.config["index_update"]
    assert (up["files"], up["measured"], up["kept"]) == (4, 0, 4)
    for k in (2, 3, 4):  # 3 of the 4 stored images gone now: refused, and allowed with drop_ok
        (moved / f"im{k}.png").unlink()
    files, labels, names = discover(moved)
    with pytest.raises(IndexMismatchError, match="would drop 3 of the index's 4 images"):
        update_index(idx, files, labels, class_names=names, workers=0, progress=False)
    report = update_index(idx, files, labels, class_names=names, workers=0, progress=False, drop_ok=True)
    assert report.config["index_update"]["files"] == 1


def test_index_into_a_data_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _folder(tmp_path / "data", 3, 0)
    classes = tmp_path / "classes"
    (classes / "cat").mkdir(parents=True)
    (classes / "dog").mkdir()
    (classes / "notes.md").write_text("x")
    status, _, err = run(["scan", str(data), "--index", str(classes), "--out", str(tmp_path / "o"), *QUIET], capsys)
    assert status == 2
    assert err == (
        f"dataeval-gpu: error: --index {classes}: holds other files (cat, dog, notes.md) and no dataset index "
        "(manifest.json); give a new or empty folder for a new index\n"
    )
    assert sorted(p.name for p in classes.iterdir()) == ["cat", "dog", "notes.md"]
    # an empty folder, or one of a first build cut before its manifest, is fine
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "rows-1.parquet").write_bytes(b"")
    (cut / "write.lock").write_bytes(b"")
    (cut / ".rows-2.parquet.tmp").write_bytes(b"")
    status, _, err = run(["scan", str(data), "--index", str(cut), "--out", str(tmp_path / "o2"), *QUIET], capsys)
    assert status == 0, err
    assert (cut / "manifest.json").is_file()
