"""newuser7's fixes from a new user's pass (2026-12-07): an earlier scan's results files that this
scan does not write are removed from ``--out`` (a stale ``report.html`` / ``results.csv`` of other
data stayed beside the new results), what a folder held beside the images is said when the scan is
interrupted too, and a duplicate group whose images carry different labels says so in the printout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dataeval_gpu import cli
from tests.cli_run import run

QUIET = ["--no-progress", "--workers", "0"]


def _pngs(folder: Path, n: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for k in range(n):
        p = folder / f"im{k}.png"
        Image.fromarray(rng.integers(0, 256, (20 + k, 24, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    return paths


def test_a_second_scan_removes_the_results_it_does_not_write(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A user scanned folder A into OUT, then folder B into OUT with ``--formats parquet
    --no-plots``: OUT still held A's ``results.csv``, ``quality_issues.csv`` and ``report.html``
    (8 images) beside B's ``results.parquet`` (4 images); opening report.html showed A."""
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    _pngs(a, 6, 0)
    _pngs(b, 3, 1)
    status, _, err = run(["scan", str(a), "--out", str(out), *QUIET], capsys)
    assert status == 0, err
    assert {"results.csv", "results.json", "report.html"} <= {p.name for p in out.iterdir()}
    assert any((out / "plots").iterdir())
    (out / "notes.txt").write_text("mine")  # a file of the user's: kept
    status, said, err = run(["scan", str(b), "--out", str(out), "--formats", "parquet", "--no-plots", *QUIET], capsys)
    assert status == 0, err
    names = {p.name for p in out.iterdir()}
    assert "results.csv" not in names and "results.json" not in names and "report.html" not in names
    assert "quality_issues.csv" not in names and "plots" not in names
    assert {"results.parquet", "notes.txt", "summary.json"} <= names
    assert len(pd.read_parquet(out / "results.parquet")) == 3
    assert json.loads((out / "summary.json").read_text())["images"] == 3
    assert (
        f"removed from {out}/: an earlier scan's results.csv, results.json, quality_issues.csv, report.html, plots/ "
        "(this scan did not write them)"
    ) in said
    # the same settings again: nothing of an earlier scan to remove, nothing said
    status, said, _ = run(["scan", str(b), "--out", str(out), "--formats", "parquet", "--no-plots", *QUIET], capsys)
    assert status == 0 and "removed from" not in said


def test_a_users_own_files_in_out_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--out a folder of the user's that no scan wrote before: its report.html / results.parquet
    are the user's, not an earlier scan's, and stay."""
    src, out = tmp_path / "a", tmp_path / "mine"
    _pngs(src, 3, 0)
    out.mkdir()
    (out / "report.html").write_text("my report")
    (out / "results.parquet").write_bytes(b"mine")
    status, said, err = run(["scan", str(src), "--out", str(out), "--no-plots", *QUIET], capsys)
    assert status == 0, err
    assert (out / "report.html").read_text() == "my report" and (out / "results.parquet").read_bytes() == b"mine"
    assert "removed from" not in said and (out / "results.csv").is_file()


def test_plots_folder_with_a_users_file_stays(tmp_path: Path) -> None:
    from dataeval_gpu.cli_results import remove_earlier_results

    out = tmp_path / "out"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "histograms.svg").write_text("<svg/>")
    (out / "plots" / "keep.txt").write_text("mine")
    (out / "report.html").write_text("old")
    (out / "results.csv").write_text("index\n")
    written = {"results": str(out / "results.csv"), "summary": str(out / "summary.json")}
    assert remove_earlier_results(out, written) == ["report.html", "plots/"]
    assert (out / "results.csv").is_file() and not (out / "report.html").exists()
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["keep.txt"]


def test_interrupted_scan_says_what_the_folder_held_beside_the_images(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a folder scan said only the interrupt line: the files skipped as not images
    and the metadata beside them were in skipped.txt alone (the known gap of session 6)."""
    src = tmp_path / "in"
    _pngs(src, 2, 0)
    (src / "font.ttf").write_bytes(b"\x00\x01\x00\x00 not an image")
    (src / "notes.txt").write_text("metadata")

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "scan_files", interrupted)
    status, said, err = run(["scan", str(src), "--out", str(tmp_path / "out"), *QUIET], capsys)
    assert status == 130
    assert said.splitlines() == [
        f"skipped 1 file (.ttf 1): neither named nor encoded like an image; listed in {tmp_path / 'out' / 'skipped.txt'}",
        "not scanned: metadata beside the images, 1 file (.txt 1)",
    ]
    assert err.startswith("dataeval-gpu: error: interrupted") and err.count("\n") == 1
    # --quiet prints nothing on stdout (write_skipped's warning says it)
    status, said, _ = run(["scan", str(src), "--out", str(tmp_path / "out"), "--quiet", *QUIET], capsys)
    assert status == 130 and said == ""


