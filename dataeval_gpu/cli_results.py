"""Where a scan's results go (``dataeval-gpu scan``): the output folder (:func:`make_out`), held
by one scan at a time (:func:`out_lock`), the results files and the HTML report written there
(:func:`save_and_report`), and the printout after the scan (:func:`print_results`).  Moved out of
``cli.py`` unchanged."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cli_args import SKIPPED, CommandLineError
from .cli_index import index_lines
from .cli_print import cluster_lines, duplicate_lines, failed_lines, flagged_lines, label_lines, shown_path
from .progress import COMPILE_NOTE_S
from .wording import counted

__all__ = [
    "OUT_LOCK",
    "compile_note",
    "earlier_scan",
    "left_out_lines",
    "make_out",
    "next_lines",
    "out_lock",
    "print_last_lines",
    "print_results",
    "remove_earlier_results",
    "save_and_report",
    "speed_text",
]

logger = logging.getLogger("dataeval_gpu")


#: the metrics the printout's first look shows (those that flagged the most images); ``--verbose``: all
FIRST_LOOK_METRICS = 5


def print_results(
    report: Any, skipped: str, out: Path, written: dict[str, str], device: Any, verbose: bool = False
) -> None:
    """The printout after a scan: the summary (``verbose``: every metric's line; else the few
    metrics that flagged images), the findings' lines, the failed files, what to open next, the
    last lines."""
    print(report.summary(most_metrics=None if verbose else FIRST_LOOK_METRICS))
    metrics = report.summary_dict()["metrics"] if not verbose and report.stats else {}
    if metrics:  # the table was cut to the flagging metrics
        flagging = sum(1 for m in metrics.values() if m["flagged"])
        print(f"({flagging} of the {len(metrics)} metrics flagged images; all {len(metrics)} with min / median / max: --verbose, or summary.json)")
    lines = label_lines(report) + flagged_lines(report, written=written) + duplicate_lines(report) + cluster_lines(report)
    for line in lines + index_lines(report) + failed_lines(report, written=written) + next_lines(written):
        print(line)
    print_last_lines(report, skipped, out, written, device)  # its last line: the counts and where the results are


def next_lines(written: dict[str, str]) -> list[str]:
    """What to open next among the files the scan wrote (the last line names the folder): the HTML
    report (the flagged images and duplicate groups as thumbnails) and the per-image table."""
    names = {Path(str(p)).name for p in written.values()}
    table = next((n for n in ("results.csv", "results.parquet", "results.json") if n in names), None)
    said = []
    if "report.html" in names:
        said.append("open report.html for the flagged images and duplicate groups as thumbnails")
    if table:
        said.append(f"{table} has a row per image (lint_flags, quality_issues, the duplicate groups)")
    return ["\nnext: " + "; ".join(said)] if said else []


def print_last_lines(report: Any, skipped: str, out: Path, written: dict[str, str], device: Any) -> None:
    """What was skipped, how much a ``--resume`` took from the checkpoint, then the counts, the
    speed and where the results are."""
    metadata = report.config.get("metadata_not_scanned")
    found = report.config.get("inputs_found")
    if found:  # --limit left inputs out: said, so that the scan does not read as the whole folder
        found_line = f"\nnot scanned: {found - report.total} more inputs past --limit {report.total} ({found} found)"
    for line in left_out_lines(skipped, "", out) + ([found_line] if found else []) + left_out_lines("", metadata, out):
        print(line)
    index = report.config.get("index_not_scanned")
    if index:
        print(f"\nnot scanned: the dataset index {index} (a folder of the index's files, not images)")
    noted = report.config.get("decoder_warnings")
    if noted:  # libpng's "iCCP: known incorrect sRGB profile", ...: caught per image, not printed as they came
        print(f"\ndecoder warnings: {noted}; the images were read, each one's warnings in results.csv's decoder_note")
    resumed = report.config.get("resumed_from")
    if resumed is not None:  # of an --index run: of the files it measured (the rest were in the index)
        measured = report.config.get("index_update", {}).get("measured", report.total)
        print(
            f"\nresumed from the checkpoint: {resumed} of {measured} inputs were measured before it, "
            f"{measured - resumed} in this run"
        )
    removed = report.config.get("removed_earlier")
    if removed:  # an earlier scan's files this one did not write: gone, so that none is read as this scan's
        print(f"\nremoved from {shown_path(out)}/: an earlier scan's {', '.join(removed)} (this scan did not write them)")
    print(
        f"\n{counted(report.total, 'image')} in {report.config.get('elapsed_s')} s"
        + speed_text(report)
        + compile_note(report.config.get("warm_up_s"), report.config.get("kernels_compiled"))
        + f" on {device}; results in {shown_path(out)}/ ({', '.join(sorted(Path(v).name for v in written.values()))})"
    )


def left_out_lines(skipped: str, metadata: str | None, out: Path) -> list[str]:
    """The lines of what a folder scan left out: the files skipped as not images (``skipped``,
    :func:`~dataeval_gpu.discovery.write_skipped`'s summary, listed in ``out/skipped.txt``) and the
    metadata beside the images (``metadata``); also said when the scan is interrupted."""
    lines = []
    if skipped:
        lines.append(f"\nskipped {skipped}: neither named nor encoded like an image; listed in {shown_path(out / SKIPPED)}")
    if metadata:  # so that every file in the folder is accounted for
        lines.append(f"\nnot scanned: metadata beside the images, {metadata}")
    return lines


def speed_text(report: Any) -> str:
    """The last line's rate: of the files the scan measured; an ``--index`` run that read some
    from the index says how many it measured (``47 images in 2.6 s (0.88 images/s)`` read as
    47 images at 0.88 a second, the rate being of the 1 file measured); so does a ``--resume`` run,
    whose rate is of the inputs fed after the checkpoint."""
    rate = report.config.get("images_per_s")
    update = report.config.get("index_update")
    resumed = report.config.get("resumed_from") or 0
    measured = update.get("measured", report.total) if update else report.total - resumed
    if measured >= report.total:
        return f" ({rate} images/s)" if rate else ""
    if update is None:  # --resume: the rate is of the inputs this run fed, the rest came from the checkpoint
        return f" ({measured} measured in this run" + (f", {rate} images/s" if rate else "") + "; the rest from the checkpoint)"
    if not measured:
        return " (all read from the index)"
    return f" ({counted(measured, 'image')} measured" + (f", {rate} images/s" if rate else "") + "; the rest read from the index)"


def make_out(name: str) -> Path:
    """The output folder, created; one that cannot be (what the checks could not foresee: root
    in /proc, a race) is a one-line error naming ``--out``."""
    out = Path(name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandLineError(f"--out {name}: cannot be created ({exc.strerror or exc})") from None
    return out


#: the hidden file in ``--out`` that a running scan holds locked (a folder scan leaves hidden files out)
OUT_LOCK = ".dataeval-gpu.lock"


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.dataeval-gpu.lock`` (an advisory POSIX record lock, ``lockf``, released when the
    scan ends or its process dies): a second scan into the same folder meanwhile is a one-line
    error naming the first one's process, instead of two scans overwriting each other's checkpoint
    and results.  Not ``flock``: a forked DataLoader worker shares an ``flock`` and kept the folder
    locked after its killed scan, refusing the ``--resume`` run; a record lock is the process's
    own.  Where ``fcntl`` is missing (Windows) nothing is locked."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux / macOS
        yield
        return
    path = out / OUT_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):  # another process holds it
                held = None
            else:  # a file system without locks (some network mounts): scan unlocked
                logger.debug("%s: could not be locked (%s); scanning without the output folder's lock", path, exc)
                held = False
        if held is None:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise CommandLineError(
                f"--out {out}: another dataeval-gpu scan (process {pid}) is writing there; wait for it "
                "to finish or give another --out"
            )
        if held:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock (the file stays: removing it could let two scans lock two files)


#: the results files a scan may write into ``--out`` (which ones: ``--formats``, the quality issues, the report)
RESULT_FILES = (
    "results.csv",
    "results.parquet",
    "results.json",
    "quality_issues.csv",
    "quality_issues.parquet",
    "report.html",
)


def earlier_scan(out: Path) -> bool:
    """True when ``out`` holds an earlier scan's output (its ``summary.json``, ``findings.json`` and
    ``config.json``): only then are its results files this scan does not write removed (a folder
    of the user's own ``report.html`` or ``results.csv`` given as ``--out`` keeps them)."""
    from .discovery import SCAN_OUTPUT_MARKERS

    return all((out / name).is_file() for name in SCAN_OUTPUT_MARKERS)


def remove_earlier_results(out: Path, written: dict[str, str]) -> list[str]:
    """Delete the results files an earlier scan left in ``out`` that this scan did not write (other
    ``--formats``, ``--no-quality``, ``--no-plots``: its ``report.html`` and ``plots/`` figures), so
    that the folder never shows another scan's report or table beside this one's; called once this
    scan's files are written.  Returns what was removed (``["report.html", "plots/"]``)."""
    from .report.page import MIME_TYPES

    mine = {Path(p).name for p in written.values()}
    removed = [name for name in RESULT_FILES if name not in mine and (out / name).is_file()]
    for name in removed:
        (out / name).unlink()
    plots = out / "plots"
    if "report.html" not in mine and plots.is_dir():  # the report's figures: no report, no figures
        figures = [f for f in plots.iterdir() if f.suffix.lower() in MIME_TYPES and f.is_file()]
        for f in figures:
            f.unlink()
        if figures:
            removed.append("plots/")
        with contextlib.suppress(OSError):  # a file of the user's is still there: the folder stays
            plots.rmdir()
    return removed


def compile_note(warm_up_s: float | None, compiled: bool | None = None) -> str:
    """The last line's note when the scan began by compiling the CPU kernels (the first scan
    after an install: numba writes them to its cache, later scans load them in ~0.4 s).  No note
    where the warm-up compiled nothing (``compiled`` False: config.json's ``kernels_compiled``):
    on a busy machine loading the cached kernels alone can pass the note's 3 s."""
    if warm_up_s is None or warm_up_s <= COMPILE_NOTE_S or compiled is False:
        return ""
    return f" ({warm_up_s:.1f} s of it compiling the CPU kernels, once: later scans reuse them)"


def save_and_report(
    report: Any, out: Path, formats: tuple[str, ...], images: list | None, progress: bool | None = None
) -> dict[str, str]:
    """``report.save`` (results files) in a thread while this one draws the HTML report (the
    report's image decoding releases the GIL), each with its bar; then ``config.json`` again,
    with ``report_s``."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from .audit import jsonable

    with ThreadPoolExecutor(1, thread_name_prefix="dataeval-gpu-save") as pool:
        saving = pool.submit(report.save, out, formats=formats, progress=progress)
        t_report = time.perf_counter()
        drawn: dict[str, str] = {}
        try:
            from .report import write_report

            drawn["report"] = str(write_report(report, out, images=images, progress=progress))
        except ImportError as exc:
            logger.warning("plots / HTML report not written: %s", exc)
        report_s = time.perf_counter() - t_report
        written = {**saving.result(), **drawn}  # the report object is not changed before the save ends
    report.config["report_s"] = round(report_s, 3)
    (out / "config.json").write_text(json.dumps(report.config, indent=1, default=jsonable))
    return written
