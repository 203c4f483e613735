"""newuser4's fixes from a fresh-eyes pass over held-out data (2026-12-07)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.discovery import find_inputs


def test_missing_reason_names_one_place_when_list_folder_is_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list run from its own folder: the reason named the same path twice ("looked for in the
    current directory (/d/x.png) and in the file list's folder (/d/x.png)")."""
    from PIL import Image

    Image.fromarray(np.full((12, 12), 7, np.uint8)).save(tmp_path / "here.png")
    lst = tmp_path / "files.txt"
    lst.write_text("here.png\ngone.png\n")
    monkeypatch.chdir(tmp_path)
    found = find_inputs(lst)
    assert found.files == ["here.png", "gone.png"]
    assert found.not_found == {
        "gone.png": "no such file: a relative path, looked for in the current directory, which is "
        f"the file list's folder ({tmp_path / 'gone.png'})"
    }
    # given by a relative name from its own folder: the same single place
    assert find_inputs(Path("files.txt")).not_found == found.not_found


def test_failed_tally_names_each_unsupported_format() -> None:
    """The tally after the first failed lines lumped every unsupported format together
    ("ValueError: unsupported format 248" for a folder of SVG stamps beside numpy files): it
    names the format now, and other reasons keep their first two parts."""
    from types import SimpleNamespace

    from dataeval_gpu.cli_print import failed_lines

    svg = "ValueError: unsupported format: SVG (a vector drawing, not a raster image)"
    npy = (
        "ValueError: unsupported format: a numpy array file (.npy), not an image: scan arrays from "
        "Python, dataeval_gpu.audit.scan(list(np.load(path)))"
    )
    gz = "ValueError: unsupported format: gzip-compressed data (such as an .svgz drawing or a .gz file), not an image"
    link = "FileNotFoundError: broken symbolic link (its target /x/y.png is missing)"
    bomb = "ValueError: image too large (decompression-bomb guard): Image size (3600000000 pixels) exceeds limit"
    reasons = [svg] * 6 + [npy] * 3 + [gz] * 2 + [link] * 2 + [bomb]
    report = SimpleNamespace(failed=dict(enumerate(reasons)), paths={i: f"f{i}" for i in range(len(reasons))})
    lines = failed_lines(report, most=2)
    assert lines[-1] == (
        "  by reason: ValueError: unsupported format: SVG 6, ValueError: unsupported format: a numpy array file 3, "
        "FileNotFoundError: broken symbolic link 2, ValueError: unsupported format: gzip-compressed data 2, "
        "ValueError: image too large 1"
    )
