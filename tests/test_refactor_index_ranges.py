"""The printout's ranges of the outliers against an index come from the reference figures the scan
judged them by (``report.against["reference"]``): the index is not opened a second time, so an
index replaced (or removed) between the scan and the printout does not change or lose them."""

from __future__ import annotations

import shutil
from pathlib import Path

import PIL.Image as PIL

from dataeval_gpu import cli_index
from dataeval_gpu.audit.report import format_value
from dataeval_gpu.index import DatasetIndex, scan_against, update_index
from dataeval_gpu.report.linter_ranges import flag_reason, reference_ranges

from .index.blobs import picture

KW = {"workers": 0, "progress": False}


def test_against_ranges_from_what_the_scan_read(tmp_path: Path) -> None:
    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for s in range(30):
        PIL.fromarray(picture(s, 96)).save(indexed / f"img{s:02d}.png")
    PIL.fromarray(picture(100, 96, gain=0.1)).save(new / "dark.png")
    PIL.fromarray(picture(101, 96)).save(new / "plain.png")
    idx = tmp_path / "idx"
    update_index(idx, sorted(str(p) for p in indexed.iterdir()), **KW)
    reference = DatasetIndex(idx).reference  # what the index holds when the scan runs
    report = scan_against(idx, [str(new / "dark.png"), str(new / "plain.png")], **KW)
    assert report.against["reference"] == reference
    assert report.against["outliers"] and set(report.against["outliers"]) == {0}
    shutil.rmtree(idx)  # replaced or removed after the scan: the printout still gives the reasons
    ranges = reference_ranges(reference, "modzscore", None)
    assert ranges  # the indexed pictures spread: some metric has a range
    lines = cli_index.index_lines(report)
    head = next(k for k, line in enumerate(lines) if line.startswith("outliers of the index"))
    values = report.issue_values(report.against["outliers"])[0]
    expected = ", ".join(
        f"{k}={format_value(v)}" + (f" ({why})" if (why := flag_reason(v, ranges.get(k), format_value)) else "")
        for k, v in values.items()
    )
    assert lines[head + 1] == f"  0:dark.png: {expected}"
    assert "(" in expected  # at least one metric says which side of its range it lies (was none: index gone)


def test_no_reference_no_ranges() -> None:
    """A report without the figures (e.g. made before they were kept) gives no ranges, reads nothing."""

    class R:
        config = {"outlier_method": "modzscore"}
        against = {"index": "/nowhere", "outliers": {}}

    assert cli_index._index_ranges(R()) == {}
