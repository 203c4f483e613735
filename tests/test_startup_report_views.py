"""The report's thumbnails are (C, H, W) views of Pillow's (H, W, C) pixels (no planar copy and
back): the same pixels and the same grid pictures as the planar copies gave (issue 14, start to exit)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _jpeg(path: Path, arr: np.ndarray) -> Path:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=92)
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize("shape", [(600, 900, 3), (300, 200, 3), (500, 700)])
def test_thumbnail_is_a_view_with_the_planar_copys_pixels(tmp_path: Path, shape: tuple[int, ...]) -> None:
    from dataeval_gpu.report.images import load_thumbnail, shrink_uint8

    rng = np.random.default_rng(len(shape) * shape[0])
    arr = np.clip(rng.normal(128, 60, shape), 0, 255).astype(np.uint8)
    path = _jpeg(tmp_path / "a.jpg", arr)
    got = load_thumbnail(path)
    # the former path: Pillow's reduced decode as a C-contiguous (C, H, W) copy, then shrink_uint8
    with Image.open(path) as im:
        im.draft(None, (256, 256))
        hwc = np.asarray(im.convert(im.mode))
    planar = hwc[None] if hwc.ndim == 2 else np.ascontiguousarray(hwc.transpose(2, 0, 1))
    want = shrink_uint8(planar, 256)
    assert got.shape == want.shape and got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    if got.shape[0] == 3:  # (C, H, W) view of an (H, W, C) buffer: back to (H, W, C) without a copy
        assert not got.flags.c_contiguous and got.transpose(1, 2, 0).flags.c_contiguous
        assert np.shares_memory(got, np.ascontiguousarray(got.transpose(1, 2, 0)))


def test_shrunk_colour_image_is_a_view_with_the_same_pixels() -> None:
    from dataeval_gpu.report.images import shrink_uint8

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (3, 400, 650), dtype=np.uint8)
    got = shrink_uint8(img, 256)
    hwc = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).resize((256, 158), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(got, np.asarray(hwc).transpose(2, 0, 1))
    assert got.transpose(1, 2, 0).flags.c_contiguous


def test_grid_from_views_is_the_grid_from_planar_copies(tmp_path: Path) -> None:
    """A Pillow grid drawn from the thumbnails as views is byte for byte the grid drawn from
    C-contiguous planar copies of the same thumbnails."""
    from dataeval_gpu.report.grids import GridSpec
    from dataeval_gpu.report.images import shrink_uint8
    from dataeval_gpu.report.pilgrid import render_grid

    rng = np.random.default_rng(7)
    thumbs = {i: shrink_uint8(rng.integers(0, 256, (3, 300 + 40 * i, 500), dtype=np.uint8), 256) for i in range(4)}
    thumbs[4] = rng.integers(0, 256, (1, 120, 90), dtype=np.uint8)
    assert not thumbs[0].flags.c_contiguous
    spec = GridSpec([[(i, f"#{i}") for i in range(3)], [(3, "#3"), (4, "#4"), None]], "views")
    a = render_grid(spec, lambda i: thumbs[i], tmp_path / "views.png")
    b = render_grid(spec, lambda i: np.ascontiguousarray(thumbs[i]), tmp_path / "planar.png")
    assert a.read_bytes() == b.read_bytes()
