"""The text summary (the CLI's printout): the metric table's name column fits the longest
metric name, and a run without hashes says the duplicates were not searched (printout,
summary.json / findings.json, report.html) instead of counting 0 groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit import AuditReport
from dataeval_gpu.cli import main
from dataeval_gpu.functional import registry


def _report(**kw) -> AuditReport:
    rng = np.random.default_rng(0)
    n = 6
    stats = {k: rng.uniform(0, 1, n) for k in registry.scalar_names()}
    return AuditReport(index=np.arange(n), stats=stats, **kw)


def test_summary_table_columns_line_up_with_long_names() -> None:
    text = _report().summary()
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    table = lines[head:]
    names = [line.split()[0] for line in table[1:]]
    assert "coarse_sharpness" in names and len(names) == len(registry.scalar_names())
    # the header's and every row's columns end at the same places (right-aligned numbers)
    assert len({len(line) for line in table}) == 1, table
    width = len(max(names, key=len))
    for line, name in zip(table[1:], names):
        assert line[:width] == name.ljust(width) and line[width] == " ", line
        assert len(line.split()) == 5, line  # name, min, median, max, flagged: none run together


def test_no_hashes_summary_says_not_searched() -> None:
    rep = _report()
    s = rep.summary_dict()
    for key in ("exact_duplicate_groups", "exact_duplicate_images", "near_duplicate_groups", "near_duplicate_images"):
        assert s[key] is None, key
    text = rep.summary()
    assert "exact and near duplicates: not searched (hashes off)" in text and "0 groups" not in text
    # searched and none found: counted
    rep.duplicates = {"exact": [], "near": [[1, 4]]}
    s = rep.summary_dict()
    assert (s["exact_duplicate_groups"], s["near_duplicate_groups"], s["near_duplicate_images"]) == (0, 1, 2)
    assert "exact duplicates: 0 groups (0 images)  near duplicates: 1 group (2 images)" in rep.summary()


def test_no_hashes_with_embedding_duplicates_html_says_not_searched(tmp_path: Path) -> None:
    """Embedding duplicates without hashes made the HTML count "0" exact and near groups."""
    from dataeval_gpu.report import write_report

    rep = _report(duplicates={"embedding": []})
    page = write_report(rep, tmp_path / "out", max_grid=0).read_text()
    assert '<div class="v" id="count-exact">not searched</div>' in page
    assert '<div class="v" id="count-near">not searched</div>' in page
    assert "Exact duplicates (identical decoded pixels" not in page
    assert rep.summary_dict()["embedding_duplicate_groups"] == 0


def test_cli_no_hashes_says_not_searched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / f"{k}.png")
    Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / "copy.png")
    (d / "copy2.png").write_bytes((d / "copy.png").read_bytes())
    out = tmp_path / "o"
    argv = ["scan", str(d), "--no-progress", "--workers", "0"]
    capsys.readouterr()
    assert main([*argv, "--out", str(out), "--no-hashes"]) == 0
    printed = capsys.readouterr().out
    assert "exact and near duplicates: not searched (hashes off)" in printed and "duplicates: 0" not in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["exact_duplicate_groups"] is None and summary["near_duplicate_groups"] is None
    assert json.loads((out / "findings.json").read_text())["duplicates"] == {}  # no count stated
    page = (out / "report.html").read_text()
    assert '<div class="v" id="count-exact">not searched</div>' in page
    # with the hashes the copy is counted
    assert main([*argv, "--out", str(tmp_path / "h"), "--no-plots"]) == 0
    assert "exact duplicates: 1 group (2 images)" in capsys.readouterr().out
    assert json.loads((tmp_path / "h" / "summary.json").read_text())["exact_duplicate_groups"] == 1
