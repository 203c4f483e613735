"""``scan NEW --against IDX --embeddings`` against an index built without embeddings: the new
images are embedded (their Clusterer runs) and the index answers its hash matches and outliers,
as documented ("embedding matches when the index has embeddings").  It was refused as an index
"built with other settings (embedding_model: index None, this run 'efficientnet_lite0')"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image as PIL
import pytest
import torch

from dataeval_gpu.index import IndexMismatchError, scan_against, update_index

KW = {"workers": 0, "progress": False}


class _Mean(torch.nn.Module):
    """A tiny embedding: the per-channel means and spreads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().flatten(2)
        return torch.cat([x.mean(-1), x.std(-1)], 1)


class _Other(_Mean):
    pass


def _pictures(folder: Path, seeds: range) -> list[str]:
    folder.mkdir(parents=True)
    for s in seeds:
        small = np.random.default_rng(s).integers(0, 256, (5, 5, 3)).astype(np.uint8)
        PIL.fromarray(small).resize((48, 40), PIL.BILINEAR).save(folder / f"img{s:02d}.png")
    return sorted(str(p) for p in folder.iterdir())


def test_against_with_embeddings_an_index_without_them(tmp_path: Path) -> None:
    indexed = _pictures(tmp_path / "indexed", range(8))
    update_index(tmp_path / "idx", indexed, **KW)
    new = _pictures(tmp_path / "new", range(20, 26))
    PIL.open(indexed[3]).save(tmp_path / "new" / "copy.png")  # an exact copy of an indexed file
    new = sorted(str(p) for p in (tmp_path / "new").iterdir())
    report = scan_against(tmp_path / "idx", new, embeddings=True, embed_model=_Mean(), **KW)
    assert report.config["embeddings"] and "outliers" in report.clusters  # embedded, clustered
    copies = [(Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name, m["methods"])
              for m in report.against["matches"]]  # fmt: skip
    assert copies == [("copy.png", "img03.png", ["exact"])]
    # an index with embeddings of another model is still refused
    update_index(tmp_path / "idx2", indexed, embeddings=True, embed_model=_Other(), **KW)
    with pytest.raises(IndexMismatchError, match="embedding_model"):
        scan_against(tmp_path / "idx2", new, embeddings=True, embed_model=_Mean(), **KW)
