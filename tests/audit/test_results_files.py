"""results.csv / results.json: whole-number columns are written as integers (``512``, not
``512.0``), a failed input's cells stay empty (``null`` in JSON), float columns stay floats."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from dataeval_gpu.audit import DataAudit

WHOLE = ("width", "height", "size", "channels", "depth")
SHAPES = [(3, 20, 30), (1, 17, 9), (3, 40, 41)]


def _report(failed: bool) -> object:
    rng = np.random.default_rng(0)
    audit = DataAudit()
    audit.update([rng.integers(0, 256, s, dtype=np.uint8) for s in SHAPES], labels=[0, 1, 0])
    if failed:
        audit.mark_failed(3, "truncated file", label=1)
    return audit.compute()


def _want(i: int) -> dict[str, int]:
    c, h, w = SHAPES[i]
    return {"width": w, "height": h, "size": h * w, "channels": c, "depth": 8}


def test_whole_number_columns_are_integers_in_csv_and_json(tmp_path) -> None:
    report = _report(failed=True)
    report.save(tmp_path)
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i in range(3):
        assert {k: rows[i][k] for k in WHOLE} == {k: str(v) for k, v in _want(i).items()}
        assert float(rows[i]["aspect_ratio"]) == SHAPES[i][2] / SHAPES[i][1]
    assert rows[3]["status"] == "failed" and all(rows[3][k] == "" for k in WHOLE)
    parsed = pd.read_csv(tmp_path / "results.csv")  # a reader sees integers, NaN only for the failed row
    assert parsed["width"].tolist()[:3] == [30, 9, 41] and np.isnan(parsed["width"].tolist()[3])
    doc = json.loads((tmp_path / "results.json").read_text())
    for i in range(3):
        got = {k: doc["images"][i][k] for k in WHOLE}
        assert got == _want(i) and all(type(v) is int for v in got.values())
    assert all(doc["images"][3][k] is None for k in WHOLE)
    assert isinstance(doc["images"][0]["mean"], float)
    width = doc["summary"]["metrics"]["width"]
    assert (width["min"], width["max"]) == (9, 41) and type(width["min"]) is int and width["median"] == 30.0
    assert json.loads((tmp_path / "summary.json").read_text())["metrics"]["size"]["max"] == 40 * 41


def test_the_table_has_int64_without_failures_and_nullable_ints_with_them() -> None:
    ok = _report(failed=False).to_pandas()
    assert all(ok[k].dtype == np.int64 for k in WHOLE)
    assert ok["size"].tolist() == [_want(i)["size"] for i in range(3)]
    with_failed = _report(failed=True).to_pandas()
    assert all(str(with_failed[k].dtype) == "Int64" for k in WHOLE)
    assert with_failed["height"].isna().tolist() == [False, False, False, True]
    assert with_failed["height"].iloc[:3].tolist() == [20, 17, 40]


def test_report_arrays_are_read_only_views_of_the_audit() -> None:
    """The report's arrays share the audit's row buffer (no copy at compute()); an in-place
    edit raised nothing and changed what the next compute() returned. Now it raises."""
    from dataeval_gpu.audit import DataAudit

    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (3, 12, 10), dtype=np.uint8) for _ in range(3)]
    audit = DataAudit(hashes=False, quality=False)
    audit.update(imgs, indices=[0, 1, 2])
    first = audit.compute()
    want = np.array([im.astype(np.float64).mean() / 255 for im in imgs])
    np.testing.assert_allclose(first.stats["mean"], want, rtol=1e-6)
    with pytest.raises(ValueError, match="read-only"):
        first.stats["mean"][:] = -1
    np.testing.assert_allclose(audit.compute().stats["mean"], want, rtol=1e-6)
    first.to_pandas()  # the report's own use of them still works
