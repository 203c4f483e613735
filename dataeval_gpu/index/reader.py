"""Reading an index: :class:`DatasetIndex` (the manifest's generation, memory-mapped arrays),
and feeding its stored rows back into a :class:`~dataeval_gpu.audit.DataAudit`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..functional.hashing.thumbs import THUMB_SIDE
from .manifest import (
    IndexMismatchError,
    check_settings,
    lint_reference,
    metric_definitions_digest,
    read_manifest,
    statistics_only,
)
from .store import (
    CROP_VALID,
    FILE_COLUMNS,
    MEASURED,
    NEAR_VALID,
    Collection,
    faiss_module,
    open_array,
    pyarrow,
    table_arrays,
)

__all__ = ["DatasetIndex", "audit_settings", "restore_audit"]

logger = logging.getLogger("dataeval_gpu.index")

#: rows of the rows file decoded at once by :meth:`DatasetIndex.take`
TAKE_ROWS = 4096


def audit_settings(audit: Any) -> dict[str, Any]:
    """The row settings of an audit (what its stored rows hold), as the manifest records them."""
    from ..functional.hashing import NEAR_HASHES, near_kind

    if audit.channels:
        raise IndexMismatchError("a dataset index stores per-image rows only: use channels=False")
    model = None
    if audit.embeddings:
        m = audit.embed_model
        model = "efficientnet_lite0" if m is None else f"{type(m).__module__}.{type(m).__qualname__}"
    return {
        "metric_digest": metric_definitions_digest(),
        "metrics": list(audit.make_accumulator("cpu").metric_names),
        "hashes": bool(audit.hashes),
        "near_hash": near_kind(audit.hash, audit.d4) if audit.hashes else None,
        # the grey image the near hashes read (NEAR_HASHES' grey; an index without it: "mean")
        "near_grey": NEAR_HASHES[near_kind(audit.hash, audit.d4)].grey if audit.hashes else None,
        # the central crops hashed besides the whole image (None: none, as before they existed)
        "near_crops": list(audit.near_crops) or None,
        "embedding_model": model,
    }


def restore_audit(audit: Any, coll: Collection, class_names: list[str]) -> Any:
    """Feed ``coll``'s stored rows into ``audit`` (an empty :class:`~dataeval_gpu.audit.DataAudit`
    with the index's settings): its ``compute()`` then equals that of a scan of the same files."""
    n = len(coll)
    paths = [str(p) for p in coll.files["path"]]
    labels = [int(x) if int(x) != -1 else None for x in coll.files["label"]]  # -1: stored for no label
    audit.annotate(list(range(n)), labels, paths)
    audit.class_names = list(class_names)
    pos = np.flatnonzero(coll.measured)
    for i in np.flatnonzero(~coll.measured):
        audit.mark_failed(int(i), coll.errors[i])
    if not len(pos):
        return audit
    rows = {k: torch.from_numpy(np.ascontiguousarray(v[pos])) for k, v in coll.stats.items()}
    if coll.hashes is not None:
        words = np.ascontiguousarray(coll.hashes[pos]).view(np.int64)
        rows["xxhash"] = torch.from_numpy(np.ascontiguousarray(words[:, 0]))
        rows["pchash"] = torch.from_numpy(np.ascontiguousarray(words[:, 1]))
        rows["pchash_valid"] = torch.from_numpy(np.asarray(coll.near_valid, dtype=bool)[pos])
        if audit.near_crops and "pchash_thumbs" not in rows:
            # an index written before the thumbnails existed: all-zero ones verify nothing
            width = (1 + len(audit.near_crops)) * THUMB_SIDE**2
            rows["pchash_thumbs"] = torch.zeros((len(pos), width), dtype=torch.uint8)
        if audit.near_crops and "pchash_strip" not in rows:
            # an index written before the strip hashes: its rows have none (never paired by one)
            rows["pchash_strip"] = torch.zeros(len(pos), dtype=torch.int64)
            rows["pchash_strip_valid"] = torch.zeros(len(pos), dtype=torch.bool)
            rows["pchash_strip_thumbs"] = torch.zeros((len(pos), THUMB_SIDE**2), dtype=torch.uint8)
    emb = (
        torch.from_numpy(np.ascontiguousarray(coll.embeddings[pos])) if coll.embeddings is not None else None
    )
    audit.append_rows(torch.from_numpy(pos.astype(np.int64)), (rows, emb))
    return audit


