"""DataEval 0.65's ``ImageStat`` flags: same names, same values, same groups."""

from __future__ import annotations

from enum import IntFlag, auto

__all__ = ["ImageStat", "to_distinct", "verify_supported"]


class ImageStat(IntFlag):
    """Flags choosing which image / channel statistics to compute."""

    # HASHES
    XXHASH = auto()
    PCHASH = auto()
    # PROPERTIES
    WIDTH = auto()
    HEIGHT = auto()
    SIZE = auto()
    ASPECT_RATIO = auto()
    CHANNELS = auto()
    DEPTH = auto()
    # VISUALS
    BRIGHTNESS = auto()
    BLURRINESS = auto()
    MISSING = auto()
    ZERO = auto()
    # PIXEL STATS
    MEAN = auto()
    STD = auto()
    VAR = auto()
    SKEW = auto()
    KURTOSIS = auto()
    ENTROPY = auto()
    PERCENTILES = auto()
    HISTOGRAM = auto()
    # DataEval 1.x additions (not part of any 0.65 group)
    DARKNESS = auto()
    CONTRAST = auto()
    SHARPNESS = auto()
    ZEROS = auto()
    # JOINT FLAGS
    ALL_HASHES = XXHASH | PCHASH
    ALL_PROPERTIES = WIDTH | HEIGHT | SIZE | ASPECT_RATIO | CHANNELS | DEPTH
    ALL_VISUALS = BRIGHTNESS | BLURRINESS | MISSING | ZERO
    ALL_PIXELSTATS = MEAN | STD | VAR | SKEW | KURTOSIS | ENTROPY | PERCENTILES | HISTOGRAM
    ALL_STATS = ALL_PROPERTIES | ALL_VISUALS | ALL_PIXELSTATS
    ALL = ALL_HASHES | ALL_STATS
    ALL_V1 = DARKNESS | CONTRAST | SHARPNESS | ZEROS


def to_distinct(flag: ImageStat) -> dict[ImageStat, str]:
    """The single flags set in ``flag``, in definition order, with their lower-case names."""
    return {f: f.name.lower() for f in ImageStat if f.name and f & flag and (f & (f - 1)) == 0}


def verify_supported(flag: ImageStat, supported: ImageStat) -> None:
    """Raise a ``ValueError`` naming the flags of ``flag`` outside ``supported``."""
    from .errors import InvalidArgumentError

    if not isinstance(flag, ImageStat):
        raise InvalidArgumentError(f"flags must be an ImageStat, got {type(flag).__name__}")
    unsupported = flag & ~supported
    if unsupported:
        raise InvalidArgumentError(
            f"unsupported flags {unsupported!r}: only flags within {supported!r} are accepted here"
        )
