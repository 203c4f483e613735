"""One small error hierarchy for the whole package.

Every class also subclasses the matching builtin (``ValueError``, ``TypeError``,
``RuntimeError``) so ``except ValueError`` keeps working for users who expect it.
"""

from __future__ import annotations

import re


class DataEvalGPUError(Exception):
    """Base class of every error raised on purpose by dataeval_gpu."""


class ImageShapeError(DataEvalGPUError, ValueError):
    """An image has a shape that is not (C, H, W) or (H, W), or a side of size 0."""


class ImageTypeError(DataEvalGPUError, TypeError, ValueError):
    """An image is of a type or dtype that cannot be measured (also a ``ValueError``: DataEval
    0.65 raises ``ValueError`` for such an input, ``None``, a string, a scalar)."""


class InvalidArgumentError(DataEvalGPUError, ValueError):
    """A function argument is outside what is accepted."""


class MissingDependencyError(DataEvalGPUError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class ChannelsLastWarning(UserWarning):
    """An image array looks like ``(H, W, C)`` (``np.asarray(pil_image)``, OpenCV) where ``(C, H, W)``
    is expected: it would be measured as an image of ``H`` channels, ``C`` pixels wide."""


class NegativeValuesWarning(UserWarning):
    """Images hold negative values, as images normalised by a mean and a standard deviation do
    (``transforms.Normalize``): the statistics rescale them as DataEval 0.65 does, but the quality
    issues read grey levels in [0, 1] (floats) or 0-255 (integers)."""


def missing_dependency(module: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"the optional dependency '{module}' is not installed; install it with "
        f"`pip install dataeval_gpu[{extra}]`"
    )


# torchvision's C++ errors start with "function, /build/path/file.cpp:123, "
_CPP_PREFIX = re.compile(r"^[\w:()~<> ]+, \S+\.(?:cpp|h|cu):\d+, ")


def short_reason(exc: BaseException) -> str:
    """One line naming an error, for the ``failed`` list of a report.

    Our own errors (:class:`DataEvalGPUError`) already name the image and the problem: their
    message is kept as it is; others become ``"TypeName: first line"`` (C++ source locations
    stripped), at most 300 characters.
    """
    if isinstance(exc, DataEvalGPUError):
        return str(exc)
    text = str(exc).strip()
    msg = _CPP_PREFIX.sub("", text.splitlines()[0]) if text else ""
    return f"{type(exc).__name__}: {msg}"[:300]
