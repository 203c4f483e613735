"""newuser10's pass (2026-12-07): the README's DataLoader example used torchvision's
``ImageFolder(root, transform=PILToTensor())``, whose default loader makes every file 8-bit RGB
(a grey PNG became grey-stored-as-RGB, a sprite lost its alpha, a 16-bit PNG its depth), so the
loop's findings differed from the command's on the same files without a word.  The docs now name
``ImageFolder(root, loader=dataeval_gpu.io.decode_file)``; this checks that it measures each file
as ``dataeval-gpu scan`` does and that the default loader does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from dataeval_gpu.audit import DataAudit, scan_files
from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.discovery import find_inputs
from dataeval_gpu.distributed import IndexedDataset
from dataeval_gpu.io import decode_file

datasets = pytest.importorskip("torchvision.datasets")
transforms = pytest.importorskip("torchvision.transforms")


def _tree(root: Path) -> dict[str, np.ndarray]:
    """One class folder: a grey PNG, an RGBA sprite on a transparent canvas, a 16-bit grey PNG,
    an RGB PNG; returns each file's pixels as written (H, W[, C])."""
    rng = np.random.default_rng(10)
    cls = root / "things"
    cls.mkdir(parents=True)
    grey = rng.integers(40, 200, (24, 32), dtype=np.uint8)
    sprite = np.zeros((20, 20, 4), np.uint8)
    sprite[5:15, 5:15, :3] = rng.integers(100, 256, (10, 10, 3), dtype=np.uint8)
    sprite[5:15, 5:15, 3] = 255  # opaque square, the rest fully transparent (and black)
    deep = (rng.integers(0, 4096, (16, 16)) * 16).astype(np.uint16)  # 16-bit grey
    rgb = rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)
    pixels = {"a_grey.png": grey, "b_sprite.png": sprite, "c_deep.png": deep, "d_rgb.png": rgb}
    for name, arr in pixels.items():
        Image.fromarray(arr).save(cls / name)
    assert Image.open(cls / "c_deep.png").mode.startswith("I;16")
    return pixels


def _loop(dataset) -> dict[str, dict[str, float]]:
    loader = DataLoader(IndexedDataset(dataset), batch_size=3, collate_fn=ragged_collate)
    audit = DataAudit(device="cpu")
    for images, labels, indices in loader:
        audit.update(images, indices=indices, labels=labels)
    table = audit.compute().to_pandas()
    names = [Path(p).name for p, _ in dataset.samples]
    return {names[i]: table.loc[i].to_dict() for i in table.index}


def test_imagefolder_with_decode_file_measures_files_as_the_command(tmp_path: Path) -> None:
    pixels = _tree(tmp_path)
    rows = _loop(datasets.ImageFolder(tmp_path, loader=decode_file))
    # independent references: the files' own channels, depth and scaled mean (numpy float64)
    assert {n: int(r["channels"]) for n, r in rows.items()} == {
        "a_grey.png": 1, "b_sprite.png": 4, "c_deep.png": 1, "d_rgb.png": 3}
    assert {n: int(r["depth"]) for n, r in rows.items()} == {
        "a_grey.png": 8, "b_sprite.png": 8, "c_deep.png": 16, "d_rgb.png": 8}
    assert rows["a_grey.png"]["brightness"] == pytest.approx(pixels["a_grey.png"].astype(np.float64).mean() / 255, abs=1e-9)
    assert rows["c_deep.png"]["brightness"] == pytest.approx(pixels["c_deep.png"].astype(np.float64).mean() / 65535, abs=1e-9)
    assert rows["b_sprite.png"]["opacity"] == pytest.approx(100 / 400, abs=1e-9)  # 10x10 opaque of 20x20
    # the command's file scan of the same folder gives the same rows
    found = find_inputs(tmp_path)
    files = scan_files(found.files, workers=0, progress=False).to_pandas()
    by_name = {Path(p).name: files.loc[i] for i, p in enumerate(found.files)}
    for name, row in rows.items():
        for col in ("channels", "depth", "brightness", "opacity", "zero", "grey_entropy"):
            assert row[col] == pytest.approx(float(by_name[name][col]), abs=1e-9), (name, col)


