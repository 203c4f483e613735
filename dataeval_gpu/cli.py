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

if __name__ == "__main__":  # ``python -m dataeval_gpu.cli``: a Ctrl-C during the imports below exits quietly
    from dataeval_gpu.cli_entry import quiet_interrupt as _quiet

    _quiet()

import argparse
import contextlib
import gc
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .cli_args import (
    CHECKPOINT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    SKIPPED,
    CommandLineError,
    audit_kwargs,
    build_parser,
    check_embedding_rows,
    cluster_from_file,
    keep_near_thumbs,
    near_thumbs,
    validate_scan_args,
)
from .cli_entry import interrupt_message, own_interrupts, quiet_interrupt
from .cli_print import printable, shown_path
from .cli_results import (  # noqa: F401 - OUT_LOCK, compile_note: importable from here as before
    OUT_LOCK,
    compile_note,
    earlier_scan,
    left_out_lines,
    make_out,
    out_lock,
    print_results,
    remove_earlier_results,
    save_and_report,
)
from .cli_startup import AFTER_SCAN, AFTER_SCAN_REPORT, collector_after_imports, preload, program_start
from .errors import MissingDependencyError

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("dataeval_gpu")


def _parser() -> argparse.ArgumentParser:  # kept for callers of the old name
    return build_parser()


def _device(name: str | None) -> torch.device:
    import torch  # imported when a scan runs: ``--help`` and user errors stay fast (start-up)

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from .batching import resolve_device

    return resolve_device(name)


def scan_files(
    files: list[str],
    labels: list[int],
    class_names: list[str],
    out: Path,
    args: argparse.Namespace,
    device: torch.device,
) -> Any:
    """Audit image files (the library's :func:`~dataeval_gpu.audit.scan_files`); bad files are listed, never fatal."""
    from .audit import CheckpointMismatchError
    from .audit import scan_files as scan_file_list

    run: Any = scan_file_list
    extra: dict[str, Any] = {"gpu_decode": True} if getattr(args, "gpu_decode", False) else {}
    if getattr(args, "index", None) or getattr(args, "against", None):
        run = _index_runner(args)
    else:  # once the workers are busy, import what the results and the report need
        modules = AFTER_SCAN + (() if args.no_plots else AFTER_SCAN_REPORT)
        extra["on_started"] = lambda: preload(modules)
    if args.embeddings not in (None, "model") and not getattr(args, "index", None):
        run = keep_near_thumbs(run, args)  # the file's pairs are held to the look rule: keep the thumbnails
    try:
        return run(
            files,
            labels,
            class_names=class_names,
            device=device,
            batch_size=args.batch_size,
            workers=args.workers,
            checkpoint=out / CHECKPOINT,
            checkpoint_every=args.checkpoint_every,
            resume=args.resume,
            progress=progress_setting(args),
            embeddings=args.embeddings == "model",
            thumbnails=not args.no_plots,  # the workers keep the big images' thumbnails for the report
            **audit_kwargs(args),
            **extra,
        )
    except CheckpointMismatchError as err:  # another file list, other settings, an older checkpoint: its words
        raise SystemExit(f"--resume: {err}") from None


