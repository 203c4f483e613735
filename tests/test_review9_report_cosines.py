"""review9: the scan's own report shows the cosine similarity of its embedding duplicate groups.

``write_report`` could show them only when given the embeddings, and neither ``dataeval-gpu scan
--embeddings`` nor ``DataAudit.compute()`` kept them: every embedding group of the command's report
said "The report was not given the embeddings".  The report now keeps the rows of the groups'
members (``AuditReport.embeddings``, :func:`~dataeval_gpu.audit.embedded.group_embeddings`)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.audit.embedded import group_embeddings
from dataeval_gpu.cli import main


def test_group_embeddings_keeps_the_members_rows_only() -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 5)).astype(np.float32)
    idx = np.array([10, 11, 13, 20, 21, 30])
    want = {11: emb[1], 20: emb[3], 30: emb[5]}
    for e_idx, e in ((idx, emb), (torch.from_numpy(idx), torch.from_numpy(emb))):
        got = group_embeddings([[20, 11], [30, 99]], e_idx, e)  # 99: no row (left out, not an error)
        assert sorted(got) == sorted(want)
        for i, row in want.items():
            np.testing.assert_array_equal(got[i], row)
    assert group_embeddings([], idx, emb) == {}


def test_scan_with_an_embeddings_file_reports_each_groups_cosine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    d = tmp_path / "imgs"
    d.mkdir()
    pics = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(5)]
    pics[3] = pics[2] // 2 + 60  # a dimmer copy of image 2 (it must look alike on the thumbnails too)
    for k, pic in enumerate(pics):
        Image.fromarray(pic).save(d / f"{k}.png")
    emb = rng.normal(size=(5, 16))
    emb[3] = emb[2] + 0.01 * rng.normal(size=16)  # images 2 and 3: near duplicates by embedding only
    np.save(tmp_path / "emb.npy", emb.astype(np.float32))
    out = tmp_path / "out"
    assert main(["scan", str(d), "--out", str(out), "--no-progress", "--embeddings", str(tmp_path / "emb.npy")]) == 0
    capsys.readouterr()
    page = (out / "report.html").read_text()
    a, b = emb[2].astype(np.float32).astype(np.float64), emb[3].astype(np.float32).astype(np.float64)
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # float64 reference
    head = re.search(r'id="dup-embedding-0".*?</p>', page, flags=re.S)
    assert head is not None
    assert f"cosine similarity {cos:.4f}" in head.group(0)
    assert "The report was not given the embeddings" not in page


class _Pooled(torch.nn.Module):
    """A tiny embedding model: each image's 4 x 4 average-pooled pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x.float(), 4).flatten(1)


def test_audit_with_embeddings_keeps_its_groups_rows_for_the_report(tmp_path: Path) -> None:
    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.report import write_report

    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, (3, 48, 48), dtype=np.uint8) for _ in range(6)]
    imgs[4] = imgs[1].copy()  # a copy: an embedding group of 1 and 4
    audit = DataAudit(embeddings=True, embed_model=_Pooled())
    audit.update(imgs)
    rep = audit.compute()
    groups = rep.duplicates["embedding"]
    assert [1, 4] in groups
    members = sorted({i for g in groups for i in g})
    assert sorted(rep.embeddings) == members
    assert all(rep.embeddings[i].shape == (48,) for i in members)  # the model's 3 x 4 x 4 rows
    np.testing.assert_array_equal(rep.embeddings[1], rep.embeddings[4])  # one picture: one row
    page = write_report(rep, tmp_path / "out").read_text()
    head = re.search(r'id="dup-embedding-\d+" data-method="embedding" data-size="2">.*?</p>', page, flags=re.S)
    assert head is not None and "cosine similarity 1.0000" in head.group(0)
