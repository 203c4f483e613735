"""Reading image files, decoded in DataLoader workers.

A folder scan never stops for one bad file: :func:`~dataeval_gpu.discovery.find_inputs` lists
every entry that could be an image (broken links, pipes, unreadable files and folders named
like images included; re-exported here with ``discover``),
:class:`ImageFiles` returns, for every one, either the decoded ``(C, H, W)`` tensor or ``None``
with the reason it could not be read (:func:`read_image_bytes` opens regular files only), and
the scan lists those as failed.  What each kind of file becomes is documented (with the
tested corpus of bad inputs) in ``docs/inputs.md``:

* The format is taken from the file's first bytes, never from its name (a JPEG named
  ``.png`` is a JPEG; random bytes named ``.jpg`` fail as "unknown format").
* JPEG / PNG / WebP: torchvision's decoder (the op ``torchvision.io.decode_image`` calls,
  loaded without importing torchvision: :mod:`~dataeval_gpu.image_ops`) with EXIF orientation applied;
  channels as stored (grey 1, grey+alpha 2, RGB 3, RGBA 4; alpha is kept as a channel,
  never composited), 16-bit PNG stays uint16; a palette PNG is expanded to RGB, or to
  RGBA when it has a transparent colour; a grey / RGB PNG with a transparent colour (``tRNS``)
  gets an alpha channel (grey + alpha / RGBA, :mod:`~dataeval_gpu.png_key`); a CMYK JPEG is
  converted to RGB.
* GIF: the first frame only (later frames are never decoded), palette → RGB (RGBA when the
  GIF has a transparent colour).  A file of several frames or pages (animated GIF / PNG / WebP,
  multi-page TIFF, MPO) says so in its note: ``first of 12 frames measured`` (a GIF or TIFF, whose
  frames are only counted by reading them: ``first frame of an animated GIF measured``).
* everything else Pillow opens (BMP, TIFF, PGM/PPM, ...): through Pillow
  (:mod:`~dataeval_gpu.pil_decode`, which also reads the headers), with EXIF
  orientation, palette → RGB(A), CMYK → RGB, 1-bit → 0/255 grey, 16-bit → uint16,
  32-bit integer → uint16 / int64, 32-bit float → float32.
* files whose header declares more pixels than Pillow's decompression-bomb limit
  (``2 * PIL.Image.MAX_IMAGE_PIXELS``, ~179 MP by default; ``--max-image-pixels N``:
  :func:`~dataeval_gpu.pil_decode.pixel_limit`) fail before anything is decoded, the reason saying how to allow them.
* on CUDA, plain (grey / RGB, upright) JPEGs can be decoded on the GPU in batches (nvJPEG):
  the workers then only read bytes; rotated and CMYK JPEGs are decoded in the worker.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import image_ops
from .c_stderr import CStderr
from .discovery import Inputs, discover, find_inputs, image_magic  # re-exported: the discovery moved
from .file_kinds import sniff
from .pil_decode import (  # pil_array re-exported
    chw_contiguous,
    frames_note,
    pil_array,
    pil_decode,
    probe,
    short_reason,
)
from .png_idat import idat_fault
from .png_key import key_alpha, palette_alpha, png_key

__all__ = [
    "ImageFiles",
    "decode_file",
    "decode_bytes",
    "decode_bytes_noted",
    "file_collate",
    "DecodedItem",
    "discover",
    "find_inputs",
    "image_magic",
    "Inputs",
    "gpu_decode",
    "pil_array",
    "read_image_bytes",
]

logger = logging.getLogger(__name__)


@dataclass
class DecodedItem:
    """One file: its index, path, label, image (or None) and the reason when it failed."""

    index: int
    path: str
    label: int | None  # None: no label (a flat folder, a file list)
    image: torch.Tensor | None
    error: str = ""
    raw: torch.Tensor | None = None  # undecoded JPEG bytes, for GPU decoding
    note: str = ""  # what the decoder warned about (libpng's "iCCP: known incorrect sRGB profile", ...)


# ----------------------------------------------------------------------------- sniffing


def _png_palette(data: bytes) -> tuple[bool, bool]:
    """(is a palette PNG, has a tRNS chunk libpng keeps: :func:`~dataeval_gpu.png_key.palette_alpha`)."""
    if len(data) < 26 or data[25] != 3:  # IHDR colour type 3: palette
        return False, False
    return True, palette_alpha(data)


# ----------------------------------------------------------------------------- decoders


def _tv_decode(t: torch.Tensor, mode: int, notes: list[str]) -> torch.Tensor:
    """torchvision's op (no torchvision import); what libpng / libjpeg print meanwhile goes to ``notes``."""
    cap = CStderr()
    try:
        with cap:
            return image_ops.decode_image(t, mode, apply_exif_orientation=True)
    finally:
        notes.extend(cap.lines)