def _index_runner(args: argparse.Namespace) -> Any:
    """``scan_files`` with the dataset index (``--index``: update it; ``--against``: query it);
    an index that cannot be used is a one-line error (exit 2)."""
    import functools

    from .index import IndexLockedError, IndexMismatchError, IndexNotFoundError, scan_against, update_index

    option, folder = ("--index", args.index) if args.index else ("--against", args.against)
    fn = functools.partial(update_index if args.index else scan_against, folder)

    def run(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except (IndexMismatchError, IndexLockedError, IndexNotFoundError) as exc:
            raise CommandLineError(f"{option} {folder}: {exc}") from None

    return run


def _run_scan(args: argparse.Namespace) -> int:
    """The scan into ``--out``, which no other scan writes to meanwhile (:func:`out_lock`)."""
    out = make_out(args.out)
    with out_lock(out):
        args.earlier_scan = earlier_scan(out)  # its results files this scan does not write are removed after it
        if (out / CHECKPOINT).is_file() and not args.resume:  # an interrupted scan's: said while it can be kept
            logger.warning(
                "%s: an interrupted scan's checkpoint; this scan starts afresh and replaces it (to continue "
                "that scan instead, stop this one with Ctrl-C and run it with --resume)",
                shown_path(out / CHECKPOINT),
            )
        with pixel_limit_env(getattr(args, "max_image_pixels", None)):
            return _scan_into(args, out)


@contextlib.contextmanager
def pixel_limit_env(pixels: int | None) -> Iterator[None]:
    """``--max-image-pixels N`` for this process and the workers it starts (forked or spawned):
    :data:`~dataeval_gpu.pil_decode.MAX_PIXELS_ENV`, which the decoders read; the earlier value
    back afterwards (``main`` is also called in-process)."""
    from .pil_decode import MAX_PIXELS_ENV

    if pixels is None:
        yield
        return
    before = os.environ.get(MAX_PIXELS_ENV)
    os.environ[MAX_PIXELS_ENV] = str(pixels)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MAX_PIXELS_ENV, None)
        else:
            os.environ[MAX_PIXELS_ENV] = before


def _scan_into(args: argparse.Namespace, out: Path) -> int:
    """The scan, its results and report written to ``out``, the printout."""
    device = _device(args.device)  # the scan's modules are imported (_main), the collector still off
    collector_after_imports()  # torch, numpy, numba and the scan's modules are imported
    t0 = time.perf_counter()
    named: list = []
    skipped = ""  # what a folder scan left out as not images, for the last line
    if args.path is None:
        report, named = _scan_bundled(args, device, t0)
    else:
        report, skipped = _scan_found(args, out, device)
    file_emb = args.embeddings not in (None, "model")
    rows_error = cluster_from_file(report, args.embeddings, near_thumbs(args, report)) if file_emb else ""
    report.config.update(
        {
            "command": "scan",
            "version": __version__,
            "batch_size": args.batch_size,
            "workers": report.config.get("workers", args.workers),
            "limit": args.limit,
            "formats": args.formats,
        }
    )
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    report.config["analysis_s"] = round(time.perf_counter() - t0, 3)  # scan + detectors, before writing
    images = [img for _, img in named] if args.path is None else None  # the report's image source
    args.writing = True  # a Ctrl-C from here leaves some results files written, others not (_interrupted_text)
    if args.no_plots:
        written = report.save(out, formats=formats, progress=progress_setting(args))
    else:
        written = save_and_report(report, out, formats, images, progress_setting(args))
    if (out / CHECKPOINT).exists():
        (out / CHECKPOINT).unlink()  # the run finished: results are in the output files
    removed = remove_earlier_results(out, written) if getattr(args, "earlier_scan", False) else []
    if removed:
        report.config["removed_earlier"] = removed
    if rows_error:  # the results are written (without clusters): the scan is not lost
        raise CommandLineError(f"{rows_error}; {out}/ holds the scan's results without the Clusterer's")
    if args.quiet:
        print(shown_path(out))
        return 0
    print_results(printable(report), skipped, out, written, device, verbose=args.verbose)
    return 0


def _scan_bundled(args: argparse.Namespace, device: Any, t0: float) -> tuple[Any, list]:
    """No PATH: the bundled photos (``--limit`` of them), scanned in memory; ``(report, named)``,
    ``named`` the (name, image) pairs."""
    from .audit import scan
    from .datasets import sample_photos

    named = sample_photos()
    if args.limit:
        named = named[: args.limit]
    check_embedding_rows(args.embeddings, len(named))
    kw = audit_kwargs(args)
    warm = _warm_up(device, kw)  # the first run after an install compiles the kernels here
    report = scan(
        [img for _, img in named],
        device=device,
        batch_size=args.batch_size,
        progress=progress_setting(args),
        embeddings=args.embeddings == "model",
        **kw,
    )
    report.paths = {i: name for i, (name, _) in enumerate(named)}
    report.config["dataset"] = "bundled photos (scikit-image, scikit-learn)"
    elapsed = time.perf_counter() - t0
    report.config.update({"files": len(named), "elapsed_s": round(elapsed, 3), **warm})
    return report, named


