"""One small error hierarchy for the whole package.

Every class also subclasses the matching builtin (``ValueError``, ``TypeError``,
``RuntimeError``) so ``except ValueError`` keeps working for users who expect it.
"""

from __future__ import annotations


class DataEvalGPUError(Exception):
    """Base class of every error raised on purpose by dataeval_gpu."""


class ImageShapeError(DataEvalGPUError, ValueError):
    """An image has a shape that is not (C, H, W) or (H, W), or a side of size 0."""


class ImageTypeError(DataEvalGPUError, TypeError):
    """An image is of a type or dtype that cannot be measured."""


class InvalidArgumentError(DataEvalGPUError, ValueError):
    """A function argument is outside what is accepted."""


class MissingDependencyError(DataEvalGPUError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def missing_dependency(module: str, extra: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"the optional dependency '{module}' is not installed; install it with "
        f"`pip install dataeval_gpu[{extra}]`"
    )
