"""docs/index.md's examples run as they are: the command lines through ``main`` on a small
folder, the ```python block in a fresh namespace (each in a temporary folder)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("pyarrow")

DOC = Path(__file__).resolve().parents[2] / "docs" / "index.md"
TEXT = DOC.read_text()
PYTHON = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.S | re.M)
COMMANDS = [line.split("#")[0].split() for line in re.findall(r"^(dataeval-gpu scan .*)$", TEXT, flags=re.M)]


def test_the_page_has_its_examples() -> None:
    assert len(PYTHON) == 1 and "update_index" in PYTHON[0] and "scan_against" in PYTHON[0]
    assert [c[3] for c in COMMANDS] == ["--index", "--index", "--against"]


def test_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(PYTHON[0], f"{DOC.name}:python", "exec"), {"__name__": "__docs__"})
    finally:
        torch.set_num_threads(threads)
    assert json.loads((tmp_path / "incoming_report" / "findings.json").read_text())["against"]["matches"]


def test_command_line_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from dataeval_gpu.cli import main

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(1)
    for d in ("photos", "incoming"):
        Path(d).mkdir()
    for i in range(8):
        small = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
        Image.fromarray(small).resize((40, 32), Image.BILINEAR).save(f"photos/p{i}.png")
    Image.open("photos/p3.png").transpose(Image.FLIP_LEFT_RIGHT).save("incoming/mirror.png")
    extra = ["--no-plots", "--no-progress", "--workers", "0", "--quiet"]
    printed = []
    for k, argv in enumerate(COMMANDS):
        capsys.readouterr()
        assert main([*argv[1:], "--out", f"out{k}", *extra[: -1 if k else None]]) == 0, shlex.join(argv)
        printed.append(capsys.readouterr().out)
    # the update says what it measured, kept and dropped; the query lists the copies it found
    assert "\nindex photos.idx: 0 files measured, 8 kept, 0 dropped (8 files, generation 2)\n" in printed[1]
    assert "\n8 images in " in printed[1] and "None" not in printed[1]
    assert "\n  0:mirror.png = photos/p3.png (near, hamming 0)\n" in printed[2]
    found = json.loads((tmp_path / "out2" / "findings.json").read_text())["against"]["matches"]
    assert [(m["image"], Path(m["partner_path"]).name, m["methods"]) for m in found] == [
        (0, "p3.png", ["near"])
    ]
    # the second command measured nothing: the folder had not changed
    cfg = json.loads((tmp_path / "out1" / "config.json").read_text())
    assert cfg["index_update"]["measured"] == 0 and cfg["index_update"]["kept"] == 8
    # another hash setting is a one-line error naming what differs
    capsys.readouterr()
    assert main(["scan", "photos", "--index", "photos.idx", "--out", "out9", "--no-d4", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "near_hash: index 'pchash_d4', this run 'pchash'" in err
