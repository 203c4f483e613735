"""scripts/bench.py's comparison of the 0.65 preset's scan with issue 14's figures (111-114 img/s
for the scan, 316-333 img/s for Pillow's decode on the machine of the time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_issue_figures_are_the_issues(bench) -> None:
    assert bench.ISSUE_SCAN_IMG_S == (111.0, 114.0)
    assert bench.ISSUE_PIL_DECODE_IMG_S == (316.0, 333.0)


def test_ratio_to_the_issue_plain_and_calibrated_by_pillows_decode(bench) -> None:
    # Pillow at the issue's mid speed (324.5 img/s): the machine is as fast as then
    same = bench.issue_comparison(228.0, 324.5)
    assert same["ratio_to_issue"] == pytest.approx([2.0, 228.0 / 111.0])
    assert same["machine_speed_vs_issue"] == pytest.approx(1.0)
    assert same["ratio_to_issue_calibrated"] == pytest.approx(same["ratio_to_issue"])
    # Pillow at half that speed (a busier machine): the issue's figure would be half, the ratio double
    busy = bench.issue_comparison(114.0, 162.25)
    assert busy["ratio_to_issue"] == pytest.approx([1.0, 114.0 / 111.0])
    assert busy["machine_speed_vs_issue"] == pytest.approx(0.5)
    assert busy["ratio_to_issue_calibrated"] == pytest.approx([2.0, 228.0 / 111.0])


def test_pillow_decode_task_reads_every_file_of_its_chunk(bench, tmp_path) -> None:
    names = []
    for i, mode in enumerate(("RGB", "L", "P", "CMYK")):
        path = tmp_path / f"{i}.{'png' if mode == 'P' else 'jpg'}"
        arr = np.full((8, 6, 3), 40 * i, np.uint8)
        Image.fromarray(arr).convert(mode).save(path)
        names.append(str(path))
    assert bench._pil_decode_chunk(names, [0, 2, 3]) == 3
    with pytest.raises(FileNotFoundError):
        bench._pil_decode_chunk([str(tmp_path / "missing.jpg")], [0])


def _half(positions) -> int:
    return len(positions) // 2


def test_a_task_that_skips_images_is_an_error_not_an_assert(bench) -> None:
    """``_workers_img_s`` checked the images done with ``assert`` (gone under ``python -O``: the
    images/s of a task that skipped half would be reported double)."""
    with pytest.raises(RuntimeError, match="2 of 4 images done"):
        bench._workers_img_s(_half, [[0, 1], [2, 3]], 1, 4)


def test_the_time_outside_the_scan_is_split_by_what_config_json_says(bench) -> None:
    """startexit18: wall 10 s, scan loop 6 s, discovery + scan + detectors 6.5 s, report 0.75 s:
    2.75 + 0.5 + 0.75 = the 4 s outside the scan; a floor of 2.4 s leaves at best (6 + 2.4) / 6."""
    parts = bench.outside_parts(10.0, 6.0, 6.5, 0.75, 2.4)
    assert parts == pytest.approx(
        {"startup_exit_s": 2.75, "detectors_s": 0.5, "report_s": 0.75, "floor_s": 2.4, "least_ratio": 1.4}
    )
    assert parts["startup_exit_s"] + parts["detectors_s"] + parts["report_s"] == pytest.approx(10.0 - 6.0)
    row = bench._run_row((100.0, 6.0, 0.75, 10.0, 12.5, 6.5), 2.4)  # a _run_command tuple
    assert row["img_s"] == 100.0 and row["cpu_s"] == 12.5 and row["analysis_s"] == 6.5
    assert row["least_ratio"] == pytest.approx(1.4) and row["startup_exit_s"] == pytest.approx(2.75)


def test_the_floor_is_a_command_timed_from_start_to_exit_in_the_commands_environment(
    bench, monkeypatch, tmp_path
) -> None:
    """floor_s runs FLOOR_CODE as a fresh interpreter with COMMAND_ENV (--cached-bytecode's cache)."""
    seen = tmp_path / "env.txt"
    monkeypatch.setattr(
        bench,
        "FLOOR_CODE",
        f"import os; open({str(seen)!r}, 'w').write(os.environ.get('PROBE', '')); os._exit(0)",
    )
    monkeypatch.setitem(bench.COMMAND_ENV, "PROBE", "cached")
    seconds = bench.floor_s()
    assert 0.0 < seconds < 60.0
    assert seen.read_text() == "cached"
    spec = importlib.util.spec_from_file_location("bench_floor_code", SCRIPT)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    # imported as the command imports them (no garbage collector), ended as it ends (os._exit)
    assert fresh.FLOOR_CODE == "import gc, os; gc.disable(); import torch, numba; os._exit(0)"