def test_imagefolder_default_loader_makes_every_file_8bit_rgb(tmp_path: Path) -> None:
    pixels = _tree(tmp_path)
    rows = _loop(datasets.ImageFolder(tmp_path, transform=transforms.PILToTensor()))
    assert {int(r["channels"]) for r in rows.values()} == {3}
    assert rows["b_sprite.png"]["opacity"] == 1.0  # the transparent canvas is now opaque black
    assert int(rows["c_deep.png"]["depth"]) == 8
    # a grey file now reads as grey stored as RGB: its three channels are equal
    assert rows["a_grey.png"]["channel_spread"] == 0.0
    assert rows["a_grey.png"]["brightness"] == pytest.approx(pixels["a_grey.png"].astype(np.float64).mean() / 255, abs=1e-9)


def test_a_link_to_a_broken_link_names_the_missing_end(tmp_path: Path) -> None:
    """Before: ``its target '.../b.png' does not exist`` although b.png is there (a link itself)."""
    from dataeval_gpu.io import read_image_bytes

    (tmp_path / "b.png").symlink_to(tmp_path / "gone" / "c.png")
    (tmp_path / "a.png").symlink_to("b.png")
    with pytest.raises(FileNotFoundError) as info:
        read_image_bytes(tmp_path / "a.png")
    end = str((tmp_path / "gone" / "c.png").resolve(strict=False))
    assert str(info.value) == f"broken symbolic link (its target 'b.png' is a link; the end of the chain, {end!r}, does not exist)"
    with pytest.raises(FileNotFoundError) as info:
        read_image_bytes(tmp_path / "b.png")  # a single broken link: as before
    assert str(info.value) == f"broken symbolic link (its target {str(tmp_path / 'gone' / 'c.png')!r} does not exist)"


def test_readme_loop_marks_an_unreadable_file_instead_of_stopping(tmp_path: Path) -> None:
    """README's loop: ``IndexedDataset(dataset, on_error="mark")``; without it a truncated JPEG in the
    folder stopped the loop with a DataLoader traceback."""
    _tree(tmp_path)
    buf = tmp_path / "whole.jpg"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(buf)
    (tmp_path / "things" / "e_cut.jpg").write_bytes(buf.read_bytes()[:200])
    buf.unlink()
    dataset = datasets.ImageFolder(tmp_path, loader=decode_file)
    with pytest.raises(RuntimeError, match="damaged JPEG file"):
        for _ in DataLoader(IndexedDataset(dataset), batch_size=8, collate_fn=ragged_collate):
            pass
    audit = DataAudit(device="cpu")
    for images, labels, indices in DataLoader(IndexedDataset(dataset, on_error="mark"), batch_size=8, collate_fn=ragged_collate):
        audit.update(images, indices=indices, labels=labels)
    report = audit.compute()
    assert list(report.failed) == [4] and report.failed[4].startswith("RuntimeError: damaged JPEG file")
    assert report.to_pandas()["status"].tolist() == ["ok"] * 4 + ["failed"]


def test_against_names_the_indexed_partner_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An index built from a relative PATH stored ``data/x.png``: queried from another folder the
    partner's path named no file there.  Now the manifest keeps the folder it was updated from."""
    import shutil

    from dataeval_gpu.index import DatasetIndex, scan_against, update_index

    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    for k in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "data" / f"x{k}.png")
    monkeypatch.chdir(tmp_path)
    files = [f"data/x{k}.png" for k in range(6)]
    update_index(tmp_path / "idx", files, workers=0, progress=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "data" / "x4.png", elsewhere / "copy.png")
    monkeypatch.chdir(elsewhere)
    assert DatasetIndex(tmp_path / "idx").manifest["base"] == str(tmp_path)
    report = scan_against(tmp_path / "idx", ["copy.png"], workers=0, progress=False)
    matches = report.against["matches"]
    assert [(m["image"], m["partner"], m["partner_path"]) for m in matches] == [(0, 4, str(tmp_path / "data" / "x4.png"))]
    assert Path(matches[0]["partner_path"]).is_file()
