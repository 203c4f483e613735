"""The default preset's "far out" follows the user's modified z-score threshold everywhere it is
judged (review14 made the scan's rule take it): the ranges the printout and report show, and
``--against``, which still judged at 3.5 and showed the 3.5 bounds."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit.files import scan_files
from dataeval_gpu.cli_index import index_lines
from dataeval_gpu.cli_print import flagged_lines
from dataeval_gpu.index import scan_against, update_index
from dataeval_gpu.report.linter_ranges import scan_ranges
from tests.test_fixes8_lint_ranges import (
    folder,  # noqa: F401 (the fixture: 48 images, heavy tails)
    ranges_are_the_flags,
)

KW = {"workers": 0, "progress": False, "device": "cpu", "outlier_threshold": 2.0}


@pytest.fixture(scope="module")
def widths(tmp_path_factory) -> list[str]:
    """120 noise images 16 px high, widths log-normal: enough images that the rarity rule (at most
    6 a side) leaves the modified z-score to decide."""
    from PIL import Image

    root = tmp_path_factory.mktemp("widths")
    rng = np.random.default_rng(7)
    files = []
    for k, w in enumerate(np.round(np.exp(rng.normal(4.0, 0.35, 120))).astype(int)):
        Image.fromarray(rng.integers(40, 200, (16, int(w), 3), dtype=np.uint8)).save(root / f"w{k:03d}.png")
        files.append(str(root / f"w{k:03d}.png"))
    return files


def test_far_bound_by_hand() -> None:
    """The width range at modified z-score 2 and at the default, by hand (log scale)."""
    t = np.random.default_rng(3).normal(4.0, 0.35, 200)
    stats = {"width": np.exp(t)}
    med, mad = np.median(t), np.median(np.abs(t - np.median(t)))
    rare = med + max(np.sort(t - med)[::-1][10] / 0.9, 0.0)  # 5 % of 200: the 11th furthest / 0.9
    for threshold, z in ((2.0, 2.0), (None, 3.5)):
        want = np.exp(max(med + z * mad / 0.6745, rare))
        assert scan_ranges(stats, ["width"], "modzscore", threshold)[0]["width"][1] == pytest.approx(want, rel=1e-12)
    assert scan_ranges(stats, ["width"], "modzscore", 2.0)[0] != scan_ranges(stats, ["width"], "modzscore", None)[0]


def test_shown_ranges_are_the_flags_at_a_lower_threshold(folder: list[str]) -> None:  # noqa: F811
    rep = scan_files(folder, **KW)
    stats, flags = rep.stats, rep.config["linter_flags"]
    ranges, zero = scan_ranges(stats, flags, "modzscore", 2.0)
    assert ranges_are_the_flags(rep, ranges, zero) > 300
    # width by hand: log scale, modified z-score 2 vs the rare bound (the 3rd furthest / 0.9)
    t = np.log(np.asarray(stats["width"], dtype=np.float64))
    med = np.median(t)
    far = med + 2.0 * np.median(np.abs(t - med)) / 0.6745
    rare = med + max(np.sort(t - med)[::-1][2] / 0.9, 0.0)
    assert ranges["width"][1] == pytest.approx(np.exp(max(far, rare)), rel=1e-12)


def test_against_judges_far_at_the_users_threshold(widths: list[str], tmp_path: Path) -> None:
    own = update_index(tmp_path / "idx", widths, **KW)
    again = scan_against(tmp_path / "idx", widths, **KW)
    base = scan_files(widths, **{**KW, "outlier_threshold": None})
    assert sum(len(v) for v in own.issues.values()) > sum(len(v) for v in base.issues.values())
    assert {int(i): set(m) for i, m in again.against["outliers"].items()} == {
        int(i): set(m) for i, m in own.issues.items()
    }
    printed = "\n".join(flagged_lines(own)).split("quality issues")[0]
    scan_why = {m.group(1): m.group(2) for m in re.finditer(r"(w\d{3}\.png) +(.*)", printed)}
    against_why = {
        m.group(1): m.group(2)
        for m in re.finditer(r"\d+:(w\d{3}\.png): (.*)", "\n".join(index_lines(again)).split("quality issues")[0])
    }
    assert against_why == scan_why and scan_why
