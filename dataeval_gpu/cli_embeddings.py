"""``dataeval-gpu scan --embeddings FILE``: the file of embeddings a scan is given instead of a
model, checked before the scan (:func:`check_embeddings_file`: one numeric ``(N, D)`` ``.npy``;
:func:`check_embedding_rows`: no more rows than inputs) and, after it, clustered with the
embedding near duplicates held to the scan's look rule (:func:`keep_near_thumbs`,
:func:`near_thumbs`, :func:`cluster_from_file`).

The names are also importable from :mod:`dataeval_gpu.cli_args`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli_options import CommandLineError

__all__ = ["check_embedding_rows", "check_embeddings_file", "cluster_from_file", "keep_near_thumbs", "near_thumbs"]

#: what to do when ``--embeddings`` took the PATH meant for the scan as its value
_EMBED_HINT = "to embed with the default model, put --embeddings after PATH or write --embeddings=model"


def check_embeddings_file(path: str, path_given: bool = True) -> None:
    """Before a scan: ``--embeddings FILE`` is one numeric ``(N, D)`` array saved with ``numpy.save``
    (not a folder, an ``np.savez`` archive or a pickle); ``path_given``: the scan has a PATH (else the
    option may have taken it).  Raises :class:`~dataeval_gpu.cli_options.CommandLineError`."""
    import numpy as np

    p = Path(path)
    if p.is_dir():
        raise CommandLineError(f"--embeddings {path}: a folder, not an .npy file ({_EMBED_HINT})")
    try:
        with open(p, "rb") as f:
            head = f.read(6)
        emb = np.load(p, mmap_mode="r", allow_pickle=False) if head == b"\x93NUMPY" else None
    except FileNotFoundError:
        raise CommandLineError(f"--embeddings {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise CommandLineError(f"--embeddings {path}: not a readable .npy array ({exc})") from None
    if emb is None:  # numpy's own reason for these is about pickles ("allow_pickle=")
        kind = "a zip archive such as np.savez writes" if head[:2] == b"PK" else "not an .npy file"
        hint = "" if path_given else f" ({_EMBED_HINT}: no PATH was given)"
        raise CommandLineError(
            f"--embeddings {path}: {kind}: give one (N, D) array saved with numpy.save (np.save(path, emb)){hint}"
        )
    if not isinstance(emb, np.ndarray) or emb.ndim != 2 or emb.dtype.kind not in "biuf":
        shape, dtype = getattr(emb, "shape", None), getattr(emb, "dtype", None)
        raise CommandLineError(
            f"--embeddings {path}: expected a numeric (N, D) array, got shape {shape} of dtype {dtype}"
        )


def check_embedding_rows(path: str | None, inputs: int) -> None:
    """Before a scan: an ``--embeddings FILE`` of more rows than there are inputs fits no scan
    of them (one row per input, or per measured image, is checked by :func:`cluster_from_file`)."""
    if path in (None, "model"):
        return
    import numpy as np

    rows = np.load(path, mmap_mode="r").shape[0]
    if rows > inputs:
        raise CommandLineError(
            f"--embeddings {path}: {rows} rows for {inputs} inputs (give one row per input, in the order of "
            "results.csv, or one per measured image)"
        )


def keep_near_thumbs(run: Callable[..., Any], args: argparse.Namespace) -> Callable[..., Any]:
    """``run`` (:func:`~dataeval_gpu.audit.scan_files` or ``scan_against``) feeding an audit of its own settings,
    whose grey thumbnails it keeps in ``args.near_thumbs`` (``(dataset indices, rows)``) for
    :func:`cluster_from_file`: the embedding pairs of a file must look alike, as a scan's."""

    def wrapped(files: Any, labels: Any, **kw: Any) -> Any:
        from .audit import DataAudit
        from .index.update import SCAN_PARAMS

        audit = DataAudit(device=kw.get("device"), **{k: v for k, v in kw.items() if k not in SCAN_PARAMS})
        report = run(files, labels, audit=audit, **kw)
        index, rows, _ = audit.measured_rows()
        args.near_thumbs = (index, rows["pchash_thumbs"]) if "pchash_thumbs" in rows else None
        return report

    return wrapped


def near_thumbs(args: argparse.Namespace, report: Any) -> Any:
    """``(dataset indices, pchash_thumbs rows)`` of the scan's images for :func:`cluster_from_file`:
    kept by :func:`keep_near_thumbs`, or (``--index``) the index's stored rows; else None."""
    import numpy as np

    kept = getattr(args, "near_thumbs", None)
    if kept is not None or not getattr(args, "index", None) or not len(report.index):
        return kept
    from .index import DatasetIndex

    idx = np.asarray(report.index, dtype=np.int64)  # the index's rows are the scan's inputs, in order
    thumbs = DatasetIndex(args.index).take("pchash_thumbs", idx)
    return None if thumbs is None else (idx, thumbs)


def cluster_from_file(report: Any, path: str, thumbs: Any = None) -> str:
    """Run the Clusterer (and the embedding near duplicates) on the rows of ``path`` into
    ``report``; returns the reason when its rows fit neither the inputs nor the measured images
    (``report`` left without clusters), else ``""``.  ``thumbs``: ``(dataset indices, rows)`` of
    the scan's grey thumbnails (:func:`near_thumbs`): a pair must then also look alike, as in a
    scan with the model; without them (the bundled photos) it is not checked."""
    import numpy as np
    import torch

    from .audit.embedded import cluster_findings, embedding_duplicate_groups, group_embeddings

    emb = np.load(path)
    n, total = len(report.index), report.total
    if emb.shape[0] == total != n:  # one row per input (results.csv's order): the failed ones' left out
        emb = emb[np.asarray(report.index, dtype=np.int64)]
    elif emb.shape[0] != n:
        return (
            f"--embeddings {path}: {emb.shape[0]} rows for {n} measured images "
            f"(give one row per measured image, or one per input: {total}, in the order of results.csv)"
        )
    # the audit's own findings on embeddings: a non-finite row (an image with NaN pixels embeds
    # to one) is listed in not_clustered and left out, as in a scan with --embeddings
    idx = np.asarray(report.index, dtype=np.int64)
    report.clusters = cluster_findings(idx, emb)  # exact (0.65) when small, kNN above
    if report.config.get("embedding_duplicates"):
        t, t_idx = (None, None) if thumbs is None else (torch.as_tensor(np.asarray(thumbs[1])), thumbs[0])
        keys = ("height", "width", "chroma_rg", "chroma_bg", "opacity")  # the figures a scan's rules read
        hw = {k: report.stats[k] for k in keys if k in report.stats}
        e_idx, e = torch.from_numpy(idx), torch.from_numpy(np.ascontiguousarray(emb))
        groups = embedding_duplicate_groups(e_idx, e, t, t_idx, hw, idx)
        report.duplicates["embedding"] = groups
        report.embeddings = group_embeddings(groups, e_idx, e)  # the report's cosines
    return ""
