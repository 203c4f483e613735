"""Reading image files: folders, class trees and file lists, decoded in DataLoader workers.

A folder scan never stops for one bad file: :func:`discover` lists every entry that could be
an image (broken links, pipes, unreadable files and folders named like images included),
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
  RGBA when it has a transparent colour; a CMYK JPEG is converted to RGB.
* GIF: the first frame only (later frames are never decoded), palette → RGB (RGBA when the
  GIF has a transparent colour).
* everything else Pillow opens (BMP, TIFF, PGM/PPM, ...): through Pillow, with EXIF
  orientation, palette → RGB(A), CMYK → RGB, 1-bit → 0/255 grey, 16-bit → uint16,
  32-bit integer → uint16 / int64, 32-bit float → float32.
* files whose header declares more pixels than Pillow's decompression-bomb limit
  (``2 * PIL.Image.MAX_IMAGE_PIXELS``, ~179 MP by default) fail before anything is decoded.
* on CUDA, plain (grey / RGB, upright) JPEGs can be decoded on the GPU in batches (nvJPEG):
  the workers then only read bytes; rotated and CMYK JPEGs are decoded in the worker.
"""

from __future__ import annotations

import io as _io
import logging
import os
import re
import stat
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import image_ops
from .datasets import IMAGE_EXTENSIONS
from .errors import InvalidArgumentError
from .file_kinds import sniff, unknown_format, utf8_text

__all__ = [
    "ImageFiles",
    "decode_file",
    "decode_bytes",
    "file_collate",
    "DecodedItem",
    "discover",
    "find_inputs",
    "image_magic",
    "Inputs",
    "gpu_decode",
    "read_image_bytes",
]

#: suffixes of image formats, decodable here or not: a folder scan lists every such file (one
#: it cannot decode fails with the reason); a file with any other suffix is listed only when
#: its first bytes are an image's (:func:`image_magic`)
IMAGE_LIKE_SUFFIXES = frozenset(IMAGE_EXTENSIONS) | frozenset(
    {
        ".jpe", ".jfif", ".jif", ".pjpeg", ".pjp", ".jp2", ".j2k", ".jpf", ".jpx", ".jxl", ".heic", ".heif",
        ".avif", ".svg", ".svgz", ".ico", ".cur", ".icns", ".pbm", ".pnm", ".pam", ".pfm", ".tga", ".dib",
        ".pcx", ".psd", ".dds", ".xbm", ".xpm", ".eps", ".qoi", ".exr", ".hdr", ".apng", ".dng", ".cr2",
        ".nef", ".arw", ".raw", ".sgi", ".rgb", ".ras", ".fits", ".fit", ".im", ".msp", ".emf", ".wmf",
    }
)  # fmt: skip
#: files next to images that are not images (metadata): a folder scan leaves them out
NON_IMAGE_SUFFIXES = frozenset(
    {".txt", ".json", ".csv", ".md", ".xml", ".yaml", ".yml", ".npy", ".npz", ".parquet", ".log"}
)
_EXIF_ORIENTATION = 0x0112
#: the files every ``dataeval-gpu scan`` writes: a sub-folder holding them all is an earlier
#: scan's output (its plots are not part of the data) and a folder scan does not enter it
SCAN_OUTPUT_MARKERS = ("summary.json", "findings.json", "config.json")
# what a scan writes beside them that a folder scan would list (the rest is metadata: .json, .csv, ...)
SCAN_OUTPUT_FILES = ("report.html", "plots", "checkpoint.pt", "checkpoint.pt.tmp")
logger = logging.getLogger(__name__)


@dataclass
class DecodedItem:
    """One file: its index, path, label, image (or None) and the reason when it failed."""

    index: int
    path: str
    label: int
    image: torch.Tensor | None
    error: str = ""
    raw: torch.Tensor | None = None  # undecoded JPEG bytes, for GPU decoding


# torchvision's C++ errors start with "function, /build/path/file.cpp:123, "
_CPP_PREFIX = re.compile(r"^[\w:()~<> ]+, \S+\.(?:cpp|h|cu):\d+, ")


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    msg = _CPP_PREFIX.sub("", msg)
    return f"{type(exc).__name__}: {msg}"[:300]


# ----------------------------------------------------------------------------- sniffing


