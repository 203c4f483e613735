"""What the main job still misses: held-out photos with planted defects the corpus does not plant.

    python scripts/survey_recall.py build  OUT      # sources + variants -> OUT/images, OUT/manifest.json
    python scripts/survey_recall.py scan   OUT      # dataeval-gpu scan OUT/images (defaults) -> OUT/scan
    python scripts/survey_recall.py score  OUT      # per-kind recall / precision tables (markdown)
    python scripts/survey_recall.py sheet  OUT KIND # contact sheet of one kind's variants (+ flags)

Sources: photos that ``scripts/quality_corpus.py`` does not draw (``data_cache/photos`` at odd
indices: the corpus takes ``photos[::2][:220]``), the larger hugin-data help JPEGs of
``/tmp/qr_debs4`` and scikit-learn's two sample photos; only photo-like images (no screenshot,
plot or drawing: ``photo_like``), at most ``MAX_SIDE`` px, pictures that are the same twice kept
once.  Each kind of ``OUTLIER_KINDS`` (defects a photo collection has) and ``DUP_KINDS``
(benign edits of a photo: a near duplicate, not a defect) is planted on ``--per-kind`` sources
drawn at random; every variant is also a copy of its source, so one scan measures both: is the
variant flagged (which quality issue, which Linter flag) and is it grouped with its source.
``INTRUDER_KINDS`` are real images of another kind (GUI screenshots) added without a source.

Precision: flags on the unmodified sources, and pairs (inside a reported group) of two distinct
sources.  The scan is ``dataeval-gpu scan`` with its defaults (quality issues, Linter, exact and
near duplicates), the files as stored (PNG, JPEG for the JPEG kinds).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_corpus import fit, rot_small  # noqa: E402  (the corpus's resize and small turn)

ROOT = Path(__file__).resolve().parents[1]
DEBS = Path("/tmp/qr_debs")
DEBS4 = Path("/tmp/qr_debs4")
MAX_SIDE = 1024
#: candidates that ``photo_like`` lets through but a contact sheet shows are not single photos
#: (screenshots, grids and side-by-side comparisons, drawn overlays, abstract gradient wallpapers),
#: or a second copy of another source (hugin's projections / crops of one scene, a re-saved photo)
NOT_PHOTOS = (
    "2_319fed31.jpg", "Bounding_Rects_Circles_Source_Image_ef063368.jpg",
    "Cascade_Classifier_Tutorial_Result_LBP_9687f762.jpg", "Feature_Detection_Result_a_7a66d21d.jpg",
    "HDRtoneMapping_memorialSample_b674bbe7.jpg", "Harris_Detector_Original_Image_e2ca7d9b.jpg",
    "My_Harris_corner_detector_Result_f0f48131.jpg", "fuzzy_filt_output_4e419a73.jpg",
    "fuzzy_inp_output_1121b016.jpg", "houghlines5_e3968a27.jpg", "messiup_0a3de175.jpg",
    "nlm_result1_7a2729e3.jpg", "opticalflow_lk_60c29186.jpg", "orapple_81c12c03.jpg",
    "originalVSdistorted_e80a8cf8.jpg", "pytorch_resnet50_opencv_test_res_0f3fea68.jpg",
    "reconstructed_fastVSbest_18b45853.jpg", "rhythm_4673265c.jpg", "string_de47973c.jpg",
    "surf_kp1_82d9005f.jpg", "Honeywave/5120x2880.jpg", "PastelHills/2560x1440.jpg",
    "Shell/5120x2880.jpg", "umang_by_Abhishek_Mudgal.jpg", "Big_ben_equirectangular.jpg",
    "Bubble-distortion.jpg", "CA_artifical_B_Y.jpg", "CA_tCA02.jpg", "Pincushion-distortion.jpg",
    "SB_Parallax.jpg", "SB_Parallax_overlapped.jpg", "surf_kp2_179cc890.jpg",
)  # fmt: skip
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


# ---------------------------------------------------------------- sources
def candidate_paths() -> list[tuple[str, Path]]:
    photos = sorted((ROOT / "data_cache" / "photos").glob("*.jpg"))
    # the corpus draws photos[::2][:220]: every other file is held out
    out = [("photos", p) for i, p in enumerate(photos) if i % 2 or i >= 440]
    # desktop wallpapers (photos among them), one file per wallpaper: the largest image
    walls = DEBS / "x_plasma-workspace-wallpapers/usr/share/wallpapers"
    for d in sorted(walls.glob("*/contents")):
        imgs = sorted((d / "images").glob("*.jpg"), key=lambda q: q.stat().st_size)
        if imgs:
            out.append(("plasma", imgs[-1]))
    for d in sorted(DEBS.glob("x_lomiri-wallpapers*")):
        out += [("lomiri", q) for q in sorted(d.rglob("*.jpg"))]
    hugin = DEBS4 / "x_hugin-data/usr/share/hugin/xrc/data/help_en_EN"
    out += [("hugin", p) for p in sorted(hugin.glob("*.jpg"))]
    try:
        import sklearn.datasets

        d = Path(sklearn.datasets.__file__).parent / "images"
        out += [("sklearn", d / "china.jpg"), ("sklearn", d / "flower.jpg")]
    except ImportError:
        pass
    return out


def photo_like(rgb: np.ndarray) -> bool:
    """A photo, not a screenshot / plot / drawing: colour, few pixels on the most common levels,
    many distinct colours (measured on a 128-px thumbnail, 5-bit colours)."""
    x = rgb.astype(np.int32)
    spread = float(np.mean(x.max(-1) - x.min(-1)))
    q = (x >> 3).reshape(-1, 3)
    codes = q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]
    counts = np.bincount(codes, minlength=32768)
    top = np.sort(counts)[::-1]
    top5 = top[:5].sum() / codes.size
    distinct = int((counts > 0).sum())
    return spread >= 8 and top5 < 0.25 and distinct >= 600


def load_sources(
    min_side: int = 240, exclude: tuple[str, ...] = NOT_PHOTOS
) -> list[tuple[str, str, Image.Image]]:
    out, thumbs = [], []
    for coll, p in candidate_paths():
        label = f"{p.parts[-4]}/{p.name}" if coll == "plasma" else p.name
        if label in exclude:
            continue  # looked at: not a photo (a screenshot, plot or drawing the numbers let through)
        with Image.open(p) as im:
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))  # a JPEG decoded at a reduced scale, still >= MAX_SIDE
            im = im.convert("RGB")
        if min(im.size) < min_side:
            continue
        small = np.asarray(im.resize((128, 128), Image.Resampling.BOX))
        if not photo_like(small):
            continue
        t = np.asarray(im.convert("L").resize((64, 64), Image.Resampling.BOX), dtype=np.float32)
        tf = t[:, ::-1]
        if any(min(np.abs(t - u).mean(), np.abs(tf - u).mean()) < 6.0 for u in thumbs):
            continue  # the same picture twice (a processed copy of another file)
        thumbs.append(t)
        out.append((coll, label, fit(im, MAX_SIDE)))
    return out


# ---------------------------------------------------------------- helpers
def _u8(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))


def _f(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.float32)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _gamma(im: Image.Image, g: float) -> Image.Image:
    return _u8(255.0 * (_f(im) / 255.0) ** g)


def _contrast(im: Image.Image, c: float) -> Image.Image:
    a = _f(im)
    return _u8((a - a.mean()) * c + a.mean())


def _saturation(im: Image.Image, s: float) -> Image.Image:
    a = _f(im)
    g = a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return _u8(g[..., None] + (a - g[..., None]) * s)


def _hue(im: Image.Image, shift: int) -> Image.Image:
    h, s, v = im.convert("HSV").split()
    h = h.point(lambda x: (x + shift) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def _crop_box(im: Image.Image, keep: float, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    cw, ch = round(w * keep), round(h * keep)
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def _motion(im: Image.Image, length: int, horizontal: bool = True) -> Image.Image:
    a = _f(im)
    ax = 1 if horizontal else 0
    pad = [(0, 0)] * 3
    pad[ax] = (length // 2, length - 1 - length // 2)
    p = np.pad(a, pad, mode="edge")
    c = np.cumsum(p, axis=ax, dtype=np.float64)
    c = np.concatenate([np.zeros_like(np.take(c, [0], axis=ax)), c], axis=ax)
    n = a.shape[ax]
    out = (np.take(c, np.arange(length, length + n), axis=ax) - np.take(c, np.arange(n), axis=ax)) / length
    return _u8(out)


def _disc(im: Image.Image, r: int) -> Image.Image:
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    k = ((xx**2 + yy**2) <= r * r + 0.5).astype(np.float32)
    k /= k.sum()
    return _conv(im, k)


def _conv(im: Image.Image, k: np.ndarray) -> Image.Image:
    import torch

    a = torch.from_numpy(_f(im)).permute(2, 0, 1)[:, None]
    r = k.shape[0] // 2
    a = torch.nn.functional.pad(a, (r, r, r, r), mode="replicate")
    out = torch.nn.functional.conv2d(a, torch.from_numpy(k)[None, None])
    return _u8(out[:, 0].permute(1, 2, 0).numpy())


def _vignette(im: Image.Image, strength: float) -> Image.Image:
    a = _f(im)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((xx - w / 2) / (w / 2)) ** 2 + ((yy - h / 2) / (h / 2)) ** 2
    m = np.clip(1.0 - strength * r2 / 2.0, 0.0, 1.0)
    return _u8(a * m[..., None])


def _pad(im: Image.Image, aspect: float, colour: tuple[int, int, int]) -> Image.Image:
    """Letterbox to ``aspect`` (width / height) with bars of ``colour``."""
    w, h = im.size
    if w / h < aspect:
        W, H = round(h * aspect), h
    else:
        W, H = w, round(w / aspect)
    canvas = Image.new("RGB", (W, H), colour)
    canvas.paste(im, ((W - w) // 2, (H - h) // 2))
    return canvas


def _watermark(im: Image.Image, text: str, big: bool) -> Image.Image:
    base = im.convert("RGBA")
    w, h = base.size
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    if big:  # a diagonal stock-photo watermark
        f = _font(max(12, w // 7))
        tw = d.textlength(text, font=f)
        d.text(((w - tw) / 2, h / 2 - w // 14), text, font=f, fill=(255, 255, 255, 110))
        layer = layer.rotate(25, resample=Image.Resampling.BICUBIC)
    else:  # a caption with a shadow, lower left
        f = _font(max(10, h // 14))
        d.text((w // 30 + 2, h - h // 7 + 2), text, font=f, fill=(0, 0, 0, 200))
        d.text((w // 30, h - h // 7), text, font=f, fill=(255, 255, 255, 255))
    return Image.alpha_composite(base, layer).convert("RGB")


def _screenshot_of(im: Image.Image) -> Image.Image:
    """The photo shown in an image viewer's window (title bar, toolbar, grey surround), captured."""
    w, h = im.size
    W, H = w, h
    canvas = Image.new("RGB", (W, H), (236, 236, 236))
    d = ImageDraw.Draw(canvas)
    bar = max(18, H // 18)
    d.rectangle((0, 0, W, bar), fill=(48, 52, 60))
    d.text((8, bar // 4), "IMG_2041.JPG - Image Viewer", font=_font(max(9, bar // 2)), fill=(230, 230, 230))
    d.rectangle((0, bar, W, 2 * bar), fill=(210, 210, 214))
    for i in range(6):
        d.rectangle((8 + i * bar, bar + 4, 8 + i * bar + bar - 8, 2 * bar - 4), fill=(120, 124, 130))
    inner_w, inner_h = W - 2 * bar, H - 3 * bar - 2 * bar
    s = min(inner_w / w, inner_h / h)
    pw, ph = max(1, round(w * s)), max(1, round(h * s))
    canvas.paste(
        im.resize((pw, ph), Image.Resampling.BILINEAR),
        ((W - pw) // 2, 2 * bar + (inner_h + 2 * bar - ph) // 2 - bar // 2),
    )
    d.rectangle((0, H - bar, W, H), fill=(210, 210, 214))
    d.text((8, H - bar + bar // 4), f"{w} x {h}  100%", font=_font(max(9, bar // 2)), fill=(40, 40, 40))
    return canvas


def _jpeg_bytes(im: Image.Image, q: int) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=q)
    return buf.getvalue()


def _decoded_jpeg(im: Image.Image, q: int) -> Image.Image:
    import io

    return Image.open(io.BytesIO(_jpeg_bytes(im, q))).convert("RGB")


# ---------------------------------------------------------------- kinds
# every function: (source image, rng) -> variant image (RGB unless said); "jpegNN" kinds are saved as JPEG
OUTLIER_KINDS = {
    "gamma2.2": lambda im, r: _gamma(im, 2.2),
    "gamma3": lambda im, r: _gamma(im, 3.0),
    "bright0.5": lambda im, r: _u8(_f(im) * 0.5),
    "bright0.3": lambda im, r: _u8(_f(im) * 0.3),
    "contrast0.5": lambda im, r: _contrast(im, 0.5),
    "contrast0.3": lambda im, r: _contrast(im, 0.3),
    "hazy": lambda im, r: _u8(_f(im) * 0.45 + 0.55 * 215.0),
    "lift+80": lambda im, r: _u8(_f(im) * (175.0 / 255.0) + 80.0),
    "cast": lambda im, r: _u8(
        _f(im) * np.array([1.0, 0.78, 0.5], dtype=np.float32) + np.array([30, 0, 0], dtype=np.float32)
    ),
    "cast_blue": lambda im, r: _u8(
        _f(im) * np.array([0.55, 0.8, 1.0], dtype=np.float32) + np.array([0, 0, 35], dtype=np.float32)
    ),
    "desat0.15": lambda im, r: _saturation(im, 0.15),
    "pixelate8": lambda im, r: im.resize(
        (max(1, im.width // 8), max(1, im.height // 8)), Image.Resampling.BOX
    ).resize(im.size, Image.Resampling.NEAREST),
    "posterize3": lambda im, r: im.convert("RGB").point(lambda x: (x >> 5) << 5),
    "posterize2": lambda im, r: im.convert("RGB").point(lambda x: (x >> 6) << 6),
    "jpeg10": lambda im, r: im,  # saved as a JPEG of quality 10
    "jpeg20": lambda im, r: im,  # saved as a JPEG of quality 20
    "upscale_bilinear": lambda im, r: im.resize(
        (max(1, im.width // 8), max(1, im.height // 8)), Image.Resampling.LANCZOS
    ).resize(im.size, Image.Resampling.BILINEAR),
    "upscale_bicubic4": lambda im, r: im.resize(
        (max(1, im.width // 4), max(1, im.height // 4)), Image.Resampling.LANCZOS
    ).resize(im.size, Image.Resampling.BICUBIC),
    "vignette": lambda im, r: _vignette(im, 1.6),
    "motion9": lambda im, r: _motion(im, 9, True),
    "motion15v": lambda im, r: _motion(im, 15, False),
    "defocus3": lambda im, r: _disc(im, 3),
    "defocus6": lambda im, r: _disc(im, 6),
    "grey_tint": lambda im, r: _u8(
        _f(im.convert("L").convert("RGB")) + np.array([3, 0, -2], dtype=np.float32)
    ),
    "grey_rgba": lambda im, r: im.convert("L").convert("RGBA"),
    "grey_jpeg": lambda im, r: im.convert("L").convert("RGB"),  # saved as a JPEG of quality 90
    "rot90_in_landscape": lambda im, r: im.transpose(Image.Transpose.ROTATE_90),
    "letterbox_black": lambda im, r: _pad(im, 2.35 if im.width / im.height < 2.2 else 1.0, (0, 0, 0)),
    "pad_white": lambda im, r: _pad(im, 1.0 if im.width >= im.height else 1.0, (255, 255, 255)),
    "watermark": lambda im, r: _watermark(im, "© STOCKPHOTO", big=True),
    "noise8": lambda im, r: _u8(_f(im) + r.normal(0, 8, (im.height, im.width, 3))),
    "noise_chroma": lambda im, r: _u8(_f(im) + r.normal(0, 14, (im.height, im.width, 3))),
}
DUP_KINDS = {
    "crop20": lambda im, r: _crop_box(im, 0.8, r),
    "crop30": lambda im, r: _crop_box(im, 0.7, r),
    "squash": lambda im, r: im.resize((round(im.width * 0.7), im.height), Image.Resampling.BICUBIC),
    "stretch": lambda im, r: im.resize((im.width, round(im.height * 0.75)), Image.Resampling.BICUBIC),
    "frame": lambda im, r: _frame(im),
    "rot10": lambda im, r: rot_small(im, 10.0 if r.random() < 0.5 else -10.0),
    "rot15": lambda im, r: rot_small(im, 15.0 if r.random() < 0.5 else -15.0),
    "hue+30": lambda im, r: _hue(im, 21),
    "sat1.6": lambda im, r: _saturation(im, 1.6),
    "gamma0.6": lambda im, r: _gamma(im, 0.6),
    "gamma1.5": lambda im, r: _gamma(im, 1.5),
    "caption": lambda im, r: _watermark(im, "Summer 2019 - day 3", big=False),
    "hflip_crop10": lambda im, r: _crop_box(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.9, r),
    "small_jpeg": lambda im, r: _decoded_jpeg(
        im.resize((320, max(1, round(320 * im.height / im.width))), Image.Resampling.LANCZOS), 60
    ),
    "screenshot_of": lambda im, r: _screenshot_of(im),
    "sharpen": lambda im, r: im.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=0)),
    # recallframe18: frames on all four sides and bars of a few pixels (appended: the kinds above
    # draw the same sources and pixels as before)
    "frame_white3": lambda im, r: _border(im, 0.03, (255, 255, 255)),
    "frame_white6": lambda im, r: _border(im, 0.06, (255, 255, 255)),
    "frame_black4": lambda im, r: _border(im, 0.04, (0, 0, 0)),
    "frame_colour8": lambda im, r: _border(im, 0.08, _frame_colour(r), inset=True),
    "passepartout": lambda im, r: _passepartout(im),
    "bars2_black": lambda im, r: _thin_bars(im, 2, (0, 0, 0), horizontal=True),
    "bars3_white": lambda im, r: _thin_bars(im, 3, (255, 255, 255), horizontal=False),
    "stroke1": lambda im, r: _stroke(im, 1, (0, 0, 0)),
}
JPEG_KINDS = {"jpeg10": 10, "jpeg20": 20, "grey_jpeg": 90}
INTRUDER_KINDS = ("screenshot",)


def _frame(im: Image.Image) -> Image.Image:
    """A white passe-partout frame, 6 % of the short side, the photo scaled into it (same size)."""
    w, h = im.size
    b = max(4, round(0.06 * min(w, h)))
    inner = im.resize((w - 2 * b, h - 2 * b), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (w, h), (250, 250, 250))
    canvas.paste(inner, (b, b))
    return canvas


def _border(im: Image.Image, share: float, colour: tuple[int, int, int], inset: bool = False) -> Image.Image:
    """A uniform frame of ``share`` of the short side on all four sides: around the photo (the
    canvas grows) or, ``inset``, the photo scaled into it (the same size)."""
    w, h = im.size
    b = max(1, round(share * min(w, h)))
    if inset:
        inner = im.resize((w - 2 * b, h - 2 * b), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (w, h), colour)
    else:
        inner = im
        canvas = Image.new("RGB", (w + 2 * b, h + 2 * b), colour)
    canvas.paste(inner, (b, b))
    return canvas


def _frame_colour(r: np.random.Generator) -> tuple[int, int, int]:
    """A saturated frame colour (a hue at random, full value)."""
    hue = int(r.integers(0, 256))
    return Image.new("HSV", (1, 1), (hue, 200, 200)).convert("RGB").getpixel((0, 0))


def _passepartout(im: Image.Image) -> Image.Image:
    """A thin passe-partout: an off-white mat of 4 % of the short side around the photo, with a
    2-px grey line along the photo's edge (the mat's bevel)."""
    w, h = im.size
    b = max(3, round(0.04 * min(w, h)))
    canvas = Image.new("RGB", (w + 2 * b, h + 2 * b), (238, 234, 224))
    ImageDraw.Draw(canvas).rectangle((b - 2, b - 2, b + w + 1, b + h + 1), fill=(120, 116, 110))
    canvas.paste(im, (b, b))
    return canvas


def _thin_bars(im: Image.Image, px: int, colour: tuple[int, int, int], horizontal: bool) -> Image.Image:
    """Bars of ``px`` pixels added above and below (``horizontal``) or left and right."""
    w, h = im.size
    size = (w, h + 2 * px) if horizontal else (w + 2 * px, h)
    canvas = Image.new("RGB", size, colour)
    canvas.paste(im, (0, px) if horizontal else (px, 0))
    return canvas


def _stroke(im: Image.Image, px: int, colour: tuple[int, int, int]) -> Image.Image:
    """A line of ``px`` pixels drawn over the photo's outermost pixels on all four sides."""
    out = im.convert("RGB").copy()
    w, h = out.size
    d = ImageDraw.Draw(out)
    for k in range(px):
        d.rectangle((k, k, w - 1 - k, h - 1 - k), outline=colour)
    return out


#: what each kind is, for the tables
DESCRIBE = {
    "gamma2.2": "gamma 2.2 (mid-tones darkened, white kept)",
    "gamma3": "gamma 3",
    "bright0.5": "every level x 0.5",
    "bright0.3": "every level x 0.3",
    "contrast0.5": "contrast 0.5 around the mean",
    "contrast0.3": "contrast 0.3 around the mean",
    "hazy": "0.45 x + 0.55 x 215 (haze, washed out)",
    "lift+80": "black lifted to 80, white kept (faded)",
    "cast": "warm cast: R+30, G x 0.78, B x 0.5",
    "cast_blue": "cool cast: R x 0.55, G x 0.8, B+35",
    "desat0.15": "saturation 0.15 (almost grey)",
    "pixelate8": "1/8 box downscale, nearest upscale",
    "posterize3": "3 bits per channel",
    "posterize2": "2 bits per channel",
    "jpeg10": "JPEG q10, native size",
    "jpeg20": "JPEG q20, native size",
    "upscale_bilinear": "1/8 thumbnail, bilinear upscale",
    "upscale_bicubic4": "1/4 thumbnail, bicubic upscale",
    "vignette": "radial darkening to black at the corners",
    "motion9": "horizontal motion blur, 9 px",
    "motion15v": "vertical motion blur, 15 px",
    "defocus3": "disc blur, radius 3 px",
    "defocus6": "disc blur, radius 6 px",
    "grey_tint": "grey as RGB with a tint (R+3, B-2 levels)",
    "grey_rgba": "grey stored as RGBA",
    "grey_jpeg": "grey stored as RGB JPEG q90",
    "rot90_in_landscape": "a landscape photo turned 90 deg",
    "letterbox_black": "black bars to 2.35:1 (pillar- or letterbox)",
    "pad_white": "white bars to a square",
    "watermark": "large diagonal semi-transparent text",
    "noise8": "Gaussian noise sigma 8 per channel",
    "noise_chroma": "Gaussian noise sigma 14 per channel",
    "crop20": "80 % x 80 % window, random place",
    "crop30": "70 % x 70 % window, random place",
    "squash": "width x 0.7",
    "stretch": "height x 0.75",
    "frame": "white passe-partout, 6 %",
    "rot10": "turned 10 deg, cropped to the picture",
    "rot15": "turned 15 deg, cropped to the picture",
    "hue+30": "hue +30 deg",
    "sat1.6": "saturation x 1.6",
    "gamma0.6": "gamma 0.6 (brighter)",
    "gamma1.5": "gamma 1.5 (darker)",
    "caption": "caption text, lower left",
    "hflip_crop10": "mirrored + 90 % window",
    "small_jpeg": "320 px wide, JPEG q60",
    "screenshot_of": "shown in a viewer window, captured",
    "sharpen": "unsharp mask 150 %",
    "frame_white3": "white frame 3 % of the short side, all sides, around",
    "frame_white6": "white frame 6 %, all sides, around",
    "frame_black4": "black frame 4 %, all sides, around",
    "frame_colour8": "coloured frame 8 %, photo scaled into it",
    "passepartout": "off-white mat 4 % with a 2-px grey bevel line",
    "bars2_black": "2-px black bars above and below",
    "bars3_white": "3-px white bars left and right",
    "stroke1": "1-px black line over the outermost pixels",
    "screenshot": "GIMP dialog screenshots (no source)",
}


def screenshot_paths(n: int, seed: int) -> list[Path]:
    d = DEBS4 / "x_gimp-help-en/usr/share/gimp/2.0/help/en/images/dialogs"
    ps = sorted(p for p in d.glob("*.png") if p.stat().st_size > 20_000)
    rng = np.random.default_rng(seed)
    return [ps[i] for i in sorted(rng.choice(len(ps), size=min(n, len(ps)), replace=False))] if ps else []


# ---------------------------------------------------------------- build
def build(
    out: Path, per_kind: int = 14, n_intruders: int = 12, seed: int = 0, kinds: tuple[str, ...] | None = None
) -> dict:
    """Sources, every kind's variants (``kinds``: only those, each drawn from the same sources as
    in a full build: the other kinds' draws are made and dropped) and the intruders (a full build
    only) -> ``out/images``, ``out/manifest.json``."""
    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    sources = load_sources()
    rng = np.random.default_rng(seed)
    entries: list[dict] = []

    def save(im: Image.Image, src: int, role: str, kind: str, coll: str, quality: int | None = None) -> None:
        stem = f"{len(entries):05d}_{role}_{kind.replace('%', 'pc').replace('+', 'p')}"
        name = stem + (".jpg" if quality else ".png")
        if quality:
            (img_dir / name).write_bytes(_jpeg_bytes(im, quality))
        else:
            im.save(img_dir / name)
        entries.append({"file": name, "source": src, "role": role, "kind": kind, "collection": coll})

    for i, (coll, name, im) in enumerate(sources):
        save(im, i, "photo", "photo", coll)
        entries[-1]["name"] = name
    landscape = [i for i, (_, _, im) in enumerate(sources) if im.width > 1.2 * im.height]
    for role, kind_table in (("outlier", OUTLIER_KINDS), ("dup", DUP_KINDS)):
        for k, (kind, fn) in enumerate(kind_table.items()):
            pool = landscape if kind == "rot90_in_landscape" else list(range(len(sources)))
            for s in rng.choice(pool, size=min(per_kind, len(pool)), replace=False):
                if kinds is not None and kind not in kinds:
                    continue  # drawn all the same: the next kinds' sources stay those of a full build
                coll, _, im = sources[int(s)]
                v = fn(im, np.random.default_rng(int(s) * 131 + k))
                save(v, int(s), role, kind, coll, JPEG_KINDS.get(kind))
    for p in screenshot_paths(n_intruders if kinds is None else 0, seed):
        with Image.open(p) as im:
            v = fit(im.convert("RGB"), MAX_SIDE)
        save(v, -1, "intruder", "screenshot", "gimp-help-dialogs")
        entries[-1]["name"] = p.name
    manifest = {"n_sources": len(sources), "per_kind": per_kind, "seed": seed, "entries": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=0))
    return manifest


# ---------------------------------------------------------------- scan
def scan_dir_name(preset: str = "default", embeddings: bool = False) -> str:
    return ("scan" if preset == "default" else f"scan_{preset}") + ("_emb" if embeddings else "")


def scan(out: Path, preset: str = "default", embeddings: bool = False) -> Path:
    """``dataeval-gpu scan`` of ``out/images`` (niced), its results in ``out/<scan_dir_name>``;
    ``embeddings``: with ``--embeddings`` (the default model: embedding near duplicates too)."""
    dest = out / scan_dir_name(preset, embeddings)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "dataeval_gpu.cli_entry",
        "scan",
        str(out / "images"),
        "--out",
        str(dest),
        "--no-plots",
        "--no-progress",
        "--quiet",
        "--preset",
        preset,
        *(["--embeddings"] if embeddings else []),
    ]
    subprocess.run(["nice", "-n", "5", *cmd], check=True, env=env)
    return dest


def cleanvision(out: Path, python: str = "/work/venvs/quality/bin/python") -> Path:
    dest = out / "cleanvision.csv"
    code = (
        "import sys, json; from cleanvision import Imagelab\n"
        "lab = Imagelab(data_path=sys.argv[1]); lab.find_issues()\n"
        "lab.issues.to_csv(sys.argv[2])\n"
        "sets = [list(map(str, s)) for k in ('exact_duplicates', 'near_duplicates') for s in lab.info[k]['sets']]\n"
        "json.dump(sets, open(sys.argv[2] + '.sets.json', 'w'))\n"
    )
    subprocess.run(["nice", "-n", "5", python, "-c", code, str(out / "images"), str(dest)], check=True)
    return dest


# ---------------------------------------------------------------- score
def read_rows(scan_dir: Path) -> dict[str, dict]:
    with open(scan_dir / "results.csv", newline="") as f:
        return {Path(r["path"]).name: r for r in csv.DictReader(f)}


def _split(v: str) -> list[str]:
    return [t for t in (v or "").replace(",", ";").split(";") if t.strip()] if v else []


def groups_of(rows: dict[str, dict]) -> dict[str, set[str]]:
    """file -> the files it is grouped with (exact or near group, merged transitively)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_group: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, r in rows.items():
        for col in ("exact_duplicate_group", "near_duplicate_group", "embedding_duplicate_group"):
            g = r.get(col, "")
            if g not in ("", None, "-1"):
                by_group[(col, g)].append(name)
    for members in by_group.values():
        for m in members[1:]:
            parent[find(m)] = find(members[0])
    comps: dict[str, set[str]] = defaultdict(set)
    for name in rows:
        comps[find(name)].add(name)
    return {name: comps[find(name)] for name in rows}


def read_cleanvision(out: Path) -> dict[str, dict]:
    """cleanvision's issues and duplicate sets (``cleanvision``'s files) as results.csv-like rows:
    its issues as ``quality_issues``, each duplicate set as a ``near_duplicate_group``."""
    import pandas as pd

    df = pd.read_csv(out / "cleanvision.csv", index_col=0)
    issues = [c for c in df.columns if c.startswith("is_") and c.endswith("_issue")]
    dup_cols = ("is_exact_duplicates_issue", "is_near_duplicates_issue")
    rows = {}
    for path, r in df.iterrows():
        found = [c[3:-6] for c in issues if c not in dup_cols and bool(r[c])]
        rows[Path(str(path)).name] = {
            "quality_issues": ";".join(found),
            "lint_flags": "",
            "near_duplicate_group": "-1",
        }
    sets_file = out / "cleanvision.csv.sets.json"
    for g, members in enumerate(json.loads(sets_file.read_text()) if sets_file.exists() else []):
        for m in members:
            rows[Path(m).name]["near_duplicate_group"] = str(g)
    return rows


def score(out: Path, scan_dir: Path | None = None, rows: dict[str, dict] | None = None) -> dict:
    man = json.loads((out / "manifest.json").read_text())
    rows = rows if rows is not None else read_rows(scan_dir or out / "scan")
    ents = [e for e in man["entries"] if e["file"] in rows]
    src_file = {e["source"]: e["file"] for e in ents if e["role"] == "photo"}
    grp = groups_of(rows)
    per_kind: dict[str, dict] = {}
    for e in ents:
        r = rows[e["file"]]
        q = _split(r.get("quality_issues", ""))
        lint = _split(r.get("lint_flags", ""))
        d = per_kind.setdefault(
            e["kind"],
            {
                "role": e["role"],
                "n": 0,
                "quality": 0,
                "lint": 0,
                "any": 0,
                "grouped": 0,
                "issues": Counter(),
                "lints": Counter(),
            },
        )
        d["n"] += 1
        d["quality"] += bool(q)
        d["lint"] += bool(lint)
        d["any"] += bool(q or lint)
        d["issues"].update(q)
        d["lints"].update(lint)
        if e["role"] in ("outlier", "dup"):
            d["grouped"] += src_file.get(e["source"]) in grp[e["file"]]
    # false pairs: two members of one group that come from two distinct sources
    sid = {e["file"]: (e["source"] if e["source"] >= 0 else f"x{e['file']}") for e in ents}
    seen, false_pairs, all_pairs = set(), [], 0
    for comp in grp.values():
        key = frozenset(comp)
        if len(comp) < 2 or key in seen:
            continue
        seen.add(key)
        members = sorted(comp)
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                all_pairs += 1
                if sid.get(a) != sid.get(b):
                    false_pairs.append((a, b))
    return {"per_kind": per_kind, "false_pairs": false_pairs, "pairs": all_pairs, "n_images": len(ents)}


#: the default scan's near-hash radius (``why_not_grouped``'s first rule)
_RADIUS = 4


def _pair_figures(src: dict, var: dict, keys: tuple[str, ...] | None = None):  # noqa: ANN202
    """The library's ``PairFigures`` of (source, variant) from their results.csv rows (the columns
    the index reads its pair figures from: ``index.near_matches.figures_of``); ``keys``: only those
    columns (the others' rules skipped), None: all the rows hold."""
    from dataeval_gpu.index.near_matches import FIGURE_COLUMNS, figures_of

    def col(k: str) -> np.ndarray | None:
        if (keys is not None and k not in keys and k not in ("height", "width")) or any(
            r.get(k) in (None, "") for r in (src, var)
        ):
            return None
        return np.array([float(src[k]), float(var[k])])

    return figures_of({k: col(k) for k in FIGURE_COLUMNS})


def why_not_grouped(src: dict, var: dict) -> str:
    """The first pair rule a (source, variant) pair of results.csv rows fails, whole images only
    (a central crop's hash is not in results.csv: "hash" may still match through a crop view).
    The rules are the library's own (``detectors.hash_figures.figure_rules`` and
    ``hash_pairs.hash_pairs_ok`` without the thumbnails), each run on the figures it reads: the
    colour cast (an opaque grey side skips it; one picture at another exposure passes cast and
    spread together), the grey entropy (a flat image's level), the pixel spread, the plain
    background; "thumbnail check" when all of them pass."""
    from dataeval_gpu.detectors.hash_figures import figure_rules
    from dataeval_gpu.detectors.hash_pairs import hash_pairs_ok

    d = bin(int(src["pchash_d4"], 16) ^ int(var["pchash_d4"], 16)).count("1")
    if d > _RADIUS:
        return f"hash>{_RADIUS}"
    i, j, v = np.array([0]), np.array([1]), np.array([0])
    passes = lambda *keys: bool(figure_rules(*[_pair_figures(src, var, keys)] * 2, i, j)[0])  # noqa: E731
    seen = ("opacity", "mean", "channel_spread")  # the grey and exposure exceptions read them
    if not passes("chroma_rg", "chroma_bg", "std", *seen):  # cast and spread (one exposure: both)
        return "colour cast" if not passes("chroma_rg", "chroma_bg", *seen) else "spread"
    if not passes("grey_entropy", "dark_clipped", "bright_clipped", "opacity", "mean"):
        return "entropy"
    figs = _pair_figures(src, var, ("dark_clipped", "bright_clipped", "grey_entropy", "opacity"))
    if not bool(hash_pairs_ok(figs, figs, i, v, j, v, np.array([d]), _RADIUS)[0]):
        return "plain background"
    return "thumbnail check"


def ungrouped_reasons(out: Path, scan_dir: Path | None = None) -> dict[str, Counter]:
    man = json.loads((out / "manifest.json").read_text())
    rows = read_rows(scan_dir or out / "scan")
    grp = groups_of(rows)
    src_file = {e["source"]: e["file"] for e in man["entries"] if e["role"] == "photo"}
    res: dict[str, Counter] = defaultdict(Counter)
    if "pchash_d4" not in next(iter(rows.values()), {}):
        return res  # a scan without the default's D4 hash (the 0.65 preset): no reasons
    for e in man["entries"]:
        s = src_file.get(e["source"])
        if e["role"] in ("outlier", "dup") and e["file"] in rows and s in rows and s not in grp[e["file"]]:
            res[e["kind"]][why_not_grouped(rows[s], rows[e["file"]])] += 1
    return res


def _fmt_counter(c: Counter, n: int = 3) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.most_common(n)) or "-"


def table(res: dict) -> str:
    pk = res["per_kind"]
    lines = [
        "| kind | role | n | quality issue | Linter flag | any | grouped with source | issues (count) | Linter flags (count) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, d in pk.items():
        n = d["n"]
        g = f"{d['grouped'] / n:.2f}" if d["role"] in ("outlier", "dup") else "-"
        lines.append(
            f"| {kind} | {d['role']} | {n} | {d['quality'] / n:.2f} | {d['lint'] / n:.2f} | {d['any'] / n:.2f} | {g} | "
            f"{_fmt_counter(d['issues'])} | {_fmt_counter(d['lints'])} |"
        )
    lines.append(f"\npairs in groups: {res['pairs']}, of two distinct sources: {len(res['false_pairs'])}")
    return "\n".join(lines)


def compare(out: Path) -> str:
    """One row per kind: the default scan, the scan with embeddings, the 0.65 preset and
    cleanvision, each where its results exist: share flagged (any quality issue or Linter flag;
    cleanvision: any issue) / share grouped with its source."""
    runs = {}
    for label, d in (
        ("default", "scan"),
        ("+ embeddings", "scan_emb"),
        ("0.65 preset", "scan_dataeval-0.65"),
    ):
        if (out / d / "results.csv").exists():
            runs[label] = score(out, out / d)
    if (out / "cleanvision.csv").exists():
        runs["cleanvision"] = score(out, rows=read_cleanvision(out))
    first = next(iter(runs.values()))
    head = "| kind | what | n | " + " | ".join(f"{k}: flagged / grouped" for k in runs) + " |"
    lines = [head, "|" + "---|" * (3 + len(runs))]
    for kind, d0 in first["per_kind"].items():
        cells = []
        for res in runs.values():
            d = res["per_kind"][kind]
            g = f"{d['grouped'] / d['n']:.2f}" if d["role"] in ("outlier", "dup") else "-"
            cells.append(f"{d['any'] / d['n']:.2f} / {g}")
        lines.append(
            f"| {kind} | {DESCRIBE.get(kind, 'unmodified source')} | {d0['n']} | " + " | ".join(cells) + " |"
        )
    lines.append(
        "| pairs of two distinct sources | | | "
        + " | ".join(f"{len(r['false_pairs'])} of {r['pairs']}" for r in runs.values())
        + " |"
    )
    return "\n".join(lines)


METRICS = (
    "brightness",
    "contrast",
    "std",
    "grey_p01",
    "grey_p50",
    "grey_p99",
    "bright_p99",
    "bright_p9999",
    "dark_p001",
    "grey_p001",
    "colourfulness",
    "channel_spread",
    "chroma_rg",
    "chroma_bg",
    "norm_sharpness",
    "coarse_sharpness",
    "fine_sharpness",
    "detail",
    "noise",
    "noise_robust",
    "noise_flat",
    "grey_entropy",
    "entropy",
    "blockiness",
    "occupancy",
    "zeros",
    "dark_clipped",
    "bright_clipped",
    "aspect_ratio",
    "blurry_score",
    "dark_score",
    "jpeg_blocking_score",
    "noisy_score",
    "grayscale_score",
)


def separation(out: Path, scan_dir: Path | None = None, top: int = 4) -> str:
    """Per kind: the metrics whose values put the most variants outside the unmodified sources'
    1st-99th percentile range (one side), with the variants' median and the sources' bound."""
    man = json.loads((out / "manifest.json").read_text())
    rows = read_rows(scan_dir or out / "scan")
    ents = [e for e in man["entries"] if e["file"] in rows]

    def col(files: list[str], m: str) -> np.ndarray:
        return np.array([float(rows[f][m]) if rows[f].get(m) not in ("", None) else np.nan for f in files])

    src = [e["file"] for e in ents if e["role"] == "photo"]
    kinds = defaultdict(list)
    for e in ents:
        if e["role"] != "photo":
            kinds[e["kind"]].append(e["file"])
    lines = [
        "| kind | metric: variants' median (sources' 1 % / 99 %) - share of variants beyond |",
        "|---|---|",
    ]
    for kind, files in kinds.items():
        cells = []
        for m in METRICS:
            if m not in next(iter(rows.values())):
                continue
            s, v = col(src, m), col(files, m)
            s, v = s[np.isfinite(s)], v[np.isfinite(v)]
            if not s.size or not v.size:
                continue
            lo, hi = np.quantile(s, [0.01, 0.99])
            below, above = float(np.mean(v < lo)), float(np.mean(v > hi))
            share, bound = (below, lo) if below >= above else (above, hi)
            side = "<" if below >= above else ">"
            cells.append((share, f"{m} {np.median(v):.3g} ({side}{bound:.3g}) {share:.2f}"))
        cells.sort(key=lambda t: -t[0])
        lines.append(f"| {kind} | " + "; ".join(c for _, c in cells[:top]) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- contact sheets
def sheet(out: Path, kind: str, dest: Path, scan_dir: Path | None = None, cell: int = 200) -> Path:
    man = json.loads((out / "manifest.json").read_text())
    rows = read_rows(scan_dir or out / "scan")
    src_file = {e["source"]: e["file"] for e in man["entries"] if e["role"] == "photo"}
    ents = [e for e in man["entries"] if e["kind"] == kind and e["file"] in rows]
    pairs = [(e, src_file.get(e["source"])) for e in ents]
    cols = 4
    W, H = cols * 2 * cell, ((len(pairs) + cols - 1) // cols) * (cell + 30)
    canvas = Image.new("RGB", (max(W, 1), max(H, 1)), (40, 40, 40))
    d = ImageDraw.Draw(canvas)
    f = _font(11)
    for i, (e, s) in enumerate(pairs):
        x, y = (i % cols) * 2 * cell, (i // cols) * (cell + 30)
        for j, name in enumerate((s, e["file"])):
            if not name:
                continue
            with Image.open(out / "images" / name) as im:
                im = im.convert("RGB")
                im.thumbnail((cell - 4, cell - 4))
            canvas.paste(im, (x + j * cell + 2, y + 2))
        r = rows[e["file"]]
        label = f"{e['file'][:5]} q:{r.get('quality_issues') or '-'} L:{(r.get('lint_flags') or '-')[:30]}"
        d.text((x + 2, y + cell + 2), label, font=f, fill=(255, 255, 0))
        d.text(
            (x + 2, y + cell + 15),
            f"grp:{r.get('near_duplicate_group') or '-'}/{r.get('exact_duplicate_group') or '-'}"
            f" src grp:{(rows.get(s) or {}).get('near_duplicate_group') or '-'}",
            font=f,
            fill=(180, 220, 255),
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(dest)
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "step", choices=("build", "scan", "score", "sheet", "cleanvision", "score-cleanvision", "compare")
    )
    ap.add_argument("out", type=Path)
    ap.add_argument("kind", nargs="?")
    ap.add_argument("--per-kind", type=int, default=14)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", help="build: only these kinds (comma-separated; same sources as a full build)")
    ap.add_argument("--embeddings", action="store_true", help="scan / score the scan with --embeddings")
    a = ap.parse_args(argv)
    if a.step == "build":
        kinds = tuple(a.kinds.split(",")) if a.kinds else None
        m = build(a.out, per_kind=a.per_kind, seed=a.seed, kinds=kinds)
        print(m["n_sources"], "sources,", len(m["entries"]), "images")
    elif a.step == "scan":
        print(scan(a.out, a.preset, a.embeddings))
    elif a.step == "cleanvision":
        print(cleanvision(a.out))
    elif a.step == "compare":
        print(compare(a.out))
    elif a.step == "score-cleanvision":
        print(table(score(a.out, rows=read_cleanvision(a.out))))
    elif a.step == "score":
        sd = a.out / scan_dir_name(a.preset, a.embeddings)
        res = score(a.out, sd)
        print(table(res))
        print()
        print(separation(a.out, sd))
        print()
        for kind, c in ungrouped_reasons(a.out, sd).items():
            print(f"not grouped, {kind}: {_fmt_counter(c, 6)}")
        for p in res["false_pairs"][:60]:
            print("false pair:", *p)
    else:
        print(sheet(a.out, a.kind, a.out / "sheets" / f"{a.kind}.png"))


if __name__ == "__main__":
    main()
