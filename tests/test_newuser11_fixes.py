"""newuser11's pass (2026-12-07): the README's DataLoader loop over an ImageFolder class tree with
``IndexedDataset(..., on_error="mark")`` gave a failed item (a truncated JPEG: its label is
unknown, the item raised) and the class labels became floats: ``label`` ``0.0`` / ``1.0`` in
``results.csv`` and ``float64`` in ``report.to_pandas()``, where docs/usage.md promises whole
numbers (pandas' nullable ``Int64`` when an input failed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.distributed import IndexedDataset


class _Items:
    """Five grey 12 x 12 images of classes 0, 0, 1, 1, 2; item 2 raises as a truncated file does."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        if i == 2:
            raise OSError("image file is truncated")
        return np.full((1, 12, 12), 40 * i, np.uint8), [0, 0, 1, 1, 2][i]


def _report() -> object:
    loader = DataLoader(IndexedDataset(_Items(), on_error="mark"), batch_size=2, collate_fn=ragged_collate)
    audit = DataAudit(device="cpu")
    for images, labels, indices in loader:
        audit.update(images, indices=indices, labels=labels)
    return audit.compute()


def test_whole_number_labels_stay_whole_when_an_item_failed(tmp_path: Path) -> None:
    report = _report()
    assert list(report.failed) == [2]
    df = report.to_pandas()
    assert str(df["label"].dtype) == "Int64"
    assert df["label"].tolist()[:2] + df["label"].tolist()[3:] == [0, 0, 1, 2]
    assert df["label"].isna().tolist() == [False, False, True, False, False]
    report.save(tmp_path / "out", formats=("csv", "json"))
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("label")
    assert [line.split(",")[col] for line in lines[1:]] == ["0", "0", "", "1", "2"]
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["images"]
    assert [r["label"] for r in rows] == [0, 0, None, 1, 2]


def test_text_labels_and_complete_labels_keep_their_type() -> None:
    """Only whole-number classes with a gap change: every label known stays int64, text stays text."""
    audit = DataAudit(device="cpu")
    audit.update([np.full((1, 9, 9), 10 * k, np.uint8) for k in range(3)], indices=[0, 1, 2], labels=[3, 1, 3])
    assert str(audit.compute().to_pandas()["label"].dtype) == "int64"
    audit = DataAudit(device="cpu")
    audit.update([np.full((1, 9, 9), 10 * k, np.uint8) for k in range(2)], indices=[0, 1], labels=["cat", "dog"])
    labels = audit.compute().to_pandas()["label"]
    assert labels.tolist() == ["cat", "dog"] and not pd.api.types.is_numeric_dtype(labels)


def test_long_axis_labels_wrap_inside_their_panel() -> None:
    """The report's histograms: motion_cross's 99-character x-axis label ran over its two
    neighbours' (and past the page's right edge); a label longer than a panel's ~55 characters
    is two lines now, each line of the SVG one <text> under its own panel."""
    import html
    import re

    from dataeval_gpu.report.histograms import axis_label, axis_label_lines
    from dataeval_gpu.report.svgcharts import metric_histograms_svg

    full = axis_label("motion_cross")
    assert len(full) > 90
    lines = axis_label_lines("motion_cross")
    assert len(lines) == 2 and " ".join(lines) == full and max(map(len, lines)) <= 58
    assert axis_label_lines("brightness") == [axis_label("brightness")]
    rng = np.random.default_rng(0)
    svg = metric_histograms_svg({"brightness": rng.random(9), "motion_cross": rng.random(9)}, ncols=2)
    texts = re.findall(r'<text x="([0-9.]+)" y="([0-9.]+)" font-size="([0-9.]+)"[^>]*>([^<]*)</text>', svg)
    by_text = {html.unescape(t): (float(x), float(y), float(size)) for x, y, size, t in texts}
    assert by_text[lines[0]][2] == by_text[lines[1]][2] == 11.5
    assert by_text[lines[1]][1] - by_text[lines[0]][1] == 13.5  # one under the other
    assert by_text[lines[0]][0] == by_text[lines[1]][0] > 420  # the second panel (cells 420 px wide)
    # ~6.3 px a character at 11.5 px: the longer line stays inside its 420-px cell
    assert by_text[lines[0]][0] + 6.3 * max(map(len, lines)) / 2 < 2 * 420
    assert by_text[axis_label("brightness")][2] == 12.5


def _png_with_bad_sbit(path: Path, seed: int) -> None:
    """An RGB PNG with a 1-byte sBIT chunk (RGB needs 3): libpng warns ``sBIT: bad length``."""
    import io
    import struct
    import zlib

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(buf, "PNG")
    raw, body = buf.getvalue(), b"sBIT\x08"
    path.write_bytes(raw[:33] + struct.pack(">I", 1) + body + struct.pack(">I", zlib.crc32(body)) + raw[33:])