def _scan_found(args: argparse.Namespace, out: Path, device: Any) -> tuple[Any, str]:
    """PATH: the files found there (a folder, a class tree, a file list), scanned; ``(report,
    skipped)``, ``skipped`` what was left out as not images (written to ``out``)."""
    from .discovery import find_inputs, write_skipped

    index = [f for f in (getattr(args, "index", None), getattr(args, "against", None)) if f]
    found = find_inputs(args.path, out=out, exclude=index)  # an --index DIR inside PATH is not data
    files, labels, class_names = found.files, found.labels, found.class_names
    skipped = write_skipped(found, out / SKIPPED, warn=args.quiet)  # else said once, in the last lines
    if not args.quiet:  # said also when the scan is interrupted (_main)
        args.left_out = left_out_lines(skipped, found.metadata_summary() if found.metadata else "", out)
    if not files:
        _warn_nothing_to_scan(args.path)
    if args.limit:
        files, labels = files[: args.limit], labels[: args.limit]
    check_embedding_rows(args.embeddings, len(files))  # more rows than inputs: said before the scan
    report = scan_files(files, labels, class_names, out, args, device)
    found.name_missing(files, report.failed)  # a list's relative path: where it was looked for
    report.config["dataset"] = str(args.path)
    if skipped:  # config.json and the report's settings table say what was left out
        report.config["skipped_not_images"] = f"{skipped}, listed in {SKIPPED}"
    if found.metadata:  # .txt, .json, ... beside the images: not scanned, but counted
        report.config["metadata_not_scanned"] = found.metadata_summary()
    if found.index_folders:  # an index (--index DIR) inside the folder: its files are not the data
        report.config["index_not_scanned"] = ", ".join(shown_path(f) for f in found.index_folders)
    if len(found.files) > len(files):  # --limit: how many more were found
        report.config["inputs_found"] = len(found.files)
    return report, skipped


def _warn_nothing_to_scan(path: str) -> None:
    """Say why there is nothing to scan rather than "0 images"."""
    if Path(path).is_file():  # a file list of blank lines and comments
        logger.warning("%s: a file list with no paths in it (only blank lines and # comments)", shown_path(path))
    else:  # a wrong folder, or one of metadata only
        logger.warning(
            "%s: no files to scan (hidden entries, metadata files such as .txt, .json, .csv, .npy "
            "and files neither named nor encoded like an image are left out; docs/inputs.md)",
            shown_path(path),
        )


