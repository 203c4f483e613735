"""The warning that images with a non-finite embedding were left out of the Clusterer names
their dataset indices (the first few and the count), not only how many there were."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from dataeval_gpu.audit.embedded import NOT_FINITE, cluster_findings


def test_warning_names_the_indices(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(20, 4))
    emb[[3, 7]] = np.nan
    idx = np.arange(100, 120)
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.audit"):
        res = cluster_findings(idx, emb)
    assert sorted(res["not_clustered"]) == [103, 107]
    msgs = [r.getMessage() for r in caplog.records if "non-finite embedding" in r.getMessage()]
    assert msgs == ["2 image(s) with a non-finite embedding left out of the Clusterer: indices 103, 107"]


def test_warning_names_the_first_few_and_the_count(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(30, 4))
    bad = [2, 5, 6, 11, 12, 20, 29]
    emb[bad, 1] = np.inf
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.audit"):
        res = cluster_findings(np.arange(30), emb)
    assert sorted(res["not_clustered"]) == bad
    (msg,) = [r.getMessage() for r in caplog.records if "non-finite embedding" in r.getMessage()]
    assert msg.endswith(": indices 2, 5, 6, 11, 12, ... (7 in all)"), msg
    assert msg.startswith("7 image(s)")


def test_one_index(caplog: pytest.LogCaptureFixture) -> None:
    emb = np.zeros((2, 3))
    emb[1, 0] = np.nan
    with caplog.at_level(logging.WARNING, logger="dataeval_gpu.audit"):
        assert cluster_findings(np.array([4, 9]), emb) == {"not_clustered": {9: NOT_FINITE}}
    assert any(r.getMessage().endswith("Clusterer: index 9") for r in caplog.records)
