"""An index of files without labels gives the report a fresh scan gives: no ``label`` column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dataeval_gpu.audit import scan_files
from dataeval_gpu.index import DatasetIndex, update_index
from dataeval_gpu.io import discover

from .test_index import make_folder


def test_a_flat_folder_index_has_no_labels_and_a_class_tree_keeps_them(tmp_path: Path) -> None:
    """The index stores -1 for "no label" and fed it back as a label: a scan with ``--index`` of
    a flat folder wrote ``label`` -1 in every row where the same scan without ``--index`` has no
    label column."""
    flat = tmp_path / "flat"
    flat.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(flat / f"{k}.png")
    kw = {"workers": 0, "progress": False}
    for folder, want in ((flat, None), (make_folder(tmp_path / "tree", range(4)), [0, 0, 1, 1])):
        files, labels, names = discover(folder)
        fresh = scan_files(files, labels, class_names=names, **kw).to_pandas()
        indexed = update_index(tmp_path / f"{folder.name}.idx", files, labels, class_names=names, **kw).to_pandas()
        reopened = DatasetIndex(tmp_path / f"{folder.name}.idx").report().to_pandas()
        for table in (fresh, indexed, reopened):
            assert (table["label"].tolist() if "label" in table.columns else None) == want
