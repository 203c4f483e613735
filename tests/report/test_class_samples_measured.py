"""The report's "one random image per class" picks among the measured images: in a folder scan
whose class held a truncated JPEG, the grid showed that file's "could not load" tile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image as PIL

from dataeval_gpu.audit import scan_files
from dataeval_gpu.io import discover
from dataeval_gpu.report import write_report


def scan_class_tree(root: Path, last_class: str = "c"):
    """A scan of a class tree: a 2 good images, b 1 good and 3 empty JPEGs, ``last_class`` 2 empty."""
    rng = np.random.default_rng(0)
    for cls, good, bad in (("a", 2, 0), ("b", 1, 3), (last_class, 0, 2)):
        (root / "data" / cls).mkdir(parents=True)
        for k in range(good):
            PIL.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(root / "data" / cls / f"ok{k}.png")
        for k in range(bad):
            (root / "data" / cls / f"zero{k}.jpg").write_bytes(b"")
    files, labels, names = discover(root / "data")
    return scan_files(files, labels, class_names=names, workers=0, progress=False)


def test_class_samples_leave_out_failed_files(tmp_path: Path) -> None:
    report = scan_class_tree(tmp_path)
    assert len(report.failed) == 5 and report.total == 8
    shown: list[int] = []

    def get_image(i: int) -> np.ndarray:
        shown.append(int(i))
        return np.full((3, 24, 24), 128, np.uint8)

    html = write_report(report, tmp_path / "out", images=get_image).read_text()
    assert "class_samples" in html
    # one measured image of each class that has one (b's only measured file is index 2)
    assert not set(shown) & set(report.failed)
    assert 2 in shown and len({report.labels[i] for i in shown}) == 2
