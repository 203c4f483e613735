"""An index built with the quality metrics used by a --no-quality run (or the other way round):
a short, true message, not 24 metric names and "its rows cannot be mixed with this run's"."""

from __future__ import annotations

import pytest

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.index import IndexMismatchError
from dataeval_gpu.index.manifest import check_settings
from dataeval_gpu.index.reader import audit_settings


def _said(index_quality: bool, run_quality: bool) -> str:
    index = audit_settings(DataAudit(quality=index_quality))
    run = audit_settings(DataAudit(quality=run_quality))
    with pytest.raises(IndexMismatchError) as err:
        check_settings(index, run, "photos.idx")
    return str(err.value)


def test_index_with_quality_run_without() -> None:
    said = _said(True, False)
    assert said == (
        "the index in photos.idx was built with the quality metrics (and the central crops hashed with them) "
        "and this run measures without them (--no-quality, quality=False): run without --no-quality, or give another index folder"
    )


def test_index_without_quality_run_with() -> None:
    said = _said(False, True)
    assert said == (
        "the index in photos.idx was built without the quality metrics (--no-quality) and this run "
        "measures them (and the central crops hashed with them): add --no-quality (quality=False), or give another index folder"
    )


def test_index_with_quality_run_without_and_the_same_crops() -> None:
    index = audit_settings(DataAudit(quality=True))
    run = {**audit_settings(DataAudit(quality=False)), "near_crops": index["near_crops"]}
    with pytest.raises(IndexMismatchError) as err:
        check_settings(index, run, "idx")
    assert str(err.value).startswith("the index in idx was built with the quality metrics and this run measures")
    assert "colourfulness" not in str(err.value)


def test_other_differences_still_name_each_setting_without_claiming_rows_are_mixed() -> None:
    index = audit_settings(DataAudit(quality=True))
    run = {**audit_settings(DataAudit(quality=False)), "near_hash": "other"}
    with pytest.raises(IndexMismatchError) as err:
        check_settings(index, run, "idx")
    said = str(err.value)
    assert "metrics: only the index has [" in said and "near_hash: index " in said
    assert "mixed" not in said and "only the index has 24" not in said and said.endswith("use the same settings or a new index folder")
