"""scripts/torchrun_scan.py gives a file list's missing entries the reasons `dataeval-gpu scan` gives:
a relative path found neither in the current directory nor in the list's folder names both places
looked (the script said only "no such file" with one of them)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.cli import main as cli_main

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "torchrun_scan.py"


def _script_main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("torchrun_scan", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod.main(argv)


def test_script_and_command_give_the_same_missing_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd
    from PIL import Image

    lists, cwd = tmp_path / "lists", tmp_path / "cwd"
    lists.mkdir()
    cwd.mkdir()
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(lists / "here.png")
    Image.fromarray(np.full((12, 12), 9, np.uint8)).save(cwd / "incwd.png")
    (lists / "broken.png").write_bytes(b"not a png")
    lst = lists / "files.txt"
    lst.write_text("here.png\nsub/gone.png\nincwd.png\nbroken.png\n" + str(tmp_path / "abs_gone.png") + "\n")
    monkeypatch.chdir(cwd)
    common = ["--out", "", "--no-progress", "--workers", "0"]
    common[1] = str(tmp_path / "cli")
    assert cli_main(["scan", str(lst), *common, "--no-plots", "--quiet"]) == 0
    common[1] = str(tmp_path / "script")
    assert _script_main([str(lst), *common]) == 0
    capsys.readouterr()
    cli_rows = pd.read_csv(tmp_path / "cli" / "results.csv")
    script_rows = pd.read_csv(tmp_path / "script" / "results.csv")
    assert cli_rows["status"].tolist() == ["ok", "failed", "ok", "failed", "failed"]
    reason = cli_rows.loc[1, "error"]
    assert str(cwd / "sub/gone.png") in reason and str(lists / "sub/gone.png") in reason, reason
    assert script_rows["error"].fillna("").tolist() == cli_rows["error"].fillna("").tolist()
    pd.testing.assert_frame_equal(script_rows, cli_rows)
