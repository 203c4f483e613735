"""newuser11's pass (2026-12-07): the README's DataLoader loop over an ImageFolder class tree with
``IndexedDataset(..., on_error="mark")`` gave a failed item (a truncated JPEG: its label is
unknown, the item raised) and the class labels became floats: ``label`` ``0.0`` / ``1.0`` in
``results.csv`` and ``float64`` in ``report.to_pandas()``, where docs/usage.md promises whole
numbers (pandas' nullable ``Int64`` when an input failed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from torch.utils.data import DataLoader

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.distributed import IndexedDataset


class _Items:
    """Five grey 12 x 12 images of classes 0, 0, 1, 1, 2; item 2 raises as a truncated file does."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        if i == 2:
            raise OSError("image file is truncated")
        return np.full((1, 12, 12), 40 * i, np.uint8), [0, 0, 1, 1, 2][i]


def _report() -> object:
    loader = DataLoader(IndexedDataset(_Items(), on_error="mark"), batch_size=2, collate_fn=ragged_collate)
    audit = DataAudit(device="cpu")
    for images, labels, indices in loader:
        audit.update(images, indices=indices, labels=labels)
    return audit.compute()


def test_whole_number_labels_stay_whole_when_an_item_failed(tmp_path: Path) -> None:
    report = _report()
    assert list(report.failed) == [2]
    df = report.to_pandas()
    assert str(df["label"].dtype) == "Int64"
    assert df["label"].tolist()[:2] + df["label"].tolist()[3:] == [0, 0, 1, 2]
    assert df["label"].isna().tolist() == [False, False, True, False, False]
    report.save(tmp_path / "out", formats=("csv", "json"))
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("label")
    assert [line.split(",")[col] for line in lines[1:]] == ["0", "0", "", "1", "2"]
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["images"]
    assert [r["label"] for r in rows] == [0, 0, None, 1, 2]


def test_text_labels_and_complete_labels_keep_their_type() -> None:
    """Only whole-number classes with a gap change: every label known stays int64, text stays text."""
    audit = DataAudit(device="cpu")
    audit.update([np.full((1, 9, 9), 10 * k, np.uint8) for k in range(3)], indices=[0, 1, 2], labels=[3, 1, 3])
    assert str(audit.compute().to_pandas()["label"].dtype) == "int64"
    audit = DataAudit(device="cpu")
    audit.update([np.full((1, 9, 9), 10 * k, np.uint8) for k in range(2)], indices=[0, 1], labels=["cat", "dog"])
    labels = audit.compute().to_pandas()["label"]
    assert labels.tolist() == ["cat", "dog"] and not pd.api.types.is_numeric_dtype(labels)


def test_long_axis_labels_wrap_inside_their_panel() -> None:
    """The report's histograms: motion_cross's 99-character x-axis label ran over its two
    neighbours' (and past the page's right edge); a label longer than a panel's ~55 characters
    is two lines now, each line of the SVG one <text> under its own panel."""
    import html
    import re

    from dataeval_gpu.report.histograms import axis_label, axis_label_lines
    from dataeval_gpu.report.svgcharts import metric_histograms_svg

    full = axis_label("motion_cross")
    assert len(full) > 90
    lines = axis_label_lines("motion_cross")
    assert len(lines) == 2 and " ".join(lines) == full and max(map(len, lines)) <= 58
    assert axis_label_lines("brightness") == [axis_label("brightness")]
    rng = np.random.default_rng(0)
    svg = metric_histograms_svg({"brightness": rng.random(9), "motion_cross": rng.random(9)}, ncols=2)
    texts = re.findall(r'<text x="([0-9.]+)" y="([0-9.]+)" font-size="([0-9.]+)"[^>]*>([^<]*)</text>', svg)
    by_text = {html.unescape(t): (float(x), float(y), float(size)) for x, y, size, t in texts}
    assert by_text[lines[0]][2] == by_text[lines[1]][2] == 11.5
    assert by_text[lines[1]][1] - by_text[lines[0]][1] == 13.5  # one under the other
    assert by_text[lines[0]][0] == by_text[lines[1]][0] > 420  # the second panel (cells 420 px wide)
    # ~6.3 px a character at 11.5 px: the longer line stays inside its 420-px cell
    assert by_text[lines[0]][0] + 6.3 * max(map(len, lines)) / 2 < 2 * 420
    assert by_text[axis_label("brightness")][2] == 12.5
