"""DataEval 0.65's output metadata: ``.meta()`` on an output object, filled by a decorator.

An output dataclass inherits :class:`OutputMetadata`; the method that builds it is wrapped with
:func:`set_metadata`, which records (as private attributes) the qualified name of what ran, when
it started (UTC), how long it took, its arguments and chosen pieces of the object's state, each
summarised as 0.65 does (scalars as they are, arrays as ``"ndarray: shape=(...)"``, sized
containers as ``"list: len=..."``).  ``.meta()`` returns them without the leading underscore.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import numpy as np

__all__ = ["OutputMetadata", "set_metadata"]

F = TypeVar("F", bound=Callable[..., Any])

_META = ("name", "execution_time", "execution_duration", "arguments", "state", "version")


class OutputMetadata:
    """Mixin for output dataclasses: ``.meta()`` (0.65's metadata keys)."""

    def meta(self) -> dict[str, Any]:
        """name, execution_time, execution_duration, arguments, state, version (empty before
        the producing call has finished)."""
        return {k: getattr(self, "_" + k) for k in _META if hasattr(self, "_" + k)}


def _summary(v: Any) -> Any:
    if np.isscalar(v) or v is None:
        return v
    if hasattr(v, "shape"):
        return f"{type(v).__name__}: shape={tuple(v.shape)}"
    if hasattr(v, "__len__"):
        return f"{type(v).__name__}: len={len(v)}"
    return type(v).__name__


def set_metadata(module: str, state: list[str] | None = None) -> Callable[[F], F]:
    """Decorate a method (or function) whose result is an :class:`OutputMetadata`."""

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            from . import __version__

            start = datetime.now(timezone.utc)
            result = fn(*args, **kwargs)
            duration = (datetime.now(timezone.utc) - start).total_seconds()
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            params = dict(bound.arguments)
            owner = params.pop("self", None)
            name = type(owner).__name__ if owner is not None else fn.__name__
            meta = {
                "name": f"{module}.{name}",
                "execution_time": start,
                "execution_duration": duration,
                "arguments": {k: _summary(v) for k, v in params.items()},
                "state": {k: _summary(getattr(owner, k)) for k in (state or [])} if owner is not None else {},
                "version": __version__,
            }
            for k, v in meta.items():
                object.__setattr__(result, "_" + k, v)
            return result

        return inner  # type: ignore[return-value]

    return wrap
