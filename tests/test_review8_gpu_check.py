"""review8: scripts/gpu_check.sh counts a pytest step whose tests all skipped as a failure (it
read "ok" while no CUDA test had run: GPU_CHECK_FORCE=1 on a CPU machine, or a CPU-only torch)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _fake_python(tmp_path: Path, pytest_line: str) -> Path:
    """A stand-in interpreter: ``-m pytest`` prints ``pytest_line``, anything else does nothing."""
    fake = tmp_path / "python"
    fake.write_text(f'#!/usr/bin/env bash\ncase " $* " in *" pytest "*) echo "{pytest_line}";; esac\nexit 0\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return fake


@pytest.mark.parametrize(
    ("line", "result"),
    [("10 skipped, 209 deselected in 34.33s", "NONE RAN (all skipped)"), ("10 passed, 209 deselected in 9s", "ok")],
)
def test_gpu_check_skipped_tests_are_not_ok(tmp_path: Path, line: str, result: str) -> None:
    env = dict(
        os.environ,
        GPU_CHECK_FORCE="1",
        PYTHON=str(_fake_python(tmp_path, line)),
        OUT=str(tmp_path / "out"),
        PHOTOS=str(tmp_path / "no_photos"),
        T_TESTS="20",
        T_PARAM="0",
        T_CLUS="0",
    )
    run = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    rows = (tmp_path / "out" / "summary.txt").read_text().splitlines()
    tests_row = next(r for r in rows if r.startswith("tests "))
    assert tests_row.endswith(result), (tests_row, run.stdout[-2000:])
    assert run.returncode == 1  # the photos are missing in both cases: the scan did not run
    failed = next(r for r in rows if r.startswith("gpu-check: FAILED"))
    assert (" tests" in failed) == (result != "ok"), failed


def _run(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    base = dict(
        os.environ,
        GPU_CHECK_FORCE="1",
        PYTHON=str(_fake_python(tmp_path, "3 passed in 1s")),
        OUT=str(tmp_path / "out"),
        PHOTOS=str(tmp_path / "no_photos"),
    )
    run = subprocess.run(
        ["bash", "scripts/gpu_check.sh"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    return run, (tmp_path / "out" / "summary.txt").read_text().splitlines()


def test_gpu_check_stays_within_its_budget(tmp_path: Path) -> None:
    """The step limits summed to 600 s, the whole run call's limit, with the wheels' install and
    the header on top: the call was cut before the table.  A step now gets at most what is left
    of GPU_CHECK_BUDGET (less 10 s for the table)."""
    run, rows = _run(tmp_path, GPU_CHECK_BUDGET="40", T_TESTS="150", T_PARAM="0", T_CLUS="0")
    tests_row = next(r for r in rows if r.startswith("tests "))
    limit = int(tests_row.split()[1])
    assert 5 <= limit <= 30, tests_row  # 40 - 10 - the seconds already spent
    assert tests_row.endswith("ok")
    run, rows = _run(tmp_path, GPU_CHECK_BUDGET="5", T_PARAM="0", T_CLUS="0")
    tests_row = next(r for r in rows if r.startswith("tests "))
    assert tests_row.endswith("NOT RUN (budget spent)"), tests_row
    assert run.returncode == 1 and any(r.startswith("gpu-check: FAILED:") and " tests" in r for r in rows)
