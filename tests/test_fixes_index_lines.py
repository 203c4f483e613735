"""The lines the command prints about an ``--index`` run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dataeval_gpu.cli_index import index_lines
from tests.cli_run import interrupt_feed, small_pngs


def _report(measured: int, files: int) -> SimpleNamespace:
    up = {"measured": measured, "kept": files - measured, "dropped": 0, "files": files, "generation": 2}
    return SimpleNamespace(config={"index": "idx", "index_update": up}, against=None, paths={})


@pytest.mark.parametrize(
    ("measured", "files", "line"),
    [
        (1, 1, "index idx: 1 file measured, 0 kept, 0 dropped (1 file, generation 2)"),
        (1, 3, "index idx: 1 file measured, 2 kept, 0 dropped (3 files, generation 2)"),
        (0, 2, "index idx: 0 files measured, 2 kept, 0 dropped (2 files, generation 2)"),
    ],
)
def test_index_line_counts_files_in_the_singular_and_plural(measured: int, files: int, line: str) -> None:
    assert index_lines(_report(measured, files)) == ["", line]


def test_resumed_index_scan_says_what_a_scan_says(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --index scan stopped and continued with --resume: its last line had no rate and no
    "resumed from the checkpoint" line (the config had no images_per_s, no resumed_from)."""
    import json

    from dataeval_gpu.cli import main

    d = small_pngs(tmp_path)
    out = tmp_path / "o"
    argv = ["scan", str(d), "--index", str(tmp_path / "idx"), "--out", str(out), "--batch-size", "2",
            "--checkpoint-every", "1", "--workers", "0", "--no-plots", "--no-progress"]  # fmt: skip
    undo = interrupt_feed(monkeypatch)  # two batches (4 inputs) are in the checkpoint
    assert main(argv) == 130
    undo()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    stdout = capsys.readouterr().out
    assert "\nresumed from the checkpoint: 4 of 6 inputs were measured before it, 2 in this run\n" in stdout
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("6 images in ") and " images/s)" in last, last
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["resumed_from"] == 4 and cfg["images_per_s"] > 0
    assert f"index {tmp_path / 'idx'}: 6 files measured" in stdout
