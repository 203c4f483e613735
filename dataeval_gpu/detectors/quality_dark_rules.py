"""Where ``dark`` is judged on an image with transparent parts (``quality_rules.issue_scores`` and
``QualityIssues.evaluate`` read :func:`black_ink`), and how full the grey levels under an image's
peak are (:func:`tone_fill`, which ``quality_rules.underexposed`` reads).  ``quality_rules`` re-exports every
name.

A see-through image whose visible pixels are black ink - a shadow, a silhouette, a black glyph - is a
design, not an under-exposed picture (:func:`black_ink`): under-exposure scales every level of a
picture down, its body stays above black."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .quality_values import TRANSPARENT_BELOW, float64

__all__ = ["BLACK_INK_LEVEL", "black_ink", "tone_fill"]

#: ``dark`` is not judged on an image with transparent parts (``opacity`` under ``TRANSPARENT_BELOW``)
#: whose visible median, ``grey_p50`` (alpha-weighted), is at most this many grey levels (/ 255): half of
#: what is seen is black ink - a shadow, a silhouette, a black glyph (tux's shadow sprites, supertux's
#: font shadows, minetest's gunpowder trail: 0).  A picture darkened as a whole keeps its body above
#: black: the 124 icons of oxygen, gnome and Adwaita darkened // 8 (colour // 8, alpha kept:
#: ``scripts/eval_icons.py``'s plant) read 2 levels the least (one icon; the next 6)
BLACK_INK_LEVEL = 1.0 / 255.0


def tone_fill(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` how full the grey levels under an image's peak are: ``grey_entropy / log2(L)``, ``L =
    round(255 · bright_p9999) + 1`` the levels from black to the peak (the grey of a pixel is at most
    its brightest channel), ``log2(L)`` at least 1 bit.  About 1 for a continuous-tone picture
    squeezed under its peak (a photo divided by 2: 6-7 of the 7 bits 128 levels hold), small for a
    design of few tones (a flat theme piece: 1-3 bits)."""
    peak = float64(m["bright_p9999"])
    levels = np.round(255.0 * np.clip(np.nan_to_num(peak, nan=0.0), 0.0, 1.0)) + 1.0
    return float64(m["grey_entropy"]) / np.maximum(np.log2(levels), 1.0)


def black_ink(m: Mapping[str, Any]) -> np.ndarray:
    """``(N,)`` bool: images whose darkness is their ink, not an exposure - transparent parts
    (``opacity`` under ``TRANSPARENT_BELOW``) and at least half of what is seen black (``grey_p50``
    at most :data:`BLACK_INK_LEVEL`): a shadow, a silhouette, a black glyph, however many grey levels
    its anti-aliased edge adds (the 1-bit rule of ``silhouettes`` misses tux's shadows: 1.03-1.08
    bits).  ``dark`` scores 0 and flags none of them (not the absolute floor either).  An image whose
    alpha is opaque everywhere is judged as a picture; all False for metrics gathered without
    ``opacity`` (judged as before)."""
    if "opacity" not in m:
        return np.zeros(np.shape(m["grey_p99"]), dtype=bool)
    see_through = float64(m["opacity"]) < TRANSPARENT_BELOW
    return see_through & (float64(m["grey_p50"]) <= BLACK_INK_LEVEL + 1e-9)
