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


def test_against_outlier_reason_uses_the_measured_value(monkeypatch):
    """--against's outliers hold the Linter's values rounded to 2 decimals: 0.2137 past a range
    ending at 0.2135 was printed "brightness=0.21" with no reason (0.21 lies inside the range)."""
    import numpy as np

    from dataeval_gpu import cli_index
    from dataeval_gpu.audit import AuditReport

    report = AuditReport(
        index=np.array([3, 7]),
        stats={"brightness": np.array([0.5, 0.2137])},
        paths={3: "/d/a.jpg", 7: "/d/b.jpg"},
        config={"outlier_method": "modzscore"},
        against={"index": "/nowhere", "outliers": {7: {"brightness": 0.21}}},
    )
    monkeypatch.setattr(cli_index, "_index_ranges", lambda r: {"brightness": (0.1, 0.2135)})
    lines = cli_index.index_lines(report)
    row = next(line for line in lines if line.startswith("  7:"))
    assert row == "  7:b.jpg: brightness=0.2137 (> 0.2135)", row
    # the Linter's own outliers (report.issues) are untouched by the new argument
    assert report.issue_values() == {}


def test_knn_graph_under_torch_per_backend_tf32_setting():
    """torch >= 2.9's per-backend API (``torch.backends.cuda.matmul.fp32_precision = "tf32"``)
    made ``get_float32_matmul_precision`` raise inside knn_graph's full-float32 block: the
    Clusterer failed with "a mix of the legacy and new APIs".  Now the block sets that API's
    "ieee" and restores the caller's values; the neighbours are the exact ones."""
    import numpy as np
    import pytest
    import torch

    from dataeval_gpu.functional import knn_search
    from dataeval_gpu.functional.knn import knn_graph

    b = torch.backends
    if not hasattr(b.cuda.matmul, "fp32_precision"):
        pytest.skip("torch without the per-backend fp32_precision API")
    saved = (b.fp32_precision, b.cuda.matmul.fp32_precision, b.mkldnn.matmul.fp32_precision)
    try:
        b.cuda.matmul.fp32_precision = "tf32"
        b.mkldnn.matmul.fp32_precision = "bf16"
        x = np.random.default_rng(0).normal(size=(60, 8))
        d, i = knn_graph(x.astype(np.float32), 4, backend="torch")
        d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)  # float64 reference
        np.fill_diagonal(d2, np.inf)
        np.testing.assert_array_equal(np.sort(i, axis=1), np.sort(np.argsort(d2, axis=1)[:, :4], axis=1))
        with knn_search.full_float32_matmuls():
            assert (b.cuda.matmul.fp32_precision, b.mkldnn.matmul.fp32_precision) == ("ieee", "ieee")
        assert (b.cuda.matmul.fp32_precision, b.mkldnn.matmul.fp32_precision) == ("tf32", "bf16")
    finally:
        b.fp32_precision = saved[0]
        b.cuda.matmul.fp32_precision, b.mkldnn.matmul.fp32_precision = saved[1], saved[2]
    assert torch.get_float32_matmul_precision() == "highest"
