"""The default output folder of ``dataeval-gpu scan`` (``--out dataeval_gpu_out``), written where
the command runs, is ignored by git: a scan run in the clone left its results as untracked files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dataeval_gpu.cli_args import build_parser

ROOT = Path(__file__).resolve().parents[1]


def test_default_output_folder_is_ignored() -> None:
    default = build_parser().parse_args(["scan"]).out
    assert default == "dataeval_gpu_out"
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert f"/{default}/" in lines
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for name in (f"{default}/results.csv", f"{default}/plots/x.png"):
        done = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert done.returncode == 0, name
    done = subprocess.run(["git", "check-ignore", "-q", "dataeval_gpu/cli.py"], cwd=ROOT, check=False)
    assert done.returncode == 1  # the package itself is not ignored
