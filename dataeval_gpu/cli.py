"""``dataeval-gpu``: the command-line program.

``dataeval-gpu scan [PATH]`` audits a folder of images (an ImageFolder-style class tree gives
labels), a text file listing image paths, or — with no PATH — the real photos bundled with
scikit-image and scikit-learn.  It prints a summary table and writes an output directory:

* ``results.csv`` (and ``results.parquet`` with ``--formats``): one row per file, measured or
  failed with the reason, every scalar statistic, the hashes and the findings;
* ``findings.json``: linter issues, duplicate groups, cluster findings, failed files;
* ``summary.json``, ``config.json`` (the run's settings), ``results.json``.

Long runs checkpoint every ``--checkpoint-every`` batches; ``--resume`` continues one.
The arguments are checked first (:mod:`dataeval_gpu.cli_args`): a mistake is one line
``dataeval-gpu: error: ...`` and exit status 2; a bug shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .cli_args import (
    CHECKPOINT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    CommandLineError,
    build_parser,
    validate_scan_args,
)
from .errors import MissingDependencyError

logger = logging.getLogger("dataeval_gpu")


def _parser() -> argparse.ArgumentParser:  # kept for callers of the old name
    return build_parser()


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
