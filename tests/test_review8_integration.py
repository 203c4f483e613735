"""review8: integration checks across the branches merged this session."""

from __future__ import annotations

import json

from dataeval_gpu.audit import DataAudit, scan_files


def test_nothing_measured_with_hashes_counts_zero_groups_not_not_searched(tmp_path):
    """Every input failed with the hashes on: 0 groups (searched, none found), not null / "not
    searched (hashes off)" -- the Lightning callback's float(summary[...]) raised on null."""
    r = scan_files([str(tmp_path / "missing.jpg")], [0], device="cpu", workers=0, progress=False)
    s = r.summary_dict()
    assert (s["measured"], s["failed"]) == (1 - 1, 1)
    assert s["exact_duplicate_groups"] == 0 and s["near_duplicate_groups"] == 0
    assert s["exact_duplicate_images"] == 0 and s["near_duplicate_images"] == 0
    assert s["embedding_duplicate_groups"] is None  # embeddings off: not searched
    assert "not searched" not in r.summary()
    assert json.loads(json.dumps(s))["near_duplicate_groups"] == 0


def test_nothing_measured_without_hashes_stays_not_searched(tmp_path):
    r = scan_files(
        [str(tmp_path / "missing.jpg")], [0], device="cpu", workers=0, progress=False, hashes=False
    )
    s = r.summary_dict()
    assert s["exact_duplicate_groups"] is None and s["near_duplicate_groups"] is None
    assert "not searched (hashes off)" in r.summary()


def test_compute_before_any_update_with_hashes():
    audit = DataAudit(device="cpu")
    assert audit.compute().summary_dict()["exact_duplicate_groups"] == 0
    audit = DataAudit(device="cpu", hashes=False)
    assert audit.compute().summary_dict()["exact_duplicate_groups"] is None