def decode_bytes(data: torch.Tensor | bytes | bytearray, suffix: str = "") -> torch.Tensor:
    """Decode encoded image bytes (bytes or a uint8 tensor) to ``(C, H, W)`` as :func:`decode_file` does.

    ``suffix`` is ignored (kept for compatibility): the format comes from the bytes.  The
    decoder's warnings (libpng's ``iCCP: known incorrect sRGB profile``, ...) are not printed:
    :func:`decode_bytes_noted` returns them.
    """
    return decode_bytes_noted(data)[0]


def decode_bytes_noted(data: torch.Tensor | bytes | bytearray) -> tuple[torch.Tensor, str]:
    """:func:`decode_bytes`, and the warnings the C decoder printed meanwhile, ``"; "``-joined
    (``""``: none), caught instead of reaching stderr (:mod:`dataeval_gpu.c_stderr`)."""
    notes: list[str] = []
    img = _decode_bytes(data, notes)
    return img, "; ".join(dict.fromkeys(notes))


def _decode_bytes(data: torch.Tensor | bytes | bytearray, notes: list[str]) -> torch.Tensor:
    raw = data.numpy().tobytes() if isinstance(data, torch.Tensor) else bytes(data)
    if not raw:
        raise ValueError("empty file (0 bytes)")
    header = probe(raw)  # raises for a decompression bomb
    if header is not None and header.frames != 1:  # an animated GIF / APNG / WebP, a multi-page TIFF
        notes.append(frames_note(header))
    kind = sniff(raw[:64])
    if kind not in ("jpeg", "png", "webp"):  # GIF (first frame only), TIFF, BMP, ... and unknowns
        return pil_decode(raw)
    if kind == "webp" and header is not None and header.orientation not in (0, 1):
        return pil_decode(raw)  # torchvision's WebP decoder ignores the EXIF orientation
    mode = image_ops.UNCHANGED
    if kind == "png":
        if fault := idat_fault(raw):  # libpng's error there crashes torchvision's decoder (png_idat)
            return _pil_instead(raw, fault, notes)
        palette, transparent = _png_palette(raw)
        if palette:  # UNCHANGED would give the palette indices
            mode = image_ops.RGB_ALPHA if transparent else image_ops.RGB
    elif kind == "jpeg" and header is not None and header.mode == "CMYK":
        mode = image_ops.RGB
    t = data if isinstance(data, torch.Tensor) else torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    try:
        img = _tv_decode(t, mode, notes)
    except Exception as first:  # noqa: BLE001 - try Pillow before giving up
        try:
            return pil_decode(raw)
        except Exception as second:  # noqa: BLE001
            raise _damaged(kind, first, second) from None
    if img.ndim == 4:
        img = img[0]
    if kind == "jpeg" and img.shape[0] == 4:  # CMYK the header did not reveal (a JPEG has no alpha)
        img = _tv_decode(t, image_ops.RGB, notes)
    # a grey / RGB PNG's transparent colour (tRNS) becomes alpha, as on Pillow's path (pil_array)
    if kind == "png" and img.shape[0] in (1, 3):
        key = png_key(raw)
        if key is not None:
            img = key_alpha(img, key)
    return chw_contiguous(img)


def _pil_instead(raw: bytes, fault: str, notes: list[str]) -> torch.Tensor:
    """A PNG whose image data libpng rejects (``fault``, :func:`~dataeval_gpu.png_idat.idat_fault`)
    as Pillow reads it, libpng's error in ``notes``; both decoders' words when Pillow fails too."""
    try:
        img = pil_decode(raw)
    except Exception as second:  # noqa: BLE001 - the reason names both decoders
        raise _damaged("png", RuntimeError(fault), second) from None
    notes.append(f"libpng error: {fault} (read by Pillow)")
    return img


_KIND_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP"}
_NOT_RECOGNISED = re.compile(r"^(cannot identify image file|unknown or unsupported|unsupported )")


def _damaged(kind: str, first: BaseException, second: BaseException) -> Exception:
    """A file that starts as a JPEG / PNG / WebP but that neither torchvision nor Pillow decodes:
    both decoders' words (torchvision's may be a bare ``Internal error.``)."""
    tv = short_reason(first).split(": ", 1)[1] or type(first).__name__
    pil = short_reason(second).split(": ", 1)[1]
    if not pil or _NOT_RECOGNISED.match(pil):  # its "first bytes" would be the signature the file starts with
        pil = "not recognised as an image"
    msg = f"damaged {_KIND_NAMES.get(kind, kind)} file: {tv} (Pillow: {pil})"
    return type(first)(msg) if type(first) in (RuntimeError, ValueError, OSError) else RuntimeError(msg)


