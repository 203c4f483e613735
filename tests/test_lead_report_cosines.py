"""A scan with embeddings hands the report the rows of its embedding groups, so the HTML page shows
each embedding group's cosine similarity (it said "The report was not given the embeddings" for
every scan; only a caller passing ``write_report(embeddings=...)`` got them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import scan_files
from dataeval_gpu.audit.embedded import grouped_rows
from dataeval_gpu.report import write_report

PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")


class _Pooled(torch.nn.Module):
    """A 4x4 average-pooled image (48 numbers): a near copy embeds close to its original."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1)


def test_grouped_rows_keeps_only_the_grouped_images() -> None:
    idx = np.array([3, 5, 8, 9])
    rows = np.arange(8.0).reshape(4, 2)
    got_idx, got_rows = grouped_rows(idx, rows, [[9, 3]])
    assert got_idx.tolist() == [3, 9] and got_rows.tolist() == [[0.0, 1.0], [6.0, 7.0]]
    assert grouped_rows(idx, rows, []) is None


def test_scan_report_shows_the_embedding_groups_cosines(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    pics = {n: getattr(skdata, n)()[:256, :256, :3] for n in ("astronaut", "coffee", "chelsea", "rocket")}
    for n, v in pics.items():
        PIL.fromarray(np.ascontiguousarray(v).astype(np.uint8)).save(folder / f"{n}.png")
    brighter = np.clip(pics["coffee"].astype(np.int16) + 6, 0, 255).astype(np.uint8)  # a near copy
    PIL.fromarray(brighter).save(folder / "coffee_bright.png")
    files = sorted(str(p) for p in folder.iterdir())
    rep = scan_files(files, embeddings=True, embed_model=_Pooled(), workers=0, progress=False)
    names = {i: Path(p).name for i, p in rep.paths.items()}
    groups = [sorted(names[i] for i in g) for g in rep.duplicates["embedding"]]
    assert ["coffee.png", "coffee_bright.png"] in groups
    grouped = sorted({i for g in rep.duplicates["embedding"] for i in g})
    assert rep.embeddings is not None and rep.embeddings[0].tolist() == grouped  # only the grouped rows
    # the pair's cosine in float64 from the rows the audit embedded (the page's is the report's own)
    pos = {Path(rep.paths[int(i)]).name: k for k, i in enumerate(rep.embeddings[0])}
    a, b = (rep.embeddings[1][pos[n]].astype(np.float64) for n in ("coffee.png", "coffee_bright.png"))
    cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    write_report(rep, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text()
    assert f"cosine similarity {cos:.4f}" in page
    assert "was not given the embeddings" not in page
