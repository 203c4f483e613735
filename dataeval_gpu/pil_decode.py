"""Pillow's side of reading an image file (:mod:`~dataeval_gpu.io` decodes with it what
torchvision's decoder does not read), and what both decoders' paths share.

* :func:`probe`: a file's format, mode, size and EXIF orientation from its header, nothing
  decoded; over Pillow's decompression-bomb limit it raises.
* :func:`pil_decode`: GIF (first frame), TIFF, BMP, PGM / PPM, ... and the JPEG / PNG / WebP
  files torchvision's decoder refuses, through Pillow with EXIF orientation (a TIFF Pillow cannot
  read, or reads with lost precision, through ``tifffile`` when installed; a GIMP pattern through
  :mod:`~dataeval_gpu.gimp_pattern`); :func:`pil_array`: a PIL image's pixels by the mode rules
  of a file read (also for PIL images given in memory).
* :func:`chw_contiguous`: decoded ``(C, H, W)`` views made planar; :func:`short_reason`: a
  failure's one-line reason, as the scan lists it.
"""

from __future__ import annotations

import io as _io
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .file_kinds import TIFF_MAGIC, unknown_format
from .gimp_pattern import read_gimp_pattern
from .png_key import key_alpha, palette_alpha, pil_key, png_key

__all__ = [
    "MAX_PIXELS_ENV",
    "Header",
    "chw_contiguous",
    "frames_note",
    "pil_array",
    "pil_decode",
    "pixel_limit",
    "probe",
    "short_reason",
    "too_large",
]

#: the environment variable ``dataeval-gpu scan --max-image-pixels N`` sets for its workers: the most
#: pixels an image may declare (0: no limit); unset, Pillow's ``2 * PIL.Image.MAX_IMAGE_PIXELS``
MAX_PIXELS_ENV = "DATAEVAL_GPU_MAX_IMAGE_PIXELS"
# the value of MAX_PIXELS_ENV applied to PIL.Image.MAX_IMAGE_PIXELS, and Pillow's setting before it
_applied: dict[str, Any] = {"env": None, "pillow": None}

_EXIF_ORIENTATION = 0x0112

# torchvision's C++ errors start with "function, /build/path/file.cpp:123, "
_CPP_PREFIX = re.compile(r"^[\w:()~<> ]+, \S+\.(?:cpp|h|cu):\d+, ")


def short_reason(exc: BaseException) -> str:
    """``"<ExceptionType>: <first line>"`` (torchvision's C++ location dropped), at most 300
    characters: how a file that failed is listed."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    msg = _CPP_PREFIX.sub("", msg)
    return f"{type(exc).__name__}: {msg}"[:300]


@dataclass
class Header:
    """What :func:`probe` reads from a file's header."""

    fmt: str
    mode: str
    width: int
    height: int
    orientation: int
    frames: int = 1  # frames in the file; 0: several, how many not counted (a GIF, a TIFF)


def pixel_limit() -> int | None:
    """The most pixels an image may declare (None: no limit): :data:`MAX_PIXELS_ENV` when set
    (applied to ``PIL.Image.MAX_IMAGE_PIXELS`` here, once per value), else Pillow's
    decompression-bomb limit, ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (~179 MP by default)."""
    from PIL import Image

    env = os.environ.get(MAX_PIXELS_ENV)
    if env != _applied["env"]:
        if _applied["env"] is None:
            _applied["pillow"] = Image.MAX_IMAGE_PIXELS
        if env is None:  # unset again (the command line's scan is over): Pillow's own setting back
            Image.MAX_IMAGE_PIXELS = _applied["pillow"]
        else:
            n = int(env)  # written by the command line from a checked integer
            Image.MAX_IMAGE_PIXELS = n / 2 if n > 0 else None  # Pillow raises above twice its setting
        _applied["env"] = env
    limit = Image.MAX_IMAGE_PIXELS
    return int(2 * limit) if limit else None


def too_large(pixels: int | None, limit: int | None) -> ValueError:
    """The error of an image over the pixel limit: what happened and how to read it anyway."""
    size = f"{pixels:,} pixels, over" if pixels else "over"
    allow = f" {pixels} or more" if pixels else " N"
    return ValueError(
        f"image too large (decompression-bomb guard): {size} the limit of {limit or 0:,}; to read it, scan with "
        f"--max-image-pixels{allow} (0: no limit; in Python set PIL.Image.MAX_IMAGE_PIXELS)"
    )


_BOMB_SIZE = re.compile(r"Image size \((\d+) pixels\)")


def _frames(im: Any) -> int:
    """How many frames ``im`` holds from what its header tells (an APNG's ``acTL``, a WebP's or MPO's
    frame count); 0 when a GIF, whose frames are counted only by reading each one (~3x the first
    frame's decoding on a big GIF), or a TIFF, whose pages are counted by walking all its directories
    (90 ms for 500 pages), has a second."""
    try:
        if im.format in ("GIF", "TIFF"):
            return 0 if im.is_animated else 1
        return max(int(getattr(im, "n_frames", 1) or 1), 1)
    except Exception:  # noqa: BLE001 - a damaged later frame: the first is what is measured anyway
        return 1


