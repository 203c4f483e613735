"""Detector and statistics outputs inherit OutputMetadata (docs/architecture.md): ``.meta()`` says
what ran, when, with which arguments, as ClustererOutput's does."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from dataeval_gpu.detectors import Duplicates, Linter
from dataeval_gpu.metrics.stats import channelstats, imagestats
from dataeval_gpu.output import OutputMetadata

KEYS = {"name", "execution_time", "execution_duration", "arguments", "state", "version"}


def _images(n: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(n)]
    imgs.append(imgs[0].copy())  # an exact duplicate
    imgs.append(np.zeros((3, 16, 16), dtype=np.uint8))  # an outlier
    return imgs


def _check(meta: dict, name: str) -> None:
    from dataeval_gpu import __version__

    assert set(meta) == KEYS
    assert meta["name"] == name and meta["version"] == __version__
    assert isinstance(meta["execution_time"], datetime) and meta["execution_duration"] >= 0


def test_stats_output_meta() -> None:
    out = imagestats(_images())
    assert isinstance(out, OutputMetadata)
    _check(out.meta(), "dataeval_gpu.metrics.imagestats")
    assert out.meta()["arguments"]["images"] == "list: len=14" and out.meta()["state"] == {}
    _check(channelstats(_images()).meta(), "dataeval_gpu.metrics.channelstats")


def test_linter_output_meta() -> None:
    lint = Linter(outlier_method="zscore", outlier_threshold=2.5)
    out = lint.evaluate(_images())
    assert isinstance(out, OutputMetadata) and 13 in out.issues  # the black image is flagged
    meta = out.meta()
    _check(meta, "dataeval_gpu.detectors.Linter")
    assert meta["state"] == {"flags": lint.flags, "outlier_method": "zscore", "outlier_threshold": 2.5}  # 0.65's keys
    assert meta["arguments"]["labels"] is None
    stats_meta = lint.evaluate_stats(imagestats(_images())).meta()
    _check(stats_meta, "dataeval_gpu.detectors.Linter")
    assert stats_meta["arguments"]["stats"] == "StatsOutput"


def test_duplicates_output_meta() -> None:
    out = Duplicates().evaluate(_images())
    assert isinstance(out, OutputMetadata) and [0, 12] in out.exact
    meta = out.meta()
    _check(meta, "dataeval_gpu.detectors.Duplicates")
    assert meta["state"]["radius"] == 0 and meta["state"]["find_exact"] is True
    assert meta["arguments"]["images"] == "list: len=14" and meta["arguments"]["reference"] is None
