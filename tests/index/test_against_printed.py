"""``dataeval-gpu scan NEW --against IDX`` prints which images are outliers of the indexed
collection and which have quality issues judged against it (before: only their counts)."""

from __future__ import annotations

from pathlib import Path

import PIL.Image as PIL

from dataeval_gpu.cli import main

from .blobs import picture


def test_against_prints_outliers_and_quality_issues(tmp_path: Path, capsys) -> None:
    (tmp_path / "indexed").mkdir()
    (tmp_path / "new").mkdir()
    for s in range(30):
        PIL.fromarray(picture(s, 96)).save(tmp_path / "indexed" / f"img{s:02d}.png")
    PIL.fromarray(picture(100, 96, gain=0.1)).save(tmp_path / "new" / "dark.png")
    PIL.fromarray(picture(101, 96)).save(tmp_path / "new" / "plain.png")
    common = ["--workers", "0", "--no-plots", "--no-progress"]
    assert main(["scan", str(tmp_path / "indexed"), "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o1"), *common]) == 0
    capsys.readouterr()
    assert main(["scan", str(tmp_path / "new"), "--against", str(tmp_path / "idx"), "--out", str(tmp_path / "o2"), *common]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith("outliers of the index"))
    assert lines[head].endswith("(1 image):")
    assert lines[head + 1].startswith("  0:dark.png: ") and "brightness=" in lines[head + 1]
    head = next(k for k, line in enumerate(lines) if line.startswith("quality issues against the index"))
    assert lines[head + 1].startswith("  0:dark.png: dark: score ")  # (the upscaled pictures are blurry too)
    assert "plain.png" not in out.split("outliers of the index")[1].split("quality issues against")[0]
