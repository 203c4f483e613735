"""Building and updating an index: measure only new or changed files, keep the rest.

A file is unchanged when its path, size and mtime are those stored; when size or mtime
differ, the xxh3_64 digest of its bytes decides (a file touched but not changed is kept).
New and changed files are measured by :func:`~dataeval_gpu.audit.scan_files`; deleted ones
are dropped.  The stored and new rows are then fed into one
:class:`~dataeval_gpu.audit.DataAudit`, whose ``compute()`` recomputes every finding over the
whole collection, so the report equals a fresh scan of the files.  The scan of the new files
only measures them (``scan_files(findings=False)``): the detectors run once, on the merged rows.
"""

from __future__ import annotations

import gc
import logging
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..discovery import text_path
from ..errors import InvalidArgumentError
from .manifest import (
    IndexMismatchError,
    IndexNotFoundError,
    check_settings,
    lint_reference,
    read_manifest,
    write_lock,
    write_manifest,
)
from .quality_ref import OPTIONAL_REFERENCE_COLUMNS, REFERENCE_COLUMNS, quality_reference
from .reader import DatasetIndex, audit_settings, restore_audit
from .store import Collection, remove_unlisted, write_generation

__all__ = ["collection_quality", "file_digest", "reference_figures", "save_index", "update_index"]

logger = logging.getLogger("dataeval_gpu.index")

#: the DataAudit settings of findings only (they may change between updates; rows stay valid)
FINDING_SETTINGS = ("near_radius", "outlier_method", "outlier_threshold")
#: scan_files' own parameters (not DataAudit settings)
SCAN_PARAMS = (
    "device", "batch_size", "workers", "checkpoint", "checkpoint_every", "resume", "progress",
    "measure_in_workers", "class_names", "audit", "thumbnails", "on_started", "gpu_decode", "findings",
)  # fmt: skip


def file_digest(path: str | os.PathLike) -> int:
    """xxh3_64 of a file's bytes, as an unsigned int (read in 1 MiB blocks)."""
    import xxhash

    h = xxhash.xxh3_64()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.intdigest()


def _digest_or_none(path: str) -> int | None:
    """:func:`file_digest`, or ``None`` when the file cannot be read (a folder, no permission,
    a link whose target is gone): the scan of that input then says why."""
    try:
        return file_digest(path)
    except OSError:
        return None


