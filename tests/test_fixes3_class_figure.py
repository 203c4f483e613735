"""The report's one-image-per-class figure left out a class whose every file failed to load
without a word; the class is now named beneath the figure with how many of its images failed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataeval_gpu.report import write_report
from dataeval_gpu.report.grids import class_samples_left_out
from tests.report.test_class_samples_measured import scan_class_tree


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
    report = scan_class_tree(tmp_path, last_class="cats")
    assert len(report.failed) == 5
    html = write_report(report, tmp_path / "out", images=lambda i: np.full((3, 24, 24), 128, np.uint8)).read_text()
    assert "Not in the grid: cats (all 2 images failed to load)." in html
    assert "Not in the grid: a" not in html and "b (" not in html.split("Not in the grid:")[1].split("</p>")[0]
