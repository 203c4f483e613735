"""newuser5's fixes from a new user's pass over the main job (2026-12-07): a failed row's yes / no
cells in results.csv, the failed files shown by their path in the scanned folder."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.cli_run import run


def _mixed_folder(root: Path) -> Path:
    """``root/data``: 5 measurable PNGs (one dark, two exact copies) in two sub-folders, a
    truncated PNG and an empty file in a nested one."""
    from PIL import Image

    d = root / "data"
    (d / "a").mkdir(parents=True)
    (d / "b" / "deep").mkdir(parents=True)
    rng = np.random.default_rng(5)
    pics = [rng.integers(40, 220, (24, 20 + k, 3), dtype=np.uint8) for k in range(4)]
    pics.append(np.full((24, 24, 3), 2, np.uint8))  # dark
    for k, p in enumerate(pics):
        Image.fromarray(p).save(d / ("a" if k % 2 else "b") / f"im{k}.png")
    Image.fromarray(pics[0]).save(d / "a" / "copy0.png")
    good = (d / "a" / "im1.png").read_bytes()
    (d / "b" / "deep" / "cut.png").write_bytes(good[: len(good) // 2])
    (d / "b" / "deep" / "empty.png").write_bytes(b"")
    return d


def test_results_csv_yes_no_columns_read_back_as_bool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A failed row's ``is_<issue>_issue`` cells were empty: ``pd.read_csv`` read every such
    column as ``object`` (True / False / NaN) and a user needed ``fillna(False)``.  They are
    ``False`` in results.csv now (``status`` says the row failed); the measured rows as before,
    and results.json / Parquet keep ``null`` (a typed missing)."""
    d = _mixed_folder(tmp_path)
    out = tmp_path / "out"
    status, _, err = run(["scan", str(d), "--out", str(out), "--no-plots", "--quiet", "--workers", "0",
                          "--formats", "csv,json"], capsys)  # fmt: skip
    assert status == 0, err
    df = pd.read_csv(out / "results.csv", index_col="index")
    flags = [c for c in df.columns if c.startswith("is_") and c.endswith("_issue")]
    assert len(flags) >= 5
    assert {c: str(df[c].dtype) for c in flags} == dict.fromkeys(flags, "bool")
    failed = df["status"] == "failed"
    assert failed.sum() == 2 and len(df) == 8
    assert not df.loc[failed, flags].to_numpy().any()  # not flagged (not checked: status failed)
    assert df.loc[failed, "brightness"].isna().all() and df.loc[~failed, "brightness"].notna().all()
    dark = df.index[df["path"].str.endswith("im4.png")][0]
    assert bool(df.loc[dark, "is_dark_issue"]) and int(df["is_dark_issue"].sum()) == 1
    # the JSON keeps a missing value for a failed row: checked for nothing
    import json

    rows = json.loads((out / "results.json").read_text())["images"]
    assert all(r["is_dark_issue"] is None for r in rows if r["status"] == "failed")
    assert sum(r["is_dark_issue"] is True for r in rows) == 1


def test_csv_ready_only_fills_failed_rows_yes_no_cells() -> None:
    from dataeval_gpu.audit.report import csv_ready

    df = pd.DataFrame({
        "status": ["ok", "failed", "ok", "ok"],
        "is_x_issue": pd.array([True, None, False, False], dtype="boolean"),
        "cluster_outliers": pd.array([True, None, None, False], dtype="boolean"),  # row 2: not clustered
        "w": pd.array([3, None, 5, 6], dtype="Int64"),
        "m": [0.5, np.nan, 1.0, 2.0],
    })  # fmt: skip
    got = csv_ready(df)
    assert got["is_x_issue"].tolist() == [True, False, False, False] and got["is_x_issue"].dtype == bool
    assert got["cluster_outliers"].isna().tolist() == [False, False, True, False]  # measured, not clustered
    assert got["cluster_outliers"].tolist()[:2] == [True, False]
    assert got["w"].isna().tolist() == [False, True, False, False] and str(got["w"].dtype) == "Int64"
    assert got["m"].isna().tolist() == [False, True, False, False]
    assert df["is_x_issue"].isna().tolist() == [False, True, False, False]  # the input left as it was


