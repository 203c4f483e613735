"""An index records the grey its near hashes read (luma13): one written before the D4 hashes read
BT.601 luma (no ``near_grey`` in its manifest: channel-mean hashes, crops and thumbnails) is refused
by every search and update with the way out, never compared with luma hashes; a DataEval 0.65
preset index of that age (the plain pchash, still the channel mean) keeps working."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.index import DatasetIndex, IndexMismatchError, against_index, save_index
from dataeval_gpu.index.manifest import check_settings, index_grey


def _images() -> torch.Tensor:
    return torch.randint(0, 256, (4, 3, 48, 48), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))


def _written_before_luma(folder) -> dict:
    """The index in ``folder`` as one written before the grey was recorded (the only manifest
    difference: no ``near_grey``)."""
    doc = json.loads((folder / "manifest.json").read_text())
    del doc["settings"]["near_grey"]
    (folder / "manifest.json").write_text(json.dumps(doc))
    return doc


def test_a_new_index_records_its_grey(tmp_path) -> None:
    audit = DataAudit(device="cpu")
    audit.update(_images())
    save_index(audit, tmp_path / "d4")
    assert DatasetIndex(tmp_path / "d4").settings["near_grey"] == "luma"
    old = DataAudit(device="cpu", preset="dataeval-0.65")
    old.update(_images())
    save_index(old, tmp_path / "p065")
    assert DatasetIndex(tmp_path / "p065").settings["near_grey"] == "mean"


def test_an_index_of_channel_mean_d4_hashes_is_refused_with_the_way_out(tmp_path) -> None:
    audit = DataAudit(device="cpu")
    audit.update(_images())
    save_index(audit, tmp_path / "idx")
    _written_before_luma(tmp_path / "idx")
    index = DatasetIndex(tmp_path / "idx")
    assert index_grey(index.settings) == "mean"
    for refused in (lambda: index.report(), lambda: against_index(audit, index), lambda: save_index(audit, tmp_path / "idx")):
        with pytest.raises(IndexMismatchError) as err:
            refused()
        said = str(err.value)
        assert "channel mean" in said and "BT.601 luma" in said and "'pchash_d4'" in said
        assert "rebuild it (scan its files again with --index NEW_FOLDER" in said


def test_a_065_preset_index_of_that_age_still_works(tmp_path) -> None:
    """Its hashes are the plain pchash of the channel mean, as this version's: searched as before."""
    audit = DataAudit(device="cpu", preset="dataeval-0.65")
    imgs = _images()
    audit.update(imgs)
    save_index(audit, tmp_path / "idx")
    _written_before_luma(tmp_path / "idx")
    index = DatasetIndex(tmp_path / "idx")
    report = index.report(preset="dataeval-0.65")
    assert report.config["index"] == str(tmp_path / "idx")
    again = DataAudit(device="cpu", preset="dataeval-0.65")
    again.update(imgs[:2])
    found = against_index(again, index)
    exact = sorted((int(m["image"]), int(m["partner"])) for m in found.against["matches"] if "exact" in m["methods"])
    assert exact == [(0, 0), (1, 1)]


def test_check_settings_reads_a_missing_grey_as_the_mean() -> None:
    base = {"metric_digest": "a", "hashes": True, "near_hash": "pchash_d4"}
    check_settings({**base, "near_grey": "luma"}, {**base, "near_grey": "luma"}, "idx")
    check_settings({**base, "near_hash": "pchash"}, {**base, "near_hash": "pchash", "near_grey": "mean"}, "idx")
    with pytest.raises(IndexMismatchError, match="channel mean"):
        check_settings(base, {**base, "near_grey": "luma"}, "idx")
    assert index_grey({"hashes": False, "near_hash": None}) is None
    assert np.array_equal([index_grey({"near_hash": "dhash_d4"})], ["mean"])


def test_a_checkpoint_of_channel_mean_d4_hashes_is_refused() -> None:
    """A scan's checkpoint saved before the grey was recorded (D4 hashes of the mean) is not resumed
    into a luma scan (its rows' hashes would be compared with the new ones); a 0.65 one is."""
    from dataeval_gpu.audit import CheckpointMismatchError

    audit = DataAudit(device="cpu")
    audit.update(_images())
    st = audit.state()
    assert st["near_grey"] == "luma"
    DataAudit(device="cpu").load_state(st)
    del st["near_grey"]
    with pytest.raises(CheckpointMismatchError, match="delete it and scan again"):
        DataAudit(device="cpu").load_state(st)
    old = DataAudit(device="cpu", preset="dataeval-0.65")
    old.update(_images())
    st = old.state()
    del st["near_grey"]
    again = DataAudit(device="cpu", preset="dataeval-0.65")
    again.load_state(st)
    assert len(again.compute().duplicates["exact"]) == 0


def test_against_report_refuses_an_index_of_channel_mean_d4_hashes(tmp_path) -> None:
    """review19: ``against_report`` (the Lightning callback's ``against_index``) checked the hash's
    name only: a report of luma D4 hashes was searched against an index of channel-mean D4 hashes
    of the same name.  The new index still answers (its copies found by their exact hashes)."""
    imgs = _images()
    audit = DataAudit(device="cpu")
    audit.update(imgs)
    save_index(audit, tmp_path / "idx")
    query = DataAudit(device="cpu")
    query.update(imgs[:2])
    report = query.compute()
    from dataeval_gpu.index import against_report

    against_report(report, tmp_path / "idx")
    exact = sorted((int(m["image"]), int(m["partner"])) for m in report.against["matches"] if "exact" in m["methods"])
    assert exact == [(0, 0), (1, 1)]
    _written_before_luma(tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match=r"'pchash_d4' hashes of the mean grey image .* rebuild the index"):
        against_report(report, tmp_path / "idx")
