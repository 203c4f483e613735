"""PIL images given in memory are measured by the same mode rules as the same image read from a file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.batching import as_image
from dataeval_gpu.io import decode_file
from dataeval_gpu.metrics.stats import imagestats

_RNG = np.random.default_rng(7)
_RGB = Image.fromarray(_RNG.integers(0, 256, (18, 22, 3), dtype=np.uint8))

# (mode, file format that stores it, channels / dtype a file read gives)
CASES = [
    ("P", "png", 3, torch.uint8),
    ("P", "bmp", 3, torch.uint8),
    ("PA", "tiff", 4, torch.uint8),
    ("CMYK", "jpg", 3, torch.uint8),
    ("CMYK", "tiff", 3, torch.uint8),
    ("YCbCr", "tiff", 3, torch.uint8),
    ("LAB", "tiff", 3, torch.uint8),
    ("1", "png", 1, torch.uint8),
    ("L", "png", 1, torch.uint8),
    ("LA", "png", 2, torch.uint8),
    ("RGBA", "png", 4, torch.uint8),
    ("I;16", "png", 1, torch.uint16),
    ("I;16B", "tiff", 1, torch.uint16),
    ("I", "tiff", 1, torch.uint16),
    ("F", "tiff", 1, torch.float32),
]


@pytest.mark.parametrize(("mode", "fmt", "channels", "dtype"), CASES, ids=[f"{m}-{f}" for m, f, *_ in CASES])
def test_in_memory_pil_image_is_read_as_its_file(tmp_path, mode: str, fmt: str, channels: int, dtype) -> None:
    path = tmp_path / f"x.{fmt}"
    _RGB.convert(mode).save(path)
    with Image.open(path) as im:
        im.load()
        assert im.mode == mode  # the file keeps the mode: the in-memory image is that mode
        got = as_image(im, 0)
    want = decode_file(path)
    assert got.shape == want.shape == (channels, 18, 22)
    assert got.dtype == want.dtype == dtype
    assert torch.equal(got, want)


def test_palette_image_gives_its_colours_and_statistics_of_its_file(tmp_path) -> None:
    pal = _RGB.convert("P")
    path = tmp_path / "p.png"
    pal.save(path)
    colours = np.asarray(pal.convert("RGB")).transpose(2, 0, 1)  # independent: Pillow's own palette lookup
    assert torch.equal(as_image(pal, 0), torch.from_numpy(colours.copy()))
    mem = imagestats([pal])
    disk = imagestats([decode_file(path)])
    assert int(np.asarray(mem.channels)[0]) == 3
    for key in ("channels", "mean", "std", "brightness", "entropy", "histogram"):
        np.testing.assert_array_equal(np.asarray(getattr(mem, key)), np.asarray(getattr(disk, key)))


def test_transparent_palette_gives_rgba() -> None:
    pal = _RGB.convert("P")
    pal.info["transparency"] = 0
    t = as_image(pal, 0)
    assert t.shape[0] == 4
    want_alpha = np.where(np.asarray(pal) == 0, 0, 255)
    assert torch.equal(t[3], torch.from_numpy(want_alpha.astype(np.uint8)))


def test_hsv_image_is_measured_as_rgb() -> None:
    # no file format stores HSV: the rule is the same as YCbCr / LAB (converted to RGB)
    hsv = _RGB.convert("HSV")
    assert torch.equal(as_image(hsv, 0), torch.from_numpy(np.asarray(hsv.convert("RGB")).transpose(2, 0, 1).copy()))
