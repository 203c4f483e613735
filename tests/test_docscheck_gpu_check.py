"""README's `bash scripts/gpu_check.sh` where the interpreter (python3 by default) has no torch
said "no CUDA device on this machine" and exited 0; it now says that torch is missing, exit 1.
Stand-in interpreters: one without torch, one with torch but no CUDA."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_python(tmp_path: Path, has_torch: bool) -> Path:
    fake = tmp_path / "python"
    torch_status = 0 if has_torch else 1
    body = f'case "$*" in *cuda*) exit 1;; *"import torch"*) exit {torch_status};; esac\nexit 0\n'
    fake.write_text("#!/usr/bin/env bash\n" + body)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


@pytest.mark.parametrize(
    ("has_torch", "status", "says"),
    [(False, 1, "cannot import torch"), (True, 0, "no CUDA device on this machine")],
)
def test_gpu_check_without_torch_or_without_cuda(
    tmp_path: Path, has_torch: bool, status: int, says: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_FORCE"}
    env.update(PYTHON=str(_fake_python(tmp_path, has_torch)), OUT=str(tmp_path / "out"))
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert says in done.stdout + done.stderr
    assert ("no CUDA device" in done.stdout) == has_torch