def test_files_shown_by_their_path_in_the_scanned_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The report's Failed, Linter and quality tables and the printout's failed, flagged and
    quality lines gave each file's absolute path (cut to its last 40 characters in the printout),
    the duplicate tables and lines its path inside the scanned folder: all do now."""
    d = _mixed_folder(tmp_path)
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--workers", "0", "--no-progress"], capsys)
    assert status == 0, err
    page = html.unescape((out / "report.html").read_text())

    def cells(section: str, table: str) -> list[str]:
        part = page[page.index(f'id="{section}"'):]
        part = part[part.index(table):]
        return re.findall(r"<td[^>]*>([^<]*)</td>", part[: part.index("</table>")])

    failed = cells("failed", "<table")
    assert "b/deep/cut.png" in failed and "b/deep/empty.png" in failed, failed
    assert "b/im4.png" in cells("quality", 'id="table-quality"')  # the dark one
    flagged = cells("linter", 'id="table-flagged"')
    assert [c for c in flagged if c.endswith(".png")] and all(not c.startswith("/") for c in flagged)
    assert str(tmp_path) not in page[page.index('id="summary"'):page.index('id="settings"')]
    lines = printed[printed.index("failed (2):"):].splitlines()[1:3]
    assert [line.split()[1] for line in lines] == ["b/deep/cut.png:", "b/deep/empty.png:"], lines
    quality = printed[printed.index("\nquality issues ("):].lstrip().split("\n\n")[0].splitlines()[1:]
    assert [q.split()[1] for q in quality if "dark:" in q] == ["b/im4.png"], quality
    assert all(q.split()[1].startswith(("a/", "b/")) for q in quality), quality
    flagged_lines = printed[printed.index("\nflagged by the linter"):].lstrip().splitlines()[1:]
    assert flagged_lines[0].split()[1].startswith(("a/", "b/")), flagged_lines
    assert str(tmp_path) not in printed[: printed.rindex("results in")]


def test_shown_paths_of_a_list_mixing_absolute_and_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file list of relative and absolute paths: no common folder was found and each file was
    shown by its name alone (``missing.png`` for ``mix/odd/missing.png``, ambiguous beside
    ``mix/walls/missing.png``); the folder of them all is used now."""
    from dataeval_gpu.report.tables import inside_folder

    monkeypatch.chdir(tmp_path)
    for sub in ("odd", "walls"):
        (tmp_path / "mix" / sub).mkdir(parents=True)
        (tmp_path / "mix" / sub / "a.png").write_bytes(b"")
    paths = {0: "mix/odd/a.png", 1: str(tmp_path / "mix" / "walls" / "a.png"), 2: "mix/odd/missing.png"}
    # the missing relative path is shown as the list gives it (newuser6: not resolved against the cwd)
    assert inside_folder(paths) == {0: "odd/a.png", 1: "walls/a.png", 2: "mix/odd/missing.png"}
    assert inside_folder(paths, only=[2]) == {2: "mix/odd/missing.png"}
    assert inside_folder({0: "x/a.png", 1: "x/b/c.png"}) == {0: "a.png", 1: "b/c.png"}  # as before
    assert inside_folder({0: "/d/a.png"}) == {0: "a.png"}


