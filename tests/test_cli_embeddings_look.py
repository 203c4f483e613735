"""``scan --embeddings FILE.npy`` keeps the embedding pairs a scan with the model keeps: a pair
must also look alike on the grey thumbnails (``LOOK_MIN``).  The file's pairs were grouped on
their cosine alone, so the same embeddings gave other groups than ``--embeddings`` (model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import scan_files
from dataeval_gpu.cli import main

PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")


class _Same(torch.nn.Module):
    """Every image embeds to one vector (cosine 1 for every pair: only the look rule tells)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], 4, dtype=torch.float32)


@pytest.mark.parametrize("option", [None, "--index", "--against"])
def test_embeddings_file_pairs_follow_the_look_rule(tmp_path: Path, option: str | None) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for n in ("astronaut", "coffee", "camera", "chelsea", "rocket"):
        v = getattr(skdata, n)()
        v = np.stack([v] * 3, -1) if v.ndim == 2 else v[..., :3]
        PIL.fromarray(np.ascontiguousarray(v[:256, :256]).astype(np.uint8)).save(folder / f"{n}.png")
    files = sorted(str(p) for p in folder.iterdir())
    # the reference: the same embeddings through the audit (its model), which holds its pairs
    # to the look rule; these five pictures do not all look alike, so fewer than all are grouped
    want = scan_files(files, embeddings=True, embed_model=_Same(), workers=0, progress=False).duplicates["embedding"]
    assert sum(len(g) for g in want) < len(files)
    np.save(tmp_path / "emb.npy", np.ones((len(files), 4), np.float32))
    out = tmp_path / "out"
    argv = ["scan", str(folder), "--out", str(out), "--no-progress", "--no-plots", "--workers", "0", "--device", "cpu"]
    if option == "--against":  # an index of another picture to scan against
        other = tmp_path / "other"
        other.mkdir()
        PIL.fromarray(skdata.coins()).save(other / "coins.png")
        assert main(["scan", str(other), "--out", str(tmp_path / "o2"), *argv[4:], "--index", str(tmp_path / "idx")]) == 0
    argv += [option, str(tmp_path / "idx")] if option else []
    assert main([*argv, "--embeddings", str(tmp_path / "emb.npy"), "--quiet"]) == 0
    import json

    doc = json.loads((out / "findings.json").read_text())
    got = doc["duplicates"]["embedding"]
    assert got == want, (got, want)
