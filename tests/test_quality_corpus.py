"""scripts/quality_corpus.py keeps each source in the mode it is stored in: a grey file must not
become a grey picture stored as RGB (the planted ``grey_rgb`` defect) before anything is planted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "quality_corpus.py"


@pytest.fixture(scope="module")
def corpus():
    spec = importlib.util.spec_from_file_location("quality_corpus_under_test", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def _ramp(h: int = 40, w: int = 50) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) % 251).astype(np.uint8)


def test_grey_files_stay_one_channel(corpus, tmp_path):
    g = _ramp()
    Image.fromarray(g).save(tmp_path / "l.png")
    alpha = np.full_like(g, 255)
    alpha[:10] = 0  # transparent rows composite on black
    Image.fromarray(np.stack([g, alpha], -1), "LA").save(tmp_path / "la.png")
    p = Image.fromarray(g).convert("P")  # a palette of grey entries only
    p.save(tmp_path / "p_grey.png")
    rgb = np.stack([g, g // 2, 255 - g], -1)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")

    lum = corpus.load_source(tmp_path / "l.png")
    assert lum.mode == "L" and np.array_equal(np.asarray(lum), g)
    la = corpus.load_source(tmp_path / "la.png")
    want = g.copy()
    want[:10] = 0
    assert la.mode == "L" and np.array_equal(np.asarray(la), want)
    assert corpus.load_source(tmp_path / "p_grey.png").mode == "L"
    col = corpus.load_source(tmp_path / "rgb.png")
    assert col.mode == "RGB" and np.array_equal(np.asarray(col), rgb)


def test_variants_of_a_grey_source(corpus):
    src = Image.fromarray(_ramp(80, 96))
    crop = corpus.mode_like(corpus.dup_variant(src, "crop5px", 1), src)
    assert crop.mode == "L" and np.array_equal(np.asarray(crop), np.asarray(src)[5:-5, 5:-5])
    # JPEG re-encodes keep the mode; the overlay's colour logo makes a colour image
    assert corpus.mode_like(corpus.dup_variant(src, "jpeg50", 1), src).mode == "L"
    assert corpus.mode_like(corpus.dup_variant(src, "overlay", 1), src).mode == "RGB"
    grey_rgb = corpus.outlier_variant(src, "grey_rgb", 1)
    a = np.asarray(grey_rgb)
    assert (
        grey_rgb.mode == "RGB"
        and np.array_equal(a[..., 0], np.asarray(src))
        and np.array_equal(a[..., 1], a[..., 2])
    )
    dark = corpus.mode_like(corpus.outlier_variant(src, "dark", 1), src)
    assert dark.mode == "L" and np.array_equal(np.asarray(dark), np.asarray(src) // 8)
    # a colour source's variants are left as they are
    col = Image.fromarray(np.stack([_ramp(80, 96)] * 2 + [np.zeros((80, 96), np.uint8)], -1))
    assert corpus.mode_like(corpus.dup_variant(col, "hflip", 1), col).mode == "RGB"


def test_grey_picture_stored_as_rgb_is_stored_grey(corpus, tmp_path):
    """A source whose own file is a grey picture stored as RGB already carries the defect planted
    as ``grey_rgb``: the corpus stores it as one grey channel, as a clean collection would."""
    g = _ramp()
    rgb = np.stack([g, g, g], -1)
    rgb[0, :5, 0] += 3  # a few JPEG-like stray levels: still grey at 99 % of the pixels
    Image.fromarray(rgb).save(tmp_path / "grey_rgb.png")
    src = corpus.load_source(tmp_path / "grey_rgb.png")
    assert src.mode == "L"
    assert np.array_equal(np.asarray(src)[1:], g[1:])
    # an RGBA render that is grey once composited on black as well
    rgba = np.concatenate([rgb, np.full_like(g, 255)[..., None]], -1)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "grey_rgba.png")
    assert corpus.load_source(tmp_path / "grey_rgba.png").mode == "L"
    # a colour picture whose channels differ at 2 % of the pixels stays RGB
    col = rgb.copy()
    col[:1, :, 2] = 200  # one row of 40 = 2.5 %
    Image.fromarray(col).save(tmp_path / "almost.png")
    assert corpus.load_source(tmp_path / "almost.png").mode == "RGB"
    assert corpus.channels_equal(rgb) and not corpus.channels_equal(col)
