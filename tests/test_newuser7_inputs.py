"""newuser7: a file list whose paths are in quotes (``"/data/a b.jpg"``, as a CSV writer or a shell
quotes a path with spaces): every line failed as a missing file named with its quotes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from dataeval_gpu.discovery import discover


def test_quoted_paths_in_a_file_list(tmp_path: Path) -> None:
    d = tmp_path / "my photos"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a b.png", "c.png", "'odd'.png"):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(d / name)
    listing = tmp_path / "list.txt"
    listing.write_text(
        f'"{d / "a b.png"}"\n'  # absolute, double quotes
        "'my photos/c.png'\n"  # relative to the list's folder, single quotes
        "my photos/'odd'.png\n"  # quotes inside a real name: as written
        "\"my photos/'odd'.png\"\n"  # a real name with quotes, quoted
        '"my photos/missing.png"\n'  # quoted, and missing either way: kept as written, fails
    )
    files, _, _ = discover(listing)
    assert files == [
        str(d / "a b.png"),
        str(d / "c.png"),
        str(d / "'odd'.png"),
        str(d / "'odd'.png"),
        '"my photos/missing.png"',
    ]


def test_an_empty_folder_scan_has_the_path_column(tmp_path: Path) -> None:
    """A scan of an empty folder wrote results.csv without ``path`` (``index,status,error,...``):
    a script reading ``df["path"]`` after every scan broke on that one."""
    import pandas as pd

    from dataeval_gpu.cli import main

    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    assert main(["scan", str(tmp_path / "empty"), "--out", str(out), "--no-progress", "--no-plots"]) == 0
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 0 and list(df.columns[:4]) == ["index", "path", "status", "error"]
