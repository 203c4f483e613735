"""What an index refused for other settings says: the difference, not two lists of 40 names."""

from __future__ import annotations

import pytest

from dataeval_gpu.index import IndexMismatchError
from dataeval_gpu.index.manifest import check_settings


def test_a_metric_list_mismatch_names_only_the_metrics_not_in_both() -> None:
    """An index made before a metric was added (``opacity``) was refused with both whole metric
    lists (41 and 42 names, ~1,700 characters) and two digests, and no word of what differed."""
    index = {"metric_digest": "a" * 32, "metrics": ["width", "height", "noise"], "near_hash": "pchash_d4"}
    run = {"metric_digest": "b" * 32, "metrics": ["width", "height", "noise", "opacity"], "near_hash": "pchash_d4"}
    with pytest.raises(IndexMismatchError) as err:
        check_settings(index, run, "idx")
    said = str(err.value)
    assert "metrics: only this run has ['opacity']" in said and "'width'" not in said
    assert "metric_digest: the metric definitions differ" in said
    run = {**index, "metrics": ["width"], "near_hash": "pchash"}
    with pytest.raises(IndexMismatchError) as err:
        check_settings(index, run, "idx")
    said = str(err.value)
    assert "metrics: only the index has ['height', 'noise']" in said
    assert "near_hash: index 'pchash_d4', this run 'pchash'" in said and "metric_digest" not in said
