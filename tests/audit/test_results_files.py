"""results.csv / results.json: whole-number columns are written as integers (``512``, not
``512.0``), a failed input's cells stay empty (``null`` in JSON), float columns stay floats."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch

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


#: the columns a failed input has a value in: who it is and why it failed
IDENTITY = {"index", "path", "label", "status", "error"}


class _Flatten(torch.nn.Module):
    """A tiny deterministic embedding model: (B, 3, H, W) -> (B, 6), per-channel mean and std."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float().flatten(2)
        return torch.cat([x.mean(-1), x.std(-1)], dim=1)


def test_a_failed_input_reads_not_checked_in_every_column_and_format(tmp_path) -> None:
    """A file that could not be decoded is not "checked, no issue": its ``is_<issue>_issue``
    cells were ``False``, its duplicate groups ``-1`` (none), its hashes / lint flags / quality
    issues ``""`` and its cluster outlier cells ``False``, in results.csv, Parquet and JSON and in
    ``to_pandas()``.  Every cell but its identity and reason is now missing."""
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (3, 40 + i, 36), dtype=np.uint8) for i in range(6)]
    images[4] = images[1].copy()  # an exact duplicate pair, so the groups are not all -1
    audit = DataAudit(embeddings=True, embed_model=_Flatten())
    audit.update(images, indices=[0, 1, 2, 3, 4, 6], labels=[0, 1, 0, 1, 0, 1])
    audit.mark_failed(5, "RuntimeError: Image is incomplete or truncated", label=1)
    report = audit.compute()
    assert report.clusters and report.quality  # the columns under test exist
    df = report.to_pandas()
    checked = [c for c in df.columns if c not in IDENTITY]
    assert {"is_dark_issue", "exact_duplicate_group", "near_duplicate_group", "cluster_outliers", "lint_flags",
            "quality_issues", "xxhash"} <= set(checked)
    assert df.loc[5, checked].isna().all(), df.loc[5, checked][df.loc[5, checked].notna()].to_dict()
    # the measured rows keep their plain values: False / -1 / "" mean checked and nothing found
    assert df.loc[[0, 2, 3, 6], checked].notna().all().all()
    assert df.loc[1, "exact_duplicate_group"] == df.loc[4, "exact_duplicate_group"] == 0
    assert df.loc[0, "exact_duplicate_group"] == -1 and not df.loc[0, "is_dark_issue"]
    report.save(tmp_path, formats=("csv", "parquet", "json"))
    with open(tmp_path / "results.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["index"] == "5")
    # results.csv: the yes / no cells False (a CSV has no typed missing yes / no), the rest empty
    yes_no = {k for k in row if k.startswith(("is_", "cluster_"))}
    assert yes_no and {row[k] for k in yes_no} == {"False"}
    assert {k: v for k, v in row.items() if k not in IDENTITY | yes_no and v != ""} == {}
    assert row["status"] == "failed" and row["error"].startswith("RuntimeError")
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert parquet.loc[5, checked].isna().all()
    assert parquet.loc[0, "is_dark_issue"] is not pd.NA and parquet.loc[0, "exact_duplicate_group"] == -1
    doc = json.loads((tmp_path / "results.json").read_text())
    rec = next(r for r in doc["images"] if r["index"] == 5)
    assert {k: v for k, v in rec.items() if k not in IDENTITY and v is not None} == {}
    assert next(r for r in doc["images"] if r["index"] == 0)["is_dark_issue"] is False


def test_without_failures_the_flag_and_group_columns_stay_plain() -> None:
    df = _report(failed=False).to_pandas()
    assert df["is_dark_issue"].dtype == bool and df["exact_duplicate_group"].dtype == np.int64
    assert df["lint_flags"].notna().all()


def test_duplicate_groups_only_where_the_images_were_compared() -> None:
    """``hashes=False`` compares nothing, yet every row read ``exact_duplicate_group`` /
    ``near_duplicate_group`` ``-1`` (no duplicate); an image under 9 px a side has no near hash
    (0.65's rule) and read ``near_duplicate_group`` ``-1`` too."""
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in ((3, 1, 1), (1, 5, 7), (3, 30, 30), (3, 30, 30))]
    images[3] = images[2].copy()
    audit = DataAudit(hashes=False)
    audit.update(images)
    df = audit.compute().to_pandas()
    assert not [c for c in df.columns if c.endswith("_duplicate_group")]
    audit = DataAudit()
    audit.update(images)
    df = audit.compute().to_pandas()
    assert df["pchash_d4"].tolist()[:2] == ["", ""]  # measured, no near hash
    assert df["near_duplicate_group"].isna().tolist() == [True, True, False, False]
    assert df["near_duplicate_group"].tolist()[2:] == [-1, -1]  # an exact pair is not also a near one (0.65)
    assert df["exact_duplicate_group"].tolist() == [-1, -1, 0, 0]  # every image has its xxhash


def test_an_image_left_out_of_the_clusterer_has_no_cluster_cells() -> None:
    """An image with NaN pixels embeds to NaN and is left out of the Clusterer
    (``clusters["not_clustered"]``): its ``cluster_outliers`` read ``False`` (checked, not an
    outlier); it is missing now, like a failed input's."""
    from dataeval_gpu.audit import AuditReport

    report = AuditReport(
        index=np.arange(4),
        stats={"mean": np.array([0.1, 0.2, np.nan, 0.4])},
        clusters={"outliers": [3], "potential_outliers": [], "not_clustered": {2: "embedding not finite"}},
    )
    df = report.to_pandas()
    assert df["cluster_outliers"].tolist()[:2] == [False, False] and df["cluster_outliers"].tolist()[3] is True
    assert df["cluster_outliers"].isna().tolist() == [False, False, True, False]
    assert df["cluster_potential_outliers"].isna().tolist() == [False, False, True, False]
    # too few finite embeddings: the Clusterer did not run, so there is no cluster column at all
    report.clusters = {"not_clustered": {2: "embedding not finite"}}
    assert not [c for c in report.to_pandas().columns if c.startswith("cluster_")]


@pytest.mark.parametrize(
    ("labels", "want"),
    [([0, "cat", None], ["0", "cat", None]), ([[0, 1], [], 3], ["[0, 1]", "[]", "3"])],
)
def test_mixed_labels_are_written_to_parquet_as_text(tmp_path, labels, want) -> None:
    """Labels of mixed kinds (an int and a class name; object lists and a plain class) stopped
    ``save(formats=("parquet",))`` with ArrowInvalid ("Could not convert 'cat' with type str")
    after results.csv was written; the Parquet column holds them as text instead."""
    rng = np.random.default_rng(0)
    audit = DataAudit(quality=False)
    audit.update([rng.integers(0, 256, (3, 12, 12), dtype=np.uint8) for _ in range(3)], labels=labels)
    report = audit.compute()
    report.save(tmp_path, formats=("csv", "parquet", "json"))
    got = pd.read_parquet(tmp_path / "results.parquet")["label"].tolist()
    assert [None if g is None or g != g else g for g in got] == want
    assert report.to_pandas()["label"].tolist()[:2] == labels[:2]  # the table itself keeps the values