def _png_palette(data: bytes) -> tuple[bool, bool]:
    """(is a palette PNG, has a tRNS chunk) from the chunks before the first IDAT."""
    if len(data) < 26 or data[25] != 3:  # IHDR colour type 3: palette
        return False, False
    idat = data.find(b"IDAT", 33)
    return True, data.find(b"tRNS", 33, idat if idat > 0 else len(data)) > 0


@dataclass
class _Header:
    fmt: str
    mode: str
    width: int
    height: int
    orientation: int


def _probe(data: bytes) -> _Header | None:
    """Format, mode, size (and JPEG EXIF orientation) from the header, nothing decoded.

    Raises ``ValueError`` for a header over Pillow's decompression-bomb limit; returns None
    when Pillow cannot identify the data (the decoders then decide).
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(_io.BytesIO(data)) as im:
                orientation = 1
                if im.format == "JPEG":
                    orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
                return _Header(str(im.format), im.mode, im.size[0], im.size[1], orientation)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"image too large (decompression-bomb guard): {exc}") from None
    except Exception:  # noqa: BLE001 - not identifiable by Pillow: the decoders decide
        return None


# ----------------------------------------------------------------------------- decoders


def _pil_decode(data: bytes) -> torch.Tensor:
    from PIL import Image, ImageOps, UnidentifiedImageError

    with warnings.catch_warnings():
        # sizes up to the bomb limit are accepted on purpose (the limit itself still raises)
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im_file = Image.open(_io.BytesIO(data))
        except UnidentifiedImageError:
            raise ValueError(unknown_format(data)) from None
    with im_file as im:
        im.load()  # the first frame of a multi-frame file (animated GIF, multi-page TIFF)
        fmt = im.format
        im = ImageOps.exif_transpose(im) or im
        mode = im.mode
        if fmt == "GIF" or mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info or mode in ("RGBA", "PA") else "RGB")
        elif mode == "PA":
            im = im.convert("RGBA")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        elif mode == "1":
            im = im.convert("L")  # 0 / 255
        elif mode.startswith("I;16"):
            return torch.from_numpy(np.array(im).astype(np.uint16)).unsqueeze(0)
        arr = np.array(im)  # a writable copy
    if arr.dtype == np.int32:  # mode "I"
        arr = arr.astype(np.int64) if arr.min() < 0 or arr.max() > 65535 else arr.astype(np.uint16)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def _tv_decode(t: torch.Tensor, mode: int) -> torch.Tensor:
    return image_ops.decode_image(t, mode, apply_exif_orientation=True)  # torchvision's op, no torchvision import


def decode_bytes(data: torch.Tensor | bytes | bytearray, suffix: str = "") -> torch.Tensor:
    """Decode encoded image bytes (bytes or a uint8 tensor) to ``(C, H, W)`` as :func:`decode_file` does.

    ``suffix`` is ignored (kept for compatibility): the format comes from the bytes.
    """
    raw = data.numpy().tobytes() if isinstance(data, torch.Tensor) else bytes(data)
    if not raw:
        raise ValueError("empty file (0 bytes)")
    header = _probe(raw)  # raises for a decompression bomb
    kind = sniff(raw[:64])
    if kind not in ("jpeg", "png", "webp"):  # GIF (first frame only), TIFF, BMP, ... and unknowns
        return _pil_decode(raw)
    mode = image_ops.UNCHANGED
    if kind == "png":
        palette, transparent = _png_palette(raw)
        if palette:  # UNCHANGED would give the palette indices
            mode = image_ops.RGB_ALPHA if transparent else image_ops.RGB
    elif kind == "jpeg" and header is not None and header.mode == "CMYK":
        mode = image_ops.RGB
    t = data if isinstance(data, torch.Tensor) else torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    try:
        img = _tv_decode(t, mode)
    except Exception as first:  # noqa: BLE001 - try Pillow before giving up
        try:
            return _pil_decode(raw)
        except Exception:  # noqa: BLE001
            raise first from None
    if img.ndim == 4:
        img = img[0]
    if kind == "jpeg" and img.shape[0] == 4:  # CMYK the header did not reveal (a JPEG has no alpha)
        img = _tv_decode(t, image_ops.RGB)
    return _chw_contiguous(img)


def _chw_contiguous(img: torch.Tensor) -> torch.Tensor:
    """torchvision's decoders return CHW views of interleaved HWC memory; the statistics read
    each channel as one row, so make the planes contiguous here, in the loader worker
    (numpy's transposing copy is ~2x faster than torch's for uint8)."""
    if img.is_contiguous() or img.ndim != 3:
        return img
    hwc = img.permute(1, 2, 0)
    if hwc.is_contiguous():
        return torch.from_numpy(np.ascontiguousarray(hwc.numpy().transpose(2, 0, 1)))
    return img.contiguous()


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
    fails as a folder, a broken symbolic link names its missing target, and a file removed
    after it was listed or that this user may not read fails with that reason.
    """
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            target = os.readlink(p)
            raise FileNotFoundError(f"broken symbolic link (its target {target!r} does not exist)") from None
        raise FileNotFoundError("no such file (missing, or removed after the folder was listed)") from None
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
        raise FileNotFoundError("no such file (removed after the folder was listed)") from None
    except PermissionError:
        raise PermissionError("permission denied (this user may not read the file)") from None


