"""The command line as a second new user met it on icon themes and odd folders: a scan with
hundreds of failed files (a theme's SVG drawings) says how many more failed than it shows and
why, and ``--help`` says how often a scan saves its checkpoint."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from dataeval_gpu.cli_print import failed_lines
from tests.cli_run import run, scan_help

SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>\n'


def test_many_failed_files_say_how_many_more_and_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """20 SVG drawings and 2 empty files beside one PNG: 15 failures are listed, then the 7 others
    are counted (not silently cut off), and the failures are counted by reason."""
    d = tmp_path / "icons"
    d.mkdir()
    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(d / "a.png")
    for k in range(20):
        (d / f"s{k:02d}.svg").write_bytes(SVG)
    for k in range(2):
        (d / f"z{k}.jpg").write_bytes(b"")
    out = tmp_path / "out"
    status, stdout, err = run(["scan", str(d), "--out", str(out), "--no-plots", "--no-progress"], capsys)
    assert status == 0, err
    block = stdout[stdout.index("\nfailed (22):") :].splitlines()
    listed = [line for line in block if line.startswith("      ") and ": ValueError: " in line]
    assert len(listed) == 15
    assert "  ... and 7 more (see findings.json; status failed in results.csv)" in block
    by_reason = [line for line in block if line.startswith("  by reason: ")]
    assert by_reason == ["  by reason: 20 × ValueError: unsupported format: SVG, 2 × ValueError: empty file"]


def test_failed_lines_short_list_has_no_tail_and_long_one_ranks_reasons() -> None:
    paths = {i: f"f{i}.png" for i in range(30)}
    few = SimpleNamespace(failed={3: "OSError: x", 5: "ValueError: y: z"}, paths=paths)
    assert failed_lines(few) == ["\nfailed (2):", "       3 f3.png: OSError: x", "       5 f5.png: ValueError: y: z"]
    reasons = ["A: one (x)", "B: two: detail 1", "B: two (y): detail 2", "C: three", "D: four", "E: five", "F: six"]
    many = SimpleNamespace(failed={i: reasons[i % 7] if i < 7 else "B: two: more" for i in range(20)}, paths=paths)
    lines = failed_lines(many, most=4)
    assert lines[0] == "\nfailed (20):" and len(lines) == 1 + 4 + 2
    assert lines[5] == "  ... and 16 more (see findings.json; status failed in results.csv)"
    # "B: two" 15 (its details and parentheses differ), then the five others by name, the sixth cut off
    assert lines[6] == "  by reason: 15 × B: two, 1 × A: one, 1 × C: three, 1 × D: four, 1 × E: five, ..."
    assert failed_lines(SimpleNamespace(failed={}, paths=paths)) == []


def test_help_says_how_often_a_scan_checkpoints(capsys: pytest.CaptureFixture[str]) -> None:
    flat = scan_help(capsys)
    assert "batches between checkpoints (default: 20; 0: never)" in flat
    assert "130 interrupted (--resume continues from the last checkpoint, saved every --checkpoint-every" in flat


@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("photos", "the path 'photos'"),
        (Path("photos"), "the path 'photos'"),
        (["a.jpg", Path("b.png")], "a list of 2 paths"),
        (("a.jpg",), "a list of 1 path"),
    ],
)
def test_scan_of_paths_names_scan_files(data: object, what: str) -> None:
    """``scan("photos")`` gave a report of 6 failed 'images', one per character; a list of paths
    one failed image per path: both now raise, naming the call that reads files."""
    from dataeval_gpu.audit import scan
    from dataeval_gpu.errors import ImageTypeError

    with pytest.raises(ImageTypeError) as info:
        scan(data)
    assert str(info.value).startswith(f"scan takes images, a Dataset or a DataLoader, got {what}: ")
    assert "dataeval_gpu.audit.scan_files(dataeval_gpu.discovery.find_inputs(path).files)" in str(info.value)


def test_scan_of_images_with_a_path_among_them_still_lists_it_failed() -> None:
    """Only a sequence of nothing but paths is refused: one odd item stays a failed row."""
    from dataeval_gpu.audit import scan

    imgs = [np.full((1, 12, 12), 7, np.uint8), "x.png", np.full((1, 12, 12), 9, np.uint8)]
    report = scan(imgs, progress=False, hashes=False)
    assert report.total == 3 and list(report.failed) == [1]
    assert "got str" in report.failed[1]
