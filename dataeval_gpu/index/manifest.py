"""The index's manifest, its compatibility check, the writer's lock and the atomic swap.

The manifest (``manifest.json``) is small: the format and package versions, the settings the
rows were measured with (the metric definitions' digest, the stored metrics, the hashes and
the embedding model), the class names, the Linter's reference figures of the collection,
and the names of the current generation's files.  The per-file records (path, size, mtime,
content digest) are columns of the rows file, so the manifest stays small for any size.

A writer writes a new generation's files under new names, fsyncs them, then replaces
``manifest.json`` with one ``os.replace``: a reader (or a crash) sees the old generation or
the new one, never a mix.  Files of older generations are removed after the swap.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import DataEvalGPUError, InvalidArgumentError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "check_settings",
    "fsync_dir",
    "index_grey",
    "code_digest",
    "metric_definitions_digest",
    "read_manifest",
    "statistics_only",
    "write_lock",
    "write_manifest",
]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = "write.lock"

#: settings that decide what a stored row holds: an index built with other values cannot be mixed
ROW_SETTINGS = ("metric_digest", "metrics", "hashes", "near_hash", "near_grey", "near_crops", "embedding_model")


class IndexNotFoundError(DataEvalGPUError, FileNotFoundError):
    """The folder holds no dataset index (no ``manifest.json``)."""


#: how a mismatch message names each grey
_GREY_WORDS = {"mean": "channel mean (DataEval 0.65's grey)", "luma": "BT.601 luma grey"}


class IndexMismatchError(DataEvalGPUError, ValueError):
    """The index was built with other metric definitions, hashes or embedding model."""


class IndexLockedError(DataEvalGPUError, RuntimeError):
    """Another process is writing the index (its lock file exists)."""


def _source(fn: Any) -> str:
    if fn is None:
        return ""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"


def code_digest(root: str | os.PathLike) -> str:
    """A digest of every module's file under ``root``, its relative path and its bytes (1 ms for
    ``functional/``; a syntax-tree digest that ignores comments took a second)."""
    base = Path(root)
    h = hashlib.sha256()
    for path in sorted(base.rglob("*.py")):
        h.update(path.relative_to(base).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _functional_digest() -> str:
    return code_digest(Path(__file__).resolve().parents[1] / "functional")


def metric_definitions_digest() -> str:
    """A digest of every registered metric's definition (name, kind, dtype, shape, inputs and
    the source of its functions) and of every module under ``functional/`` (the kernels,
    constants and helpers the metrics and hashes are computed with, which the functions' own
    source does not show): it changes whenever a metric or a hash could compute another value,
    so an index written by another version is refused with a rebuild hint, never mixed with
    this version's rows (a change of comments there refuses it too: the safe side)."""
    from ..functional import registry

    h = hashlib.sha256(_functional_digest().encode())
    for m in registry.metrics():
        parts = (m.name, m.flag, m.kind, str(m.dtype), repr(m.shape), repr(m.per_channel), repr(m.needs))
        h.update("|".join(parts).encode())
        h.update(_source(m.compute).encode())
        h.update(_source(m.compute_float).encode())
    return h.hexdigest()[:32]


def index_grey(settings: dict[str, Any]) -> str | None:
    """The grey image an index's near hashes read (``"mean"`` / ``"luma"``; None without hashes):
    the manifest's ``near_grey``, or ``"mean"`` for an index written before it was recorded
    (every hash then read DataEval 0.65's channel mean, the D4 hashes too)."""
    if "near_grey" in settings:
        return settings["near_grey"]
    return "mean" if settings.get("near_hash") else None


def check_settings(found: dict[str, Any], wanted: dict[str, Any], where: str | os.PathLike) -> None:
    """Raise :class:`IndexMismatchError` naming every row setting that differs."""
    found = {**found, "near_grey": index_grey(found)}
    keys = [key for key in ROW_SETTINGS if found.get(key) != wanted.get(key)]
    if keys == ["near_grey"]:
        # the one difference an index written before the D4 hashes read luma has: its hashes,
        # crops and thumbnails are of another grey image, which a search would compare silently
        raise IndexMismatchError(
            f"the index in {where} holds near hashes of the {_GREY_WORDS.get(found['near_grey'], found['near_grey'])} "
            f"and this dataeval_gpu hashes {found.get('near_hash')!r} on the "
            f"{_GREY_WORDS.get(wanted.get('near_grey'), wanted.get('near_grey'))} (the D4 hashes read luma from "
            "this version on, so that grey copies hash as their colour source): rebuild it (scan its files again with "
            "--index NEW_FOLDER, or index.update_index / save_index into a new folder)"
        )
    # the one difference a user makes with a flag (--no-quality also drops the preset's crops): not 24 names
    quality = _quality_only(found.get("metrics"), wanted.get("metrics")) if set(keys) - {"near_crops"} == {"metrics"} else None
    if quality is not None:
        crops = " (and the central crops hashed with them)" if "near_crops" in keys else ""
        raise IndexMismatchError(
            f"the index in {where} was built with the quality metrics{crops} and this run measures without "
            "them (--no-quality, quality=False): run without --no-quality, or give another index folder"
            if quality
            else f"the index in {where} was built without the quality metrics (--no-quality) and this run "
            f"measures them{crops}: add --no-quality (quality=False), or give another index folder"
        )
    if keys:
        diffs = [_difference(key, found.get(key), wanted.get(key)) for key in keys]
        # the digest covers every registered metric, whatever the run measures: another version's
        # metrics (e.g. an index written before noise_flat / impulse_share), which no setting matches
        advice = (
            "it was written by a dataeval_gpu whose metrics differ from this one's, so no setting makes "
            "its rows comparable: rebuild it (scan its files again with --index NEW_FOLDER, or "
            "index.update_index / save_index into a new folder)"
            if "metric_digest" in keys
            else "this run's rows would not hold what the index's do: use the same settings or a new index folder"
        )
        raise IndexMismatchError(f"the index in {where} was built with other settings ({'; '.join(diffs)}); {advice}")


