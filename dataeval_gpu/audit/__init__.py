"""The audit package — the torch-native facade: :class:`DataAudit` fed from any loop, and the one-call :func:`scan`.

``DataAudit`` holds the streaming accumulators (statistics, hashes, optionally embeddings);
``compute()`` runs the detectors on what was accumulated (Linter on the statistics,
Duplicates on the hashes, Clusterer on the embeddings) and returns an :class:`AuditReport`.
Tensors stay on the device until ``compute()``; the report is numpy / pandas / JSON.

Every index is accounted for: each one that was fed is in the statistics table, and each
one that could not be measured is in ``report.failed`` with the reason.

The package's modules: :mod:`.core` (:class:`DataAudit`), :mod:`.report` (:class:`AuditReport`),
:mod:`.feed` (the one feed loop and its failure policy), :mod:`.files` (the scan over image
files), :mod:`.scanning` (:func:`scan`), :mod:`.duplicates`, :mod:`.state` (checkpoints) and
:mod:`.serialize` (JSON helpers).  Everything public is importable from ``dataeval_gpu.audit``.
"""

from __future__ import annotations

from typing import Any

from .core import DataAudit, RepeatedIndexWarning
from .feed import CheckpointMismatchError, FeedLoop, LabelWarning, is_out_of_memory, measure
from .files import scan_files
from .presets import PRESETS, resolve_preset
from .report import SUMMARY_KEYS, AuditReport
from .scanning import AuditError, scan
from .serialize import jsonable
from .state import load_metric_state, metric_state

__all__ = [
    "AuditError",
    "AuditReport",
    "CheckpointMismatchError",
    "DataAudit",
    "PRESETS",
    "FeedLoop",
    "LabelWarning",
    "RepeatedIndexWarning",
    "SUMMARY_KEYS",
    "is_out_of_memory",
    "jsonable",
    "load_metric_state",
    "measure",
    "metric_state",
    "resolve_preset",
    "scan",
    "scan_files",
]

# test hook: a callable(batch_len) that may raise to simulate running out of memory (read by
# feed.measure wherever a batch is measured: this process or a forked DataLoader worker)
_FAULT_INJECTOR: Any = None
