"""Streaming keeps memory flat: no growth with N of pixel data (issue: foundation, acceptance 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "memory_check.py"


def _run(n: int) -> dict:
    out = subprocess.run([sys.executable, str(SCRIPT), "--n", str(n)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.integration
def test_memory_does_not_grow_with_pixel_data_small():
    small = _run(200)
    assert small["images"] == 200
    # 200 images are 150 MB of pixels; the stream holds one batch at a time
    assert small["growth_mb"] < 400, small


@pytest.mark.integration
@pytest.mark.slow
def test_memory_10k_images_of_512():
    res = _run(10_000)
    assert res["images"] == 10_000 and res["pixel_data_mb"] > 7000
    assert res["growth_mb"] < res["results_mb"] + 1024, res
