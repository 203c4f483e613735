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


def _written_before_the_texture_metrics(folder) -> None:
    """Make the index in ``folder`` look as one written before ``noise_flat`` / ``impulse_share``
    (quality2): its metric list without them, its rows without their columns, another digest."""
    import json

    import pyarrow.parquet as pq

    doc = json.loads((folder / "manifest.json").read_text())
    doc["settings"]["metrics"] = [m for m in doc["settings"]["metrics"] if m not in ("noise_flat", "impulse_share")]
    doc["settings"]["metric_digest"] = "0" * 32
    rows = folder / doc["files"]["rows"]
    pq.write_table(pq.read_table(rows).drop(["noise_flat", "impulse_share"]), rows)
    (folder / "manifest.json").write_text(json.dumps(doc))


def test_an_index_of_an_older_version_is_refused_with_the_way_out(tmp_path) -> None:
    """An index written before the texture metrics is refused by an update, ``--against`` and
    ``report()`` (no setting makes its rows comparable).  The message said "use the same settings
    or a new index folder", which no setting can do; it names the missing metrics and says to
    rebuild the index."""
    import torch

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.index import DatasetIndex, against_index, save_index

    audit = DataAudit(device="cpu")
    audit.update(torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    save_index(audit, tmp_path / "idx")
    _written_before_the_texture_metrics(tmp_path / "idx")
    index = DatasetIndex(tmp_path / "idx")
    for refused in (lambda: index.report(), lambda: against_index(audit, index), lambda: save_index(audit, tmp_path / "idx")):
        with pytest.raises(IndexMismatchError) as err:
            refused()
        said = str(err.value)
        assert "only this run has ['noise_flat', 'impulse_share']" in said
        assert "rebuild it (scan its files again with --index NEW_FOLDER" in said and "use the same settings" not in said
    # a settings difference within one version keeps its advice
    with pytest.raises(IndexMismatchError, match="use the same settings or a new index folder"):
        check_settings({"metric_digest": "a", "hashes": True}, {"metric_digest": "a", "hashes": False}, "idx")
