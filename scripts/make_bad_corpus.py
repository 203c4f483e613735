#!/usr/bin/env python
"""Write a corpus of bad (and a few good) image files, and list the bad in-memory arrays.

    python scripts/make_bad_corpus.py OUT_DIR [--no-big]

Everything is generated (no binary blob is committed) and deterministic: the same command
writes the same bytes.  Each file and each array is a *case* with a name and the expected
behaviour, which ``tests/audit/test_corpus.py`` asserts and ``docs/inputs.md`` tabulates:

* :func:`write_corpus` writes the files and returns their :class:`FileCase` list;
* :func:`file_cases` lists the cases without writing anything;
* :func:`array_cases` returns the in-memory :class:`ArrayCase` list (NaN, inf, negative,
  bool, int64, multispectral, 0-sized sides, complex, wrong types, ...).

The 12,000 × 12,000 JPEG (``big_12000x12000.jpg``, a flat-ish grey gradient of ~0.2 MB
that decodes to 144 MP) is written unless ``--no-big`` / ``big=False``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FileCase", "ArrayCase", "file_cases", "write_corpus", "array_cases", "BIG_NAME"]

BIG_NAME = "big_12000x12000.jpg"
_SEED = 20240607


@dataclass
class FileCase:
    """One file of the corpus and what a scan must make of it.

    ``status`` is ``"ok"`` (measured) or ``"failed"``; for measured files ``channels``,
    ``height``, ``width``, ``dtype`` and ``depth`` are the expected decoded shape, dtype and
    DataEval bit depth; for failed ones ``reason`` is a substring of the reported error.
    ``expected`` (when set) is the exact decoded ``(C, H, W)`` array; ``approx`` is an
    array the decoded image must match within JPEG tolerance (mean |diff| < 4).

    Entries that are not plain files: ``make`` writes the entry itself (a broken symbolic
    link, a named pipe, a folder named like an image); ``mode`` is the permission bits the
    file gets (``0o000``: nobody may read it; root ignores that, so the test emulates an
    ordinary user there); ``deleted_after_listing`` marks a file the test removes between
    the scan's listing of the folder and its reading of the files.
    """

    name: str
    kind: str
    status: str
    behaviour: str
    channels: int = 0
    height: int = 0
    width: int = 0
    dtype: str = "uint8"
    depth: int = 8
    reason: str = ""
    expected: np.ndarray | None = field(default=None, repr=False)
    approx: np.ndarray | None = field(default=None, repr=False)
    data: Callable[[], bytes] | None = field(default=None, repr=False)
    big: bool = False
    make: Callable[[Path], None] | None = field(default=None, repr=False)
    mode: int | None = None
    deleted_after_listing: bool = False


@dataclass
class ArrayCase:
    """One in-memory input to the library and what it must do with it.

    ``status`` ``"ok"``: measured (``channels``/``height``/``width``/``depth`` expected);
    otherwise the name of the error class raised (``"ImageShapeError"``,
    ``"ImageTypeError"``), whose message names the index and the problem (``reason``).
    """

    name: str
    value: Any = field(repr=False)
    status: str
    behaviour: str
    channels: int = 0
    height: int = 0
    width: int = 0
    depth: int = 0
    reason: str = ""


# ----------------------------------------------------------------------------- helpers


def _encode(arr: np.ndarray, fmt: str, mode: str | None = None, **kw: Any) -> bytes:
    from PIL import Image

    im = Image.fromarray(arr, mode) if mode else Image.fromarray(arr)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _hwc(chw: np.ndarray) -> np.ndarray:
    return chw[0] if chw.shape[0] == 1 else np.ascontiguousarray(np.moveaxis(chw, 0, -1))


def _chw(hwc: np.ndarray) -> np.ndarray:
    return hwc[None] if hwc.ndim == 2 else np.ascontiguousarray(np.moveaxis(hwc, -1, 0))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _png16(chw: np.ndarray) -> bytes:
    """A 16-bit PNG (grey, grey+alpha, RGB or RGBA) written directly (Pillow cannot write 16-bit RGB)."""
    c, h, w = chw.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    hwc = np.moveaxis(chw, 0, -1).astype(">u2")
    raw = b"".join(b"\x00" + hwc[y].tobytes() for y in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw, 6))
        + _png_chunk(b"IEND", b"")
    )


def _png_bomb(side: int = 60_000) -> bytes:
    """A 254-byte PNG whose header declares side × side RGB pixels (a decompression bomb)."""
    raw = zlib.compress(b"\x00" * (1 + 3 * side), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", raw)
        + _png_chunk(b"IEND", b"")
    )


def _depth(a: np.ndarray) -> int:
    lo, hi = float(np.min(a)), float(np.max(a))
    if lo < 0:
        return 0
    for d in (1, 8, 12, 16, 32):
        if 2**d > hi:
            return d
    return 32


def _photos(n: int = 3) -> list[tuple[str, np.ndarray]]:
    """``n`` real photos (CHW uint8), RGB first then a grey one, each at most 256 px a side."""
    from PIL import Image

    from dataeval_gpu.datasets import sample_photos

    named = sample_photos()
    rgb = [p for p in named if p[1].shape[0] == 3][: max(n - 1, 1)]
    grey = [p for p in named if p[1].shape[0] == 1][:1]
    out = []
    for name, img in rgb + grey:
        _, h, w = img.shape
        s = min(1.0, 256 / max(h, w))
        if s < 1.0:
            pil = Image.fromarray(_hwc(img)).resize(
                (max(1, round(w * s)), max(1, round(h * s))), Image.BILINEAR
            )
            img = _chw(np.asarray(pil))
        out.append((name.replace("skimage_", "").replace("sklearn_", ""), np.ascontiguousarray(img)))
    return out[:n]


# ----------------------------------------------------------------------------- file cases


def file_cases(big: bool = True, photos: int = 3) -> list[FileCase]:
    """Every file case (nothing written); ``write_corpus`` writes their ``data()``."""
    from PIL import Image

    rng = np.random.default_rng(_SEED)
    real = _photos(photos)
    rgb = real[0][1]
    rgb_jpeg = _encode(_hwc(rgb), "JPEG", quality=90)
    rgb_png = _encode(_hwc(rgb), "PNG")
    cases: list[FileCase] = []

    def data_of(data: bytes | Callable[[], bytes]) -> Callable[[], bytes]:
        return data if callable(data) else (lambda: data)

    def failed(name: str, kind: str, behaviour: str, reason: str, data: bytes) -> None:
        cases.append(
            FileCase(name, kind, "failed", f"failed: {behaviour}", reason=reason, data=data_of(data))
        )

    def measured(
        name: str,
        kind: str,
        behaviour: str,
        data: bytes | Callable[[], bytes],
        expected: np.ndarray | None = None,
        approx: np.ndarray | None = None,
        shape: tuple[int, int, int] | None = None,
        big: bool = False,
    ) -> None:
        """``expected``: the exact decoded pixels; ``approx``: the pixels within JPEG error."""
        ref = expected if expected is not None else approx
        c, h, w = shape if shape is not None else ref.shape  # type: ignore[union-attr]
        dtype = str(ref.dtype) if ref is not None else "uint8"
        depth = _depth(ref) if ref is not None else 8
        case = FileCase(name, kind, "ok", f"measured: {behaviour}", c, h, w, dtype, depth)
        case.expected, case.approx, case.data, case.big = expected, approx, data_of(data), big
        cases.append(case)

    def pil_bytes(im: Any, fmt: str, **kw: Any) -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    # --- unreadable: failed with a reason, and the scan goes on
    failed("empty.jpg", "zero-byte file", "empty file", "empty file", b"")
    failed(
        "truncated.jpg",
        "truncated JPEG (first half)",
        "truncated",
        "truncated",
        rgb_jpeg[: len(rgb_jpeg) // 2],
    )
    failed(
        "truncated.png", "truncated PNG (first half)", "corrupted", "corrupted", rgb_png[: len(rgb_png) // 2]
    )
    random_bytes = b"\x00" + rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    failed(
        "random_bytes.jpg",
        "random bytes named .jpg",
        "unknown format",
        "unknown or unsupported",
        random_bytes,
    )
    text = b"this is a plain text file, not a PNG\n" * 4
    failed("text_renamed.png", "text file renamed .png", "unsupported format (text)", "text file", text)
    svg = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
        b'<circle cx="32" cy="32" r="20" fill="red"/></svg>\n'
    )
    failed("drawing.svg", "SVG vector drawing", "unsupported format (SVG)", "SVG", svg)
    inkscape = b"<!-- Created with Inkscape (http://www.inkscape.org/) -->\n\n" + svg.split(b"?>\n", 1)[1]
    failed(
        "inkscape_drawing.svg",
        "SVG opening with a comment, as Inkscape writes it",
        "unsupported format (SVG)",
        "SVG (a vector drawing",
        inkscape,
    )
    failed(
        "drawing.svgz",
        "gzip-compressed SVG",
        "unsupported format (gzip)",
        "gzip-compressed data",
        gzip.compress(svg, mtime=0),
    )
    failed(
        "bomb_60000x60000.png",
        "PNG header declaring 60,000 × 60,000 px in 254 bytes",
        "over Pillow's decompression-bomb limit, nothing decoded",
        "decompression-bomb",
        _png_bomb(),
    )

    # --- entries that are not readable image files: listed and failed, never dropped
    def special(name: str, kind: str, behaviour: str, reason: str, make: Callable[[Path], None]) -> None:
        cases.append(FileCase(name, kind, "failed", f"failed: {behaviour}", reason=reason, make=make))

    special(
        "broken_link.jpg",
        "symbolic link to a missing file",
        "broken symbolic link (the missing target is named)",
        "broken symbolic link",
        lambda p: os.symlink("missing_target.jpg", p),
    )
    if hasattr(os, "mkfifo"):
        special(
            "named_pipe.jpg",
            "named pipe (FIFO) named .jpg",
            "not a regular file, never opened (reading it would wait forever)",
            "not a regular file",
            os.mkfifo,
        )
    special(
        "folder.jpg",
        "folder named .jpg",
        "a folder, not an image file",
        "a folder, not an image file",
        lambda p: p.mkdir(),
    )
    denied = FileCase(
        "permission_denied.jpg",
        "JPEG with no read permission (mode 000)",
        "failed",
        "failed: permission denied",
        reason="permission denied",
        data=data_of(rgb_jpeg),
        mode=0o000,
    )
    cases.append(denied)
    deleted = FileCase(
        "deleted_after_listing.jpg",
        "JPEG removed after the folder was listed, before it was read",
        "failed",
        "failed: no such file (removed after the folder was listed)",
        reason="removed after the folder was listed",
        data=data_of(rgb_jpeg),
        deleted_after_listing=True,
    )
    cases.append(deleted)

    # --- conversions: measured
    cmyk = pil_bytes(Image.fromarray(_hwc(rgb)).convert("CMYK"), "JPEG", quality=95)
    measured("cmyk.jpg", "CMYK JPEG", "CMYK → RGB (3 channels)", cmyk, approx=rgb)
    pal_img = Image.fromarray(_hwc(rgb)).quantize(64, dither=Image.Dither.NONE)
    pal_rgb = _chw(np.asarray(pal_img.convert("RGB")))
    measured("palette.png", "palette PNG", "palette → RGB (3 channels)", pil_bytes(pal_img, "PNG"), pal_rgb)
    pal_alpha = np.where(np.asarray(pal_img) == 0, 0, 255).astype(np.uint8)[None]  # index 0 is transparent
    measured(
        "palette_transparent.png",
        "palette PNG with a transparent colour (tRNS)",
        "palette → RGBA (4 channels, alpha kept as a channel)",
        pil_bytes(pal_img, "PNG", transparency=0),
        np.concatenate([pal_rgb, pal_alpha]),
    )
    _, ph, pw = rgb.shape
    alpha = (np.linspace(0, 255, pw)[None, :] * np.ones((ph, 1))).astype(np.uint8)
    rgba = np.concatenate([rgb, alpha[None]])
    measured("rgba.png", "RGBA PNG", "4 channels, alpha kept as a channel", _encode(_hwc(rgba), "PNG"), rgba)
    la = np.stack([rgb.mean(0).astype(np.uint8), alpha])
    measured(
        "grey_alpha.png", "grey + alpha PNG", "2 channels (grey, alpha)", _encode(_hwc(la), "PNG", "LA"), la
    )
    rgb16 = (rgb.astype(np.uint16) * 257 + rng.integers(0, 257, rgb.shape)).astype(np.uint16)
    measured("rgb16.png", "16-bit RGB PNG", "uint16 kept (depth 16)", _png16(rgb16), rgb16)
    grey12 = rng.integers(0, 4096, (1, 48, 64)).astype(np.uint16)
    measured(
        "grey16_12bit.png",
        "16-bit grey PNG holding 12-bit values",
        "uint16 kept (depth 12, from the values)",
        _png16(grey12),
        grey12,
    )
    grey_photo = next(
        (img for _, img in real if img.shape[0] == 1), rgb.mean(0, keepdims=True).astype(np.uint8)
    )
    grey_jpeg = _encode(grey_photo[0], "JPEG", quality=90)
    measured("grey.jpg", "greyscale JPEG", "1 channel", grey_jpeg, approx=grey_photo)
    bilevel = (rng.random((40, 50)) > 0.5).astype(np.uint8) * 255
    bilevel_png = pil_bytes(Image.fromarray(bilevel).convert("1"), "PNG")
    measured("bilevel.png", "1-bit PNG", "1 channel of 0 / 255", bilevel_png, bilevel[None])
    # animated GIF: the first frame is a 16-grey ramp, the others flat (a wrong frame is seen)
    ramp = np.repeat(np.repeat((np.arange(16, dtype=np.uint8) * 16)[None, :], 4, axis=1), 24, axis=0)
    frames = [Image.fromarray(f) for f in (np.stack([ramp] * 3, -1), np.full((24, 64, 3), 250, np.uint8))]
    gif = pil_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    measured(
        "animated.gif",
        "animated GIF (2 frames)",
        "first frame only, palette → RGB",
        gif,
        _chw(ramp[..., None].repeat(3, -1)),
    )
    # EXIF orientation 6 (display = stored image turned 90° clockwise): stored 64 wide × 32 high,
    # left half dark, right half light → displayed 32 wide × 64 high, dark half on top
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :32] = (30, 60, 90)
    stored[:, 32:] = (220, 200, 180)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = pil_bytes(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    measured(
        "exif_rotated.jpg",
        "JPEG with EXIF orientation 6, stored 64 × 32",
        "EXIF rotation applied (32 wide × 64 high)",
        rotated,
        approx=_chw(np.rot90(stored, k=-1)),
    )
    measured(
        "jpeg_named.png",
        "JPEG content named .png",
        "format from the bytes, not the name",
        rgb_jpeg,
        approx=rgb,
    )
    one = np.array([[[200]]], np.uint8)
    measured("one_pixel.png", "1 × 1 image", "no perceptual hash (side < 9)", _encode(one[0], "PNG"), one)
    wide = (np.arange(10_000) % 256).astype(np.uint8)[None, None, :]
    measured("wide_1x10000.png", "1 × 10,000 image", "no perceptual hash", _encode(wide[0], "PNG"), wide)
    tall = np.ascontiguousarray(wide.transpose(0, 2, 1))
    measured("tall_10000x1.png", "10,000 × 1 image", "no perceptual hash", _encode(tall[0], "PNG"), tall)
    webp = np.concatenate([rgb[:, :40, :40], np.full((1, 40, 40), 128, np.uint8)])
    webp_bytes = _encode(_hwc(webp), "WEBP", lossless=True, exact=True)
    measured("rgba.webp", "lossless WebP with alpha", "4 channels", webp_bytes, webp)
    g16 = rng.integers(0, 65536, (1, 30, 40)).astype(np.uint16)
    measured("grey16.tif", "16-bit grey TIFF (Pillow path)", "uint16 kept", _encode(g16[0], "TIFF"), g16)
    f32 = rng.random((1, 30, 40)).astype(np.float32)
    measured(
        "float32.tif",
        "32-bit float TIFF",
        "float32 kept (values in [0, 1): depth 1)",
        _encode(f32[0], "TIFF"),
        f32,
    )
    measured("photo.bmp", "BMP (Pillow path)", "3 channels", _encode(_hwc(rgb), "BMP"), rgb)

    # --- real photos, and a byte-identical copy of one
    for k, (name, img) in enumerate(real):
        if k == 0:
            measured(f"photo_{name}.png", f"real photo ({name}), PNG", "as stored", rgb_png, img)
            measured(
                f"photo_{name}_copy.png", "byte-identical copy of a photo", "an exact duplicate", rgb_png, img
            )
        else:
            jpeg = _encode(_hwc(img), "JPEG", quality=92)
            measured(f"photo_{name}.jpg", f"real photo ({name}), JPEG", "as stored", jpeg, approx=img)

    if big:

        def big_jpeg() -> bytes:
            side = 12_000
            ramp = (np.arange(side, dtype=np.float32) * (200.0 / side) + 20).astype(np.uint8)
            return _encode(
                np.ascontiguousarray(np.broadcast_to(ramp[None, :], (side, side))), "JPEG", quality=75
            )

        measured(
            BIG_NAME,
            "12,000 × 12,000 grey JPEG (144 MP)",
            "1 channel",
            big_jpeg,
            shape=(1, 12_000, 12_000),
            big=True,
        )
    return cases


def write_corpus(out_dir: str | Path, big: bool = True, photos: int = 3) -> list[FileCase]:
    """Write every file case into ``out_dir`` (created) and return the cases."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = file_cases(big=big, photos=photos)
    for case in cases:
        path = out / case.name
        _remove(path)  # rewriting a corpus: links, pipes and read-protected files included
        if case.make is not None:
            case.make(path)
        else:
            path.write_bytes(case.data() if case.data is not None else b"")
        if case.mode is not None:
            path.chmod(case.mode)
    return cases


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    elif os.path.lexists(path):
        path.unlink()


