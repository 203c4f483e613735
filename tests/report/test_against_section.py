"""The HTML report of ``scan NEW --against IDX`` shows what the scan found against the index
(copies with their indexed partner, outliers, quality issues judged against it): before, the
page had no word of it (only findings.json, results.csv and the printed summary did)."""

from __future__ import annotations

from pathlib import Path

import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.report import write_report


def test_report_has_an_against_the_index_section(tmp_path: Path) -> None:
    audit = DataAudit()
    g = torch.Generator().manual_seed(0)
    audit.update(torch.randint(0, 256, (3, 3, 24, 24), dtype=torch.uint8, generator=g), indices=[0, 1, 2])
    report = audit.compute()
    report.paths = {0: "new/a.png", 1: "new/b.png", 2: "new/c.png"}
    report.against = {
        "index": "photos.idx",
        "indexed_images": 80,
        "radius": 4,
        "matches": [
            {"image": 1, "partner": 7, "partner_path": "photos/p7.jpg", "methods": ["near"], "hamming": 2,
             "view": "indexed crop 0.9", "cosine": None},
            {"image": 2, "partner": 9, "partner_path": "photos/p9.jpg", "methods": ["exact"], "hamming": None,
             "view": None, "cosine": None},
        ],  # fmt: skip
        "outliers": {0: {"brightness": 0.01234}},
        "quality": {2: {"issues": ["dark"], "why": ["dark: score 0.9 > threshold 0.78 (grey p99 0.1 vs ...)"]}},
    }
    html = write_report(report, tmp_path / "out").read_text()
    section = html[html.index('id="against"') :]
    assert "Against the index" in section and "photos.idx (80 indexed images" in section
    assert "2 images with a copy in it, 1 outliers of its distribution, 1 images with quality issues" in section
    for text in ("photos/p7.jpg", "indexed crop 0.9", "photos/p9.jpg", "brightness=0.01234", "dark: score 0.9"):
        assert text in section
    assert "cosine" not in section.split("Outliers of the indexed collection")[0]  # no embeddings: no column
    # a report without it has no such section
    report.against = {}
    assert 'id="against"' not in write_report(report, tmp_path / "out2").read_text()
