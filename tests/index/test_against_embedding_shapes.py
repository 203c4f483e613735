"""``--against`` and ``scan --embeddings FILE.npy`` hold an embedding pair that the thumbnails
cannot compare (images under 33 px) to the scan's shape rule (``shapes_differ``: cosine >=
``SHAPE_COSINE`` where the shapes differ by > ``ASPECT_TOLERANCE`` or a side is under 9 px), as a
scan of both sets does: a dark 20 x 20 gradient and a light 10 x 40 one at cosine 0.90 were an
"embedding" copy against the index and in the file's groups, never in a scan's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import scan_files
from dataeval_gpu.cli import main
from dataeval_gpu.index import scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

KW = {"workers": 0, "progress": False}
COS = 1.0 / np.sqrt(1.0 + 0.48**2)  # 0.90: over the 0.88 threshold, under SHAPE_COSINE


class _ByLevel(torch.nn.Module):
    """Dark images embed to (1, 0), light ones to (1, 0.48): cosine 0.90 between them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        light = (x.flatten(1).mean(1) > 0.5).to(torch.float32)
        return torch.stack([torch.ones_like(light), 0.48 * light, 0 * light, 0 * light], 1)


def _save(path: Path, light: bool, h: int, w: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    lo, hi = (190, 255) if light else (0, 60)
    PIL.fromarray(np.tile(np.linspace(lo, hi, w).astype(np.uint8), (h, 1))).save(path)
    return str(path)


def test_against_and_file_embeddings_follow_the_shape_rule(tmp_path: Path) -> None:
    a = _save(tmp_path / "indexed" / "a.png", False, 20, 20)
    b = _save(tmp_path / "new" / "b.png", True, 10, 40)
    kw = {"embeddings": True, "embed_model": _ByLevel(), **KW}
    # the reference: a scan of both sets with the model keeps no embedding pair
    both = scan_files([a, b], **kw)
    assert both.duplicates["embedding"] == []
    update_index(tmp_path / "idx", [a], **kw)
    report = scan_against(tmp_path / "idx", [b], **kw)
    assert [m for m in report.against["matches"] if "embedding" in m["methods"]] == []
    # ... and a square copy of the same size is kept (the rule is the shape, not the cosine)
    c = _save(tmp_path / "new2" / "c.png", True, 20, 20)
    report = scan_against(tmp_path / "idx", [c], **kw)
    got = [m for m in report.against["matches"] if "embedding" in m["methods"]]
    assert len(got) == 1 and got[0]["cosine"] == pytest.approx(COS, abs=1e-3)
    # scan --embeddings FILE.npy: the same cosine from a file
    np.save(tmp_path / "emb.npy", np.array([[1, 0, 0, 0], [1, 0.48, 0, 0]], np.float32))
    folder = tmp_path / "both"
    for p in (a, b):
        folder.mkdir(exist_ok=True)
        (folder / Path(p).name).write_bytes(Path(p).read_bytes())
    out = tmp_path / "out"
    argv = ["scan", str(folder), "--out", str(out), "--no-progress", "--no-plots", "--workers", "0"]
    assert main([*argv, "--device", "cpu", "--embeddings", str(tmp_path / "emb.npy"), "--quiet"]) == 0
    assert json.loads((out / "findings.json").read_text())["duplicates"]["embedding"] == []
