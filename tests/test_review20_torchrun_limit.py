"""review20: scripts/torchrun_scan.py with --limit says the inputs left out in its report.html as the
command does (torchrun14 put them in the last lines and config.json; the report's settings read
``config["files"]``, which the script did not record)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torchrun_scan.py"


def _script():
    spec = importlib.util.spec_from_file_location("torchrun_scan_review20", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.mark.integration
def test_limit_is_said_in_the_report_as_the_command_says_it(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from dataeval_gpu.cli import main as cli_main

    rng = np.random.default_rng(2)
    root = tmp_path / "imgs"
    root.mkdir()
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(root / f"{k}.png")
    common = ["--limit", "1", "--no-progress"]
    assert _script().main([str(root), "--out", str(tmp_path / "ddp"), "--workers", "0", *common]) == 0
    cli_main(["scan", str(root), "--out", str(tmp_path / "cli"), *common])
    said = "Not scanned: 2 more inputs past --limit 1 (3 found)."
    for side in ("ddp", "cli"):
        assert said in (tmp_path / side / "report.html").read_text(), side
        config = json.loads((tmp_path / side / "config.json").read_text())
        assert (config["files"], config["inputs_found"]) == (1, 3), side
