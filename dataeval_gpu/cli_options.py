"""Options of ``dataeval-gpu scan`` that speak to each other: a quality issue's threshold
(``--quality-threshold ISSUE=VALUE``), and the combinations that contradict each other
(``--no-hashes`` with a hash setting, ``--quality-threshold`` with the quality issues off).
No torch here: a mistake is reported before anything heavy is imported."""

from __future__ import annotations

import argparse
import math

from .threshold_ranges import threshold_range_error

__all__ = ["QUALITY_ISSUES", "CommandLineError", "check_option_conflicts", "issue_threshold", "quality_thresholds"]


class CommandLineError(Exception):
    """A mistake on the command line (or a setting this machine cannot honour): ``main`` prints
    ``dataeval-gpu: error: <message>`` on one line and returns exit status 2."""


#: the quality issues a threshold can be given for (``detectors.quality.ISSUES``, named here so
#: that a mistake is reported without importing torch; tests/test_newuser_cli.py checks they agree)
QUALITY_ISSUES = (
    "dark",
    "light",
    "low_contrast",
    "blurry",
    "noisy",
    "grayscale",
    "low_information",
    "jpeg_blocking",
    "odd_size",
    "odd_aspect_ratio",
)


def issue_threshold(text: str) -> tuple[str, float]:
    """``--quality-threshold ISSUE=VALUE``: a known issue and a finite number in its score's range
    (:data:`~dataeval_gpu.threshold_ranges.THRESHOLD_RANGES`)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise argparse.ArgumentTypeError(f"expected ISSUE=VALUE (e.g. dark=0.7), got {text!r}")
    if name not in QUALITY_ISSUES:
        raise argparse.ArgumentTypeError(f"unknown quality issue {name!r}; expected one of {', '.join(QUALITY_ISSUES)}")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the threshold of {name} must be a number, got {value.strip()!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"the threshold of {name} must be a finite number, got {value.strip()}")
    if (why := threshold_range_error(name, number)) is not None:  # dark=-5 would flag every image
        raise argparse.ArgumentTypeError(why)
    return name, number


def quality_thresholds(args: argparse.Namespace) -> dict[str, float]:
    """The ``--quality-threshold`` overrides as ``DataAudit(quality_thresholds=...)`` takes them
    (the last one given for an issue counts)."""
    return dict(getattr(args, "quality_threshold", None) or [])


def check_option_conflicts(args: argparse.Namespace) -> None:
    """``--no-hashes`` with an option that only the hashes use (``--radius``, ``--d4``,
    ``--hash dhash``), or ``--quality-threshold`` with the quality issues off, is a
    contradiction, not a setting to ignore."""
    if getattr(args, "quality_threshold", None) and (
        args.quality is False or (args.quality is None and args.preset == "dataeval-0.65")
    ):
        off = "--no-quality" if args.quality is False else "--preset dataeval-0.65"
        raise CommandLineError(f"--quality-threshold: the quality issues are off ({off}); leave out one of them")
    if not getattr(args, "no_hashes", False):
        return
    given = [
        name
        for name, on in (
            ("--radius", getattr(args, "radius", None) is not None),
            ("--d4", getattr(args, "d4", None) is True),
            (f"--hash {getattr(args, 'hash', 'pchash')}", getattr(args, "hash", "pchash") != "pchash"),
        )
        if on
    ]
    if given:
        raise CommandLineError(
            f"--no-hashes and {', '.join(given)}: {'it needs' if len(given) == 1 else 'they need'} "
            "the hashes (leave out --no-hashes, or the other option)"
        )


