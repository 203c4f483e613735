"""Reading image files: folders, class trees and file lists, decoded in DataLoader workers.

A folder scan never stops for one bad file: :class:`ImageFiles` returns, for every file, either
the decoded ``(C, H, W)`` tensor or ``None`` with the reason it could not be read, and the
scan lists those files as failed.  What each kind of file becomes is documented in
``docs/inputs.md``:

* JPEG / PNG / GIF / WebP: ``torchvision.io.decode_image`` with EXIF orientation applied;
  channels as stored (grey 1, grey+alpha 2, RGB 3, RGBA 4; palette images expanded),
  16-bit PNG as uint16; a CMYK JPEG is converted to RGB; an animated GIF gives its first frame.
* everything else Pillow opens (BMP, TIFF, PGM/PPM, ...): through Pillow, with EXIF
  orientation, palette → RGB(A), CMYK → RGB, 16-bit → uint16, 32-bit float → float32.
* on CUDA, JPEGs can be decoded on the GPU in batches (nvJPEG): the workers then only read bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .datasets import IMAGE_EXTENSIONS, list_image_files

__all__ = ["ImageFiles", "decode_file", "decode_bytes", "file_collate", "DecodedItem", "discover"]

_TV_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}
_JPEG_SUFFIXES = {".jpg", ".jpeg"}


@dataclass
class DecodedItem:
    """One file: its index, path, label, image (or None) and the reason when it failed."""

    index: int
    path: str
    label: int
    image: torch.Tensor | None
    error: str = ""
    raw: torch.Tensor | None = None  # undecoded JPEG bytes, for GPU decoding


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:300]


def _pil_decode(path: str | os.PathLike | None, data: bytes | None = None) -> torch.Tensor:
    import io as _io

    from PIL import Image, ImageOps

    src = _io.BytesIO(data) if data is not None else path
    with Image.open(src) as im:  # type: ignore[arg-type]
        im.load()
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        im = ImageOps.exif_transpose(im) or im
        mode = im.mode
        if mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif mode == "PA":
            im = im.convert("RGBA")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        elif mode == "1":
            im = im.convert("L")
        elif mode in ("I;16", "I;16B", "I;16L"):
            arr = np.asarray(im).astype(np.uint16)
            return torch.from_numpy(arr.copy()).unsqueeze(0)
        arr = np.asarray(im)
    if arr.dtype == np.int32:  # mode "I"
        arr = arr.astype(np.int64) if arr.min() < 0 or arr.max() > 65535 else arr.astype(np.uint16)
    t = torch.from_numpy(np.ascontiguousarray(arr))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()


def decode_bytes(data: torch.Tensor, suffix: str = "") -> torch.Tensor:
    """Decode encoded image bytes (uint8 tensor) to ``(C, H, W)`` as :func:`decode_file` does."""
    from torchvision.io import ImageReadMode, decode_image

    if data.numel() == 0:
        raise ValueError("empty file (0 bytes)")
    img = decode_image(data, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=True)
    if img.ndim == 4:  # animated GIF: first frame
        img = img[0]
    if img.shape[0] == 4 and _is_jpeg(data):  # CMYK JPEG (a JPEG has no alpha)
        img = decode_image(data, mode=ImageReadMode.RGB, apply_exif_orientation=True)
    return img


def _is_jpeg(data: torch.Tensor) -> bool:
    return data.numel() > 2 and int(data[0]) == 0xFF and int(data[1]) == 0xD8


def decode_file(path: str | os.PathLike) -> torch.Tensor:
    """Decode one image file to a ``(C, H, W)`` tensor (raises with a reason when it cannot)."""
    from torchvision.io import read_file

    p = Path(path)
    if p.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    if p.suffix.lower() in _TV_SUFFIXES:
        data = read_file(str(p))
        try:
            return decode_bytes(data, p.suffix.lower())
        except Exception as first:  # noqa: BLE001 - try Pillow before giving up
            try:
                return _pil_decode(p)
            except Exception:  # noqa: BLE001
                raise first from None
    return _pil_decode(p)


def discover(
    root: str | os.PathLike | Sequence[str | os.PathLike], class_folders: bool | None = None
) -> tuple[list[str], list[int], list[str]]:
    """Files, labels and class names of a folder, an ImageFolder-style tree or a file list.

    ``root`` may be a folder, a text file listing one path per line, or a list of paths.
    ``class_folders=None`` means: labels from the first sub-folder level when every image
    sits exactly one level down (an ImageFolder tree), else no labels (-1).
    """
    if isinstance(root, (list, tuple)):
        files = [str(p) for p in root]
        return files, [-1] * len(files), []
    r = Path(root)
    if r.is_file() and r.suffix.lower() not in IMAGE_EXTENSIONS:
        base = r.parent
        files = []
        for line in r.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                p = Path(line)
                files.append(str(p if p.is_absolute() else base / p))
        return files, [-1] * len(files), []
    if r.is_file():
        return [str(r)], [-1], []
    if not r.is_dir():
        raise FileNotFoundError(f"no such folder or file list: {root}")
    paths = sorted(p for p in r.rglob("*") if p.is_file() and not p.name.startswith("."))
    # every file counts (a bad file must show up as failed); non-image suffixes too, unless
    # they are obviously not images (metadata next to the images)
    skip = {".txt", ".json", ".csv", ".md", ".xml", ".yaml", ".yml", ".npy", ".npz", ".parquet", ".log"}
    paths = [p for p in paths if p.suffix.lower() not in skip]
    rel_depth = {len(p.relative_to(r).parts) for p in paths}
    use_classes = class_folders if class_folders is not None else (rel_depth == {2})
    files = [str(p) for p in paths]
    if not use_classes:
        return files, [-1] * len(files), []
    names = sorted({p.relative_to(r).parts[0] for p in paths if len(p.relative_to(r).parts) > 1})
    lookup = {n: i for i, n in enumerate(names)}
    labels = [lookup.get(p.relative_to(r).parts[0], -1) if len(p.relative_to(r).parts) > 1 else -1 for p in paths]
    return files, labels, names


class ImageFiles(torch.utils.data.Dataset):
    """A Dataset over image files: item ``i`` is a :class:`DecodedItem` (never raises).

    With ``gpu_jpeg=True`` JPEG files are returned undecoded (``raw``) for batched GPU
    decoding in the main process; everything else is decoded in the worker.
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
            if self.gpu_jpeg and Path(path).suffix.lower() in _JPEG_SUFFIXES:
                from torchvision.io import read_file

                data = read_file(path)
                if data.numel() == 0:
                    raise ValueError("empty file (0 bytes)")
                return DecodedItem(i, path, label, None, raw=data)
            return DecodedItem(i, path, label, decode_file(path))
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
        out = decode_jpeg([it.raw for it in pending], mode=ImageReadMode.UNCHANGED, device=device)
        for it, img in zip(pending, out):
            it.image, it.raw = img, None
    except Exception:  # noqa: BLE001 - e.g. a CMYK or corrupt JPEG in the batch: go one by one
        for it in pending:
            try:
                it.image = decode_bytes(it.raw)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001
                it.error = _short(exc)
            it.raw = None
