"""``--against`` embedding matches follow the scan's look rule: an embedding pair is kept only
when the two grey thumbnails also look alike (``look_alike``, ``LOOK_MIN``), as a scan of both
sets keeps its embedding pairs.  An embedding says what a picture shows, not that two pictures
are copies: without the rule every new image was an "embedding" copy of indexed ones that a
scan of both sets never groups with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit, scan_files
from dataeval_gpu.detectors.embedding_pairs import LOOK_SURE, TURN_MIN, look_scores
from dataeval_gpu.detectors.near_duplicates import look_alike
from dataeval_gpu.functional.hashing.align import rotated_correlation
from dataeval_gpu.index import DatasetIndex, scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")

KW = {"workers": 0, "progress": False}


class _Same(torch.nn.Module):
    """Every image embeds to one vector: every pair has cosine 1 (only the look rule tells)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], 4, dtype=torch.float32)


def _save(folder: Path, names: list[str]) -> list[str]:
    folder.mkdir(parents=True)
    for n in names:
        v = getattr(skdata, n)()
        v = np.stack([v] * 3, -1) if v.ndim == 2 else v[..., :3]
        PIL.fromarray(np.ascontiguousarray(v[:256, :256]).astype(np.uint8)).save(folder / f"{n}.png")
    return sorted(str(p) for p in folder.iterdir())


def test_against_embedding_matches_need_look_alike_thumbnails(tmp_path: Path) -> None:
    indexed = _save(tmp_path / "indexed", ["astronaut", "coffee", "camera"])
    new = _save(tmp_path / "new", ["chelsea", "rocket"])
    kw = {"embeddings": True, "embed_model": _Same(), **KW}
    update_index(tmp_path / "idx", indexed, **kw)
    report = scan_against(tmp_path / "idx", new, **kw)
    got = {
        (Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name)
        for m in report.against["matches"]
        if "embedding" in m["methods"]
    }
    # the look rule itself, from the index's stored thumbnails: the independent reference
    thumbs = np.asarray(DatasetIndex(tmp_path / "idx").take("pchash_thumbs", np.arange(3)))
    mine = np.stack(_thumbs(new))
    q, j = np.divmod(np.arange(6), 3)  # every (new, indexed) pair
    both = np.concatenate([mine.reshape(2, -1), thumbs.reshape(3, -1)])
    alike, checked = look_alike(both, q, 2 + j)
    # alike only in part (below LOOK_SURE): one must be the other turned by a few degrees
    best = look_scores(both, q, 2 + j)[0]
    sq = np.full((6, 2), 256.0)  # every file is 256 x 256
    whole = both.reshape(5, -1, 32, 32)[:, 0]
    turned = rotated_correlation(whole[q], sq, whole[2 + j], sq)[0]
    alike &= (best >= LOOK_SURE) | (turned >= TURN_MIN)
    want = {(Path(new[a]).name, Path(indexed[b]).name) for a, b, ok in zip(q, j, alike, strict=True) if ok}
    assert checked.all() and len(want) < 6  # not all alike: the rule has something to drop
    assert got == want


def _thumbs(files: list[str]) -> list[np.ndarray]:
    """Each file's ``pchash_thumbs`` row as a scan keeps it."""
    audit = DataAudit()
    scan_files(files, audit=audit, **KW)
    _, rows, _ = audit.measured_rows()
    return list(rows["pchash_thumbs"])
