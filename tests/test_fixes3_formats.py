"""The quality issues' table follows ``formats``: ``quality_issues.csv`` was written even with
``--formats parquet``; now ``quality_issues.parquet`` is, and no CSV."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.audit import scan


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(5)
    images = [rng.integers(60, 200, (3, 32, 32), dtype=np.uint8) for _ in range(5)]
    images.append(np.zeros((3, 32, 32), np.uint8))  # dark: a quality issue
    images.append(np.full((3, 32, 32), 255, np.uint8))  # bright
    rep = scan(images, device="cpu")
    assert rep.quality.get("why"), "the test needs quality issues"
    return rep


def test_parquet_only_writes_no_csv(report, tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    written = report.save(tmp_path, formats=("parquet",))
    assert not (tmp_path / "quality_issues.csv").exists() and not (tmp_path / "results.csv").exists()
    table = pd.read_parquet(tmp_path / "quality_issues.parquet")
    expected = report.quality_table()
    pd.testing.assert_frame_equal(table, expected)
    assert written["quality_parquet"] == str(tmp_path / "quality_issues.parquet") and "quality" not in written
    n = sum(len(r) for r in report.quality["why"].values())
    assert len(table) == n and set(table["index"]) == set(report.quality["why"])


def test_csv_and_parquet_write_both(report, tmp_path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    written = report.save(tmp_path, formats=("csv", "parquet"))
    csv = pd.read_csv(tmp_path / "quality_issues.csv")
    par = pd.read_parquet(tmp_path / "quality_issues.parquet")
    assert csv["why"].tolist() == par["why"].tolist() and csv["index"].tolist() == par["index"].tolist()
    np.testing.assert_allclose(csv["score"].to_numpy(), par["score"].to_numpy(), rtol=1e-12)
    assert {"quality", "quality_parquet"} <= set(written)


def test_json_only_writes_no_table(report, tmp_path) -> None:
    import json

    report.save(tmp_path, formats=("json",))
    assert not list(tmp_path.glob("quality_issues.*"))
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert {int(k) for k in findings["quality"]} == set(report.quality["why"])  # the issues are there
