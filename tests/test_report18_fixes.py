"""report18: output a user can read without looking indices up.

1. The report's image grids (flagged images, duplicate groups) name each thumbnail's file (cut in
   the middle when long), with its path and index as the cell's tooltip, escaped for HTML.
2. The printout after a scan shows the few metrics that flagged images; ``-v`` / ``--verbose`` all.
3. ``results.csv`` / ``.json`` / ``.parquet`` carry ``label_name`` beside ``label`` for a class tree.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dataeval_gpu.audit import AuditReport, scan
from dataeval_gpu.audit.report import SUMMARY_KEYS as IMAGE_KEYS
from dataeval_gpu.audit.table import label_names
from dataeval_gpu.report import write_report
from dataeval_gpu.report.grids import GridSpec, file_cells, flagged_metric_spec, middle_text
from dataeval_gpu.report.pilgrid import cell_boxes, render_grid

from .cli_run import run


# ----------------------------------------------------------------------------- 1. file names in the grids
def test_middle_text_keeps_both_ends() -> None:
    assert middle_text("abcdefghijklmnopqrstuvwxyz.jpg", 11) == "abcde…z.jpg"  # 5 + 1 + 5 characters
    assert middle_text("abcdefghijklmnopqrstuvwxyz.jpg", 12) == "abcde…yz.jpg"
    assert middle_text("short.png", 11) == "short.png"
    assert len(middle_text("x" * 100, 22)) == 22


def test_file_cells_name_line_and_tooltip() -> None:
    names = {3: "sub/dir/IMG_20190412_173502_HDR_final.jpg", 4: "b.png"}
    lines, tips = file_cells([3, 4, 5], names, 18)
    assert lines == {3: "IMG_2019…final.jpg", 4: "b.png"}  # the name alone, no folders; 5: no path
    assert tips == {3: "#3 · sub/dir/IMG_20190412_173502_HDR_final.jpg", 4: "#4 · b.png"}


def test_flagged_grid_titles_name_the_files() -> None:
    issues = {7: {"zero": 2.5}, 2: {"zero": 3.0}, 9: {"width": 1.0}}
    names = {7: "a/seven.png", 2: "b/two_with_a_rather_long_file_name_here.png", 9: "c/nine.png"}
    before = flagged_metric_spec(issues, "zero")  # no names: as before, "#index" and the value
    assert [c[1] for c in before.rows[0]] == ["#7\nzero = 2.5", "#2\nzero = 3"] and not before.tips
    spec = flagged_metric_spec(issues, "zero", names=names)
    assert [c[1] for c in spec.rows[0]] == ["#7\nseven.png\nzero = 2.5", "#2\ntwo_with_a_ra…_name_here.png\nzero = 3"]
    assert spec.tips == {7: "#7 · a/seven.png", 2: "#2 · b/two_with_a_rather_long_file_name_here.png"}


def test_cell_boxes_match_the_drawn_grid(tmp_path: Path) -> None:
    """Two 230 x 280 px cells under the 55-px title band, on a 460-px canvas: hand-computed
    percentages, and the drawn JPEG has that size."""
    spec = GridSpec([[(4, "#4"), (8, "#8")]], "title", (2.3, 2.8))
    boxes = cell_boxes(spec)
    assert boxes == [
        (4, 0.0, pytest.approx(100 * 55 / 335), 50.0, pytest.approx(100 * 280 / 335)),
        (8, 50.0, pytest.approx(100 * 55 / 335), 50.0, pytest.approx(100 * 280 / 335)),
    ]
    out = render_grid(spec, lambda i: np.zeros((3, 8, 8), np.uint8), tmp_path / "g.jpg")
    with Image.open(out) as im:
        assert im.size == (460, 335)
    one = cell_boxes(GridSpec([[(1, "#1")]], "t", (2.3, 2.8)))  # one cell centred on the 400-px minimum
    assert one == [(1, pytest.approx(100 * 85 / 400), pytest.approx(100 * 55 / 335), 57.5, pytest.approx(100 * 280 / 335))]


ODD = 'we"ird <b>&amp; name.png'  # quotes, a tag, an entity: must reach the page escaped


@pytest.fixture(scope="module")
def odd_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AuditReport, str]:
    root = tmp_path_factory.mktemp("odd")
    (root / "d").mkdir()
    rng = np.random.default_rng(0)
    files = []
    for k in range(6):
        arr = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        p = root / "d" / (ODD if k == 1 else f"im{k}.png")
        Image.fromarray(arr).save(p, format="PNG")
        files.append(str(p))
    Image.fromarray(np.asarray(Image.open(files[1]))).save(root / "d" / "copy.png")  # an exact copy of the odd one
    files.append(str(root / "d" / "copy.png"))
    imgs = [np.asarray(Image.open(f)).transpose(2, 0, 1) for f in files]
    rep = scan(imgs)
    rep.paths = dict(enumerate(files))
    rep.issues = {1: {"brightness": 0.5}, 3: {"brightness": 0.7}}
    page = write_report(rep, root / "out", max_grid=4).read_text(encoding="utf-8")
    return root, rep, page


def test_report_grids_have_escaped_file_tooltips(odd_report) -> None:
    root, rep, page = odd_report
    assert "<b>&amp; name" not in page  # the raw name never lands in the HTML
    tips = re.findall(r'<span style="left:[0-9.]+%;top:[0-9.]+%;width:[0-9.]+%;height:[0-9.]+%" title="([^"]*)"></span>', page)
    shown = [html.unescape(t) for t in tips]
    assert f"#1 · {ODD}" in shown and "#3 · im3.png" in shown  # the flagged grid: path in the scanned folder (d/)
    assert shown.count(f"#1 · {ODD}") == 2 and "#6 · copy.png" in shown  # and the exact duplicate group's strip
    assert str(root) not in page[page.index('id="summary"') : page.index('id="settings"')]  # no absolute path
    grids = page.count("data:image/jpeg;base64,")  # the flagged and quality grids, each group's strip
    assert grids >= 2 and page.count('<span class="cells"><img alt=') == grids  # every one with its tooltips


def test_report_page_size_grows_little(odd_report) -> None:
    """The tooltips add ~130 bytes a cell: a few hundred bytes on a page of tens of kB."""
    _, _, page = odd_report
    extra = sum(len(m) for m in re.findall(r'<span style="[^"]*" title="[^"]*"></span>', page))
    assert 0 < extra < 1000 and extra < 0.02 * len(page)


# ----------------------------------------------------------------------------- 2. the compact printout
def _tree(root: Path) -> Path:
    """A class tree ``cat/`` (3 colour PNGs), ``dog/`` (3), one grey among the colour ones."""
    rng = np.random.default_rng(2)
    for cls, n in (("cat", 3), ("dog", 3)):
        (root / "tree" / cls).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (20 + k, 24, 3), dtype=np.uint8)).save(root / "tree" / cls / f"{cls}{k}.png")
    return root / "tree"


def _metric_rows(out: str) -> list[str]:
    lines = out.splitlines()
    if not any(ln.startswith("metric ") for ln in lines):
        return []
    start = next(k for k, ln in enumerate(lines) if ln.startswith("metric "))
    return [ln.split()[0] for ln in lines[start + 1 :] if ln and ln.split()[0] in IMAGE_KEYS]


def test_printout_compact_by_default_full_with_verbose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path)
    status, out, _ = run(["scan", str(tree), "--out", str(tmp_path / "o1"), "--no-progress", "--formats", "csv"], capsys)
    assert status == 0, out
    summary = json.loads((tmp_path / "o1" / "summary.json").read_text())["metrics"]
    flagging = [k for k, m in summary.items() if m["flagged"]]
    rows = _metric_rows(out)
    assert len(rows) <= 5 and set(rows) == set(sorted(flagging, key=lambda k: -summary[k]["flagged"])[:5])
    assert f"of the {len(summary)} metrics flagged images; all {len(summary)} with min / median / max: --verbose" in out
    assert "next: open report.html for the flagged images and duplicate groups" in out
    assert "results.csv has a row per image" in out
    assert out.rstrip("\n").splitlines()[-1].startswith("6 images in ")  # the last line stays the counts and folder
    status, full, _ = run(["scan", str(tree), "--out", str(tmp_path / "o2"), "--no-progress", "-v"], capsys)
    assert status == 0
    assert _metric_rows(full) == list(summary)  # every metric, in the registry's order
    assert "--verbose, or summary.json" not in full


def test_summary_most_metrics_orders_by_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(6)]
    rep = scan(imgs, hashes=False)
    real = rep.summary_dict()
    metrics = real["metrics"]
    full = rep.summary()
    metric_lines = [ln for ln in full.splitlines() if ln.split() and ln.split()[0] in metrics]
    assert len(metric_lines) == len(metrics)  # as before: every metric
    counts = {"width": 1, "zero": 4, "size": 2}
    fake = {**real, "metrics": {k: {**m, "flagged": counts.get(k, 0)} for k, m in metrics.items()}}
    monkeypatch.setattr(rep, "summary_dict", lambda: fake)
    short = rep.summary(most_metrics=2).splitlines()
    head = next(k for k, ln in enumerate(short) if ln.startswith("metric "))
    assert [ln.split()[0] for ln in short[head + 1 : head + 3]] == ["zero", "size"]
    assert short[head + 3] == "... and 1 more metric that flagged images (see summary.json)"
    none = {**real, "metrics": {k: {**m, "flagged": 0} for k, m in metrics.items()}}
    monkeypatch.setattr(rep, "summary_dict", lambda: none)
    assert f"metrics: none of the {len(metrics)} flagged an image" in rep.summary(most_metrics=5)


# ----------------------------------------------------------------------------- 3. label_name
def test_label_names() -> None:
    assert label_names([1, None, -1, 0, 7, np.int64(1)], ["cat", "dog"]) == ["dog", None, None, "cat", "7", "dog"]
    assert label_names([[0, 1, 1], "bird"], ["cat", "dog"]) == ["cat-dog", "bird"]


def test_results_carry_label_name_beside_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = _tree(tmp_path)
    (tree / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a png")
    status, out, _ = run(
        ["scan", str(tree), "--out", str(tmp_path / "o"), "--no-progress", "--no-plots", "--formats", "csv,json,parquet"], capsys
    )
    assert status == 0, out
    csv = pd.read_csv(tmp_path / "o" / "results.csv")
    cols = list(csv.columns)
    assert cols[cols.index("label") + 1] == "label_name"
    folder = csv["path"].map(lambda p: Path(p).parent.name)
    assert (csv["label_name"] == folder).all(), csv[["path", "label", "label_name"]]  # the failed file's too
    assert csv.loc[csv["status"] == "failed", "path"].str.endswith("broken.png").all()
    assert list(csv["label_name"]) == [["cat", "dog"][k] for k in csv["label"]]
    parquet = pd.read_parquet(tmp_path / "o" / "results.parquet")
    assert list(parquet["label_name"]) == list(csv["label_name"])
    records = json.loads((tmp_path / "o" / "results.json").read_text())["images"]
    assert [r["label_name"] for r in records] == list(csv["label_name"])


def test_no_label_name_without_class_names(tmp_path: Path) -> None:
    rep = AuditReport(index=np.arange(2), stats={}, labels={0: 1, 1: 0})
    df = rep.to_pandas()
    assert "label" in df.columns and "label_name" not in df.columns


def test_label_name_through_the_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--index``: the class names come back from the index's manifest (a second run reads every
    row from the index); ``--against``: the new scan's own classes."""
    tree = _tree(tmp_path)
    for k in (1, 2):
        status, out, _ = run(
            ["scan", str(tree), "--index", str(tmp_path / "ix"), "--out", str(tmp_path / f"o{k}"), "--no-progress", "--no-plots"],
            capsys,
        )
        assert status == 0, out
        csv = pd.read_csv(tmp_path / f"o{k}" / "results.csv")
        assert list(csv["label_name"]) == list(csv["path"].map(lambda p: Path(p).parent.name))
    (tmp_path / "new" / "bird").mkdir(parents=True)
    Image.fromarray(np.full((20, 24, 3), 90, np.uint8)).save(tmp_path / "new" / "bird" / "b.png")
    status, out, _ = run(
        ["scan", str(tmp_path / "new"), "--against", str(tmp_path / "ix"), "--out", str(tmp_path / "o3"), "--no-progress", "--no-plots"],
        capsys,
    )
    assert status == 0, out
    assert list(pd.read_csv(tmp_path / "o3" / "results.csv")["label_name"]) == ["bird"]
