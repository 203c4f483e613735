"""The HTML report says why each image was flagged: the Linter's range per metric (an image is
flagged when its value lies outside it, checked here against the Linter's own flags and a
hand-computed case), each flagged value with the side of the range it lies on, and the
quality issues' reasons shown whole (they were cut at 90 characters, losing their figures)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.detectors import Linter
from dataeval_gpu.report.linter_ranges import (
    LINTER_DEFAULT_THRESHOLDS,
    flag_reason,
    linter_ranges,
    ranges_table,
)


def test_modzscore_range_by_hand() -> None:
    v = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 100])
    # median 5.5; |v - 5.5| = 4.5 3.5 2.5 1.5 .5 .5 1.5 2.5 3.5 94.5 -> MAD 2.5
    low, high = linter_ranges({"m": v}, ["m"])["m"]
    half = 3.5 * 2.5 / 0.6745
    assert low == pytest.approx(5.5 - half, rel=1e-12) and high == pytest.approx(5.5 + half, rel=1e-12)
    assert Linter().evaluate_stats({"m": v}).issues == {9: {"m": 100.0}}
    assert flag_reason(100.0, (low, high)) == f"> {high}" and flag_reason(5.0, (low, high)) == ""


def test_zscore_and_iqr_ranges_by_hand() -> None:
    v = np.array([0.0, 0, 0, 0, 10])
    low, high = linter_ranges({"m": v}, ["m"], "zscore", 1.0)["m"]
    assert (low, high) == pytest.approx((2 - 4, 2 + 4))  # mean 2, population std 4
    low, high = linter_ranges({"m": np.arange(1.0, 10)}, ["m"], "iqr")["m"]
    assert (low, high) == pytest.approx((3 - 1.5 * 4, 7 + 1.5 * 4))  # midpoint quartiles 3 and 7


@pytest.mark.parametrize("method", sorted(LINTER_DEFAULT_THRESHOLDS))
@pytest.mark.parametrize("threshold", [None, 2.0])
def test_ranges_give_the_linters_flags(method: str, threshold: float | None) -> None:
    rng = np.random.default_rng(3)
    stats = {
        "a": np.concatenate([rng.normal(0.5, 0.05, 200), [0.0, 0.99, 0.9]]),
        "b": np.concatenate([rng.lognormal(3, 0.4, 200), [400.0, 1.0, 2.0]]),
        "c": np.concatenate([np.full(150, 7.0), rng.normal(7, 1, 50), [30.0, -5.0, 7.0]]),  # MAD may be small
        "flat": np.full(203, 2.0),  # no spread: not linted, no range
    }
    issues = Linter(outlier_method=method, outlier_threshold=threshold).evaluate_stats(stats).issues  # type: ignore[arg-type]
    ranges = linter_ranges(stats, list(stats), method, threshold)
    assert "flat" not in ranges and set(ranges) == {"a", "b", "c"}
    for name, (low, high) in ranges.items():
        outside = {int(i) for i in np.flatnonzero((stats[name] < low) | (stats[name] > high))}
        assert outside == {i for i, m in issues.items() if name in m}, name
        assert outside  # each metric has flags to compare
    table = ranges_table(ranges, {i: {k: float(stats[k][i]) for k in m} for i, m in issues.items()})
    for name, row in table.iterrows():
        assert row["flagged below"] + row["flagged above"] == sum(1 for m in issues.values() if name in m)


def _cells(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


def test_report_shows_why_each_image_was_flagged(tmp_path: Path) -> None:
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.report import write_report

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    images = []
    for k in range(24):  # smooth, mid-grey gradients that differ a little
        base = 90 + 2 * k + 0.8 * xx + 0.3 * yy
        images.append(np.clip(np.stack([base, base + 5, base - 5]), 0, 255).astype(np.uint8))
    images.append(np.zeros((3, 48, 64), np.uint8))  # 24: black
    images.append(rng.integers(0, 256, (3, 48, 64), dtype=np.uint8))  # 25: uniform noise
    audit = DataAudit(device="cpu")
    audit.update(images)
    report = audit.compute()
    assert 24 in report.issues and 25 in report.quality["why"]
    page = Path(write_report(report, tmp_path / "out")).read_text(encoding="utf-8")

    ranges = {row[0]: row for row in _cells(page, "table-linter-ranges")[1:]}
    assert "brightness" in ranges
    low = float(ranges["brightness"][2])
    flagged = {int(row[0]): row[-1] for row in _cells(page, "table-flagged")[1:]}
    assert re.search(r"brightness=0 \(< ([0-9.]+)\)", flagged[24])
    assert float(re.search(r"brightness=0 \(< ([0-9.]+)\)", flagged[24]).group(1)) == pytest.approx(low, rel=1e-3)
    for i, text in flagged.items():  # every flagged value says which side of its range it lies on
        for part in text.split("), "):
            assert re.search(r"=\S+ \([<>] ", part), (i, part)

    why = [row for row in _cells(page, "table-quality")[1:] if row[0] == "25" and row[2] == "noisy"]
    assert why and len(why[0][-1]) > 90 and not why[0][-1].endswith("…")
    assert why[0][-1] == report.quality["why"][25][[r.split(":")[0] for r in report.quality["why"][25]].index("noisy")]


def test_reference_ranges_give_evaluate_against_flags() -> None:
    """The ranges the --against printout shows are those of ``Linter.evaluate_against`` (the
    index's reference figures): every flagged value lies outside, every other one inside."""
    from dataeval_gpu.detectors.linter import reference_summary
    from dataeval_gpu.report.linter_ranges import reference_ranges

    rng = np.random.default_rng(5)
    indexed = {"a": rng.normal(0.5, 0.1, 300), "b": rng.lognormal(2, 0.5, 300), "flat": np.ones(300)}
    reference = {k: reference_summary(v) for k, v in indexed.items()}
    new = {"a": np.linspace(-0.2, 1.2, 57), "b": np.linspace(0.0, 60.0, 57), "flat": np.linspace(0, 2, 57)}
    for method in sorted(LINTER_DEFAULT_THRESHOLDS):
        issues = Linter(outlier_method=method).evaluate_against(new, reference).issues  # type: ignore[arg-type]
        ranges = reference_ranges(reference, method)
        assert set(ranges) == {"a", "b"}  # no spread in the reference: not linted
        for name, (low, high) in ranges.items():
            outside = {int(i) for i in np.flatnonzero((new[name] < low) | (new[name] > high))}
            assert outside and outside == {i for i, m in issues.items() if name in m}, (method, name)


def test_against_printout_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import PIL.Image as PIL

    from dataeval_gpu.cli import main

    (tmp_path / "indexed").mkdir()
    (tmp_path / "new").mkdir()
    rng = np.random.default_rng(2)
    for s in range(20):
        level = 110 + 2 * s
        PIL.fromarray(np.clip(rng.normal(level, 30, (40, 48)), 0, 255).astype(np.uint8)).save(tmp_path / "indexed" / f"i{s}.png")
    PIL.fromarray(np.clip(rng.normal(10, 3, (40, 48)), 0, 255).astype(np.uint8)).save(tmp_path / "new" / "dark.png")
    common = ["--workers", "0", "--no-plots", "--no-progress"]
    assert main(["scan", str(tmp_path / "indexed"), "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o1"), *common]) == 0
    capsys.readouterr()
    assert main(["scan", str(tmp_path / "new"), "--against", str(tmp_path / "idx"), "--out", str(tmp_path / "o2"), *common]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("outliers of the index"))
    line = lines[head + 1]
    assert line.startswith("  0:dark.png: ") and re.search(r"brightness=0\.0\d+ \(< 0\.\d+\)", line), line