def _warm_up(device: Any, audit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Load (the first time: compile) the CPU kernels of an audit with these settings before the
    bundled photos are measured, timed apart: ``{"warm_up_s": seconds, "kernels_compiled": bool}``
    on the CPU, else ``{}``."""
    if str(device) != "cpu":
        return {}
    from .audit import DataAudit
    from .audit.files import warm_up

    timing: dict[str, Any] = {}
    timing["warm_up_s"] = round(warm_up(DataAudit(device="cpu", **audit_kwargs).make_accumulator("cpu"), timing), 3)
    return timing


def progress_setting(args: argparse.Namespace) -> bool | None:
    """The bars' setting: off with ``--no-progress`` or ``--quiet``, else on a terminal."""
    return False if args.no_progress or args.quiet else None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse's own errors raise ``SystemExit(2)``).

    A mistake on the command line is one line on stderr and status 2; an error of the
    environment (unwritable output, full disk) one line and status 1; anything else is a
    bug: its traceback, a request to report it, and status 1.

    Called as the program (``argv`` None), the objects left at the end are frozen out of the
    garbage collector (:func:`gc.freeze`): the interpreter's last collection over torch's
    imported modules took ~1.8 s after the work was done (0.3-0.5 s so; start-up, issue 14).
    """
    try:
        return _main(argv)
    finally:
        if argv is None:
            gc.freeze()


def run() -> None:
    """The program (``dataeval-gpu``, through :func:`dataeval_gpu.cli_entry.run`, which sets the quiet
    Ctrl-C before importing this module; ``python -m dataeval_gpu.cli``): :func:`main`,
    then the process ends at once with its status (``os._exit`` after flushing the output and
    the logs): the interpreter's own teardown of torch's modules took 0.2-0.7 s after the
    results were written, with nothing left to do (start-up to exit, issue 14)."""
    quiet_interrupt()  # until the arguments are parsed, Ctrl-C: one line, status 130 (cli_entry)
    program_start()  # the start-up's imports without the garbage collector (cli_startup)
    try:
        status = main()
    except SystemExit as exc:  # argparse: --help (0) and its own errors (2); as the interpreter does
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or a broken pipe: nothing more can be said
            pass
    logging.shutdown()
    os._exit(status)


def _shown_log_args(record: logging.LogRecord) -> bool:
    """A warning's text arguments (paths, class names) as :func:`~dataeval_gpu.cli_print.shown_path`
    writes them: a folder named with an escape character is logged with ``\\x1b``, not the raw byte."""
    if isinstance(record.args, tuple) and record.args:
        record.args = tuple(shown_path(a) if isinstance(a, (str, os.PathLike)) else a for a in record.args)
    return True


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.addFilter(_shown_log_args)  # the paths in the warnings (discovery's) on one line, as printed
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", handlers=[handler])
    try:
        if args.command == "scan":
            validate_scan_args(args)
            interrupt_message(shown_path(_interrupted_text(args)))  # the imports below: a Ctrl-C ends at once
            from . import audit, datasets, discovery  # noqa: F401 - torch, numpy, numba, the scan's modules
        own_interrupts()  # from here a Ctrl-C is a KeyboardInterrupt, said below (what --resume can continue)
        if args.command == "scan":
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
        for line in getattr(args, "left_out", []):  # what the folder held beside the images, as a finished scan says
            print(line.lstrip("\n"))
        return _error(_interrupted_text(args), EXIT_INTERRUPTED)
    except OSError as exc:
        if exc.filename is not None and exc.strerror:  # e.g. the output folder is read-only, the disk full
            return _error(f"{exc.strerror}: {exc.filename}", EXIT_FAILED)
        return _internal_error(exc)
    except Exception as exc:  # noqa: BLE001 - a bug: show everything and ask for a report
        return _internal_error(exc)


def _interrupted_text(args: argparse.Namespace) -> str:
    """What an interrupted command says: where a checkpoint (``--checkpoint-every``) was saved,
    how to go on with ``--resume``; else that there is nothing to resume, and why."""
    saved = Path(args.out) / CHECKPOINT if getattr(args, "out", None) else None
    if getattr(args, "writing", False):  # the scan was done: its files were being written
        again = f" (with --resume from {saved})" if saved is not None and saved.is_file() else ""
        return f"interrupted while writing the results: the files in {args.out} may be incomplete; run the command again{again}"
    if saved is not None and saved.is_file():  # --checkpoint-every left one: say how to go on
        return f"interrupted; the scan so far is saved in {saved}: run the same command with --resume to continue"
    every = getattr(args, "checkpoint_every", 0)
    if getattr(args, "command", None) == "scan":  # say that there is nothing to --resume, and why
        why = f"before the first checkpoint (every {every} batches)" if every else "with --checkpoint-every 0"
        return f"interrupted {why}: nothing was saved to --resume"
    return "interrupted"


def _internal_error(exc: BaseException) -> int:
    traceback.print_exception(exc)
    return _error(
        f"internal error ({type(exc).__name__}); this is a bug - please report it with the "
        "traceback above and the command line",
        EXIT_FAILED,
    )


def _error(message: str, status: int) -> int:
    """Print ``dataeval-gpu: error: message`` on one line of stderr (the paths in it as
    :func:`~dataeval_gpu.cli_print.shown_path` writes them: an escape character is ``\\x1b``); return
    ``status``."""
    sys.stdout.flush()
    print(f"{PROG}: error: {shown_path(' '.join(message.split()))}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    run()
