"""newuser7: GIMP's brushes (``.gbr``) and patterns (``.pat``) in a folder were skipped as "neither
named nor encoded like an image" (krita-data: 34 .gbr, 136 .pat); a folder scan now lists them by
their magic, Pillow reads the brushes and :mod:`dataeval_gpu.gimp_pattern` the patterns.  The
files here are written byte by byte from GIMP's format description, independently of the reader."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dataeval_gpu.discovery import find_inputs, image_magic
from dataeval_gpu.io import decode_bytes
from tests.cli_run import run


def gpat(pixels: np.ndarray, name: bytes = b"pattern\x00", version: int = 1) -> bytes:
    """A GIMP pattern file: header size, version, width, height, bytes per pixel, "GPAT", name, pixels."""
    h, w = pixels.shape[:2]
    depth = 1 if pixels.ndim == 2 else pixels.shape[2]
    header = struct.pack(">IIIII", 24 + len(name), version, w, h, depth) + b"GPAT" + name
    return header + pixels.astype(np.uint8).tobytes()


def gbr(pixels: np.ndarray, name: bytes = b"brush\x00") -> bytes:
    """A GIMP brush, version 2: header size, version, width, height, bytes, "GIMP", spacing, name, pixels."""
    h, w = pixels.shape[:2]
    depth = 1 if pixels.ndim == 2 else pixels.shape[2]
    header = struct.pack(">IIIII", 28 + len(name), 2, w, h, depth) + b"GIMP" + struct.pack(">I", 25) + name
    return header + pixels.astype(np.uint8).tobytes()


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_pattern_pixels_as_written(depth: int) -> None:
    rng = np.random.default_rng(depth)
    pix = rng.integers(0, 256, (7, 11) if depth == 1 else (7, 11, depth), dtype=np.uint8)
    img = decode_bytes(gpat(pix))
    expected = pix[None] if depth == 1 else pix.transpose(2, 0, 1)
    assert img.dtype.is_floating_point is False and tuple(img.shape) == expected.shape
    assert np.array_equal(img.numpy(), expected)


def test_brush_pixels_as_written() -> None:
    pix = np.random.default_rng(5).integers(0, 256, (9, 6), dtype=np.uint8)
    img = decode_bytes(gbr(pix))
    assert np.array_equal(img.numpy(), pix[None])


def test_bad_patterns_fail_saying_why() -> None:
    pix = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(ValueError, match=r"truncated GIMP pattern: 59 of its 60 pixel bytes"):
        decode_bytes(gpat(pix)[:-1])
    with pytest.raises(ValueError, match=r"unsupported header \(version 7"):
        decode_bytes(gpat(pix, version=7))


def test_magic() -> None:
    pix = np.zeros((2, 2), np.uint8)
    assert image_magic(gpat(pix)[:24]) and image_magic(gbr(pix)[:24])
    assert not image_magic(b"\x00" * 20 + b"GPAT")  # header size 0, version 0: not GIMP's
    assert not image_magic(gpat(pix)[:20])


def test_folder_scan_measures_brushes_and_patterns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "brushes"
    src.mkdir()
    rng = np.random.default_rng(0)
    patterns = {f"p{k}.pat": rng.integers(0, 256, (20 + k, 24, 3), dtype=np.uint8) for k in range(3)}
    for name, pix in patterns.items():
        (src / name).write_bytes(gpat(pix))
    (src / "b.gbr").write_bytes(gbr(rng.integers(0, 256, (16, 16), dtype=np.uint8)))
    (src / "table.dat").write_bytes(b"\x00\x01\x02 not an image at all, 24+ bytes long")
    found = find_inputs(str(src))
    assert sorted(Path(f).name for f in found.files) == ["b.gbr", "p0.pat", "p1.pat", "p2.pat"]
    assert [Path(f).name for f in found.skipped] == ["table.dat"]
    out = tmp_path / "out"
    status, said, err = run(["scan", str(src), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0"], capsys)
    assert status == 0, err
    df = pd.read_csv(out / "results.csv")
    assert (df["status"] == "ok").all() and len(df) == 4
    row = df[df["path"].str.endswith("p1.pat")].iloc[0]
    assert (row["width"], row["height"], row["channels"]) == (24, 21, 3)
    grey = patterns["p1.pat"].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert abs(row["brightness"] - np.floor(grey).mean() / 255) < 0.01  # the pixels, not noise
    assert "skipped 1 file (.dat 1)" in said