# ----------------------------------------------------------------------------- discovery


@dataclass
class Inputs:
    """What :func:`find_inputs` lists: the inputs (each one ends up measured or failed), their
    labels and class names, and the files a folder scan skipped as not images (by name and
    content), never silently: the CLI names them and writes them to ``skipped.txt``."""

    files: list[str]
    labels: list[int]
    class_names: list[str]
    skipped: list[str]

    def skipped_summary(self, top: int = 6) -> str:
        """``"2294 files (.dat 120, .frag 30, ...)"``: the skipped files by suffix, most first."""
        from collections import Counter

        by = Counter(Path(f).suffix.lower() or "(no suffix)" for f in self.skipped).most_common()
        kinds = ", ".join(f"{k} {n}" for k, n in by[:top]) + (", ..." if len(by) > top else "")
        return f"{len(self.skipped)} file{'s' if len(self.skipped) != 1 else ''} ({kinds})"


def discover(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    class_folders: bool | None = None,
    out: str | os.PathLike | None = None,
) -> tuple[list[str], list[int], list[str]]:
    """Files, labels and class names of a folder, an ImageFolder-style tree or a file list
    (:func:`find_inputs` without its list of skipped files; a warning counts them)."""
    found = find_inputs(root, class_folders, out)
    if found.skipped:
        logger.warning(
            "%s: skipped %s: neither named nor encoded like an image", root, found.skipped_summary()
        )
    return found.files, found.labels, found.class_names


