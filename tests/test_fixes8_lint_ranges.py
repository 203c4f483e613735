"""The range printed with a Linter flag (``width=1300 (> 383.8)``) is the one the flags lie outside.

The default preset keeps a Linter flag only when the value is also far out and rare on the metric's
robust scale (``audit/lint_rules.py``); the printout and the report showed the Linter's linear range
alone, e.g. on the photos ``zero=2.24 (> 0.08042)`` while images at 0.3 were not flagged.  Each
part of the rule is a bound on each side, so the range shown is the outermost of them, converted
back to the metric's values (``report/linter_ranges.scan_ranges``); ``zero`` per channel count.
``--preset dataeval-0.65`` keeps 0.65's linear range."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dataeval_gpu.audit import scan_files
from dataeval_gpu.audit.lint_rules import GAP_TIE
from dataeval_gpu.cli_index import index_lines
from dataeval_gpu.cli_print import flagged_lines
from dataeval_gpu.index import scan_against, update_index
from dataeval_gpu.report.linter_ranges import linter_ranges, report_ranges, scan_ranges

PIL = pytest.importorskip("PIL.Image")
KW = {"workers": 0, "progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> list[str]:
    """48 noise images 48 px high: widths log-normal (20-184 px) then 900 and 1300 px; a share of
    black pixels 0.5-4 %, then 8, 10, 12, 16, 30, 60 %; every 4th grey (1 channel)."""
    root = tmp_path_factory.mktemp("ranges")
    rng = np.random.default_rng(4)
    n = 48
    widths = np.clip(np.round(np.exp(rng.normal(4.2, 0.45, n))), 24, 600).astype(int)
    widths[-3:] = [900, 1300, 20]
    shares = [*np.round(rng.uniform(0.005, 0.04, n - 6), 3), 0.08, 0.1, 0.12, 0.16, 0.3, 0.6]
    files = []
    for k, (w, p) in enumerate(zip(widths, shares)):
        img = rng.integers(20, 230, (48, w) if k % 4 == 1 else (48, w, 3), dtype=np.uint8)
        flat = img.reshape(48 * w, -1)
        flat[rng.choice(48 * w, int(round(p * 48 * w)), replace=False)] = 0
        PIL.fromarray(img).save(root / f"im{k:02d}.png")
        files.append(str(root / f"im{k:02d}.png"))
    return files


def ranges_are_the_flags(rep: Any, ranges: dict, zero: dict) -> int:
    """Assert that every image of ``rep`` is flagged on a linted metric exactly when its value lies
    outside the metric's range (``zero``: its channel count's); the number of values checked."""
    stats, channels = rep.stats, np.asarray(rep.stats["channels"])
    checked = 0
    for m in rep.config["linter_flags"]:
        col = np.asarray(stats[m], dtype=np.float64)
        for k, i in enumerate(rep.index.tolist()):
            bounds = zero.get(int(channels[k])) if m == "zero" else ranges.get(m)
            if bounds is None:
                assert m not in rep.issues.get(int(i), {})
                continue
            outside = col[k] < bounds[0] or col[k] > bounds[1]
            assert outside == (m in rep.issues.get(int(i), {})), (m, i, col[k], bounds)
            checked += 1
    return checked


def _modz_bound(t: np.ndarray) -> float:
    """The high bound of the modified z-score 3.5 (float64, by hand)."""
    med = np.median(t)
    return float(med + 3.5 * np.median(np.abs(t - med)) / 0.6745)


def _rare_bound(t: np.ndarray) -> float:
    """The high bound of "at most max(2, 5 % of n) values as far out (within 10 %)": the third
    furthest distance over 0.9, by hand (n = 48: at most 2)."""
    med = np.median(t)
    return float(med + max(np.sort(t - med)[::-1][2] / 0.9, 0.0))


def test_default_ranges_are_the_flags(folder: list[str]) -> None:
    rep = scan_files(folder, **KW)
    stats, flags = rep.stats, rep.config["linter_flags"]
    ranges, zero = scan_ranges(stats, flags)
    channels = np.asarray(stats["channels"])
    assert sorted(zero) == [1, 3] and "zero" not in ranges  # mixed channel counts: zero's per count
    assert ranges_are_the_flags(rep, ranges, zero) > 300
    # the figures by hand: width on the log scale, zero per channel on the arcsine square root
    t = np.log(np.asarray(stats["width"], dtype=np.float64))
    # (lint6: a size may instead be isolated, a factor 2 beyond every image nearer the median: 900 and
    # 1300 px lie beyond 184 px, the widest of the rest; review15: the bound twice that, 368 px (less
    # GAP_TIE on the log scale); the bound the outer of that and the rare one)
    assert sorted(stats["width"])[-3] == 184
    assert ranges["width"][1] == pytest.approx(
        np.exp(max(min(_modz_bound(t), np.log(2 * 184.0) - GAP_TIE), _rare_bound(t))), rel=1e-12
    )
    share = np.asarray(stats["zero"], dtype=np.float64) / channels
    s = np.arcsin(np.sqrt(share))
    assert zero[3][1] == pytest.approx(3 * np.sin(max(_modz_bound(s), _rare_bound(s))) ** 2, rel=1e-12)
    # before: the Linter's linear bound, under unflagged images' values
    linear = linter_ranges(stats, ["zero"])["zero"][1]
    unflagged = [v for k, v in enumerate(stats["zero"]) if "zero" not in rep.issues.get(int(rep.index[k]), {})]
    assert linear < max(unflagged) < zero[3][1]
    lines = "\n".join(flagged_lines(rep))
    assert re.search(r"im45\.png +width=900 \(> 368\), size=43200 \(> \d+\)", lines)
    assert f"zero=1.8 (> {zero[3][1]:.4g})" in lines  # im47, RGB, 60 % black
    assert report_ranges(rep) == ranges


def test_065_ranges_stay_the_linters(folder: list[str]) -> None:
    rep = scan_files(folder, preset="dataeval-0.65", **KW)
    ranges = linter_ranges(rep.stats, rep.config["linter_flags"])
    assert report_ranges(rep) == ranges
    assert "zero" in ranges
    lines = "\n".join(flagged_lines(rep))
    assert f"(> {ranges['zero'][1]:.4g})" in lines  # the Linter's own bound


def test_against_prints_the_scans_ranges(folder: list[str], tmp_path: Path) -> None:
    own = update_index(tmp_path / "idx", folder, **KW)
    again = scan_against(tmp_path / "idx", folder, **KW)
    printed = "\n".join(flagged_lines(own)).split("quality issues")[0]
    scan_why = {m.group(1): m.group(2) for m in re.finditer(r"(im\d\d\.png) +(.*)", printed)}
    against_why = {
        m.group(1): m.group(2)
        for m in re.finditer(r"\d+:(im\d\d\.png): (.*)", "\n".join(index_lines(again)).split("quality issues")[0])
    }
    assert against_why == scan_why  # the same images and distribution: the same flags, values and ranges
    _, zero = scan_ranges(own.stats, own.config["linter_flags"])
    assert f"zero=1.8 (> {zero[3][1]:.4g})" in against_why["im47.png"]  # the rule's bound, not the Linter's
    shown = {m for found in again.against["outliers"].values() for m in found}
    assert set(again.against["ranges"]) == shown - {"zero"} and sorted(again.against["ranges_zero"]) == [1, 3]
