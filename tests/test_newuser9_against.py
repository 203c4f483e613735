"""newuser9: ``--against`` given a path that is not an index says what it is instead (a missing
path was "no dataset index there (manifest.json is missing)", as for an existing folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli_run import run

QUIET = ["--no-progress", "--workers", "0", "--no-plots"]


def test_against_a_path_that_is_not_an_index_names_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(data / "a.png")
    cases = {
        tmp_path / "gone": "no such folder",
        data / "a.png": "not a folder (a dataset index is the folder that --index wrote)",
        data: "no dataset index there (manifest.json is missing)",
    }
    for against, said in cases.items():
        status, _, err = run(["scan", str(data), "--against", str(against), "--out", str(tmp_path / "o"), *QUIET], capsys)
        assert status == 2
        assert err == f"dataeval-gpu: error: --against {against}: {said}\n"


def test_all_non_finite_embeddings_say_the_clusterer_did_not_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (10 + k, 12, 3), dtype=np.uint8)).save(data / f"im{k}.png")
    emb = tmp_path / "emb.npy"
    np.save(emb, np.full((4, 8), np.nan, np.float32))
    status, said, err = run(["scan", str(data), "--embeddings", str(emb), "--out", str(tmp_path / "o"), *QUIET], capsys)
    assert status == 0, err
    # before: "cluster outliers: 0  potential: 0  Clusterer duplicate groups: 0  (clusterer: None)"
    assert "cluster outliers: not searched (under 3 images with a finite embedding; 4 images with a non-finite one left out)" in said
    assert "clusterer: None" not in said
