"""The report's one-image-per-class figure left out a class whose every file failed to load
without a word; the class is now named beneath the figure with how many of its images failed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image as PIL

from dataeval_gpu.audit import scan_files
from dataeval_gpu.io import discover
from dataeval_gpu.report import write_report
from dataeval_gpu.report.grids import class_samples_left_out


def test_left_out_wording() -> None:
    where = {"a": [0, 1], "b": [2, 3, 4], "c": [5], "d": []}
    assert class_samples_left_out(where, {3: "x", 4: "y", 5: "z"}) == (
        "Not in the grid: c (its image failed to load), d (no image)."
    )
    assert class_samples_left_out(where, [2, 3, 4, 5]) == (
        "Not in the grid: b (all 3 images failed to load), c (its image failed to load), d (no image)."
    )
    assert class_samples_left_out({"a": [0]}, {}) == ""


def test_report_names_the_class_whose_images_all_failed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for cls, good, bad in (("a", 2, 0), ("b", 1, 3), ("cats", 0, 2)):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for k in range(good):
            PIL.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(tmp_path / "data" / cls / f"ok{k}.png")
        for k in range(bad):
            (tmp_path / "data" / cls / f"zero{k}.jpg").write_bytes(b"")
    files, labels, names = discover(tmp_path / "data")
    report = scan_files(files, labels, class_names=names, workers=0, progress=False)
    assert len(report.failed) == 5
    html = write_report(report, tmp_path / "out", images=lambda i: np.full((3, 24, 24), 128, np.uint8)).read_text()
    assert "Not in the grid: cats (all 2 images failed to load)." in html
    assert "Not in the grid: a" not in html and "b (" not in html.split("Not in the grid:")[1].split("</p>")[0]
