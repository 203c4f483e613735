"""The off-centre crop search's plan is a run fact (scalevis16): above ~20,000 searched images
(:data:`~dataeval_gpu.functional.hashing.block_search.EXACT_REFS` distinct references) the search runs
the rotated 32-bit block plan, exact only up to 5 bits; the scan records which plan ran and what it
means in ``config.json``'s ``crop_search``, the summary (``summary.json`` / ``results.json``, the
printout's summary line) and the report's duplicates section.  The threshold is forced low here."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors.window_pairs import CROP_PLAN_NOTES
from dataeval_gpu.functional.hashing import block_search

skdata = pytest.importorskip("skimage.data")

NAMES = ("astronaut", "chelsea", "coffee", "rocket")


def _images() -> list[torch.Tensor]:
    pics = [np.ascontiguousarray(getattr(skdata, n)()[..., :3]) for n in NAMES]
    h, w = pics[0].shape[:2]  # the astronaut's 80 % crop off the centre: the search has a pair to find
    y0, x0 = round(0.2 * h * 0.63), round(0.2 * w * 0.12)
    pics.append(np.ascontiguousarray(pics[0][y0 : y0 + round(0.8 * h), x0 : x0 + round(0.8 * w)]))
    return [torch.from_numpy(p).permute(2, 0, 1) for p in pics]


@pytest.fixture(scope="module")
def audit() -> DataAudit:
    fed = DataAudit()
    fed.update(_images())
    return fed


def _report(audit: DataAudit, monkeypatch: pytest.MonkeyPatch, refs: int) -> object:
    monkeypatch.setattr(block_search, "EXACT_REFS", refs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the rotated plan's warning (said in the results)
        return audit.compute()


def test_rotated_plan_is_recorded_in_config_summary_and_report(audit, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    report = _report(audit, monkeypatch, 3)  # 5 photos, each a plain and a mirrored pHash: 10 references > 3
    crop = report.config["crop_search"]
    assert crop == {
        "plan": "rotated", "images": 5, "references": 10, "partial": True, "note": CROP_PLAN_NOTES["rotated"],
    }  # fmt: skip
    assert "crop matches at 6-8 bits are partial" in crop["note"]
    s = report.summary_dict()
    assert s["crop_search_plan"] == "rotated" and s["crop_search_note"] == CROP_PLAN_NOTES["rotated"]
    assert f"near duplicates: {CROP_PLAN_NOTES['rotated']}" in report.summary().splitlines()
    report.save(tmp_path, formats=("json",))
    assert json.loads((tmp_path / "config.json").read_text())["crop_search"]["plan"] == "rotated"
    assert json.loads((tmp_path / "summary.json").read_text())["crop_search_plan"] == "rotated"
    assert json.loads((tmp_path / "results.json").read_text())["summary"]["crop_search_plan"] == "rotated"
    from dataeval_gpu.report import write_report

    html = write_report(report, tmp_path).read_text()
    assert 'id="crop-search-partial"' in html and "crop matches at 6-8 bits are partial" in html


def test_exact_plan_is_recorded_without_a_note_in_the_summary(audit, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    report = _report(audit, monkeypatch, 10)  # 10 references: the exact plan (up to EXACT_REFS inclusive)
    crop = report.config["crop_search"]
    assert (crop["plan"], crop["images"], crop["references"], crop["partial"]) == ("exact", 5, 10, False)
    assert report.summary_dict()["crop_search_plan"] == "exact"
    assert "partial" not in report.summary()
    from dataeval_gpu.report import write_report

    assert "crop-search-partial" not in write_report(report, tmp_path).read_text()


def test_no_crop_search_no_fact() -> None:
    audit = DataAudit(preset="dataeval-0.65")  # no D4 hashes: no window search
    audit.update(_images())
    report = audit.compute()
    assert "crop_search" not in report.config
    assert report.summary_dict()["crop_search_plan"] is None
