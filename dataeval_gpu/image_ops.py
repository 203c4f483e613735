"""torchvision's image decoder (libjpeg-turbo, libpng, libwebp) without importing torchvision.

``import torchvision`` costs ~2 s of CPU time (its ``models`` and ``ops`` import
``torch._dynamo``), ~15x the time to decode a photo; the decoder itself is one C++ library
inside the torchvision package (``image_stable``), registered as ``torch.ops.image``.
:func:`decode_image` loads that library with ``torch.ops.load_library`` (what
``torchvision.io`` does on import) and calls the same op ``torchvision.io.decode_image``
calls, so the pixels are the same; where the library is not found it falls back to
``torchvision.io.decode_image``.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import os
import warnings
from collections.abc import Callable

import torch

__all__ = ["UNCHANGED", "RGB", "RGB_ALPHA", "decode_image", "image_library"]

#: ``torchvision.io.ImageReadMode`` values (the op takes the integer)
UNCHANGED, RGB, RGB_ALPHA = 0, 3, 4
_LIBRARIES = ("image_stable", "image")  # torchvision >= 0.29, older releases


def image_library() -> str | None:
    """The path of torchvision's image library, or None (torchvision not installed / no library)."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = list(spec.submodule_search_locations)[0]
    for name in _LIBRARIES:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, name + suffix)
            if os.path.isfile(path):
                return path
    return None


@functools.cache
def _decoder() -> Callable[[torch.Tensor, int, bool], torch.Tensor]:
    path = image_library()
    if path is not None:
        try:
            torch.ops.load_library(path)
            return torch.ops.image.decode_image
        except (OSError, RuntimeError, AttributeError):  # e.g. built for another torch: torchvision decides
            pass
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_image as tv_decode

    def decode(data: torch.Tensor, mode: int, apply_exif_orientation: bool) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torchvision 0.29 points to torchcodec
            return tv_decode(data, mode=ImageReadMode(mode), apply_exif_orientation=apply_exif_orientation)

    return decode


def decode_image(data: torch.Tensor, mode: int = UNCHANGED, apply_exif_orientation: bool = True) -> torch.Tensor:
    """``torchvision.io.decode_image(data, mode, apply_exif_orientation)`` on a 1-D uint8 tensor of
    encoded bytes: ``(C, H, W)`` uint8 (uint16 for a 16-bit PNG)."""
    return _decoder()(data, int(mode), bool(apply_exif_orientation))
