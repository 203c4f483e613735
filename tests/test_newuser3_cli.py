"""newuser3: what the command prints, checked on the runs a new user makes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.cli_run import run


def _last_line(stdout: str) -> str:
    return stdout.rstrip("\n").splitlines()[-1]


@pytest.mark.integration
def test_index_rerun_says_how_many_it_measured(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second ``--index`` scan measures only the new file, and its last line read
    "5 images in 1.2 s (0.9 images/s)": 5 images at under one a second, the rate being of the one
    file measured.  It now says how many it measured, and that the rest came from the index."""
    d = tmp_path / "images"
    d.mkdir()
    rng = np.random.default_rng(3)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (12 + k, 14, 3), dtype=np.uint8)).save(d / f"im{k}.png")
    argv = ["scan", str(d), "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o"),
            "--workers", "0", "--no-plots", "--no-progress"]  # fmt: skip
    status, out, _ = run(argv, capsys)
    assert status == 0
    first = _last_line(out)
    assert first.startswith("4 images in ") and " images/s) on cpu" in first and "measured" not in first, first

    Image.fromarray(rng.integers(0, 256, (20, 9, 3), dtype=np.uint8)).save(d / "new.png")
    status, out, _ = run(argv, capsys)
    assert status == 0
    last = _last_line(out)
    assert last.startswith("5 images in ") and " (1 image measured, " in last, last
    assert " images/s; the rest read from the index) on cpu" in last, last

    status, out, _ = run(argv, capsys)  # nothing new: nothing measured, no rate
    assert status == 0
    last = _last_line(out)
    assert last.startswith("5 images in ") and " s (all read from the index) on cpu" in last, last
