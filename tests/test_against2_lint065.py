"""``--against`` with ``--preset dataeval-0.65`` lints the statistics rounded to float16, as the
preset's scan does (DataEval 0.65 stores them so): the new images' values and the index's
reference figures alike (``DatasetIndex.reference_065``).  Unrounded, a 98 x 57 image among 30
near-square ones had an aspect-ratio modified z-score of 3.49980 (unflagged) where the scan of
the same images, rounded, has 3.50462 (flagged)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.detectors.linter import as_stored_by_065
from dataeval_gpu.index import DatasetIndex, scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

KW = {"workers": 0, "progress": False, "preset": "dataeval-0.65"}
#: (height, width) of 30 near-square images, then the one whose flag the rounding decides
SIZES = [
    (57, 56), (52, 43), (50, 41), (45, 57), (46, 40), (40, 50), (41, 41), (40, 45), (43, 49), (56, 48),
    (52, 48), (58, 40), (50, 40), (52, 42), (59, 40), (54, 53), (52, 50), (50, 52), (51, 45), (58, 52),
    (45, 55), (56, 47), (53, 49), (40, 59), (47, 56), (57, 59), (51, 47), (40, 53), (55, 59), (54, 53),
    (57, 98),
]  # fmt: skip


def _modz(v: np.ndarray) -> np.ndarray:
    """The modified z-score, float64, by hand (median, MAD; its mean where the MAD is 0)."""
    dev = np.abs(v - np.median(v))
    mad = np.median(dev) or dev.mean()
    return 0.6745 * dev / mad


def _folder(root: Path) -> list[str]:
    rng = np.random.default_rng(5)
    root.mkdir(parents=True)
    out = []
    for k, (h, w) in enumerate(SIZES):
        p = root / f"im{k:02d}.png"
        PIL.fromarray(rng.integers(60, 200, (h, w, 3), dtype=np.uint8)).save(p)
        out.append(str(p))
    return out


def test_against_lints_as_the_065_scan_does(tmp_path: Path) -> None:
    ratio = np.array([w / h for h, w in SIZES])
    # the planted case, by hand: unflagged in float64, flagged as 0.65 stores the ratios
    assert _modz(ratio)[-1] == pytest.approx(3.49980, abs=1e-5)
    rounded = as_stored_by_065({"aspect_ratio": ratio})["aspect_ratio"]
    assert _modz(rounded)[-1] == pytest.approx(3.50462, abs=1e-5)
    files = _folder(tmp_path / "data")
    indexed = update_index(tmp_path / "idx", files, **KW)  # the scan of these images, 0.65's preset
    own = {Path(indexed.paths[i]).name: m for i, m in indexed.issues.items()}
    assert own["im30.png"]["aspect_ratio"] == pytest.approx(1.72, abs=0.005)
    again = scan_against(tmp_path / "idx", files, **KW)
    against = {Path(again.paths[i]).name: m for i, m in again.against["outliers"].items()}
    assert against == own  # the same images, the same distribution: the same flags and values
    # the reference printed with them is the rounded collection's
    ref = again.against["reference"]["aspect_ratio"]
    assert ref["median"] == pytest.approx(float(np.median(rounded)), abs=1e-12)
    # an index written before reference_065 reads the rounded figures from its rows
    manifest = tmp_path / "idx" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc.pop("reference_065")
    manifest.write_text(json.dumps(doc))
    assert DatasetIndex(tmp_path / "idx").reference_065["aspect_ratio"] == pytest.approx(ref)
