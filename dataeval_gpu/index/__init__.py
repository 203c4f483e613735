"""A persistent dataset index: audit new data against everything already seen.

* :func:`update_index` builds or updates an index folder from a list of files: only new or
  changed files are measured, deleted ones dropped, and every finding is recomputed over the
  whole collection (the report equals a fresh scan).  ``dataeval-gpu scan PATH --index DIR``.
* :func:`scan_against` / :func:`against_index` report new images' exact and near copies in
  the indexed collection (hashes, and embeddings when both have them) and the new images that
  are outliers of its distribution.  ``dataeval-gpu scan NEW --against DIR``.
* :func:`save_index` writes what a :class:`~dataeval_gpu.audit.DataAudit` fed by any loop
  has measured as an index.
* :class:`DatasetIndex` opens an index read-only (memory-mapped arrays).

Modules: :mod:`.manifest` (manifest, settings check, lock, atomic swap), :mod:`.store` (the
files of a generation), :mod:`.reader`, :mod:`.update`, :mod:`.against`.  See ``docs/index.md``.
"""

from __future__ import annotations

from .against import against_index, against_report, query_index, scan_against
from .manifest import IndexLockedError, IndexMismatchError, IndexNotFoundError, metric_definitions_digest
from .reader import DatasetIndex, audit_settings, restore_audit
from .update import file_digest, save_index, update_index

__all__ = [
    "DatasetIndex",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "against_index",
    "against_report",
    "audit_settings",
    "file_digest",
    "metric_definitions_digest",
    "query_index",
    "restore_audit",
    "save_index",
    "scan_against",
    "update_index",
]