def decode_file(path: str | os.PathLike) -> torch.Tensor:
    """Decode one image file to a ``(C, H, W)`` tensor (raises with a reason when it cannot).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> with tempfile.TemporaryDirectory() as d:
    ...     Image.fromarray(np.zeros((4, 6, 4), np.uint8)).save(f"{d}/a.png")
    ...     img = decode_file(f"{d}/a.png")
    >>> tuple(img.shape), img.dtype
    ((4, 4, 6), torch.uint8)
    """
    data = read_image_bytes(path)
    if not data:
        raise ValueError("empty file (0 bytes)")
    return decode_bytes(data)


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_image_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of one file, or an ``OSError`` / ``ValueError`` whose message is the reason.

    Only regular files (or links to them) are opened: a named pipe, socket or device named
    like an image fails without being opened (reading a pipe would wait forever), a folder
    fails as a folder, a broken symbolic link names its missing target (a loop of links says
    so), and a file removed
    after it was listed or that this user may not read fails with that reason.
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            target = os.readlink(p)  # a link to a link: name the chain's missing end too
            chain = f" is a link; the end of the chain, {os.path.realpath(p)!r}," if os.path.islink(os.path.join(os.path.dirname(p), target)) else ""
            raise FileNotFoundError(f"broken symbolic link (its target {target!r}{chain} does not exist)") from None
        raise FileNotFoundError("no such file (missing, or removed after the folder was listed / the file list was read)") from None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        target = os.readlink(p) if os.path.islink(p) else ""
        raise OSError(f"a loop of symbolic links (its target {target!r} leads back to it): not read") from None
    if stat.S_ISDIR(st.st_mode):
        try:
            os.scandir(p).close()
        except PermissionError:
            raise PermissionError("a folder that cannot be read (permission denied): its files are not listed") from None
        raise IsADirectoryError("a folder, not an image file")
    for test, kind in _SPECIAL_FILES:
        if test(st.st_mode):
            raise ValueError(f"{kind}, not a regular file: not read")
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError("no such file (removed after the folder was listed / the file list was read)") from None
    except PermissionError:
        raise PermissionError("permission denied (this user may not read the file)") from None


# ----------------------------------------------------------------------------- dataset


class ImageFiles(torch.utils.data.Dataset):
    """A Dataset over image files: item ``i`` is a :class:`DecodedItem` (never raises).

    With ``gpu_jpeg=True`` plain JPEG files (grey or RGB, no EXIF rotation) are returned
    undecoded (``raw``) for batched GPU decoding in the main process; everything else is
    decoded in the worker.
    """

    def __init__(self, files: Sequence[str], labels: Sequence[int] | None = None, gpu_jpeg: bool = False):
        self.files = list(files)
        # -1 is discovery's "no label" (a flat folder, a file list): the item's label is then None
        labs = list(labels) if labels is not None else [-1] * len(self.files)
        self.labels = [None if isinstance(v, (int, np.integer)) and v == -1 else v for v in labs]
        self.gpu_jpeg = gpu_jpeg

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> DecodedItem:
        path = self.files[i]
        label = self.labels[i]
        try:
            data = read_image_bytes(path)
            if not data:
                raise ValueError("empty file (0 bytes)")
            if self.gpu_jpeg and sniff(data[:4]) == "jpeg":
                h = probe(data)
                if h is not None and h.fmt == "JPEG" and h.mode in ("L", "RGB") and h.orientation == 1:
                    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
                    return DecodedItem(i, path, label, None, raw=raw)
            img, note = decode_bytes_noted(data)
            return DecodedItem(i, path, label, img, note=note)
        except Exception as exc:  # noqa: BLE001 - a bad file is a result, not a crash
            return DecodedItem(i, path, label, None, error=short_reason(exc))


def file_collate(items: list[DecodedItem]) -> list[DecodedItem]:
    """``collate_fn`` for :class:`ImageFiles`: keeps the items as they are (ragged)."""
    return list(items)


def gpu_decode(items: list[DecodedItem], device: torch.device) -> None:
    """Decode the items' raw JPEG bytes on ``device`` in one nvJPEG call (CPU fallback per item)."""
    pending = [it for it in items if it.raw is not None]
    if not pending:
        return
    from torchvision.io import ImageReadMode, decode_jpeg

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            out = decode_jpeg([it.raw for it in pending], mode=ImageReadMode.UNCHANGED, device=device)
        for it, img in zip(pending, out, strict=True):
            it.image, it.raw = img, None
    except Exception:  # noqa: BLE001 - e.g. a corrupt JPEG in the batch: go one by one
        for it in pending:
            try:
                it.image = decode_bytes(it.raw)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                it.error = short_reason(exc)
            it.raw = None
