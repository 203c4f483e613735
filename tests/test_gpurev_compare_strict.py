"""scripts/compare_scans.py --strict-rtol (what scripts/gpu_check.sh runs on the CUDA and CPU
scans): metric differences past the tolerance make it exit 1 with a MISMATCH line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "compare_scans.py"


def _scan(folder: Path, mean: list[float]) -> Path:
    folder.mkdir()
    paths = [f"/d/{i}.jpg" for i in range(len(mean))]
    pd.DataFrame({"path": paths, "status": ["ok"] * len(mean), "mean": mean}).to_csv(folder / "results.csv", index=False)
    (folder / "findings.json").write_text(json.dumps({"duplicates": {"exact": [], "near": []}, "issues": {}, "quality": {}}))
    return folder


def _run(a: Path, b: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), *extra], capture_output=True, text=True, check=False)


def test_strict_tolerance_fails_on_metric_differences(tmp_path):
    a = _scan(tmp_path / "a", [0.1, 0.2, 0.3, 0.4])
    near = _scan(tmp_path / "near", [0.1, 0.2, 0.3, 0.4 * (1 + 1e-6)])  # float32 rounding
    far = _scan(tmp_path / "far", [0.1, 0.2, 0.35, 0.4])
    assert _run(a, far).returncode == 0  # without --strict-rtol only rows / files / exact groups count
    ok = _run(a, near, "--strict-rtol", "1e-3")
    assert ok.returncode == 0, ok.stdout
    bad = _run(a, far, "--strict-rtol", "1e-3")
    assert bad.returncode == 1, bad.stdout
    assert "MISMATCH: 1 columns past --strict-rtol: mean (1 rows past 0.001, 0 finite on one side only)" in bad.stdout
    # one row in 4 is within a 30% share of allowed rows
    assert _run(a, far, "--strict-rtol", "1e-3", "--strict-share", "0.3").returncode == 0
