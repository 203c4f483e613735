"""DataEval 0.65's ``ImageStat`` flags: same names, same values, same groups.

The metric flags and their groups are built from the metric registry
(:mod:`dataeval_gpu.functional.registry`): each registered metric adds its flag (the next
bit, in registration order, so DataEval 0.65's and 1.x's metrics keep their values) and joins
its group flag.  The hash flags come first, as in 0.65.
"""

from __future__ import annotations

from enum import IntFlag

from .functional import registry

__all__ = ["ImageStat", "METRIC_FLAGS", "to_distinct", "verify_supported"]

#: hash flags, before the metrics (0.65's values 1 and 2)
_HASHES = ("XXHASH", "PCHASH")
#: 0.65's joint flags of joint flags
_UNIONS = {
    "ALL_STATS": ("ALL_PROPERTIES", "ALL_VISUALS", "ALL_PIXELSTATS"),
    "ALL": ("ALL_HASHES", "ALL_STATS"),
}


def _members() -> list[tuple[str, int]]:
    singles = [(name, 1 << k) for k, name in enumerate(_HASHES)]
    groups: dict[str, int] = {"ALL_HASHES": sum(v for _, v in singles)}
    for m in registry.metrics():
        value = 1 << len(singles)
        singles.append((m.flag, value))
        if m.group is not None:
            groups[m.group] = groups.get(m.group, 0) | value
    for union, parts in _UNIONS.items():
        groups[union] = 0
        for part in parts:
            groups[union] |= groups.get(part, 0)
    return singles + list(groups.items())


ImageStat = IntFlag("ImageStat", _members(), module=__name__, qualname="ImageStat")  # type: ignore[misc]
ImageStat.__doc__ = """Flags choosing which image / channel statistics to compute.

Single flags: ``XXHASH``, ``PCHASH`` and one per registered metric (``WIDTH`` ... ``ZEROS``
for DataEval 0.65 and 1.x).  Groups: ``ALL_HASHES``, ``ALL_PROPERTIES``, ``ALL_VISUALS``,
``ALL_PIXELSTATS``, ``ALL_STATS`` (the three before), ``ALL`` (hashes and stats), ``ALL_V1``
(DataEval 1.x's darkness, contrast, sharpness, zeros) and any group a registered metric names.
"""

#: every metric flag (what ``imagestats`` and the ``Linter`` accept besides the hashes)
METRIC_FLAGS = ImageStat(0)
for _m in registry.metrics():
    METRIC_FLAGS |= ImageStat[_m.flag]
del _m


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
