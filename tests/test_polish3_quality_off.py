"""A scan without the quality issues says so ("quality issues: not checked"), as one without
hashes says the duplicates were "not searched"; the summary line was left out before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu.audit import DataAudit
from tests.cli_run import run

NOT_CHECKED = "quality issues: not checked (quality off)"


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (3, 24 + k, 30), dtype=np.uint8) for k in range(4)]


@pytest.mark.parametrize("kw", [{"quality": False}, {"preset": "0.65"}], ids=["quality-off", "preset-0.65"])
def test_summary_says_quality_not_checked(kw: dict) -> None:
    audit = DataAudit(device="cpu", **kw)
    audit.update(_images())
    report = audit.compute()
    assert report.summary_dict()["quality_flagged_images"] is None
    lines = report.summary().splitlines()
    assert NOT_CHECKED in lines
    assert sum(line.startswith("quality issues") for line in lines) == 1


def test_summary_counts_quality_when_checked() -> None:
    audit = DataAudit(device="cpu")
    audit.update(_images())
    report = audit.compute()
    n = report.summary_dict()["quality_flagged_images"]
    assert isinstance(n, int)
    quality = [line for line in report.summary().splitlines() if line.startswith("quality issues")]
    assert len(quality) == 1 and NOT_CHECKED not in quality[0]
    assert quality[0].startswith(f"quality issues: {n} image")


@pytest.mark.integration
def test_printout_of_no_quality_and_no_hashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for k, img in enumerate(_images()):
        Image.fromarray(np.moveaxis(img, 0, -1)).save(folder / f"{k}.png")
    argv = ["scan", str(folder), "--out", str(tmp_path / "o"), "--no-plots", "--no-progress", "--workers", "0"]
    status, out, _ = run([*argv, "--no-quality", "--no-hashes"], capsys)
    assert status == 0
    assert NOT_CHECKED in out.splitlines()
    assert "exact and near duplicates: not searched (hashes off)" in out.splitlines()