# ----------------------------------------------------------------------------- array cases


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def array_cases() -> list[ArrayCase]:
    """In-memory inputs: measured where a sensible result exists, a clear error otherwise."""
    rng = np.random.default_rng(_SEED + 1)
    nan = rng.random((3, 16, 16)).astype(np.float32)
    nan[0, 2:6, 3] = np.nan
    inf = rng.random((3, 16, 16))
    inf[1, 4, 4] = np.inf
    ninf = rng.random((1, 16, 16))
    ninf[0, 0, 0] = -np.inf

    def ok(name: str, value: Any, behaviour: str, depth: int) -> ArrayCase:
        shape = np.shape(value)[-3:] if np.ndim(value) >= 3 else (1, *np.shape(value))
        return ArrayCase(name, value, "ok", behaviour, *shape, depth=depth)

    def bad(name: str, value: Any, error: str, reason: str) -> ArrayCase:
        return ArrayCase(name, value, error, f"{error}: {reason}", reason=reason)

    u8 = lambda shape: rng.integers(0, 256, shape).astype(np.uint8)  # noqa: E731
    return [
        ok("float_nan", nan, "measured: missing = NaN count / (H·W); moments NaN", 32),
        ok("float_inf", inf, "measured: depth 32, mean inf, std NaN (0.65 definitions)", 32),
        ok("float_neg_inf", ninf, "measured: depth 0, moments NaN", 0),
        ok("all_nan", np.full((1, 8, 8), np.nan, np.float32), "measured: missing 1, statistics NaN", 32),
        ok("all_inf", np.full((1, 8, 8), np.inf), "measured: blurriness NaN, sharpness 0", 32),
        ok("float_negative", rng.normal(size=(3, 12, 14)), "measured: depth 0, 0.65's min-max rescale", 0),
        ok("all_zero_uint8", np.zeros((3, 10, 10), np.uint8), "measured: zero 3, skew/kurtosis NaN", 1),
        ok("all_zero_float", np.zeros((1, 10, 10)), "measured: skew/kurtosis NaN", 1),
        ok("bool", rng.random((1, 12, 12)) > 0.5, "measured as 0 / 1 (depth 1)", 1),
        ok("int64", rng.integers(0, 5000, (3, 10, 11)), "measured (depth 16)", 16),
        ok(
            "int64_huge",
            rng.integers(0, 2**40, (1, 10, 11)),
            "measured (depth 32: scaled values exceed 1)",
            32,
        ),
        ok("int32_negative", rng.integers(-5, 200, (2, 7, 6)).astype(np.int32), "measured (depth 0)", 0),
        ok("uint32", rng.integers(0, 2**31, (1, 8, 8)).astype(np.uint32), "measured (as int64)", 32),
        ok("float16", rng.random((3, 10, 10)).astype(np.float16), "measured (as float64)", 1),
        ok("long_double", rng.random((2, 9, 9)).astype(np.longdouble), "measured (as float64)", 1),
        ok("read_only", _read_only(u8((3, 9, 9))), "measured (read-only input, never written)", 8),
        ok(
            "multispectral_5",
            rng.integers(0, 65536, (5, 20, 20)).astype(np.uint16),
            "measured: 5 channels",
            16,
        ),
        ok("multispectral_13", rng.random((13, 16, 17)).astype(np.float32), "measured: 13 channels", 1),
        ok("multispectral_13_uint8", u8((13, 9, 10)), "measured: 13 channels (8-bit path)", 8),
        ok("hw_2d", u8((9, 13)), "measured as (1, H, W)", 8),
        ok("one_pixel", np.array([[[7]]], np.uint8), "measured", 8),
        ok("batch_of_one_4d", u8((1, 3, 8, 8)), "measured: the leading 1 is dropped", 8),
        bad("zero_height", np.zeros((3, 0, 16), np.uint8), "ImageShapeError", "at least 1"),
        bad("zero_width", np.zeros((3, 16, 0), np.float32), "ImageShapeError", "at least 1"),
        bad("zero_channels", np.zeros((0, 16, 16), np.uint8), "ImageShapeError", "at least 1"),
        bad("empty_2d", np.zeros((0, 0)), "ImageShapeError", "at least 1"),
        bad("one_d", np.zeros(16, np.uint8), "ImageShapeError", "(C, H, W) or (H, W)"),
        bad("four_d", np.zeros((2, 3, 8, 8), np.uint8), "ImageShapeError", "(C, H, W) or (H, W)"),
        bad("complex", np.ones((1, 8, 8), np.complex64), "ImageTypeError", "complex"),
        bad("strings", np.array([["a", "b"], ["c", "d"]]), "ImageTypeError", "numeric"),
        bad("object_dtype", np.empty((1, 4, 4), dtype=object), "ImageTypeError", "numeric"),
        bad("python_list", [[1, 2], [3, 4]], "ImageTypeError", "numpy array, torch tensor or PIL"),
        bad("none", None, "ImageTypeError", "numpy array, torch tensor or PIL"),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir")
    p.add_argument("--no-big", action="store_true", help="leave out the 12,000 × 12,000 JPEG")
    args = p.parse_args(argv)
    cases = write_corpus(args.out_dir, big=not args.no_big)
    width = max(len(c.name) for c in cases)
    for c in cases:
        print(f"{c.name:<{width}}  {c.status:<6}  {c.behaviour}")
    print(f"{len(cases)} files in {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
