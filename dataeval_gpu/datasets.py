"""Real photos available offline, for the default scan, tests and benchmarks.

Nothing here downloads: the photos come from packages (scikit-image's bundled data,
scikit-learn's ``load_sample_images``) or from a folder the user (or
``scripts/fetch_photos.sh``) filled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import missing_dependency
from .file_kinds import IMAGE_EXTENSIONS

__all__ = ["sample_photos", "photo_collection", "IMAGE_EXTENSIONS", "list_image_files"]


# scikit-image photos (real camera images; drawings, charts and synthetic data left out)
_SKIMAGE_PHOTOS = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "retina",
    "motorcycle_left",
    "motorcycle_right",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "coins",
    "page",
    "grass",
    "gravel",
    "brick",
    "horse",
    "cell",
    "clock",
)


def _to_chw(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr[None]
    return np.ascontiguousarray(np.moveaxis(arr[..., :3] if arr.shape[-1] == 4 else arr, -1, 0))


def sample_photos() -> list[tuple[str, np.ndarray]]:
    """The real photos bundled with scikit-image and scikit-learn, as ``(name, CHW uint8 array)``.

    Needs the ``data`` extra (scikit-image, scikit-learn); no download.
    """
    try:
        import skimage.data as skd
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise missing_dependency("scikit-image", "data") from exc
    out: list[tuple[str, np.ndarray]] = []
    for name in _SKIMAGE_PHOTOS:
        fn = getattr(skd, name, None)
        if fn is None:
            continue
        try:
            arr = np.asarray(fn())
        except Exception:  # noqa: BLE001 - a missing optional file in a trimmed install
            continue
        if arr.dtype != np.uint8:
            continue
        out.append((f"skimage_{name}", _to_chw(arr)))
    try:
        from sklearn.datasets import load_sample_images

        ds = load_sample_images()
        for fname, img in zip(ds.filenames, ds.images):
            out.append((f"sklearn_{Path(fname).stem}", _to_chw(np.asarray(img))))
    except ImportError:
        pass
    return out


def list_image_files(root: str | os.PathLike) -> list[Path]:
    """Image files under ``root`` (recursive), sorted by path."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def photo_collection(
    n: int,
    seed: int = 0,
    min_side: int = 48,
    max_side: int = 640,
    extra_dirs: tuple[str | os.PathLike, ...] = (),
) -> list[np.ndarray]:
    """``n`` real-photo images of mixed sizes (CHW uint8).

    The source photos are :func:`sample_photos` plus every decodable photo under
    ``extra_dirs`` (e.g. the folder that ``scripts/fetch_photos.sh`` fills).  Each source
    photo appears once whole (downscaled if its long side exceeds ``max_side``); the rest
    are random crops of random sources, with sides in ``[min_side, max_side]``, so sizes
    and content vary like a real collection.  Deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    sources = [img for _, img in sample_photos()]
    for d in extra_dirs:
        sources.extend(load_folder_photos(d, max_side=max_side * 2))
    if not sources:
        raise RuntimeError("no source photos available (install scikit-image / scikit-learn)")
    out: list[np.ndarray] = []
    for img in sources:
        if len(out) >= n:
            break
        out.append(_fit(img, max_side))
    while len(out) < n:
        src = sources[int(rng.integers(len(sources)))]
        _, h, w = src.shape
        ch = int(rng.integers(min(min_side, h), min(max_side, h) + 1))
        cw = int(rng.integers(min(min_side, w), min(max_side, w) + 1))
        y = int(rng.integers(0, h - ch + 1))
        x = int(rng.integers(0, w - cw + 1))
        out.append(np.ascontiguousarray(src[:, y : y + ch, x : x + cw]))
    return out


def _fit(img: np.ndarray, max_side: int) -> np.ndarray:
    _, h, w = img.shape
    if max(h, w) <= max_side:
        return img
    from PIL import Image

    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    hwc = np.moveaxis(img, 0, -1)
    pil = Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc)
    arr = np.asarray(pil.resize(size, Image.Resampling.BILINEAR))
    return _to_chw(arr)


def load_folder_photos(root: str | os.PathLike, max_side: int = 1280) -> list[np.ndarray]:
    """Decode every readable RGB/grey 8-bit photo under ``root`` (CHW uint8), skipping the rest."""
    from PIL import Image

    out = []
    for p in list_image_files(root):
        try:
            with Image.open(p) as im:
                im = im.convert("RGB") if im.mode not in ("L", "RGB") else im
                arr = np.asarray(im)
        except Exception:  # noqa: BLE001 - unreadable files are simply not sources
            continue
        if arr.dtype != np.uint8 or min(arr.shape[:2]) < 16:
            continue
        out.append(_fit(_to_chw(arr), max_side))
    return out
