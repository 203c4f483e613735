"""The colour figure of the visible part and its region disagreement (functional/hashing/colour_regions.py,
pairs8): CIELAB against scikit-image, the figure against a hand-built image, copies of real photos
(resized, JPEG 50, blurred, brightness +25, noise, cropped 5 % a side; opaque and on a transparent
disc) against pages with another emblem."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from dataeval_gpu.functional.hashing.colour_regions import (
    COLOUR_SIDE,
    region_disagreement,
    srgb_to_lab,
    visible_colour_figure,
)

skdata = pytest.importorskip("skimage.data")
skcolor = pytest.importorskip("skimage.color")

#: largest score of a copy measured on the photos below: 8.0 (a 5 % crop on a disc); a page with
#: another emblem: 18 and more
COPY_BOUND = 10.0
EMBLEM_BOUND = 15.0


def _chw(im: Image.Image) -> np.ndarray:
    return np.array(im).transpose(2, 0, 1)


def _fig(im: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    return visible_colour_figure(_chw(im))


def test_lab_matches_scikit_image() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3)).astype(np.float64)
    ref = skcolor.rgb2lab(rgb[None] / 255.0)[0]
    np.testing.assert_allclose(srgb_to_lab(rgb), ref, atol=0.05)


def test_figure_averages_visible_colour_only() -> None:
    # 32 x 32 RGBA: every 2 x 2 block is one cell; its left column opaque red / green, its right
    # column transparent hiding blue (which must not count)
    img = np.zeros((4, 32, 32), dtype=np.uint8)
    img[2, :, 1::2] = 255
    img[0, :16, 0::2], img[1, 16:, 0::2], img[3, :, 0::2] = 255, 255, 255
    lab, alpha = visible_colour_figure(img)
    assert lab.shape == (COLOUR_SIDE, COLOUR_SIDE, 3) and alpha.shape == (COLOUR_SIDE, COLOUR_SIDE)
    np.testing.assert_allclose(alpha, 0.5)
    red, green = skcolor.rgb2lab(np.array([[[1.0, 0, 0], [0, 1.0, 0]]]))[0]
    np.testing.assert_allclose(lab[:8], np.broadcast_to(red, (8, COLOUR_SIDE, 3)), atol=0.05)
    np.testing.assert_allclose(lab[8:], np.broadcast_to(green, (8, COLOUR_SIDE, 3)), atol=0.05)
    # float on the 0-1 scale and grey + alpha give the same figure as their uint8 / RGBA forms
    lab_f, alpha_f = visible_colour_figure(img.astype(np.float32) / 255.0)
    np.testing.assert_allclose(lab_f, lab, atol=1e-6)
    grey = np.stack([img[0], img[3]])
    np.testing.assert_allclose(visible_colour_figure(grey)[0], visible_colour_figure(np.stack([img[0]] * 3 + [img[3]]))[0])


def test_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="1-4 channels"):
        visible_colour_figure(np.zeros((5, 8, 8), dtype=np.uint8))


def _disc(im: Image.Image) -> Image.Image:
    w, h = im.size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse((w * 0.1, h * 0.1, w * 0.9, h * 0.9), fill=255)
    out = im.convert("RGBA")
    out.putalpha(mask)
    return out


def _copies(im: Image.Image) -> dict[str, Image.Image]:
    w, h = im.size
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=50)
    jpeg = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if im.mode == "RGBA":
        jpeg.putalpha(im.getchannel("A"))
    a = np.array(im).astype(np.int64)
    bright = a.copy()
    bright[..., :3] = np.clip(bright[..., :3] + 25, 0, 255)
    noisy = a.astype(np.float64)
    noisy[..., :3] += np.random.default_rng(0).normal(0, 8, noisy[..., :3].shape)
    crop = im.crop((w // 20, h // 20, w - w // 20, h - h // 20))
    return {
        "half": im.resize((w // 2, h // 2), Image.BICUBIC),
        "jpeg50": jpeg,
        "blur": im.filter(ImageFilter.GaussianBlur(1.5)),
        "bright25": Image.fromarray(bright.astype(np.uint8), im.mode),
        "noise8": Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8), im.mode),
        "crop5": crop,
        "crop5_half": crop.resize((w // 2, h // 2), Image.BICUBIC),
    }


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("on_disc", [False, True])
def test_copies_of_real_photos_agree(name: str, on_disc: bool) -> None:
    im = Image.fromarray(getattr(skdata, name)())
    im = _disc(im) if on_disc else im
    base = _fig(im)
    scores = {k: region_disagreement(base, _fig(c)) for k, c in _copies(im).items()}
    assert all(s < COPY_BOUND for s in scores.values()), scores
    # a flipped / turned copy: the D4 turn is searched
    assert region_disagreement(base, _fig(im.transpose(Image.Transpose.ROTATE_90))) < 1.0


def _page(side: int = 128) -> Image.Image:
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rectangle((side * 0.15, side * 0.05, side * 0.85, side * 0.95), fill=(245, 245, 245, 255),
                outline=(120, 120, 120, 255), width=2)
    for k in range(6):
        y = side * (0.15 + 0.07 * k)
        d.line((side * 0.25, y, side * 0.75, y), fill=(170, 170, 170, 255), width=1)
    return im


def _with_emblem(page: Image.Image, patch: Image.Image) -> Image.Image:
    out, n = page.copy(), page.size[0]
    out.paste(patch.convert("RGBA").resize((n // 4, n // 4)), (int(n * 0.55), int(n * 0.62)))
    return out


def test_pages_with_another_emblem_disagree() -> None:
    page = _page()
    emblems = [Image.new("RGB", (32, 32), c) for c in ((220, 30, 30), (30, 60, 200), (40, 160, 60))]
    emblems += [Image.fromarray(getattr(skdata, n)()) for n in ("astronaut", "coffee", "chelsea")]
    icons = [_with_emblem(page, e) for e in emblems]
    figs = [_fig(i) for i in icons]
    scores = [region_disagreement(figs[a], figs[b]) for a in range(len(figs)) for b in range(a + 1, len(figs))]
    assert min(scores) > EMBLEM_BOUND, scores
    # the same emblem at another size is one icon
    big = _with_emblem(_page(256), emblems[3])
    assert region_disagreement(figs[3], _fig(big)) < COPY_BOUND


def test_a_region_recoloured_disagrees_too() -> None:
    """The limit that keeps the score out of the pair rules: one part of a sprite recoloured (a
    flame red -> blue, judged the same picture) scores like another emblem; the whole picture
    recoloured does not (the median cell moves with the window)."""
    page = _page()
    red, blue = (_with_emblem(page, Image.new("RGB", (32, 32), c)) for c in ((220, 30, 30), (30, 60, 200)))
    assert region_disagreement(_fig(red), _fig(blue)) > EMBLEM_BOUND
    a = np.array(Image.fromarray(skdata.astronaut()).resize((128, 128)))
    shifted = a.astype(np.int64)
    shifted[..., 0] = np.clip(shifted[..., 0] + 30, 0, 255)
    whole = region_disagreement(visible_colour_figure(a.transpose(2, 0, 1)),
                                visible_colour_figure(shifted.astype(np.uint8).transpose(2, 0, 1)))
    assert whole < COPY_BOUND


def test_no_shared_visible_cell_is_nan() -> None:
    left = np.zeros((4, 32, 32), dtype=np.uint8)
    left[:, :, :8] = 255
    right = np.zeros((4, 32, 32), dtype=np.uint8)
    right[:, 12:20, 12:20] = 255
    assert np.isnan(region_disagreement(visible_colour_figure(left), visible_colour_figure(right)))
