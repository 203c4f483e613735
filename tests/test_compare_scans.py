"""scripts/compare_scans.py counts the rows that differ: an empty cell on both sides (no error,
no Linter flag) is no difference, a value on one side only is one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_scans.py"


def _scan(folder: Path, rows: dict, dups: dict) -> Path:
    folder.mkdir()
    pd.DataFrame(rows).to_csv(folder / "results.csv", index=False)
    (folder / "findings.json").write_text(json.dumps({"duplicates": dups, "issues": {}, "quality": {}}))
    return folder


def test_counts_only_the_rows_that_differ(tmp_path):
    paths = [f"/d/{i}.jpg" for i in range(5)]
    a = _scan(
        tmp_path / "a",
        {"path": paths, "status": ["ok"] * 5, "error": [None] * 5, "lint_flags": ["size", None, None, "zero", None],
         "mean": [0.1, 0.2, 0.3, 0.4, 0.5]},
        {"exact": [[0, 4]], "near": []},
    )  # fmt: skip
    b = _scan(
        tmp_path / "b",
        {"path": paths, "status": ["ok", "ok", "failed", "ok", "ok"], "error": [None, None, "bad", None, None],
         "lint_flags": ["size", None, None, None, None], "mean": [0.1, 0.2, None, 0.4, 0.5]},
        {"exact": [[0, 4]], "near": []},
    )  # fmt: skip
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, check=False
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr  # a failed file only on one side
    assert "failed: 0 vs 1" in out
    assert "  error: 1 rows differ (text)" in out  # not 5: the 4 empty cells on both sides agree
    assert "  lint_flags: 1 rows differ (text)" in out  # not 4
    assert "  status: 1 rows differ (text)" in out
    assert "mean: max abs 0, max rel 0, rows over rtol 0, finite on one side only 1" in out
    assert "exact duplicate groups: 1 vs 1, common 1" in out


def test_a_column_measured_on_one_side_only_is_listed(tmp_path):
    paths = ["/d/0.jpg", "/d/1.jpg"]
    a = _scan(tmp_path / "a", {"path": paths, "noise": [None, None]}, {"exact": [], "near": []})
    b = _scan(tmp_path / "b", {"path": paths, "noise": [1.5, None]}, {"exact": [], "near": []})
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, check=True
    ).stdout
    assert "columns that differ: 1 of 1" in out
    assert "  noise: finite on one side only 1" in out


def test_a_column_on_one_side_only_is_a_difference_not_a_crash(tmp_path):
    """A torchrun scan wrote no decoder_note column where the command's scan had one: the script
    stopped with KeyError: 'decoder_note'.  It names the column and compares the rest."""
    paths = ["/d/0.png", "/d/1.png"]
    a = _scan(
        tmp_path / "a",
        {"path": paths, "status": ["ok"] * 2, "decoder_note": ["", "libpng warning: iCCP: duplicate"], "mean": [0.1, 0.2]},
        {"exact": [], "near": []},
    )  # fmt: skip
    b = _scan(
        tmp_path / "b",
        {"path": paths, "status": ["ok"] * 2, "mean": [0.1, 0.25], "noise": [1.0, 2.0]},
        {"exact": [], "near": []},
    )  # fmt: skip
    run = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "columns that differ: 3 of 4" in lines
    assert "  decoder_note: a column of A only" in lines and "  noise: a column of B only" in lines
    assert any(line.startswith("  mean: max abs 0.05") for line in lines), lines
