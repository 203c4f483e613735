"""The scan's default rule on top of the Linter: on a degenerate metric (one value holding a third of
the images or more) a flag must also be rare; the 0.65 preset and the ``Linter`` stay 0.65's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.audit.lint_rules import degenerate, rare_against, rare_mask, rare_outliers
from dataeval_gpu.detectors.linter import Linter, outlier_mask
from dataeval_gpu.flags import ImageStat


def test_degenerate_is_a_mode_of_a_third() -> None:
    assert degenerate(np.array([1.0] * 34 + list(range(2, 68))))  # 34 of 100
    assert not degenerate(np.array([1.0] * 33 + list(range(2, 69))))  # 33 of 100
    assert not degenerate(np.arange(10.0))
    assert not degenerate(np.array([np.nan, np.nan]))


def test_rare_mask_hand_checked() -> None:
    # 60 at the mode 1, 30 at 2, one at 5, one at 6, one at 0.1, one at -9: n = 94, limit max(2, 4.7)
    v = np.array([1.0] * 60 + [2.0] * 30 + [5.0, 6.0, 0.1, -9.0])
    rare = rare_mask(v)
    assert not rare[:90].any()  # the mode; 30 values at 2 (a third of the images as far out)
    # 5: |w - 1| >= 0.9 * 4 above the median -> 5, 6: 2 <= 4.7; 6 likewise; below: 0.1 -> 0.1, -9
    assert rare[90:].tolist() == [True, True, True, True]
    # the neighbourhood: a value just past a cluster of 30 is not rare
    w = np.array([1.0] * 60 + [2.0] * 30 + [2.05])
    assert not rare_mask(w)[-1]
    # 5 % with at least 2: 3 equal off values of 40 are not rare, 2 are
    assert not rare_mask(np.array([0.0] * 37 + [1.0] * 3))[-1]
    assert rare_mask(np.array([0.0] * 38 + [1.0] * 2))[-1]


def test_point_mass_keeps_only_the_rare_flags() -> None:
    # depth: 85 % 8-bit, 13 % 16-bit, 2 % 32-bit; MAD 0, its fallback the mean deviation 1.52
    v = np.array([8.0] * 85 + [16.0] * 13 + [32.0] * 2)
    flagged = np.flatnonzero(outlier_mask(v, "modzscore"))
    assert flagged.tolist() == list(range(85, 100))  # 0.65 flags everything off the mode
    issues = {int(p): {"depth": float(v[p]), "brightness": 0.5} for p in flagged}
    out = rare_outliers(issues, {"depth": v, "brightness": np.linspace(0, 1, 100)})
    # 16: 15 of 100 images as far out (> 5); 32: 2
    assert {p: m for p, m in out.items() if "depth" in m} == {
        98: {"depth": 32.0},
        99: {"depth": 32.0},
    }
    # brightness is not degenerate: judged on its robust scale (lint5), where 0.5, the median of
    # linspace(0, 1), is neither far nor rare: its flags go, and with them the images left with none
    assert sorted(out) == [98, 99]
    assert rare_outliers({85: {"depth": 16.0}}, {"depth": v}) == {}


def test_a_ten_percent_cluster_is_not_rare_a_two_percent_one_is() -> None:
    """lint5: on a healthy metric too a flag must be rare (a tenth of the images dark is a group, which
    the quality issues' ``dark`` reports); 4 dark images of 184 (2 %) stay flagged."""
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0.5, 0.05, 180), rng.normal(0.05, 0.01, 20)])  # 10 % dark
    issues = Linter(flags=ImageStat.BRIGHTNESS).evaluate_stats({"brightness": v}).issues
    assert sorted(issues) == list(range(180, 200))
    assert rare_outliers(issues, {"brightness": v}) == {}
    w = v[:184]  # 4 dark: at most max(2, 0.05 * 184) = 9.2 as far out
    issues = Linter(flags=ImageStat.BRIGHTNESS).evaluate_stats({"brightness": w}).issues
    assert sorted(issues) == [180, 181, 182, 183]
    assert rare_outliers(issues, {"brightness": w}) == issues


