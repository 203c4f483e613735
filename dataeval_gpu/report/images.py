"""Pixels for the grids: decoding small thumbnails (once per image), display scaling, sampling.

Files are decoded with the measurement's rules (:mod:`dataeval_gpu.io`: EXIF orientation
applied, channels as stored, palette / CMYK expanded), so an image is shown the way it was
measured.  Grey and RGB JPEGs are decoded at reduced size (libjpeg's DCT scaling through
Pillow's ``draft``: 1/2, 1/4 or 1/8 of the stored size, never below the thumbnail size),
then EXIF-transposed exactly as the full decode is; every other file goes through
:func:`dataeval_gpu.io.decode_bytes` itself and is reduced after.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..functional.bitdepth import bit_depth, depth_scale

__all__ = [
    "THUMB",
    "as_chw",
    "to_display",
    "to_display_over_checker",
    "shrink_display",
    "shrink_uint8",
    "load_thumbnail",
    "scan_thumbnail",
    "THUMB_FROM_PIXELS",
    "ImageSource",
    "image_getter",
    "sample_indices",
]

THUMB = 256  # longest side of an image drawn in a grid
#: images of at least this many pixels get their thumbnail made during the scan, from the
#: pixels just measured (:func:`scan_thumbnail`): decoding them again for the report would
#: cost ~10x more than the thumbnail (the entropy decoding of a JPEG cannot be scaled down)
THUMB_FROM_PIXELS = 1 << 20
_JPEG_SOI = b"\xff\xd8\xff"


def as_chw(arr: Any) -> np.ndarray:
    """A ``(C, H, W)`` numpy array from an array / tensor of shape ``(C, H, W)`` or ``(H, W)``."""
    if hasattr(arr, "detach"):
        arr = arr.detach().cpu().numpy()
    a = np.asarray(arr)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"expected an image as (C, H, W) or (H, W), got shape {a.shape}")
    return a


def to_display(image: Any) -> tuple[np.ndarray, bool]:
    """``(H, W, 3)`` or ``(H, W)`` float in [0, 1] and whether it is grey, at true intensity.

    uint8 is divided by 255; other types follow DataEval's bit-depth rule (the smallest d in
    {1, 8, 12, 16, 32} with 2^d > max; values already in [0, 1] stay; negative data is
    min–max scaled).  NaN shows as 0.  One channel is grey, two show the first, four and
    more show the first three.
    """
    a = as_chw(image)
    if a.dtype == np.bool_:
        x = a.astype(np.float32)
    elif a.dtype == np.uint8:
        x = a.astype(np.float32) / 255.0
    else:
        x = a.astype(np.float64)
        finite = x[np.isfinite(x)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 1.0
        if lo < 0:
            x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
        elif hi > 1:
            x = x / float(depth_scale(bit_depth(0.0, hi)))
        x = np.nan_to_num(x, nan=0.0)
    x = np.clip(x, 0.0, 1.0)
    c = x.shape[0]
    if c in (1, 2):
        return x[0], True
    return np.moveaxis(x[:3], 0, -1), False


#: the checkerboard behind transparent pixels in the grids: light greys, squares of this many pixels
CHECKER = (0.78, 0.94, 8)


def to_display_over_checker(image: Any) -> tuple[np.ndarray, bool]:
    """:func:`to_display`, but an image with alpha (grey + alpha, RGBA) is drawn over a light
    checkerboard where it is transparent, as image viewers show it: a black icon on a transparent
    background showed as a black square.  Images without alpha are :func:`to_display`'s."""
    a = as_chw(image)
    if a.shape[0] not in (2, 4):
        return to_display(a)
    colour, grey = to_display(a[:-1])
    alpha, _ = to_display(a[-1:])  # the alpha channel in [0, 1] (uint8 / 255, else its bit depth)
    dark, light, side = CHECKER
    yy, xx = np.indices(alpha.shape)
    board = np.where(((yy // side) + (xx // side)) % 2 == 0, light, dark)
    if not grey:
        alpha, board = alpha[..., None], board[..., None]
    return colour * alpha + board * (1.0 - alpha), grey


def _thumb_size(h: int, w: int, limit: int) -> tuple[int, int]:
    scale = limit / max(h, w)
    return max(1, round(w * scale)), max(1, round(h * scale))


def shrink_display(disp: np.ndarray, limit: int = THUMB) -> np.ndarray:
    """A display array (float in [0, 1], ``(H, W)`` or ``(H, W, 3)``) cut down to ``limit`` px."""
    h, w = disp.shape[:2]
    if max(h, w) <= limit:
        return disp
    from PIL import Image

    u8 = (disp * 255.0 + 0.5).astype(np.uint8)
    small = Image.fromarray(u8).resize(_thumb_size(h, w, limit), Image.Resampling.BILINEAR)
    return np.asarray(small).astype(np.float32) / 255.0


def shrink_uint8(img: np.ndarray, limit: int = THUMB) -> np.ndarray:
    """A ``(C, H, W)`` uint8 image cut down to ``limit`` px on its longest side (bilinear, per channel).

    Other dtypes are returned unchanged: their display scale depends on the exact maximum.  A
    reduced colour image is a ``(C, H, W)`` view of ``(H, W, 3)`` pixels (not C-contiguous).
    """
    c, h, w = img.shape
    if img.dtype != np.uint8 or max(h, w) <= limit:
        return img
    from PIL import Image

    size = _thumb_size(h, w, limit)
    if c == 3:
        small = Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0))).resize(
            size, Image.Resampling.BILINEAR
        )
        return np.asarray(small).transpose(2, 0, 1)  # a view of Pillow's (H, W, 3): see _shrink_pil
    planes = [np.asarray(Image.fromarray(p).resize(size, Image.Resampling.BILINEAR)) for p in img]
    return np.stack(planes)


