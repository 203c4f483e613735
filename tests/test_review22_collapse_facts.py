"""review22: dedup16's ``collapse`` (identical images searched as at most two) and scalevis16's
``facts`` (the off-centre crop search's plan) merged in ``hash_groups``: with copies in the set the
collapsed branch runs and still records the plan the search ran."""

from __future__ import annotations

import warnings

import pytest

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors.window_pairs import CROP_PLAN_NOTES
from dataeval_gpu.functional.hashing import block_search
from tests.test_scalevis16_crop_plan import _images

pytest.importorskip("skimage.data")


def test_rotated_plan_recorded_when_identical_images_are_collapsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five photos (the astronaut, its 80 % crop, three others) and two more copies of the
    astronaut: the three copies are searched as two, so 6 of the 7 images reach the crop search
    (the collapsed branch of ``hash_groups``); their plain and mirrored pHashes are 10 distinct
    references > 3: the rotated plan, recorded in config.json's ``crop_search``."""
    imgs = _images()
    audit = DataAudit()
    audit.update([*imgs, imgs[0].clone(), imgs[0].clone()])
    monkeypatch.setattr(block_search, "EXACT_REFS", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the rotated plan's warning (said in the results)
        report = audit.compute()
    assert report.config["crop_search"] == {
        "plan": "rotated", "images": 6, "references": 10, "partial": True, "note": CROP_PLAN_NOTES["rotated"],
    }  # fmt: skip
    assert report.summary_dict()["crop_search_plan"] == "rotated"
