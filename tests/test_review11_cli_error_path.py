"""review11: the one-line error message escapes the control characters of the path it names
(before: ``PATH /tmp/x<ESC>[31m...`` wrote a raw escape sequence to the terminal)."""

from __future__ import annotations

import pytest


def test_error_line_escapes_an_escape_character(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.cli import main

    missing = tmp_path / "nope\x1b[31mred"
    status = main(["scan", str(missing), "--device", "cpu", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status != 0
    assert "\x1b" not in err
    assert f"PATH {tmp_path}/nope\\x1b[31mred: no such" in err
    assert err.count("\n") == 1


def test_discovery_warning_escapes_the_folder_name(tmp_path) -> None:
    """The scan's logged warnings (discovery's: a class folder with no image) name the folder
    with ``\\x1b``, not the raw escape character (run as the program runs: its own log handler)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    from PIL import Image

    root = tmp_path / "a\x1b[31mb"
    (root / "empty").mkdir(parents=True)
    (root / "cls").mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "cls" / "x.png")
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    cmd = [sys.executable, "-m", "dataeval_gpu.cli", "scan", str(root), "--device", "cpu", "--no-plots", "--quiet"]
    cmd += ["--no-hashes", "--no-quality", "--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    err = proc.stderr.decode("utf-8", "replace")
    assert f"{tmp_path}/a\\x1b[31mb: 1 class folder holds no image (empty)" in err, err[-2000:]
    assert "\x1b" not in err
