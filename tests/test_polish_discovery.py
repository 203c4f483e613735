"""A file list's relative path found neither in the current directory nor in the list's folder
fails as missing with a reason naming both places looked (it stays relative in results.csv);
``--help`` states the rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.cli import main
from dataeval_gpu.discovery import find_inputs


def _lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    from PIL import Image

    lists, cwd = tmp_path / "lists", tmp_path / "cwd"
    lists.mkdir()
    cwd.mkdir()
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(lists / "here.png")
    Image.fromarray(np.full((12, 12), 9, np.uint8)).save(cwd / "incwd.png")
    lst = lists / "files.txt"
    lst.write_text("here.png\nsub/gone.png\nincwd.png\n" + str(tmp_path / "abs_gone.png") + "\n")
    monkeypatch.chdir(cwd)
    return lst, lists, cwd


def test_find_inputs_names_both_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lst, lists, cwd = _lists(tmp_path, monkeypatch)
    found = find_inputs(lst)
    assert found.files == [str(lists / "here.png"), "sub/gone.png", "incwd.png", str(tmp_path / "abs_gone.png")]
    assert found.not_found == {
        "sub/gone.png": "no such file: a relative path, looked for in the current directory "
        f"({cwd / 'sub/gone.png'}) and in the file list's folder ({lists / 'sub/gone.png'})"
    }
    failed = {1: "FileNotFoundError: no such file (missing, ...)", 3: "no such file (missing)", 0: "cannot decode"}
    found.name_missing(found.files, failed)
    assert failed[1] == "FileNotFoundError: " + found.not_found["sub/gone.png"]
    assert failed[3] == "no such file (missing)" and failed[0] == "cannot decode"  # untouched


def test_cli_results_reason_names_both_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    lst, lists, cwd = _lists(tmp_path, monkeypatch)
    out = tmp_path / "o"
    status = main(["scan", str(lst), "--out", str(out), "--no-progress", "--no-plots", "--workers", "0"])
    assert status == 0
    table = pd.read_csv(out / "results.csv").set_index("index")
    assert table["status"].tolist() == ["ok", "failed", "ok", "failed"]
    assert table.loc[1, "path"] == "sub/gone.png"  # kept as listed
    reason = table.loc[1, "error"]
    assert str(cwd / "sub/gone.png") in reason and str(lists / "sub/gone.png") in reason, reason
    assert "current directory" in reason and "file list's folder" in reason
    assert "no such file (missing" in table.loc[3, "error"]  # an absolute path: looked for once
    assert str(lists / "sub/gone.png") in capsys.readouterr().out  # the printout's failed lines too


def test_help_states_the_missing_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "one in neither fails as missing, its reason naming both places" in text