def scan_thumbnail(img: Any, limit: int = THUMB) -> np.ndarray | None:
    """The report's thumbnail of a measured ``(C, H, W)`` uint8 CPU image, made where it was
    decoded (a worker process of the file scan), or None for an image that is not uint8.

    Each channel plane is box-reduced by an integer factor (Pillow's ``reduce``; no
    interleaving copy of the full image) and then resized like :func:`shrink_uint8`: the
    same picture, orientation and channels as measured, at most ``limit`` px.
    """
    a = as_chw(img)
    c, h, w = a.shape
    if a.dtype != np.uint8 or c == 0 or h == 0 or w == 0:
        return None
    if max(h, w) <= limit:
        return np.array(a)
    from PIL import Image

    size = _thumb_size(h, w, limit)
    k = max(1, min(max(h, w) // (2 * limit), min(h, w)))  # still >= 2x the thumbnail after the box
    planes = []
    for p in a:
        im = Image.fromarray(np.ascontiguousarray(p))
        if k > 1:
            im = im.reduce(k)
        planes.append(np.asarray(im.resize(size, Image.Resampling.BILINEAR)))
    return np.stack(planes)


def _jpeg_reduced_image(data: bytes, limit: int) -> Any:
    """A grey or RGB JPEG decoded at 1/2, 1/4 or 1/8 scale and EXIF-transposed, as a Pillow
    image ('L' or 'RGB'); None for other JPEGs.

    Same orientation and channel rules as :func:`dataeval_gpu.io.decode_bytes` (grey: 1
    channel, colour: RGB, EXIF orientation applied; tested against it).  CMYK and unusual
    JPEGs return None and take the full decoder.
    """
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        if im.format != "JPEG" or im.mode not in ("L", "RGB"):
            return None
        im.draft(None, (limit, limit))  # both stored sides stay >= limit
        im.load()
        return ImageOps.exif_transpose(im) or im


def _shrink_pil(im: Any, limit: int) -> np.ndarray:
    """``shrink_uint8`` of an 'L' or 'RGB' Pillow image's ``(C, H, W)`` array, resized as the
    Pillow image itself (the same pixels, without the planar copy and its way back).

    A colour thumbnail is a ``(C, H, W)`` view of Pillow's ``(H, W, C)`` pixels, not a planar
    copy: the grids turn it back into ``(H, W, C)`` (:mod:`.pilgrid`), which is then free."""
    from PIL import Image

    w, h = im.size
    if max(h, w) > limit:
        im = im.resize(_thumb_size(h, w, limit), Image.Resampling.BILINEAR)
    arr = np.asarray(im)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_thumbnail(path: str | os.PathLike, limit: int = THUMB) -> np.ndarray:
    """The image of ``path`` as ``(C, H, W)``, decoded as it was measured, at most ``limit`` px (uint8).

    Raises what the measurement's decoder raises for a file it cannot read.
    """
    data = Path(path).read_bytes()
    if data[:3] == _JPEG_SOI:
        try:
            im = _jpeg_reduced_image(data, limit)
        except Exception:  # noqa: BLE001 - the measurement's decoder decides (and explains) instead
            im = None
        if im is not None:
            return _shrink_pil(im, limit)
    from ..io import decode_bytes

    return shrink_uint8(decode_bytes(data).numpy(), limit)


class ImageSource:
    """``get_image(index) -> (C, H, W)`` with a cache: each image is fetched (decoded) once per report.

    ``fetch(index)`` gives the image; uint8 images are kept at thumbnail size.  ``prefetch``
    fetches many in a thread pool (Pillow and libjpeg release the GIL while decoding).
    """

    def __init__(
        self,
        fetch: Callable[[int], Any],
        *,
        limit: int = THUMB,
        threads: int | None = None,
        fetch_at: Callable[[int, int], Any] | None = None,
    ) -> None:
        self.fetch = fetch
        self.fetch_at = fetch_at  # fetch(index) at a given size (files: a JPEG decoded at reduced size)
        self.limit = limit
        self.threads = threads if threads is not None else min(4, os.cpu_count() or 1)
        self._cache: OrderedDict[int, np.ndarray | BaseException] = OrderedDict()
        self._lock = threading.Lock()
        self.max_cached = 2048  # thumbnails of at most 256 px: ~400 MB at worst

    def _load(self, index: int, limit: int | None = None) -> np.ndarray | BaseException:
        lim = self.limit if limit is None else min(int(limit), self.limit)
        try:
            img = self.fetch_at(index, lim) if self.fetch_at is not None and lim != self.limit else self.fetch(index)
            return shrink_uint8(as_chw(img), lim)
        except Exception as exc:  # noqa: BLE001 - kept and raised where the image is drawn
            return exc

    def _store(self, index: int, value: np.ndarray | BaseException) -> None:
        with self._lock:
            self._cache[index] = value
            while len(self._cache) > self.max_cached:
                self._cache.popitem(last=False)

    def seed(self, thumbnails: Mapping[int, Any]) -> None:
        """Cache thumbnails made elsewhere (the scan's workers, :func:`scan_thumbnail`): those
        images are not fetched again."""
        for i, thumb in thumbnails.items():
            self._store(int(i), shrink_uint8(as_chw(thumb), self.limit))

    def prefetch(self, indices: Iterable[int], limit: int | None = None) -> None:
        """Fetch every index not cached yet, in parallel; ``limit``: at most that many pixels on the
        longest side (what a small picture needs: a JPEG decodes faster at a smaller scale), kept so."""
        with self._lock:
            todo = list(dict.fromkeys(int(i) for i in indices if int(i) not in self._cache))
        if len(todo) < 2 or self.threads < 2:
            for i in todo:
                self._store(i, self._load(i, limit))
            return
        with ThreadPoolExecutor(max_workers=min(self.threads, len(todo))) as pool:
            for i, value in zip(todo, pool.map(lambda i: self._load(i, limit), todo), strict=True):
                self._store(i, value)

    def __call__(self, index: int) -> np.ndarray:
        i = int(index)
        with self._lock:
            value = self._cache.get(i)
        if value is None:
            value = self._load(i)
            self._store(i, value)
        if isinstance(value, BaseException):
            raise value
        return value


def _item_image(item: Any) -> Any:
    if isinstance(item, (tuple, list)) and item and hasattr(item[0], "shape"):
        item = item[0]
    if isinstance(item, Mapping) and "image" in item:
        item = item["image"]
    return item


def image_getter(images: Any = None, report: Any = None) -> ImageSource | None:
    """A ``get_image(index) -> (C, H, W) array`` for the grids, or None when none can be made.

    ``images`` may already be such a callable, or anything indexable by dataset index (a list
    of arrays / tensors, a torch ``Dataset`` whose items are ``(image, ...)``).  Without it,
    the images are read from ``report.paths``: decoded with the measurement's rules (EXIF
    orientation included), JPEGs at reduced size, several files at a time, except those in
    ``report.thumbnails`` (made by the file scan from the pixels it measured).  Each image is
    fetched once; uint8 images are kept at thumbnail size (256 px).
    """
    if images is not None:
        if isinstance(images, ImageSource):
            return images
        # the caller's source may not be thread-safe (an HDF5-backed Dataset): fetched one at a time
        if callable(images) and not hasattr(images, "__getitem__"):
            return ImageSource(lambda i: images(int(i)), threads=1)
        return ImageSource(lambda i: _item_image(images[int(i)]), threads=1)
    paths = getattr(report, "paths", None) if report is not None else None
    if paths and any(Path(str(p)).is_file() for p in list(paths.values())[:5]):
        source = ImageSource(
            lambda i: load_thumbnail(paths[int(i)]), fetch_at=lambda i, lim: load_thumbnail(paths[int(i)], lim)
        )
        source.seed(getattr(report, "thumbnails", None) or {})
        return source
    return None  # no pixels to show (paths that are names, not files, included)


def sample_indices(indices: Sequence[int], n: int, seed: int = 0) -> list[int]:
    """Up to ``n`` of ``indices`` chosen with ``numpy.random.default_rng(seed)`` (all of them when fewer)."""
    idx = [int(i) for i in indices]
    if len(idx) <= n:
        return idx
    rng = np.random.default_rng(seed)
    return [idx[k] for k in sorted(rng.choice(len(idx), size=n, replace=False).tolist())]