def _digests(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(digest per path, whether it could be read)`` (digest 0 where it could not)."""
    from ..parallel import map_images

    got = map_images(_digest_or_none, list(paths))
    readable = np.array([d is not None for d in got], dtype=bool)
    return np.array([d or 0 for d in got], dtype=np.uint64), readable


def _stat(paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(size, mtime_ns)`` per path; size -1 and mtime 0 for one that cannot be stat-ed (a
    broken link, a vanished file): never equal to a stored row's, so it is measured (and fails
    with its reason) at every update."""
    sizes = np.full(len(paths), -1, dtype=np.int64)
    mtimes = np.zeros(len(paths), dtype=np.int64)
    for k, p in enumerate(paths):
        try:
            st = os.stat(p)
        except OSError:
            continue
        sizes[k], mtimes[k] = st.st_size, st.st_mtime_ns
    return sizes, mtimes


def _plan(
    old: Collection | None, files: list[str], sizes: np.ndarray, mtimes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(source row per file (-1: measure it), digest per file, files digested)``; sets the size
    of a file that could not be read to -1 (in ``sizes``)."""
    n = len(files)
    src = np.full(n, -1, dtype=np.int64)
    digests = np.zeros(n, dtype=np.uint64)
    if old is not None and len(old):
        where = {str(p): i for i, p in enumerate(old.files["path"])}
        hit = np.array([where.get(text_path(f), -1) for f in files], dtype=np.int64)  # stored as text
        known = hit >= 0
        same = known.copy()
        same[known] = (
            (old.files["file_size"][hit[known]] == sizes[known])
            & (old.files["mtime_ns"][hit[known]] == mtimes[known])
            & (sizes[known] >= 0)  # size -1: it could not be read; try it again
        )
        src[same] = hit[same]
        digests[same] = old.files["digest"][hit[same]]
    check = np.flatnonzero(src < 0)
    if len(check):
        digests[check], readable = _digests([files[i] for i in check])
        sizes[check[~readable]] = -1  # stored so: the next update tries it again
        check_ok = check[readable]  # an unreadable input takes no stored row (its scan says why)
        if old is not None and len(old):
            touched = check_ok[hit[check_ok] >= 0]
            unchanged = touched[old.files["digest"][hit[touched]] == digests[touched]]
            src[unchanged] = hit[unchanged]  # touched, same bytes: keep its row
            _reuse_by_digest(old, src, digests, sizes >= 0)
    return src, digests, check


def _reuse_by_digest(old: Collection, src: np.ndarray, digests: np.ndarray, readable: np.ndarray) -> None:
    """A file still to measure whose bytes are those of a measured stored row (renamed, moved,
    a copy, the folder given under another spelling) takes that row: a row depends only on
    the bytes.  Its path, size, mtime and label are the file's own (set by ``_merge``)."""
    todo = np.flatnonzero((src < 0) & readable)
    stored = np.flatnonzero(old.measured)
    if not len(todo) or not len(stored):
        return
    order = np.argsort(old.files["digest"][stored], kind="stable")
    keys = old.files["digest"][stored][order]
    at = np.minimum(np.searchsorted(keys, digests[todo]), len(keys) - 1)
    same = keys[at] == digests[todo]
    src[todo[same]] = stored[order[at[same]]]


def _checked_generation(folder: Path, wanted: dict[str, Any]) -> int:
    """The generation of the index in ``folder`` (0: none yet), after checking that its row
    settings are ``wanted`` (else :class:`~dataeval_gpu.index.IndexMismatchError`)."""
    try:
        manifest = read_manifest(folder)
    except IndexNotFoundError:
        return 0
    check_settings(manifest["settings"], wanted, folder)
    return int(manifest["generation"])


def refuse_mass_drop(old: Collection, src: np.ndarray, files: Sequence[str]) -> None:
    """Raise :class:`IndexMismatchError` when more than half of the stored images would be
    dropped: files gone from their paths whose bytes no file given has either (a renamed or moved
    file keeps its row).  ``scan NEW --index IDX`` for ``--against IDX`` replaced a 604-photo
    index by the 4 new images, and the 604 rows were lost."""
    n_old = len(old)
    taken = np.zeros(n_old, dtype=bool)
    taken[src[src >= 0]] = True
    present = set(map(text_path, files))
    gone = sum(1 for k, p in enumerate(old.files["path"]) if not taken[k] and str(p) not in present)
    if n_old >= 2 and gone * 2 > n_old:
        raise IndexMismatchError(
            f"this update would drop {gone} of the index's {n_old} images (their files are not among the "
            f"{len(files)} given); to check new images against the index use --against (scan_against); "
            "to index these files anew give another folder, or remove this one"
        )


def update_index(  # long: a third is the docstring; the body is one sequence under the lock
    folder: str | os.PathLike,
    files: Sequence[str],
    labels: Sequence[int] | None = None,
    *,
    class_names: Sequence[str] = (),
    drop_ok: bool = False,
    **scan_kwargs: Any,
) -> Any:
    """Build or update the index in ``folder`` so that it holds exactly ``files``; returns the
    whole collection's :class:`~dataeval_gpu.audit.AuditReport` (equal to a fresh scan).
    An update that would drop most stored images (:func:`refuse_mass_drop`) raises unless ``drop_ok``.

    ``scan_kwargs`` are :func:`~dataeval_gpu.audit.scan_files`' (device, workers, ...) and the
    :class:`~dataeval_gpu.audit.DataAudit` settings.  The settings that decide what a row holds
    (metric definitions, hash, d4, embeddings) must be the index's: otherwise
    :class:`~dataeval_gpu.index.IndexMismatchError`.  A second writer gets
    :class:`~dataeval_gpu.index.IndexLockedError`.  ``report.config["index_update"]`` says
    what was measured, kept and dropped, and the time taken.
    """
    from ..audit import DataAudit, scan_files
    from ..audit.feed import checkpoint_position
    from ..batching import resolve_device
    from ..progress import phase_steps

    t0 = time.perf_counter()
    progress = scan_kwargs.get("progress")  # as the scan's: None shows the bars on a terminal
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = [str(f) for f in files]
    labs = _file_labels(labels, files)
    audit_kwargs = {k: v for k, v in scan_kwargs.items() if k not in SCAN_PARAMS}
    with write_lock(folder):
        template = DataAudit(**audit_kwargs)
        wanted = audit_settings(template)
        generation = _checked_generation(folder, wanted)
        old: Collection | None = DatasetIndex(folder).collection() if generation else None
        sizes, mtimes = _stat(files)
        src, digests, _ = _plan(old, files, sizes, mtimes)
        if old is not None and not drop_ok:
            refuse_mass_drop(old, src, files)
        todo = np.flatnonzero(src < 0)
        sub = DataAudit(device=resolve_device(scan_kwargs.get("device")), **audit_kwargs)
        resume = bool(scan_kwargs.get("resume")) and len(todo) > 0
        start, scan_s = (checkpoint_position(scan_kwargs.get("checkpoint")) if resume else 0), 0.0
        if len(todo):
            kw = dict(scan_kwargs)
            if len(todo) < 64 and kw.get("workers") is None:
                kw["workers"] = 0  # a handful of files: starting worker processes costs more
            kw["audit"], kw["findings"] = sub, False  # the findings: once, over every row, below
            t_scan = time.perf_counter()
            scan_files([files[i] for i in todo], labs[todo].tolist(), class_names=class_names, **kw)
            scan_s = time.perf_counter() - t_scan
        coll = _merge(old, src, todo, sub, files, labs, sizes, mtimes, digests)
        dropped = len(set(map(str, old.files["path"])) - set(map(text_path, files))) if old is not None else 0
        del old, sub  # their rows are in coll now: not held while it is fed and written
        gc.collect()  # an accumulator's wrapped methods refer back to it: freed by the collector
        audit = DataAudit(**{"device": scan_kwargs.get("device"), **audit_kwargs})
        report = restore_audit(audit, coll, list(class_names)).compute(progress=progress)
        with phase_steps("index", ["rows file"], enable=progress) as step:
            step("rows file")  # a million rows: ~2 minutes here
            names = write_generation(
                folder, generation + 1, coll, on_rows=lambda k, n: step.detail(f"{k:,}/{n:,} rows")
            )
        write_manifest(
            folder,
            {
                "generation": generation + 1,
                "files": names,
                "settings": wanted,
                "audit": {k: getattr(template, k) for k in FINDING_SETTINGS},
                "class_names": list(class_names),
                "count": len(files),
                "base": os.getcwd(),  # what the rows' relative paths are relative to (DatasetIndex.paths)
                "reference": reference_figures(coll),
                "reference_065": lint_reference(coll.stats, coll.measured, stored_065=True),
                "quality": collection_quality(coll, template),
            },
        )
        remove_unlisted(folder, set(names.values()) | {"manifest.json", "write.lock"})
    stats = {
        "files": len(files),
        "measured": int(len(todo)),
        "kept": int((src >= 0).sum()),
        "dropped": dropped,
        "generation": generation + 1,
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }
    report.config.update(
        {
            "index": str(folder),
            "index_update": stats,
            "files": len(files),
            "elapsed_s": stats["elapsed_s"],
            # as a scan's: the files this run measured (not those a checkpoint held) per second of scan
            **({"images_per_s": round((len(todo) - start) / max(scan_s, 1e-9), 2)} if scan_s else {}),
            **({"resumed_from": start} if resume else {}),
        }
    )
    logger.info("index %s: %s", folder, stats)
    return report


def save_index(audit: Any, folder: str | os.PathLike) -> dict[str, Any]:
    """Write what ``audit`` (a :class:`~dataeval_gpu.audit.DataAudit` fed by any loop: a
    DataLoader, ``scan``, ``scan_files``) has measured as the index in ``folder``; returns the
    manifest.  Row ``i`` is the ``i``-th image in dataset-index order (measured or failed);
    its path is the audit's (``""`` when it has none); an integer label is kept, a string label
    becomes a class of the manifest's ``class_names``, anything else is stored as -1 (with a
    warning that counts them).  A row whose path is a file gets its size, mtime and content digest, so
    a later :func:`update_index` of those files measures none of them again.

    An index already in ``folder`` is replaced by this one when it holds rows of the same
    settings (else :class:`~dataeval_gpu.index.IndexMismatchError`); the write is atomic and
    takes the writer's lock as :func:`update_index` does."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = audit_settings(audit)
    with write_lock(folder):
        generation = _checked_generation(folder, wanted)
        idx, _, _ = audit.measured_rows()
        order = np.union1d(idx, np.array(sorted(audit.failed), dtype=np.int64)).astype(np.int64)
        position = np.zeros(int(order.max()) + 1 if len(order) else 0, dtype=np.int64)
        position[order] = np.arange(len(order))  # dataset index -> row
        paths = [str(audit.paths.get(int(i), "")) for i in order]
        labs, class_names = _class_labels([audit.labels.get(int(i)) for i in order], list(audit.class_names), order)
        sizes = np.full(len(order), -1, dtype=np.int64)
        mtimes = np.zeros(len(order), dtype=np.int64)
        digests = np.zeros(len(order), dtype=np.uint64)
        on_disk = [k for k, p in enumerate(paths) if p and os.path.isfile(p)]
        if on_disk:
            sizes[on_disk], mtimes[on_disk] = _stat([paths[k] for k in on_disk])
            digests[on_disk], readable = _digests([paths[k] for k in on_disk])
            sizes[np.asarray(on_disk)[~readable]] = -1  # unreadable: a later update tries it again
        src = np.full(len(order), -1, dtype=np.int64)
        coll = _merge(None, src, position, audit, paths, labs, sizes, mtimes, digests)
        names = write_generation(folder, generation + 1, coll)
        doc = {
            "generation": generation + 1,
            "files": names,
            "settings": wanted,
            "audit": {k: getattr(audit, k) for k in FINDING_SETTINGS},
            "class_names": class_names,
            "count": len(order),
            "base": os.getcwd(),
            "reference": reference_figures(coll),
            "reference_065": lint_reference(coll.stats, coll.measured, stored_065=True),
            "quality": collection_quality(coll, audit),
        }
        write_manifest(folder, doc)
        remove_unlisted(folder, set(names.values()) | {"manifest.json", "write.lock"})
    return read_manifest(folder)


def _file_labels(labels: Sequence[Any] | None, files: list[str]) -> np.ndarray:
    """``update_index``'s labels as class numbers (-1: none); an error naming the file for a
    label that is not a whole number (1.7 was truncated to class 1, "cat" failed in numpy)."""
    if labels is None:
        return np.full(len(files), -1, dtype=np.int64)
    labs = list(labels)
    if len(labs) != len(files):
        raise InvalidArgumentError(f"got {len(files)} files but {len(labs)} labels")
    out = np.empty(len(labs), dtype=np.int64)
    for k, v in enumerate(labs):
        whole = isinstance(v, (float, np.floating)) and float(v).is_integer()
        if not (whole or isinstance(v, (int, np.integer))) or isinstance(v, bool):
            raise InvalidArgumentError(
                f"label of file {k} ({files[k]}): expected a class number (an int, -1 for none; the names go in "
                f"class_names), got {v!r}"
            )
        out[k] = int(v)
    return out


def _class_labels(labels: list[Any], class_names: list[str], order: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The index's integer ``label`` column and its class names: an integer label as it is, a
    string label as its class (a name not yet in ``class_names`` is added, after any integer
    class), ``None`` as -1; anything else (a list of object classes, a fractional number) is
    not a class: stored as -1, with one warning that counts them."""
    ints = [int(v) for v in labels if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]
    names = list(class_names)
    first_new = max([len(names), *(i + 1 for i in ints)])
    new = sorted({v for v in labels if isinstance(v, str) and v not in names})
    if new:  # after the integer classes (one without a name is named by its number)
        names += [str(k) for k in range(len(names), first_new)] + new
    code = {n: k for k, n in enumerate(names)}
    out = np.full(len(labels), -1, dtype=np.int64)
    dropped = []
    for k, v in enumerate(labels):
        if v is None:
            continue
        if isinstance(v, str):
            out[k] = code[v]
        elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[k] = int(v)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out[k] = int(v)
        else:
            dropped.append(k)
    if dropped:
        k = dropped[0]
        warnings.warn(
            f"{len(dropped)} label(s) are not a class the index can store (image {int(order[k])}: {labels[k]!r}): "
            "stored as -1 (no label)",
            UserWarning,
            stacklevel=3,
        )
    return out, names if new else list(class_names)


def _merge(
    old: Collection | None,
    src: np.ndarray,
    todo: np.ndarray,
    sub: Any,
    files: list[str],
    labs: np.ndarray,
    sizes: np.ndarray,
    mtimes: np.ndarray,
    digests: np.ndarray,
) -> Collection:
    """The final collection: kept rows from ``old`` (row ``src[i]``), measured ones from ``sub``
    (its dataset index ``k`` is file ``todo[k]``)."""
    n = len(files)
    keep = np.flatnonzero(src >= 0)
    measured = np.zeros(n, dtype=bool)
    errors = [""] * n
    sub_idx, sub_rows, sub_emb = sub.measured_rows()
    new_pos = todo[sub_idx] if len(sub_idx) else np.zeros(0, dtype=np.int64)
    stat_keys = [k for k in sub_rows if k not in ("xxhash", "pchash", "pchash_valid")]
    if old is not None:
        stat_keys = stat_keys or list(old.stats)
        measured[keep] = old.measured[src[keep]]
        for i in keep:
            errors[i] = old.errors[src[i]]
    measured[new_pos] = True
    for k, reason in sub.failed.items():
        errors[int(todo[k])] = reason
    stats: dict[str, np.ndarray] = {}
    for key in stat_keys:
        like = sub_rows[key] if key in sub_rows else old.stats[key]  # type: ignore[union-attr]
        arr = np.zeros((n, *like.shape[1:]), dtype=like.dtype)
        if old is not None and len(keep) and key in old.stats:  # else zeros (thumbnails: not verified)
            arr[keep] = old.stats[key][src[keep]]
        if len(new_pos):
            arr[new_pos] = sub_rows[key]
        stats[key] = arr
    hashes = near_valid = None
    if sub.hashes:
        hashes = np.zeros((n, 2), dtype=np.uint64)
        near_valid = np.zeros(n, dtype=bool)
        if old is not None and old.hashes is not None and len(keep):
            hashes[keep] = old.hashes[src[keep]]
            near_valid[keep] = old.near_valid[src[keep]]  # type: ignore[index]
        if len(new_pos):
            hashes[new_pos, 0] = sub_rows["xxhash"].view(np.uint64)
            hashes[new_pos, 1] = sub_rows["pchash"].view(np.uint64)
            near_valid[new_pos] = sub_rows["pchash_valid"]
    embeddings = None
    if sub.embeddings:
        dim = sub_emb.shape[1] if sub_emb is not None else old.embeddings.shape[1]  # type: ignore[union-attr]
        embeddings = np.zeros((n, dim), dtype=np.float32)
        if old is not None and old.embeddings is not None and len(keep):
            embeddings[keep] = old.embeddings[src[keep]]
        if sub_emb is not None and len(new_pos):
            embeddings[new_pos] = sub_emb
    file_cols = {
        "path": np.asarray(files, dtype=object),
        "file_size": sizes,
        "mtime_ns": mtimes,
        "digest": digests,
        "label": labs,
    }
    return Collection(file_cols, measured, errors, stats, hashes, near_valid, embeddings)


def collection_quality(coll: Collection, audit: Any) -> dict[str, Any]:
    """The quality issues' reference figures of the measured images (``{}`` when the audit does not
    score them): :func:`~dataeval_gpu.index.quality_ref.quality_reference`."""
    if not getattr(audit, "quality", False):
        return {}
    measured = {k: v[coll.measured] for k, v in coll.stats.items() if k in REFERENCE_COLUMNS or k in OPTIONAL_REFERENCE_COLUMNS}
    return quality_reference(measured, audit.quality_thresholds)


def reference_figures(coll: Collection) -> dict[str, dict[str, float]]:
    """The Linter's reference figures of every 1-D metric over the measured images (not of the
    hash columns stored beside them): :func:`~dataeval_gpu.index.manifest.lint_reference`."""
    return lint_reference(coll.stats, coll.measured) if coll.measured.any() else {}