def find_inputs(
    root: str | os.PathLike | Sequence[str | os.PathLike],
    class_folders: bool | None = None,
    out: str | os.PathLike | None = None,
) -> Inputs:
    """Files, labels and class names of a folder, an ImageFolder-style tree or a file list.

    ``root`` may be a folder, one image file, a text file listing one path per line, or a
    list of paths.  Everything listed is an input: it ends up measured or failed with a reason.

    * **Folder** (walked recursively, symbolic links followed, loops once): every entry named
      like an image (:data:`IMAGE_LIKE_SUFFIXES`: .jpg, .png, .webp, .tif, .heic, .svg, ...)
      counts, whatever it is — a regular file, a broken symbolic link, a named pipe, a folder
      (``x.jpg/``) — so that a bad one shows up as failed; so does a file under any other name
      whose first bytes are an image's (:func:`image_magic`) or that cannot be read, and a
      sub-folder that cannot be read.  Left out: hidden entries (name starting with "."; hidden
      folders are not entered), metadata next to the images (:data:`NON_IMAGE_SUFFIXES`: .txt,
      .json, .csv, ...), an earlier scan's output folder inside it (with a warning), and the
      files neither named nor encoded like an image (fonts, shaders, archives, ...: listed in
      :attr:`Inputs.skipped`).  Sorted by path.
    * **File list** (a text file whose name is not an image's; ``#`` starts a comment): taken
      as given.  A relative path is looked up in the current working directory first, then
      in the list's own folder; when neither holds it, it stays relative to the working
      directory (and fails as missing).
    * **One image file** (named like an image, or whose first bytes are not text).

    ``class_folders=None`` means: labels from the first sub-folder level when every file
    sits exactly one level down (an ImageFolder tree), else no labels (-1).

    ``out``: the scan's output folder. When it is the folder scanned (``scan . --out .``), the
    files an earlier scan wrote there (``report.html``, ``plots/``, the checkpoint) are left out.
    """
    if isinstance(root, (list, tuple)):
        files = [str(p) for p in root]
        return Inputs(files, [-1] * len(files), [], [])
    r = Path(root)
    if r.is_file():
        if r.suffix.lower() in IMAGE_EXTENSIONS or not _is_text_file(r):
            return Inputs([str(r)], [-1], [], [])
        files = _read_file_list(r)
        return Inputs(files, [-1] * len(files), [], [])
    if not r.is_dir():
        raise FileNotFoundError(f"no such folder or file list: {root}")
    paths, folders, skipped = _walk(r, root_is_out=out is not None and _same_folder(r, Path(out)))
    rel = {p: p.relative_to(r).parts for p in paths}
    rel_depth = {len(rel[p]) for p in paths if p not in folders}
    use_classes = class_folders if class_folders is not None else (rel_depth == {2})
    files = [str(p) for p in paths]
    left_out = [str(p) for p in skipped]
    if not use_classes:
        if class_folders is None:
            _warn_almost_a_class_tree(root, [rel[p] for p in paths if p not in folders])
        return Inputs(files, [-1] * len(files), [], left_out)
    names = sorted({rel[p][0] for p in paths if len(rel[p]) > 1})
    lookup = {n: i for i, n in enumerate(names)}
    labels = [lookup.get(rel[p][0], -1) if len(rel[p]) > 1 else -1 for p in paths]
    return Inputs(files, labels, names, left_out)


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # the output folder does not exist yet
        return False


def _warn_almost_a_class_tree(root: str | os.PathLike, rel: list[tuple[str, ...]]) -> None:
    """Warn when most files sit one folder down in two or more folders (a class tree) but some
    do not, so that no labels are taken: a stray file silently dropped every label."""
    down = [r for r in rel if len(r) == 2]
    if len({r[0] for r in down}) < 2 or 2 * len(down) < len(rel):
        return
    off = [os.path.join(*r) for r in rel if len(r) != 2]
    logger.warning(
        "%s: no class labels from the folder names: %d of %d files are not exactly one folder down (%s%s); "
        "put every file in a class folder to label them",
        root,
        len(off),
        len(rel),
        ", ".join(off[:3]),
        ", ..." if len(off) > 3 else "",
    )


def image_magic(head: bytes) -> bool:
    """True when ``head`` (a file's first 16 bytes or more) opens like an image file: JPEG, PNG,
    GIF, WebP, TIFF, BMP, ICO/CUR, PNM/PAM, JPEG 2000, JPEG XL, HEIF/AVIF, PSD, QOI, OpenEXR."""
    if sniff(head) in ("jpeg", "png", "gif", "webp", "svg"):
        return True
    return (
        head[:4] in (b"II*\x00", b"MM\x00*", b"8BPS", b"qoif", b"v/1\x01", b"\xffO\xffQ")
        or head[:2] in (b"BM", b"\xff\x0a")
        or head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00")
        or (len(head) > 2 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3] in b" \t\r\n")
        or head[4:12] in (b"jP  \r\n\x87\n", b"JXL \r\n\x87\n")
        or (head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"))
    )


def _not_an_image(path: Path) -> bool:
    """True for a regular file whose name and first bytes are not an image's (a folder scan
    skips it and says so); a file that cannot be read is not skipped: it fails with the reason."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return not image_magic(head)


def _is_text_file(path: Path) -> bool:
    """True when the file's first bytes are text (a file list), not an image or other binary."""
    with open(path, "rb") as f:
        head = f.read(64)
    return not head or sniff(head) == "text" or utf8_text(head)