def test_metadata_files_beside_the_images_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder's .txt / .json / .csv files were left out without a word (tuxpaint's 952 stamp
    descriptions): the files found did not add up to results.csv plus skipped.txt.  They are
    still not scanned, but counted in the printout's last lines and config.json."""
    import json

    from dataeval_gpu.discovery import find_inputs

    d = _mixed_folder(tmp_path)
    (d / "notes.txt").write_text("x")
    (d / "a" / "labels.csv").write_text("x")
    (d / "b" / "deep" / "info.json").write_text("{}")
    (d / "b" / "font.ttf").write_bytes(b"\x00\x01\x00\x00" + bytes(60))
    found = find_inputs(d)
    assert len(found.files) == 8 and [Path(p).name for p in found.skipped] == ["font.ttf"]
    assert sorted(Path(p).name for p in found.metadata) == ["info.json", "labels.csv", "notes.txt"]
    assert found.metadata_summary().startswith("3 files (") and ".csv 1" in found.metadata_summary()
    out = tmp_path / "out"
    status, printed, err = run(["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    assert "not scanned: metadata beside the images, 3 files (" in printed, printed[-600:]
    assert json.loads((out / "config.json").read_text())["metadata_not_scanned"] == found.metadata_summary()
    # a folder without metadata: no such line, no such setting
    for f in ("notes.txt", "a/labels.csv", "b/deep/info.json"):
        (d / f).unlink()
    status, printed, _ = run(["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0"], capsys)
    assert status == 0 and "not scanned: metadata" not in printed
    assert "metadata_not_scanned" not in json.loads((out / "config.json").read_text())


def test_limit_says_how_many_inputs_were_left(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--limit 3`` on a folder of 8 inputs printed "3 images" and nothing of the other 5: the
    scan read as the whole folder.  A last line and config.json's ``inputs_found`` say it now."""
    import json

    d = _mixed_folder(tmp_path)
    out = tmp_path / "out"
    argv = ["scan", str(d), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0", "--limit", "3"]
    status, printed, err = run(argv, capsys)
    assert status == 0, err
    assert "\nnot scanned: 5 more inputs past --limit 3 (8 found)\n" in printed, printed[-400:]
    assert json.loads((out / "config.json").read_text())["inputs_found"] == 8
    assert len(pd.read_csv(out / "results.csv")) == 3
    status, printed, _ = run(argv[:-1] + ["8"], capsys)  # a limit that leaves nothing out: no line
    assert status == 0 and "past --limit" not in printed
    assert "inputs_found" not in json.loads((out / "config.json").read_text())


def test_cluster_outliers_named_in_the_printout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With ``--embeddings`` the printout counted the Clusterer's outliers ("cluster outliers: 1
    potential: 0") but named none (the Linter's flags, quality issues and duplicates are named):
    they are listed now, each by its path in the scanned folder, as findings.json has them."""
    import json

    from PIL import Image

    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / "sub" / f"{k}.png")
    emb = rng.normal(size=(8, 4))
    emb[5] += 40.0  # far from the rest
    np.save(tmp_path / "e.npy", emb)
    out = tmp_path / "o"
    argv = ["scan", str(d), "--out", str(out), "--no-progress", "--no-plots", "--workers", "0"]
    status, printed, err = run([*argv, "--embeddings", str(tmp_path / "e.npy")], capsys)
    assert status == 0, err
    clusters = json.loads((out / "findings.json").read_text())["clusters"]
    assert 5 in clusters["outliers"] + clusters["potential_outliers"]
    for key, title in (("outliers", "cluster outliers"), ("potential_outliers", "cluster potential outliers")):
        members = clusters[key]
        if not members:
            assert f"\n{title} (" not in printed
            continue
        block = printed[printed.index(f"\n{title} ("):].lstrip().split("\n\n")[0].splitlines()
        assert block[0] == f"{title} ({len(members)} image{'s' if len(members) != 1 else ''}):"
        assert [ln.split() for ln in block[1:]] == [[str(i), f"{i}.png"] for i in members]


def test_against_section_shows_new_files_in_the_scanned_folder(tmp_path: Path) -> None:
    """The report's "Against the index" tables gave each new image's absolute path; now its path
    in the scanned folder, as the other tables (the indexed partner keeps its path in full)."""
    import torch

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.report import write_report

    audit = DataAudit()
    g = torch.Generator().manual_seed(0)
    audit.update(torch.randint(0, 256, (3, 3, 24, 24), dtype=torch.uint8, generator=g), indices=[0, 1, 2])
    report = audit.compute()
    report.paths = {0: "/d/new/a.png", 1: "/d/new/sub/b.png", 2: "/d/new/c.png"}
    report.against = {
        "index": "photos.idx",
        "indexed_images": 80,
        "radius": 4,
        "matches": [{"image": 1, "partner": 7, "partner_path": "/p/photos/p7.jpg", "methods": ["near"],
                     "hamming": 2, "view": None, "cosine": None}],  # fmt: skip
        "outliers": {0: {"brightness": 0.01234}},
        "quality": {2: {"issues": ["dark"], "why": ["dark: score 0.9 > threshold 0.78"]}},
    }
    page = html.unescape(write_report(report, tmp_path / "out").read_text())
    section = page[page.index('id="against"'):]
    section = section[: section.index("</section>")]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", section)
    assert {"sub/b.png", "a.png", "c.png", "/p/photos/p7.jpg"} <= set(cells), cells
    assert "/d/new" not in section