@pytest.mark.integration
def test_torchrun_keeps_every_ranks_decoder_warnings(tmp_path: Path) -> None:
    """scripts/torchrun_scan.py on 393 freecol PNGs wrote no decoder_note column (IndexedDataset
    dropped each file's note) where `dataeval-gpu scan` had one image's `iCCP: duplicate`, so
    compare_scans.py failed on the column.  Two ranks: b.png (index 1, rank 1's) warns."""
    import os
    import socket
    import subprocess
    import sys

    from PIL import Image

    root = tmp_path / "imgs"
    root.mkdir()
    Image.fromarray(np.full((10, 14, 3), 90, np.uint8)).save(root / "a.png")
    _png_with_bad_sbit(root / "b.png", 1)
    _png_with_bad_sbit(root / "c.png", 2)  # rank 0's
    Image.fromarray(np.full((10, 14, 3), 150, np.uint8)).save(root / "d.png")
    repo = Path(__file__).resolve().parents[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
           "scripts/torchrun_scan.py", str(root), "--out", str(tmp_path / "ddp"), "--workers", "0",
           "--no-progress", "--no-plots"]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo))
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    df = pd.read_csv(tmp_path / "ddp" / "results.csv", keep_default_na=False)
    assert list(df["path"].str[-5:]) == ["a.png", "b.png", "c.png", "d.png"]
    assert list(df["decoder_note"]) == ["", "libpng warning: sBIT: bad length", "libpng warning: sBIT: bad length", ""]
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["world_size"] == 2
    assert config["decoder_warnings"] == "2 images (2 × libpng warning: sBIT: bad length)"
    assert "decoder warnings: 2 images (2 × libpng warning: sBIT: bad length)" in proc.stdout
    assert "libpng" not in proc.stderr


def test_distributed_scan_of_files_in_one_process_keeps_the_notes(tmp_path: Path) -> None:
    from dataeval_gpu.distributed import distributed_scan
    from dataeval_gpu.io import ImageFiles

    _png_with_bad_sbit(tmp_path / "b.png", 3)
    (tmp_path / "z.png").write_bytes(b"garbage")
    files = [str(tmp_path / "b.png"), str(tmp_path / "z.png")]
    report = distributed_scan(ImageFiles(files), batch_size=4, paths=files)
    assert report.notes == {0: "libpng warning: sBIT: bad length"}
    assert report.config["decoder_warnings"] == "1 image (1 × libpng warning: sBIT: bad length)"
    assert report.failed == {1: "ValueError: not an image: a text file (its first words: 'garbage')"}
    assert report.to_pandas()["decoder_note"].tolist() == ["libpng warning: sBIT: bad length", ""]


def test_imagefolder_file_that_fails_keeps_its_class(tmp_path: Path) -> None:
    """README's loop: ImageFolder(root, loader=decode_file) under IndexedDataset(on_error="mark").
    A truncated JPEG in class folder b failed without a label (the item raised before returning
    one); ImageFolder lists every file's class in ``targets``, so the failed row keeps it, as
    `dataeval-gpu scan` keeps a failed file's class folder."""
    from PIL import Image
    from torchvision.datasets import ImageFolder

    from dataeval_gpu.distributed import known_target
    from dataeval_gpu.io import decode_file

    for cls, names in (("a", ["p.png", "q.png"]), ("b", ["r.png", "s.jpg"])):
        (tmp_path / cls).mkdir()
        for k, name in enumerate(names):
            Image.fromarray(np.full((10, 12, 3), 30 + 50 * k, np.uint8)).save(tmp_path / cls / name)
    whole = (tmp_path / "b" / "s.jpg").read_bytes()
    (tmp_path / "b" / "s.jpg").write_bytes(whole[: len(whole) // 2])  # truncated
    dataset = ImageFolder(str(tmp_path), loader=decode_file)
    assert [t for _, t in dataset.samples] == [0, 0, 1, 1]
    loader = DataLoader(IndexedDataset(dataset, on_error="mark"), batch_size=4, collate_fn=ragged_collate)
    audit = DataAudit(device="cpu")
    for images, labels, indices in loader:
        audit.update(images, indices=indices, labels=labels)
    report = audit.compute()
    assert list(report.failed) == [3]
    assert report.labels == {0: 0, 1: 0, 2: 1, 3: 1}
    assert report.to_pandas()["label"].tolist() == [0, 0, 1, 1]
    # no targets, a targets list of another length, a float target: no label rather than a guess
    assert known_target([1, 2], 0) is None
    assert known_target(type("D", (list,), {"targets": [4]})([7, 8]), 0) is None
    assert known_target(type("D", (list,), {"targets": [4.0, 5.0]})([7, 8]), 1) is None
    assert known_target(type("D", (list,), {"targets": torch.tensor([4, 5])})([7, 8]), 1) == 5