def frames_note(header: Header | None) -> str:
    """``"first of 12 frames measured"`` for a file of several frames (pages), ``""`` otherwise."""
    if header is None or header.frames == 1:
        return ""
    if header.frames == 0:
        if header.fmt == "TIFF":
            return "first page of a multi-page TIFF measured"
        return f"first frame of an animated {header.fmt} measured"
    return f"first of {header.frames} frames measured"


def probe(data: bytes) -> Header | None:
    """Format, mode, size (and the EXIF orientation of a JPEG or WebP) from the header, nothing decoded.

    Raises ``ValueError`` for a header over the pixel limit (:func:`pixel_limit`); returns None
    when Pillow cannot identify the data (the decoders then decide).
    """
    from PIL import Image

    limit = pixel_limit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(_io.BytesIO(data)) as im:
                orientation = 1
                if im.format in ("JPEG", "WEBP"):
                    orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
                frames = _frames(im) if im.format in ("GIF", "PNG", "WEBP", "TIFF", "MPO") else 1
                return Header(str(im.format), im.mode, im.size[0], im.size[1], orientation, frames)
    except Image.DecompressionBombError as exc:
        m = _BOMB_SIZE.search(str(exc))
        raise too_large(int(m.group(1)) if m else None, limit) from None
    except Exception:  # noqa: BLE001 - not identifiable by Pillow: the decoders decide
        return None