def test_rare_against_uses_the_collection() -> None:
    ref = np.array([8.0] * 80 + [16.0] * 20)  # 20 % 16-bit in the index
    new = np.array([16.0, 32.0, 8.0])
    issues = {0: {"depth": 16.0}, 1: {"depth": 32.0}}
    assert rare_against(issues, {"depth": new}, {"depth": ref}) == {1: {"depth": 32.0}}
    healthy = np.linspace(0, 1, 100)
    assert rare_against(issues, {"depth": new}, {"depth": healthy}) == issues


def reports_by_preset(imgs: list[torch.Tensor]) -> dict[str, Any]:
    """The Linter's side of a scan of ``imgs`` under the default preset and ``dataeval-0.65``
    (no quality issues, no hashes): ``{preset: AuditReport}``."""
    reports = {}
    for preset in ("default", "dataeval-0.65"):
        audit = DataAudit(device="cpu", preset=preset, quality=False, hashes=False)
        audit.update(imgs)
        reports[preset] = audit.compute()
    return reports


def _images() -> list[torch.Tensor]:
    """87 square, 11 of aspect 2 and 2 of aspect 5: 8-row uint8 images of one random look."""
    rng = np.random.default_rng(1)
    widths = [8] * 87 + [16] * 11 + [40] * 2
    return [torch.from_numpy(rng.integers(90, 110, (3, 8, w), dtype=np.uint8)) for w in widths]


def test_scan_default_flags_rare_shapes_and_the_preset_stays_065() -> None:
    imgs = _images()
    reports = reports_by_preset(imgs)
    linter = Linter().evaluate(imgs).issues
    assert reports["dataeval-0.65"].issues == linter  # bit-identical to the guide API
    assert {p for p, m in linter.items() if "aspect_ratio" in m} == set(range(87, 100))
    default = reports["default"].issues
    assert {p for p, m in default.items() if "aspect_ratio" in m} == {98, 99}
    # the rule only takes flags away: every kept flag is the Linter's
    assert all(set(m) <= set(linter[p]) for p, m in default.items())  # (the Linter rounds as 0.65 stores)


def test_against_an_index_counts_the_indexed_images(tmp_path: Path) -> None:
    """``--against``: a new image of the index's common odd shape is not flagged for it (the default
    preset), one of a shape rare in the index is; the 0.65 preset flags both, as the Linter does."""
    from PIL import Image

    from dataeval_gpu.index import scan_against, update_index

    rng = np.random.default_rng(2)

    def save(folder: Path, name: str, width: int) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(90, 110, (16, width, 3), dtype=np.uint8)).save(folder / name)
        return str(folder / name)

    indexed = [save(tmp_path / "data", f"{i:02d}.png", 16 if i < 35 else 32) for i in range(40)]
    update_index(tmp_path / "idx", indexed, workers=0, progress=False)
    new = [save(tmp_path / "new", "wide2.png", 32), save(tmp_path / "new", "wide5.png", 80)]
    found = {}
    # the 0.65 preset with the index's row settings (its findings: the Linter's alone)
    rows = {"quality": True, "d4": True, "near_crops": (0.9, 0.8)}
    for preset in ("default", "dataeval-0.65"):
        kw = rows if preset != "default" else {}
        rep = scan_against(tmp_path / "idx", new, preset=preset, workers=0, progress=False, **kw)
        found[preset] = {
            Path(rep.paths[i]).name for i, m in rep.against["outliers"].items() if "aspect_ratio" in m
        }
    assert found == {"default": {"wide5.png"}, "dataeval-0.65": {"wide2.png", "wide5.png"}}


def test_missing_pixels_stay_flagged_however_common() -> None:
    v = np.array([0.0] * 80 + [0.25] * 20)  # 20 % of the images with NaN pixels
    issues = {p: {"missing": 0.25} for p in range(80, 100)}
    assert rare_outliers(issues, {"missing": v}) == issues
    assert rare_against(issues, {"missing": v}, {"missing": v}) == issues
