"""docs/usage.md's ```text block of command-line mistakes: each ``$ dataeval-gpu ...`` line, run
as written (the glob expanded over 600 files as a shell would), prints exactly the error line the
doc shows under it, with exit status 2."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch

from tests.cli_run import run

DOC = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
BLOCK = re.search(r"^```text\n(\$ dataeval-gpu .*?)^```", DOC.read_text(), flags=re.S | re.M)
LINES = BLOCK.group(1).splitlines() if BLOCK else []
CASES = [(LINES[k][2:].split("#")[0].strip(), LINES[k + 1]) for k in range(0, len(LINES) - 1, 2)]


def test_the_block_pairs_each_command_with_its_error() -> None:
    assert len(CASES) == 4 and len(LINES) == 8
    assert all(cmd.startswith("dataeval-gpu scan ") for cmd, _ in CASES)
    assert all(line.startswith("dataeval-gpu: error: ") for _, line in CASES)


@pytest.mark.parametrize(("command", "expected"), CASES, ids=[c.split(" ", 2)[2] for c, _ in CASES])
def test_documented_error_line(
    command: str,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if "--device cuda" in command and torch.cuda.is_available():
        pytest.skip("the doc's line is for a machine without CUDA")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "path" / "to" / "images").mkdir(parents=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ["a", "b", "c", "d"] + [f"e{k:03d}" for k in range(596)]:
        (photos / f"{name}.jpg").write_bytes(b"")
    argv = shlex.split(command)[1:]
    if "photos/*.jpg" in argv:  # what the shell hands over
        at = argv.index("photos/*.jpg")
        argv[at : at + 1] = sorted(str(p.relative_to(tmp_path)) for p in photos.glob("*.jpg"))
    status, out, err = run(argv, capsys)
    assert status == 2
    assert err == expected + "\n"
    assert out == ""