def pil_decode(data: bytes) -> torch.Tensor:
    """Decode through Pillow (TIFFs it cannot read or reads with lost precision: ``tifffile``;
    GIMP patterns) to ``(C, H, W)``, by :func:`pil_array`'s mode rules; raises with the reason."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    with warnings.catch_warnings():
        # sizes up to the bomb limit are accepted on purpose (the limit itself still raises)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im_file = Image.open(_io.BytesIO(data))
        except UnidentifiedImageError:
            if data[:4] in TIFF_MAGIC:  # float64 or planar samples, more than 4 samples, ...
                return _tifffile_decode(data, unknown_format(data))
            if data[20:24] == b"GPAT":  # a GIMP pattern (.pat): Pillow reads GIMP's brushes only
                t = torch.from_numpy(read_gimp_pattern(data, guard=_bomb_guard))
                return t.unsqueeze(0) if t.ndim == 2 else chw_contiguous(t.permute(2, 0, 1))
            raise ValueError(unknown_format(data)) from None
    with im_file as im:
        if _tiff_over_8_bits(im):  # Pillow reads 16-bit RGB(A) TIFFs as 8 bits
            try:
                return _tifffile_decode(data, "")
            except ValueError:
                pass  # tifffile missing or failing: Pillow's 8 bits
        im.load()  # the first frame of a multi-frame file (animated GIF, multi-page TIFF)
        fmt = im.format
        im = ImageOps.exif_transpose(im) or im
        if fmt == "GIF" and im.mode != "P":  # a GIF is RGB(A), whatever mode Pillow gives its frame
            im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("RGBA", "PA") else "RGB")
        if fmt == "PNG" and im.mode == "P" and "transparency" in im.info and not palette_alpha(data):
            del im.info["transparency"]  # a palette tRNS libpng ignores (before PLTE, CRC error): RGB
        elif fmt == "PNG" and im.mode in ("L", "RGB", "I;16", "I;16B") and "transparency" in im.info:
            # the key libpng keeps, as libpng compares it (Pillow keeps a 2- / 4-bit grey key unscaled,
            # its pixels scaled to 8 bits, and a tRNS libpng ignores: after the image data, of another length)
            key = png_key(data)
            if key is None:
                del im.info["transparency"]
            else:
                im.info["transparency"] = key[0] if len(key) == 1 else key
        arr = pil_array(im)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def pil_array(im: Any) -> np.ndarray:
    """A PIL image as a writable ``(H, W)`` / ``(H, W, C)`` array, by the same mode rules as a file read.

    Palette → RGB (RGBA when it has a transparent colour), PA → RGBA, CMYK / YCbCr /
    LAB / HSV → RGB, 1-bit → 0/255 grey, 16-bit → uint16, 32-bit integer → uint16 (int64 when
    a value is outside 0..65535), 32-bit float stays float32; grey, grey+alpha, RGB and RGBA as
    stored; a 1-bit / grey / 16-bit grey / RGB image with a transparent colour
    (``info["transparency"]``, a PNG's ``tRNS``) gets an alpha channel (0 there, opaque elsewhere:
    grey + alpha, RGBA; 16 bits kept).  Used for files read through Pillow and for PIL images
    given in memory (no EXIF orientation is applied here: :func:`~dataeval_gpu.io.decode_file` applies it before).
    """
    mode = im.mode
    key = im.info.get("transparency") if mode in ("1", "L", "RGB") or mode.startswith("I;16") else None
    if mode == "1" and isinstance(key, int):
        key = 255 if key else 0  # as Pillow reads a 1-bit PNG's tRNS: the pixel values are 0 / 255
    elif key is not None and mode in ("L", "RGB") and getattr(im, "format", None) == "PNG":
        key = pil_key(im, key)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode == "1":
        im = im.convert("L")  # 0 / 255
    if mode.startswith("I;16"):
        arr = np.array(im).astype(np.uint16)  # native byte order (I;16B is big-endian)
    else:
        arr = np.array(im)  # a writable copy
    if arr.dtype == np.int32:  # mode "I"
        arr = arr.astype(np.int64) if arr.min() < 0 or arr.max() > 65535 else arr.astype(np.uint16)
    keys = (key,) if isinstance(key, int) else key
    if isinstance(keys, tuple) and all(isinstance(v, int) for v in keys):  # the transparent colour as alpha
        chw = torch.from_numpy(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
        arr = key_alpha(chw, keys).permute(1, 2, 0).numpy().copy()
    return arr


def _tiff_over_8_bits(im: Any) -> bool:
    """A TIFF of more than 8 bits per sample that Pillow would give as 8-bit RGB / RGBA."""
    if im.format != "TIFF" or im.mode not in ("RGB", "RGBA"):
        return False
    bits = getattr(im, "tag_v2", {}).get(258, 8)
    return max(bits if isinstance(bits, tuple) else (bits,)) > 8


def _tifffile_decode(data: bytes, reason: str) -> torch.Tensor:
    """The first page of a TIFF, through ``tifffile`` (when installed), for what Pillow cannot
    read or reads with lost precision; channels as stored, dtypes as :func:`pil_decode` keeps
    them.  Raises ``ValueError`` with ``reason`` and why tifffile could not read it either."""
    prefix = f"{reason}; " if reason else ""
    try:
        import tifffile
    except ImportError:
        raise ValueError(f"{prefix}install tifffile to read it") from None
    try:
        with tifffile.TiffFile(_io.BytesIO(data)) as tf:
            page = tf.pages[0]
            _bomb_guard(int(page.imagewidth) * int(page.imagelength))  # before anything is decoded
            photometric, axes, arr = int(page.photometric), str(page.axes), page.asarray()
            tag = page.tags.get(_EXIF_ORIENTATION)  # TIFF's own Orientation tag (274), as Pillow applies it
            orientation = int(tag.value) if tag is not None and isinstance(tag.value, int) else 1
    except ValueError as exc:
        if str(exc).startswith("image too large"):
            raise
        raise ValueError(f"{prefix}tifffile: {short_reason(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        raise ValueError(f"{prefix}tifffile: {short_reason(exc)}") from None
    if photometric not in (1, 2) or axes not in ("YX", "YXS", "SYX") or np.iscomplexobj(arr):
        what = f"photometric {photometric}, axes {axes}, dtype {arr.dtype}"
        raise ValueError(f"{prefix}tifffile reads it, but as {what}: not an image measured here")
    if axes == "YX":
        arr = arr[None]
    elif axes == "YXS":
        arr = arr.transpose(2, 0, 1)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255  # 1-bit: 0 / 255, as Pillow's mode "1"
    elif arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu" and arr.dtype.itemsize > 2:  # as Pillow's 32-bit mode "I"
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        wide = np.float64 if hi > np.iinfo(np.int64).max else np.int64
        arr = arr.astype(np.uint16) if lo >= 0 and hi <= 65535 else arr.astype(wide)
    return torch.from_numpy(np.ascontiguousarray(_orient(arr, orientation)))


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """A ``(C, H, W)`` array turned upright by an EXIF / TIFF orientation (1..8) as Pillow's
    ``ImageOps.exif_transpose`` turns it (a view)."""
    if orientation in (5, 6, 7, 8):  # the transposed ones: 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE, 8 ROTATE_90
        arr = arr.transpose(0, 2, 1)
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        arr = arr[:, :, ::-1]
    if orientation in (3, 4):
        arr = arr[:, ::-1]
    return arr


def _bomb_guard(pixels: int) -> None:
    """The pixel limit (:func:`pixel_limit`: Pillow's decompression-bomb limit) for a decoder that has none."""
    limit = pixel_limit()
    if limit and pixels > limit:
        raise too_large(pixels, limit)


def chw_contiguous(img: torch.Tensor) -> torch.Tensor:
    """torchvision's decoders return CHW views of interleaved HWC memory; the statistics read
    each channel as one row, so make the planes contiguous here, in the loader worker: where
    the compiled kernels are loaded (a scan) by :func:`~dataeval_gpu.functional.stats_compiled.planes_u8`
    (3-6x faster than numpy's transposing copy, itself ~2x faster than torch's for uint8)."""
    if img.is_contiguous() or img.ndim != 3:
        return img
    hwc = img.permute(1, 2, 0)
    if hwc.is_contiguous():
        compiled = sys.modules.get("dataeval_gpu.functional.stats_compiled")  # where numba is loaded (a scan)
        if compiled is not None:
            return torch.from_numpy(compiled.planes_u8(hwc.numpy()))
        return torch.from_numpy(np.ascontiguousarray(hwc.numpy().transpose(2, 0, 1)))
    return img.contiguous()
