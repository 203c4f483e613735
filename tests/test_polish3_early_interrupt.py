"""A Ctrl-C in the first ~0.15 s of ``dataeval-gpu scan`` (while the program's modules are
imported) printed a Python traceback and ended by the signal; it now exits as a later Ctrl-C
does: one ``dataeval-gpu: error: interrupted`` line and exit status 130 (dataeval_gpu.cli_entry).

The SIGINT is sent by the child process itself from an import hook, at the moment a given module
of the program starts importing: the same point every run, not a race with the start-up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataeval_gpu.cli_args import EXIT_INTERRUPTED

ROOT = Path(__file__).resolve().parents[1]

#: a meta-path finder that sends this process SIGINT when ``AT`` starts importing (then lets it import)
HOOK = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {at!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
"""

#: what the installed ``dataeval-gpu`` script runs: pyproject's entry point, as pip writes the script
SCRIPT = """
import sys
from {module} import {func}
sys.argv[0] = "dataeval-gpu"
sys.exit({func}())
"""

#: ``python -m dataeval_gpu.cli`` (what -m does: the module run as __main__)
AS_MODULE = """
import runpy, sys
sys.argv[0] = "dataeval_gpu/cli.py"
runpy.run_module("dataeval_gpu.cli", run_name="__main__", alter_sys=True)
"""


def _entry_point() -> tuple[str, str]:
    found = re.search(r'^dataeval-gpu = "([\w.]+):(\w+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert found, "pyproject.toml: no dataeval-gpu entry point"
    return found[1], found[2]


def _run(code: str, args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def _scan_args(tmp_path: Path) -> list[str]:
    (tmp_path / "in").mkdir()
    return ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--no-progress"]


@pytest.mark.integration
@pytest.mark.parametrize("at", ["dataeval_gpu.cli", "dataeval_gpu.cli_args", "dataeval_gpu.cli_print", "argparse"])
def test_ctrl_c_while_the_program_imports_exits_quietly(at: str, tmp_path: Path) -> None:
    module, func = _entry_point()
    proc = _run(HOOK.format(at=at) + SCRIPT.format(module=module, func=func), _scan_args(tmp_path))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr == "dataeval-gpu: error: interrupted\n"
    assert proc.returncode == EXIT_INTERRUPTED
    assert not (tmp_path / "out").exists()  # nothing was written


@pytest.mark.integration
def test_ctrl_c_while_python_m_imports_exits_quietly(tmp_path: Path) -> None:
    proc = _run(HOOK.format(at="dataeval_gpu.cli_print") + AS_MODULE, _scan_args(tmp_path))
    assert proc.stderr == "dataeval-gpu: error: interrupted\n", proc.stderr
    assert proc.returncode == EXIT_INTERRUPTED


@pytest.mark.integration
def test_later_ctrl_c_has_the_same_status(tmp_path: Path) -> None:
    """During the scan's own imports (torch, inside the command's handling): its message, the same status."""
    module, func = _entry_point()
    proc = _run(HOOK.format(at="torch") + SCRIPT.format(module=module, func=func), _scan_args(tmp_path))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("dataeval-gpu: error: interrupted before the first checkpoint")
    assert proc.returncode == EXIT_INTERRUPTED


@pytest.mark.integration
def test_ctrl_c_from_outside_in_the_first_moments(tmp_path: Path) -> None:
    """A real Ctrl-C (SIGINT from another process) at a few moments of the start-up: once the
    program's code runs, never a traceback, always status 130 (earlier, the interpreter's own
    start-up ends by the signal, -SIGINT, before any of the program's code)."""
    module, func = _entry_point()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = SCRIPT.format(module=module, func=func)
    seen = set()
    for k, delay in enumerate((0.05, 0.1, 0.15, 0.2, 0.3)):
        out = tmp_path / f"out{k}"
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "scan", str(tmp_path), "--out", str(out), "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        # the program's code ran: its message, or a traceback through cli.py or the entry's run()
        in_program = "dataeval-gpu: error" in err or "/dataeval_gpu/cli.py" in err or ", in run\n" in err
        if not in_program:  # the interpreter's start-up (site), or the entry module's own import (a few
            assert proc.returncode in (-signal.SIGINT, 1), (delay, proc.returncode, err)  # stdlib names)
            continue
        assert "Traceback" not in err, (delay, err)
        assert proc.returncode == EXIT_INTERRUPTED, (delay, proc.returncode, err)
        seen.add(delay)
    assert seen  # at least one of the moments reached the program
