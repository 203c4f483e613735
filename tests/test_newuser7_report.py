"""newuser7: the HTML report's summary accounts for every file of the scanned folder (the files
skipped as not images and the metadata were only in the Settings table, cut to "listed in…") and
says what to do next with the findings."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_run import run


def _summary_text(out: Path) -> str:
    page = (out / "report.html").read_text(encoding="utf-8")
    start = page.index('id="summary"')
    end = page.index("Images flagged per metric", start) if "Images flagged per metric" in page else start + 20000
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page[start:end])).split())


def test_report_summary_names_what_was_left_out_and_next_steps(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "tree"
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for k in range(4):
            Image.fromarray(rng.integers(0, 256, (24 + k, 30, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    (root / "dog" / "copy.png").write_bytes((root / "cat" / "1.png").read_bytes())  # labelled two ways
    (root / "cat" / "font.ttf").write_bytes(b"\x00\x01\x00\x00 a font")
    (root / "cat" / "notes.txt").write_text("metadata")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    out = tmp_path / "out"
    status, _, err = run(["scan", str(root), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    text = _summary_text(out)
    assert "Skipped as neither named nor encoded like an image: 1 file (.ttf 1), listed in skipped.txt." in text
    assert "Not scanned: metadata beside the images, 1 file (.txt 1)." in text
    assert "What to do next" in text
    assert "Fix the labels of 1 exact duplicate group(s) whose copies carry different labels" in text
    assert "Repair or remove the 1 file(s) that could not be read" in text
    assert "Keep one image of each exact duplicate group" not in text  # the only group is the mixed one


def test_report_of_a_clean_folder_has_no_steps(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "flat"
    src.mkdir()
    rng = np.random.default_rng(3)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(src / f"{k}.png")
    Image.fromarray(rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)).save(src / "a.png")
    (src / "b.png").write_bytes((src / "a.png").read_bytes())
    out = tmp_path / "out"
    status, _, err = run(["scan", str(src), "--out", str(out), "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    text = _summary_text(out)
    assert "Skipped as" not in text and "Not scanned" not in text
    assert "Keep one image of each exact duplicate group (1 group(s))" in text
    assert "Fix the labels" not in text and "Repair or remove" not in text
