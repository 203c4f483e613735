"""``scan DIR --index IDX`` accounts for an input it cannot read as a plain scan does: a failed
row with its reason, the index written for the rest (before: ``_stat`` / ``_digests`` raised on a
broken link or a folder named like an image and the whole run ended with ``error: No such file or
directory``).  Such a row is stored with ``file_size`` -1, so every later update tries it again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image as PIL
import pytest

from dataeval_gpu.cli import main
from dataeval_gpu.index import DatasetIndex, update_index

from .index.blobs import picture

pytest.importorskip("pyarrow")
COMMON = ["--workers", "0", "--no-plots", "--no-progress", "--device", "cpu"]


def _folder(root: Path) -> Path:
    root.mkdir()
    for s in range(3):
        PIL.fromarray(picture(s, 48)).save(root / f"img{s}.png")
    os.symlink(root / "nowhere.png", root / "gone.png")  # a broken link named like an image
    (root / "x.jpg").mkdir()  # a folder named like one
    return root


def test_index_lists_unreadable_inputs_as_failed_rows(tmp_path: Path, capsys) -> None:
    data = _folder(tmp_path / "data")
    argv = ["scan", str(data), "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o1"), *COMMON]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "failed (2):" in out
    assert "gone.png: FileNotFoundError: broken symbolic link" in out
    assert "x.jpg: IsADirectoryError: a folder, not an image file" in out
    # the plain scan says the same
    assert main(["scan", str(data), "--out", str(tmp_path / "o0"), *COMMON]) == 0
    plain = capsys.readouterr().out
    assert plain.split("failed (2):")[1].split("\n\n")[0] == out.split("failed (2):")[1].split("\n\n")[0]
    coll = DatasetIndex(tmp_path / "idx").collection()
    names = [Path(p).name for p in coll.files["path"]]
    status = dict(zip(names, coll.measured.tolist()))
    assert status == {"gone.png": False, "img0.png": True, "img1.png": True, "img2.png": True, "x.jpg": False}
    size = dict(zip(names, coll.files["file_size"].tolist()))
    assert size["gone.png"] == -1 and size["x.jpg"] == -1  # unreadable: tried again by every update
    assert size["img0.png"] == (data / "img0.png").stat().st_size
    errors = dict(zip(names, coll.errors))
    assert errors["gone.png"].startswith("FileNotFoundError: broken symbolic link")


def test_update_tries_unreadable_inputs_again(tmp_path: Path) -> None:
    data = _folder(tmp_path / "data")
    files = sorted(str(p) for p in data.iterdir())
    kw = {"workers": 0, "progress": False, "device": "cpu"}
    first = update_index(tmp_path / "idx", files, **kw)
    assert first.config["index_update"]["measured"] == 5
    assert sorted(Path(first.paths[i]).name for i in first.failed) == ["gone.png", "x.jpg"]
    again = update_index(tmp_path / "idx", files, **kw)  # nothing changed: the 3 images kept
    assert (again.config["index_update"]["measured"], again.config["index_update"]["kept"]) == (2, 3)
    assert sorted(Path(again.paths[i]).name for i in again.failed) == ["gone.png", "x.jpg"]
    # the link's target appears: the next update measures it
    PIL.fromarray(picture(7, 48)).save(data / "nowhere.png")
    files = sorted(str(p) for p in data.iterdir())
    fixed = update_index(tmp_path / "idx", files, **kw)
    assert sorted(Path(fixed.paths[i]).name for i in fixed.failed) == ["x.jpg"]
    coll = DatasetIndex(tmp_path / "idx").collection()
    names = [Path(p).name for p in coll.files["path"]]
    k = names.index("gone.png")
    assert coll.measured[k] and coll.files["file_size"][k] == (data / "nowhere.png").stat().st_size
    # its row equals that of the same bytes under their own name
    j = names.index("nowhere.png")
    assert np.array_equal(coll.stats["brightness"][k], coll.stats["brightness"][j])
