"""``--against`` (the default preset) lints new images as a scan of the index's images and them
would (held12's Linter rules reached ``index/against.py`` only in part):

* the aspect ratio is tested on its log scale whatever DataEval 0.65's linear test flagged: a 1:4
  image among 1:1-2:1 images was flagged by a scan of both, not against the index (0.65's linear
  test did not flag it, so the index's aspect rows were never read);
* a metric on which every indexed image has one value (channels, height): a new image off it was
  flagged by a scan of both (0.65's Linter scores it infinite) but 0.65's ``evaluate_against``
  skips a reference without spread;
* ``zero`` is not judged on new images with transparent parts (their ``opacity`` was not passed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.index import scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

KW = {"workers": 0, "progress": False, "device": "cpu"}


def _save(path: Path, pixels: np.ndarray) -> str:
    PIL.fromarray(pixels).save(path)
    return str(path)


def _named(report, issues) -> dict[str, dict[str, float]]:
    return {Path(report.paths[i]).name: m for i, m in issues.items()}


def test_against_flags_as_a_scan_of_both(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    (tmp_path / "data").mkdir()
    (tmp_path / "new").mkdir()
    files = []
    for k, w in enumerate(np.linspace(40, 80, 30).round().astype(int)):  # 40 px high, 1:1 to 2:1
        img = rng.integers(20, 230, (40, w, 3), dtype=np.uint8)
        flat = img.reshape(-1, 3)
        flat[rng.choice(len(flat), int(len(flat) * rng.uniform(0.005, 0.04)), replace=False)] = 0
        files.append(_save(tmp_path / "data" / f"w{k:02d}.png", img))
    tall = _save(tmp_path / "new" / "tall.png", rng.integers(20, 230, (80, 20, 3), dtype=np.uint8))
    see = rng.integers(20, 230, (40, 60, 4), dtype=np.uint8)
    see[:, :30] = 0  # the left half fully transparent, stored black: zero 0.5 of its pixels
    see[:, 30:, 3] = 255
    seen = _save(tmp_path / "new" / "see.png", see)
    update_index(tmp_path / "idx", files, **KW)
    against = scan_against(tmp_path / "idx", [tall, seen], **KW)
    both = update_index(tmp_path / "both", [*files, tall, seen], **KW)
    got, scanned = _named(against, against.against["outliers"]), _named(both, both.issues)
    assert got == scanned
    # hand-checked: 1:4 (log 1.39 below the median 1.5:1) and 80 px high among 40 px; 4 channels among 3
    assert got["tall.png"] == {"height": 80.0, "aspect_ratio": 0.25}
    assert got["see.png"]["channels"] == 4.0
    assert "zero" not in got["see.png"]