def _quality_only(index: Any, run: Any) -> bool | None:
    """True: the index's metrics are this run's plus the quality group (this run has ``quality=False``);
    False: the other way round; None: they differ otherwise."""
    from ..functional import registry

    if not isinstance(index, list) or not isinstance(run, list):
        return None
    group = {m.name for m in registry.metrics() if m.group == "ALL_QUALITY"}
    if set(index) - set(run) == group and not set(run) - set(index):
        return True
    if set(run) - set(index) == group and not set(index) - set(run):
        return False
    return None


def _difference(key: str, index: Any, run: Any) -> str:
    """One setting that differs; of two lists (the metrics) only the names not in both."""
    if isinstance(index, list) and isinstance(run, list) and key == "metrics":
        only_index, only_run = [m for m in index if m not in run], [m for m in run if m not in index]
        parts = ([f"only the index has {only_index}"] if only_index else []) + (
            [f"only this run has {only_run}"] if only_run else []
        )
        return f"{key}: {', '.join(parts) or f'in another order (index {index!r}, this run {run!r})'}"
    if key == "metric_digest":
        return f"{key}: the metric definitions differ (index {index!r}, this run {run!r}: another dataeval_gpu version?)"
    return f"{key}: index {index!r}, this run {run!r}"


def statistics_only(reference: dict[str, Any]) -> dict[str, Any]:
    """The manifest's Linter reference figures without the hash columns (``pchash_strip``,
    ``pchash_strip_valid``, ...: identifiers, not statistics, whose "mean" meant nothing) that an
    index written before this filter stored among them: what is written and what is read."""
    from ..accumulators.stats import CROP_HASH_KEYS, HASH_KEYS, STRIP_HASH_KEYS

    hashes = {*HASH_KEYS, *CROP_HASH_KEYS, *STRIP_HASH_KEYS}
    return {k: v for k, v in reference.items() if k not in hashes}


def lint_reference(stats: dict[str, Any], measured: Any, *, stored_065: bool = False) -> dict[str, dict[str, float]]:
    """The Linter's reference figures (:func:`~dataeval_gpu.detectors.linter.reference_summary`) of
    every 1-D metric of ``stats`` over the ``measured`` rows (finite values; not the hash columns).
    ``stored_065``: of DataEval 0.65's float16 statistics only, rounded as it stores them
    (:func:`~dataeval_gpu.detectors.linter.as_stored_by_065`): what a ``--preset dataeval-0.65``
    scan lints, the manifest's ``reference_065``; over every value, as 0.65's Linter (an inf in
    float16 makes the ``mean`` inf and the ``std`` NaN, written to the manifest as JSON's
    ``Infinity`` / ``NaN``)."""
    import numpy as np

    from ..detectors.linter import F16_STATS, as_stored_by_065, reference_summary

    cols = {k: v for k, v in statistics_only(stats).items() if getattr(v, "ndim", 0) == 1}
    if stored_065:
        cols = as_stored_by_065({k: np.asarray(v)[measured] for k, v in cols.items() if k in F16_STATS})
    else:
        cols = {k: np.asarray(v)[measured] for k, v in cols.items()}
    out = {}
    for key, val in cols.items():
        v = val.astype(np.float64)
        if v.size and np.isfinite(v).any():
            if stored_065:  # as 0.65's Linter: over every value (a kurtosis over 65504 is inf in float16;
                with np.errstate(invalid="ignore", over="ignore"):  # its mean inf, its std NaN, still linted)
                    out[key] = reference_summary(v)
            else:
                out[key] = reference_summary(v[np.isfinite(v)])
    return out


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The manifest of the index in ``folder``."""
    path = Path(folder) / MANIFEST
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise IndexNotFoundError(f"{folder} holds no dataset index ({MANIFEST} is missing)") from None
    except (OSError, ValueError) as exc:
        raise IndexMismatchError(f"{path}: not a readable index manifest ({exc})") from None
    if doc.get("format") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{path}: index format {doc.get('format')!r}, this version of dataeval_gpu reads format {FORMAT_VERSION}"
        )
    return doc


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(folder: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` as the manifest atomically (temp file, fsync, ``os.replace``)."""
    doc = {"format": FORMAT_VERSION, "package_version": __version__, **doc}
    tmp = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / MANIFEST)
    fsync_dir(folder)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's live process
        return True
    return True


@contextlib.contextmanager
def write_lock(folder: Path) -> Iterator[None]:
    """Hold the index's writer lock (``write.lock`` created with O_CREAT|O_EXCL, holding the pid).

    A lock whose process is gone (a killed writer) is stale and taken over; a live one raises
    :class:`IndexLockedError`.  Readers never take the lock.
    """
    if not folder.is_dir():
        raise InvalidArgumentError(f"index folder {folder} does not exist")
    path = folder / LOCK
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or "0")
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise IndexLockedError(
                    f"the index in {folder} is being written by process {pid} ({path}); "
                    "wait for it to finish (remove the lock file only if that process is gone)"
                ) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its writer died
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:  # pragma: no cover - another writer raced us twice
        raise IndexLockedError(f"the index in {folder} is being written by another process ({path})")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
