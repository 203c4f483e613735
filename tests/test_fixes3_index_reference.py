"""The index's manifest keeps the Linter's reference figures of real statistics only: the strip
hash columns (``pchash_strip``, ``pchash_strip_valid``) were stored there too, a "mean" of
-1.66e18 of 64-bit hashes.  An index written before still loads, read without them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

PHOTOS = Path(__file__).resolve().parents[1] / "data_cache" / "photos"


def _index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    from PIL import Image

    from dataeval_gpu.cli import main

    d = tmp_path / "images"
    d.mkdir()
    files = sorted(PHOTOS.glob("*.jpg"))[:6]
    if len(files) < 6:
        pytest.skip("data_cache/photos is not here")
    for k, f in enumerate(files):
        Image.open(f).convert("RGB").resize((64, 48)).save(d / f"im{k}.png")
    idx = tmp_path / "idx"
    argv = ["scan", str(d), "--index", str(idx), "--out", str(tmp_path / "o"), "--workers", "0", "--no-plots",
            "--no-progress", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    return idx


def test_manifest_reference_holds_statistics_only(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.accumulators.stats import CROP_HASH_KEYS, HASH_KEYS, STRIP_HASH_KEYS
    from dataeval_gpu.index import DatasetIndex

    idx = _index(tmp_path, capsys)
    manifest = json.loads((idx / "manifest.json").read_text())
    reference = manifest["reference"]
    assert not {*HASH_KEYS, *CROP_HASH_KEYS, *STRIP_HASH_KEYS} & set(reference), sorted(reference)
    assert "brightness" in reference and "mean" in reference["brightness"]
    # the figures kept are the statistics' own: brightness's mean, from the rows file (float64)
    index = DatasetIndex(idx)
    values = np.asarray(index.rows(["brightness"])["brightness"], dtype=np.float64)[index.measured]
    assert reference["brightness"]["mean"] == pytest.approx(values.mean(), rel=1e-9)


def test_old_manifest_with_hash_figures_still_loads(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from dataeval_gpu.index import DatasetIndex

    idx = _index(tmp_path, capsys)
    path = idx / "manifest.json"
    doc = json.loads(path.read_text())
    bogus = {"mean": -1.66e18, "std": 5.3e18, "median": -1.2e18, "mad": 4.1e18, "q1": -4e18, "q3": 3e18}
    doc["reference"]["pchash_strip"] = bogus  # as an index written before the fix holds
    doc["reference"]["pchash_strip_valid"] = {"mean": 1.0, "std": 0.0, "median": 1.0, "mad": 0.0, "q1": 1, "q3": 1}
    path.write_text(json.dumps(doc))
    reference = DatasetIndex(idx).reference
    assert "pchash_strip" not in reference and "pchash_strip_valid" not in reference
    assert reference["brightness"] == doc["reference"]["brightness"]
