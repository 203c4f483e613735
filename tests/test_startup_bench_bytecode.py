"""scripts/bench.py --cached-bytecode: our modules compiled once, outside the checkout, and the
timed commands reading that cache (as an installed package does) even where the environment
sets PYTHONDONTWRITEBYTECODE."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_script_bytecode", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    module.COMMAND_ENV.clear()


def test_cached_bytecode_is_written_outside_the_checkout_and_read_by_a_command(bench, tmp_path: Path, monkeypatch) -> None:
    repo = tmp_path / "repo"
    (repo / "dataeval_gpu").mkdir(parents=True)
    (repo / "dataeval_gpu" / "__init__.py").write_text("")
    (repo / "dataeval_gpu" / "mod.py").write_text("VALUE = 42\n")
    warm: list[tuple] = []  # the untimed scan per repo that fills the cache with the other modules' bytecode
    monkeypatch.setattr(bench, "_run_command", lambda *a: warm.append((*a, dict(bench.COMMAND_ENV))))
    prefix = bench.cache_bytecode([repo], "photos", "cpu")
    assert bench.COMMAND_ENV == {"PYTHONPYCACHEPREFIX": prefix}
    assert warm == [(repo, "photos", "cpu", 8, {"PYTHONPYCACHEPREFIX": prefix})]
    src = repo / "dataeval_gpu" / "mod.py"
    pyc = Path(prefix + str(src.parent)) / f"mod.{sys.implementation.cache_tag}.pyc"  # the prefix's layout
    assert pyc.is_file()
    assert not (repo / "dataeval_gpu" / "__pycache__").exists()  # nothing written into the checkout
    # a command run as the bench runs it loads that file (its code object's origin is the cache)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(repo), **bench.COMMAND_ENV}
    env.pop("PYTHONDONTWRITEBYTECODE")
    probe = "import dataeval_gpu.mod as m; print(m.__cached__, m.VALUE)"
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    cached, value = out.stdout.split()
    assert Path(cached) == pyc and value == "42"