def test_duplicate_group_across_classes_says_labels_differ(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A class tree where one picture is under ``cat`` and ``dog``: the printout listed the exact
    group like any other; only the HTML report marked it *mixed* (a label error before training)."""
    root = tmp_path / "tree"
    cats = _pngs(root / "cat", 3, 0)
    dogs = _pngs(root / "dog", 2, 5)
    (root / "dog" / "copy.png").write_bytes(cats[1].read_bytes())
    (root / "cat" / "again.png").write_bytes(cats[2].read_bytes())  # a copy within one class: not mixed
    assert len(dogs) == 2
    status, said, err = run(["scan", str(root), "--out", str(tmp_path / "out"), "--no-plots", *QUIET], capsys)
    assert status == 0, err
    lines = said.splitlines()
    head = lines.index("exact duplicate groups (2; 1 with different labels: one picture under two classes):")
    groups = lines[head + 1 : head + 3]
    assert sorted(groups) == sorted(
        [
            "  2:cat/im1.png, 4:dog/copy.png  [labels differ: cat 1, dog 1]",
            "  0:cat/again.png, 3:cat/im2.png",
        ]
    )


def test_flat_folder_duplicates_have_no_label_note(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "flat"
    ims = _pngs(src, 3, 0)
    (src / "z.png").write_bytes(ims[0].read_bytes())
    status, said, _ = run(["scan", str(src), "--out", str(tmp_path / "out"), "--no-plots", *QUIET], capsys)
    assert status == 0
    assert "exact duplicate groups (1):" in said and "labels differ" not in said


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_cell_pads_and_cuts_by_terminal_columns() -> None:
    from dataeval_gpu.cli_print import cell, tail

    assert cell("a.png") == "a.png" + " " * 35
    long = "x/" * 30 + "end.png"
    assert cell(long) == tail(long) and len(cell(long)) == 40  # ASCII: as before
    wide = "日本語 画像.jpg"  # 5 wide characters: 15 columns, 10 characters
    assert _display_width(cell(wide)) == 40 and cell(wide).startswith(wide)
    cut = cell("写真/" * 20 + "画像.jpg")
    assert cut.startswith("...") and cut.rstrip().endswith("画像.jpg") and _display_width(cut) == 40


def test_printout_columns_line_up_after_a_wide_file_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``日本語 画像.jpg`` flagged beside ASCII names: its reasons started 5 columns right of theirs."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for k in range(8):
        Image.fromarray(rng.integers(60, 200, (40, 40, 3), dtype=np.uint8)).save(src / f"photo{k}.png")
    ramp = np.linspace(0, 12, 40).astype(np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (40, 1))] * 3, -1)).save(src / "日本語 画像.png")  # dark
    Image.fromarray(np.stack([np.tile(255 - ramp[:, None], (1, 40))] * 3, -1)).save(src / "light.png")
    status, said, err = run(["scan", str(src), "--out", str(tmp_path / "out"), "--no-plots", *QUIET], capsys)
    assert status == 0, err
    rows = [ln for ln in said.splitlines() if ("日本語" in ln or " light.png" in ln) and ": score" in ln]
    assert any("日本語" in r for r in rows) and any("light.png" in r for r in rows), said
    starts = {_display_width(r[: r.index(":") - len(r[: r.index(":")].split()[-1])]) for r in rows}
    assert len(starts) == 1, rows
