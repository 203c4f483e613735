"""Files given for images by mistake (a dataset's arrays, an archive, a document) fail with what
they are, not as "unknown or unsupported image format (first bytes: 93 4e 55 4d ...)"."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.file_kinds import idx_array, unknown_format
from dataeval_gpu.io import decode_bytes


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((5, 1, 28, 28), np.uint8))
    return buf.getvalue()


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.zeros((2, 3), np.uint8))
    return buf.getvalue()


def _idx() -> bytes:  # MNIST's images header: type 0x08 (uint8), 3 dimensions, 2 x 28 x 28
    return b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(2 * 28 * 28)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_npy(), "unsupported format: a numpy array file (.npy), not an image: scan arrays from Python, "
         "dataeval_gpu.audit.scan(list(np.load(path)))"),
        (_npz(), "unsupported format: a zip archive (such as an .npz of arrays, or images to unpack and scan "
         "as a folder), not an image"),
        (_idx(), "unsupported format: an IDX array file (MNIST's format), not an image: load its arrays in Python"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(64), "unsupported format: a PDF document, not an image"),
    ],
)  # fmt: skip
def test_arrays_archives_and_documents_are_named(data: bytes, reason: str) -> None:
    assert unknown_format(data) == reason
    with pytest.raises(ValueError) as info:
        decode_bytes(data)
    assert str(info.value) == reason


def test_idx_header_rule() -> None:
    assert idx_array(_idx()[:4]) and idx_array(b"\x00\x00\x08\x01")  # MNIST's images, its labels
    assert not idx_array(b"\x00\x51\x7d\x00")  # the corpus's random bytes stay unknown
    assert not idx_array(b"\x00\x00\x08\x05") and not idx_array(b"\x00\x00\x07\x03") and not idx_array(b"\x00\x00")
    assert unknown_format(b"\x00\x51\x7d" + bytes(64)).startswith("unknown or unsupported image format")
    gz = gzip.compress(_idx())  # MNIST as downloaded keeps the gzip reason
    assert unknown_format(gz).startswith("unsupported format: gzip-compressed data")


def test_scan_of_an_npy_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``dataeval-gpu scan images.npy``: one failed row whose reason says how arrays are scanned."""
    from dataeval_gpu.cli import main

    path = tmp_path / "images.npy"
    path.write_bytes(_npy())
    out = tmp_path / "out"
    assert main(["scan", str(path), "--out", str(out), "--no-plots", "--no-progress", "--quiet"]) == 0
    capsys.readouterr()
    import csv

    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["status"] for r in rows] == ["failed"]
    assert rows[0]["error"].startswith("ValueError: unsupported format: a numpy array file (.npy)")
    assert zipfile.is_zipfile(io.BytesIO(_npz()))  # the archive case above is a real zip


def test_summary_says_null_for_what_was_not_run() -> None:
    """``--no-quality`` wrote ``"quality_flagged_images": 0, "quality_issues": {}`` and a scan without
    embeddings ``"cluster_outliers": 0``: read as "none found".  Not run is null, as the duplicates'
    counts are without hashes; run and none found stays 0."""
    from dataeval_gpu.audit import DataAudit

    imgs = [np.full((1, 12, 12), 7 * k, np.uint8) for k in range(4)]
    off = DataAudit(quality=False, hashes=False)
    off.update(imgs)
    s = off.compute(progress=False).summary_dict()
    assert s["quality_flagged_images"] is None and s["quality_issues"] is None
    assert s["cluster_outliers"] is None and s["cluster_potential_outliers"] is None
    assert s["cluster_duplicate_groups"] is None and s["exact_duplicate_groups"] is None
    on = DataAudit()
    on.update(imgs)
    s = on.compute(progress=False).summary_dict()
    assert s["quality_flagged_images"] == sum(1 for v in on.compute(progress=False).quality["why"].values() if v)
    assert isinstance(s["quality_issues"], dict) and set(s["quality_issues"]) >= {"dark", "blurry", "noisy"}
    assert s["cluster_outliers"] is None  # no embeddings
    nothing = DataAudit().compute(progress=False).summary_dict()  # quality on, no image: 0, not null
    assert nothing["quality_flagged_images"] == 0 and nothing["quality_issues"] == {}
    import torch

    class MeanColour(torch.nn.Module):  # a tiny embedding model: each image's mean colour and spread
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)

    emb = DataAudit(quality=False, hashes=False, embeddings=True, embed_model=MeanColour())
    emb.update([np.random.default_rng(k).integers(0, 256, (3, 16, 16), dtype=np.uint8) for k in range(6)])
    s = emb.compute(progress=False).summary_dict()
    assert isinstance(s["cluster_outliers"], int) and isinstance(s["cluster_duplicate_groups"], int)
