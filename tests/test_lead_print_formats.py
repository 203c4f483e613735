"""The printout's "... and N more (see ...)" lines name the files the scan wrote: with
``--formats json`` there is no results.csv or quality_issues.csv to look in (results.json and
findings.json hold them)."""

from __future__ import annotations

from types import SimpleNamespace

from dataeval_gpu.cli_print import failed_lines, flagged_lines, see_files


def _report(n_failed: int = 0, n_quality: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        failed={i: "ValueError: unsupported format: SVG" for i in range(n_failed)},
        paths={i: f"f{i}.svg" for i in range(max(n_failed, n_quality))},
        issues={},
        quality={"why": {i: ["dark: score 1 > threshold 0.78"] for i in range(n_quality)}},
    )


def test_see_files_follows_what_was_written() -> None:
    assert see_files({"json": "o/results.json"}, "results", "status failed in ") == (
        "findings.json; status failed in results.json"
    )
    assert see_files({"json": "o/results.json"}, "quality_issues") == "findings.json"
    assert see_files({"results": "o/results.csv", "parquet": "o/results.parquet"}, "results") == (
        "findings.json; results.csv or results.parquet"
    )
    assert see_files({"quality_parquet": "o/quality_issues.parquet"}, "quality_issues") == (
        "findings.json; quality_issues.parquet"
    )
    assert see_files(None, "results", "in ", "results.csv") == "findings.json; in results.csv"
    assert see_files({"results": "o/results.csv", "json": "o/results.json"}, "results") == (
        "findings.json; results.csv"
    )


def test_overflow_lines_with_json_only() -> None:
    json_only = {"json": "o/results.json", "findings": "o/findings.json"}
    failed = failed_lines(_report(n_failed=20), written=json_only)
    assert "  ... and 5 more (see findings.json; status failed in results.json)" in failed
    quality = flagged_lines(_report(n_quality=20), written=json_only)
    assert "  ... and 5 more (see findings.json)" in quality
    csv = {"results": "o/results.csv", "quality": "o/quality_issues.csv"}
    assert "  ... and 5 more (see findings.json; status failed in results.csv)" in failed_lines(
        _report(n_failed=20), written=csv
    )
    assert "  ... and 5 more (see findings.json; quality_issues.csv)" in flagged_lines(
        _report(n_quality=20), written=csv
    )