def _read_file_list(path: Path) -> list[str]:
    """The paths a text file lists, relative ones resolved as :func:`discover` documents."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidArgumentError(
            f"{path}: not a text file of paths (not UTF-8 text) and not named like an image"
        ) from None
    base = path.parent
    files = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        if not p.is_absolute() and not os.path.lexists(p) and os.path.lexists(base / p):
            p = base / p
        files.append(str(p))
    return files


def _walk(root: Path, root_is_out: bool = False) -> tuple[list[Path], set[Path], list[Path]]:
    """The entries a folder scan lists (see :func:`discover`), sorted, which are folders, and
    the files skipped as neither named nor encoded like an image (sorted).

    Symbolic links to folders are followed; a link back to one of its own parent folders (a
    loop) is not entered again.  Two links to the same folder list its files twice (two inputs).
    A sub-folder holding an earlier scan's output (:data:`SCAN_OUTPUT_MARKERS`) is skipped
    with a warning, so that scanning a folder twice does not measure the first scan's plots;
    with ``root_is_out`` (``scan . --out .``: the folder is also this scan's output folder),
    an earlier scan's :data:`SCAN_OUTPUT_FILES` there are left out, with a warning.
    """
    out: list[Path] = []
    skipped: list[Path] = []
    folders: set[Path] = set()
    stack: list[tuple[Path, frozenset[tuple[int, int]]]] = [(root, frozenset())]
    while stack:
        d, parents = stack.pop()
        try:
            st = d.stat()
            key = (st.st_dev, st.st_ino)
            if key in parents:
                continue
            with os.scandir(d) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if d == root:
                raise
            out.append(d)  # a folder that cannot be read: listed, so it is failed with the reason
            folders.add(d)
            continue
        if all(any(e.name == m for e in entries) for m in SCAN_OUTPUT_MARKERS):
            if d != root:
                logger.warning("%s: not scanned, it is the output folder of an earlier scan", d)
                continue
            # the folder scanned is this scan's --out, and an earlier scan's: leave out its own files
            mine = [e for e in entries if e.name in SCAN_OUTPUT_FILES] if root_is_out else []
            if mine:
                entries = [e for e in entries if e.name not in SCAN_OUTPUT_FILES]
                logger.warning(
                    "%s: holds an earlier scan's output; its %s not scanned",
                    d,
                    ", ".join(e.name + ("/" if e.is_dir() else "") for e in mine),
                )
        inside = parents | {key}
        for e in reversed(entries):  # reversed: the stack pops them in name order
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                is_dir = e.is_dir()  # follows symbolic links
            except OSError:
                is_dir = False
            if is_dir:
                if p.suffix.lower() in IMAGE_EXTENSIONS:
                    out.append(p)  # a folder named like an image: failed, and its files are walked too
                    folders.add(p)
                stack.append((p, inside))
            elif p.suffix.lower() in IMAGE_LIKE_SUFFIXES:
                out.append(p)  # a broken link, a pipe, an unreadable or bad file: failed with the reason
            elif p.suffix.lower() in NON_IMAGE_SUFFIXES:
                continue
            elif _is_regular(e) and not _not_an_image(p):
                out.append(p)  # an image under another name (or a file that cannot be read)
            else:
                skipped.append(p)
    # an unreadable folder named like an image is appended twice (as a name, then as unreadable)
    return sorted(set(out)), folders, sorted(skipped)


def _is_regular(e: os.DirEntry) -> bool:
    try:
        return e.is_file()  # follows symbolic links: a link to a file is one
    except OSError:
        return False


# ----------------------------------------------------------------------------- dataset


class ImageFiles(torch.utils.data.Dataset):
    """A Dataset over image files: item ``i`` is a :class:`DecodedItem` (never raises).

    With ``gpu_jpeg=True`` plain JPEG files (grey or RGB, no EXIF rotation) are returned
    undecoded (``raw``) for batched GPU decoding in the main process; everything else is
    decoded in the worker.
    """

    def __init__(self, files: Sequence[str], labels: Sequence[int] | None = None, gpu_jpeg: bool = False):
        self.files = list(files)
        self.labels = list(labels) if labels is not None else [-1] * len(self.files)
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
                h = _probe(data)
                if h is not None and h.fmt == "JPEG" and h.mode in ("L", "RGB") and h.orientation == 1:
                    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
                    return DecodedItem(i, path, label, None, raw=raw)
            return DecodedItem(i, path, label, decode_bytes(data))
        except Exception as exc:  # noqa: BLE001 - a bad file is a result, not a crash
            return DecodedItem(i, path, label, None, error=_short(exc))


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
                it.error = _short(exc)
            it.raw = None
