"""Counts in words for the printout and the summary: ``counted(1, "image")`` is ``"1 image"``,
``counted(2, "image")`` ``"2 images"`` (standard library only)."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int | None, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly 1 (``plural`` defaults to ``noun + "s"``).

    >>> counted(1, "image"), counted(0, "image"), counted(3, "copy", "copies")
    ('1 image', '0 images', '3 copies')
    """
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
