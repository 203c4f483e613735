"""A folder scan says once what it skipped as not images: in the printout's last lines (a warning
on stderr too said it a second time), or with ``--quiet`` (no printout) in the warning."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu import cli


@pytest.mark.parametrize("quiet", [False, True])
def test_skipped_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture, quiet: bool
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(src / f"im{k}.png")
    (src / "table.dat").write_bytes(b"\x00\x01not an image")
    args = ["scan", str(src), "--out", str(tmp_path / "out"), "--no-progress", "--no-plots"]
    with caplog.at_level(logging.WARNING):
        assert cli.main([*args, "--quiet"] if quiet else args) == 0
    out = capsys.readouterr()
    said = "skipped 1 file (.dat 1): neither named nor encoded like an image"
    warned = [r.getMessage() for r in caplog.records if said in r.getMessage()]
    assert len(warned) == (1 if quiet else 0)
    assert out.out.count(said) == (0 if quiet else 1)
    assert (tmp_path / "out" / "skipped.txt").read_text().splitlines() == [str(src / "table.dat")]
