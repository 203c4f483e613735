"""polish2: QualityOutput, NearDuplicatesOutput and LabelStatsOutput inherit OutputMetadata:
``.meta()`` says what ran, when, with which arguments and settings (as LinterOutput's)."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from dataeval_gpu import __version__
from dataeval_gpu.detectors.near_duplicates import NearDuplicates
from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.labels import label_stats
from dataeval_gpu.output import OutputMetadata

KEYS = {"name", "execution_time", "execution_duration", "arguments", "state", "version"}


def _check(meta: dict, name: str) -> None:
    assert set(meta) == KEYS
    assert meta["name"] == name and meta["version"] == __version__
    assert isinstance(meta["execution_time"], datetime) and meta["execution_duration"] >= 0


def _images(n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 256, (3, 40, 48), dtype=np.uint8) for _ in range(n)]
    imgs.append(imgs[0].copy())  # an exact duplicate
    imgs.append(np.zeros((3, 40, 48), dtype=np.uint8))  # dark
    return imgs


def test_quality_output_meta() -> None:
    q = QualityIssues(working_side=64)
    out = q.evaluate(_images())
    assert isinstance(out, OutputMetadata) and len(out) == 8 and out.flagged[7]  # the black image
    meta = out.meta()
    _check(meta, "dataeval_gpu.detectors.QualityIssues")
    assert meta["arguments"]["data"] == "list: len=8"
    assert meta["state"]["working_side"] == 64
    assert meta["state"]["issues"] == f"tuple: len={len(q.issues)}"
    assert meta["state"]["thresholds"] == f"dict: len={len(q.thresholds)}"


def test_near_duplicates_output_meta() -> None:
    det = NearDuplicates(embedding_threshold=None, crops=(), k=4)
    out = det.evaluate(_images())
    assert isinstance(out, OutputMetadata) and [0, 6] in out.exact
    meta = out.meta()
    _check(meta, "dataeval_gpu.detectors.NearDuplicates")
    assert meta["arguments"]["images"] == "list: len=8" and meta["arguments"]["embeddings"] is None
    assert meta["state"]["k"] == 4 and meta["state"]["embedding_threshold"] is None
    assert meta["state"]["strip"] is False and meta["state"]["crops"] == "tuple: len=0"


def test_label_stats_output_meta() -> None:
    out = label_stats([0, 1, 1, [2, 2]], class_names=["a", "b", "c"])
    assert isinstance(out, OutputMetadata) and out.label_count == 5
    meta = out.meta()
    _check(meta, "dataeval_gpu.labels.label_stats")
    assert meta["arguments"] == {"labels": "list: len=4", "class_names": "list: len=3"}
    assert meta["state"] == {}
    assert out == label_stats([0, 1, 1, [2, 2]], class_names=["a", "b", "c"])  # equality: the fields only


def test_meta_empty_before_a_call() -> None:
    assert QualityIssues().evaluate.__wrapped__  # the decorated method keeps the original
    out = NearDuplicates.combine(2, [], [], [])
    assert out.meta() == {}  # combine (no producing call recorded) leaves it empty