class DatasetIndex:
    """A dataset index on disk, opened read-only (any number of readers, while a writer works).

    The manifest is read once; the generation it names is what this object sees (the files
    are opened here, so a writer replacing them later does not disturb it).  The hashes, flags
    and embeddings are memory-mapped: nothing per image is held as a Python object.

    Examples
    --------
    See ``docs/index.md``: ``DatasetIndex(folder).report()`` is the whole collection's
    :class:`~dataeval_gpu.audit.AuditReport`, equal to a fresh scan of its files.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        if self.manifest.get("package_version") != __version__:
            logger.info(
                "index %s was written by dataeval_gpu %s (this is %s)",
                folder, self.manifest.get("package_version"), __version__,
            )  # fmt: skip
        files = self.manifest["files"]
        _, pq = pyarrow()
        self._rows = pq.ParquetFile(self.folder / files["rows"])  # holds the file open
        self.flags = open_array(self.folder / files["flags"])
        self.hashes = open_array(self.folder / files["hashes"]) if "hashes" in files else None
        self.embeddings = open_array(self.folder / files["embeddings"]) if "embeddings" in files else None
        self.crops = open_array(self.folder / files["crops"]) if "crops" in files else None
        #: ``(N, 3, 8)`` the whole images' hashes at the small sizes (``scale-G.npy``; None: none stored)
        self.scale = open_array(self.folder / files["scale"]) if "scale" in files else None
        self._faiss_path = self.folder / files["faiss"] if "faiss" in files else None

    # ---------------------------------------------------------------- facts
    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.manifest["settings"])

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest.get("class_names", []))

    @property
    def reference(self) -> dict[str, dict[str, float]]:
        """{metric: the Linter's reference figures of the measured images} (see ``Linter.evaluate_against``)."""
        return statistics_only(dict(self.manifest.get("reference", {})))  # an old index's: without its hashes

    @property
    def reference_065(self) -> dict[str, dict[str, float]]:
        """:attr:`reference` with DataEval 0.65's float16 statistics' figures over their values
        rounded as it stores them (``--preset dataeval-0.65`` lints those: :func:`lint_reference`):
        the manifest's ``reference_065``; an index written before it reads those columns."""
        stored = self.manifest.get("reference_065")
        if stored is None:
            from ..detectors.linter import F16_STATS

            names = [k for k in self.columns if k in F16_STATS]
            stored = lint_reference(self.rows(names), self.measured, stored_065=True) if names else {}
        return {**self.reference, **statistics_only(dict(stored))}

    @property
    def quality_reference(self) -> dict[str, Any]:
        """What new images' relative quality issues are judged against (see
        :mod:`~dataeval_gpu.index.quality_ref`): from the manifest, or for an index written
        before it kept them, from the rows file's columns (``{}`` without the quality metrics)."""
        if "quality" in self.manifest:
            return dict(self.manifest["quality"])
        from .quality_ref import OPTIONAL_REFERENCE_COLUMNS, REFERENCE_COLUMNS, quality_reference

        names = self._rows.schema_arrow.names
        if any(k not in names for k in REFERENCE_COLUMNS):
            return {}
        cols = self.rows([*REFERENCE_COLUMNS, *(k for k in OPTIONAL_REFERENCE_COLUMNS if k in names)])
        return quality_reference({k: np.asarray(v)[self.measured] for k, v in cols.items()})

    @property
    def columns(self) -> list[str]:
        """The names of the rows file's columns (what :meth:`take` and :meth:`rows` can read)."""
        return list(self._rows.schema_arrow.names)

    def __len__(self) -> int:
        return int(self.flags.shape[0])

    @property
    def measured(self) -> np.ndarray:
        return (self.flags & MEASURED) != 0

    @property
    def near_valid(self) -> np.ndarray:
        return (self.flags & NEAR_VALID) != 0

    def crop_hashes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(hashes, valid)``: the ``(N, C)`` near hashes (int64) of every row's central crops and
        whether each is valid (a failed row's are not); memory-mapped from ``crops-G.npy``.  An
        index written before that file reads its rows file's ``pchash_crops`` columns (all
        rows); None when it has no crop hashes (``near_crops`` off, or written before them)."""
        if self.crops is not None:
            k = np.arange(self.crops.shape[1])
            valid = (self.flags[:, None] & (CROP_VALID << k)[None, :]) != 0
            return self.crops.view(np.int64), valid & self.measured[:, None]
        names = self._rows.schema_arrow.names
        if "pchash_crops" not in names or "pchash_crops_valid" not in names:
            return None
        cols = self.rows(["pchash_crops", "pchash_crops_valid"])
        hashes = np.asarray(cols["pchash_crops"]).astype(np.int64, copy=False).reshape(len(self), -1)
        valid = np.asarray(cols["pchash_crops_valid"], dtype=bool).reshape(len(self), -1)
        return hashes, valid & self.measured[:, None]

    def strip_hashes(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(hashes, valid)``: the ``(N,)`` near hashes (int64) of every row's inverse-shape strip
        (``pchash_strip`` of the rows file; :func:`~dataeval_gpu.accumulators.hash_rows.strip_view`)
        and whether each is valid; None for an index written before them (its images are then
        not matched by their strips)."""
        names = self._rows.schema_arrow.names
        if "pchash_strip" not in names or "pchash_strip_valid" not in names:
            return None
        cols = self.rows(["pchash_strip", "pchash_strip_valid"])
        valid = np.asarray(cols["pchash_strip_valid"], dtype=bool).reshape(-1) & self.measured
        return np.asarray(cols["pchash_strip"]).astype(np.int64, copy=False).reshape(-1), valid

    def check(self, audit: Any, *, embeddings_optional: bool = False) -> None:
        """Raise :class:`IndexMismatchError` unless ``audit`` measures rows like this index's.
        ``embeddings_optional`` (a query against the index): either side may be without
        embeddings (no embedding matches then); only two different models differ."""
        wanted = audit_settings(audit)
        found = self.settings
        if embeddings_optional and (wanted["embedding_model"] is None or found.get("embedding_model") is None):
            wanted["embedding_model"] = found.get("embedding_model")
        check_settings(found, wanted, self.folder)

    # ---------------------------------------------------------------- rows
    def rows(self, columns: list[str] | None = None) -> dict[str, np.ndarray]:
        """Columns of the rows file (all by default) as numpy arrays, row ``i`` = index ``i``;
        decoded :data:`TAKE_ROWS` rows at a time into arrays allocated once (the whole file as
        one pyarrow table, then numpy, took ~2.5 GB above the arrays at 70,000 rows)."""
        pa, _ = pyarrow()
        n = self._rows.metadata.num_rows
        out: dict[str, np.ndarray] = {}
        start = 0
        for batch in self._rows.iter_batches(batch_size=TAKE_ROWS, columns=columns):
            for k, v in table_arrays(pa.Table.from_batches([batch])).items():
                if k not in out:
                    out[k] = np.empty((n, *v.shape[1:]), dtype=v.dtype)
                out[k][start : start + len(v)] = v
            start += batch.num_rows
        return out if start else table_arrays(self._rows.read(columns=columns))

    def paths(self, positions: np.ndarray) -> list[str]:
        """The file paths of the rows ``positions``: only the ``path`` column of the row groups
        that hold them is read (a few partners in a large index read one group, not every path).
        A relative path is joined to the folder the index was last updated from (the manifest's
        ``base``), so that it names the file from wherever the index is queried."""
        base = self.manifest.get("base") or ""
        found = [str(p) for p in self.take("path", positions)]  # type: ignore[union-attr]
        return [os.path.join(base, p) if base and p and not os.path.isabs(p) else p for p in found]

    def take(self, column: str, positions: np.ndarray) -> np.ndarray | None:
        """``column`` at the rows ``positions`` (in that order; None when the rows file has no
        such column): only that column of the row groups holding them is read, streamed
        :data:`TAKE_ROWS` rows at a time (a row group's whole thumbnail column, 65,536 rows of
        3 KB, decoded at once took ~2.5 GB and 5 s; streamed, ~0.3 GB and 3 s)."""
        if column not in self._rows.schema_arrow.names:
            return None
        pos = np.asarray(positions, dtype=np.int64).reshape(-1)
        meta = self._rows.metadata
        starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
        group = np.searchsorted(starts, pos, side="right") - 1
        pa, _ = pyarrow()
        out: np.ndarray | None = None
        for g in np.unique(group):
            mine = np.flatnonzero(group == g)
            at = pos[mine] - starts[g]  # rows wanted in the group
            start = 0
            for batch in self._rows.iter_batches(batch_size=TAKE_ROWS, row_groups=[int(g)], columns=[column]):
                stop = start + batch.num_rows
                here = np.flatnonzero((at >= start) & (at < stop))
                if len(here):
                    vals = table_arrays(pa.Table.from_batches([batch.take(at[here] - start)]))[column]
                    if out is None:
                        out = np.empty((len(pos), *vals.shape[1:]), dtype=vals.dtype)
                    out[mine[here]] = vals
                start = stop
        return out if out is not None else np.zeros(0, dtype=object)

    def collection(self) -> Collection:
        """Everything stored, loaded (the updater's and :meth:`report`'s view)."""
        rows = self.rows()
        files = {k: rows.pop(k) for k in FILE_COLUMNS if k in rows}
        status = files.pop("status")
        errors = [str(e) for e in files.pop("error")]
        hashes = np.asarray(self.hashes) if self.hashes is not None else None
        return Collection(
            files=files,
            measured=status == "ok",
            errors=errors,
            stats=rows,
            hashes=hashes,
            near_valid=self.near_valid if hashes is not None else None,
            embeddings=np.asarray(self.embeddings) if self.embeddings is not None else None,
        )

    def report(self, **audit_kwargs: Any) -> Any:
        """The whole collection's :class:`~dataeval_gpu.audit.AuditReport` from the stored rows
        (the Linter, duplicates, clusters recomputed): equal to a fresh scan of the files.
        ``audit_kwargs``: finding settings (``near_radius``, ``outlier_method``, ...); the row
        settings (hash, d4, embeddings) are the index's."""
        from ..audit import DataAudit

        kw = self.audit_kwargs()
        kw.update(audit_kwargs)
        audit = DataAudit(**kw)
        self.check(audit)
        report = restore_audit(audit, self.collection(), self.class_names).compute()
        report.config["index"] = str(self.folder)
        return report

    def audit_kwargs(self) -> dict[str, Any]:
        """The :class:`~dataeval_gpu.audit.DataAudit` settings that measure rows like this index's."""
        s = self.settings
        kw: dict[str, Any] = {"hashes": bool(s.get("hashes"))}
        near = s.get("near_hash")
        if near:
            kw["hash"] = near.removesuffix("_d4")
            kw["d4"] = near.endswith("_d4")
        kw["embeddings"] = s.get("embedding_model") is not None
        kw.update(self.manifest.get("audit", {}))
        return kw

    def faiss_index(self) -> Any:
        """The stored faiss index of the normalised embeddings, or None."""
        if self._faiss_path is None:
            return None
        faiss = faiss_module()
        return None if faiss is None else faiss.read_index(str(self._faiss_path))
