"""Review of lint6's isolated sizes (``lint_rules.isolated_bounds``): a size exactly twice the next
counts as "twice or more" (it was lost to the logarithm's rounding for about one pair in six), and
a new image judged against a collection (``--against``) is isolated only twice beyond every indexed
image nearer the median, as in a scan of both (before: merely beyond the next one, as soon as the
collection held a far image of its own).  Expected values by hand (float64 numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from dataeval_gpu.audit.lint_rules import isolated_bounds, isolated_mask, rare_against, rare_outliers
from dataeval_gpu.detectors.linter import Linter, reference_summary
from dataeval_gpu.report.linter_ranges import against_ranges, scan_ranges


def _scan(w: np.ndarray) -> dict[int, dict[str, float]]:
    stats = {"width": w}
    return rare_outliers(Linter().evaluate_stats(stats).issues, stats)


def _against(new: np.ndarray, ref: np.ndarray) -> dict[int, dict[str, float]]:
    issues = Linter().evaluate_against({"width": new}, {"width": reference_summary(ref)}).issues
    return rare_against(issues, {"width": new}, {"width": ref})


def test_exactly_twice_the_next_is_isolated() -> None:
    # 98 widths from 10 to 100 px, then 200 px: exactly twice the next; log(200) - log(100) is 1 ulp
    # under log(2) after the median is taken off (by hand: -7.8e-16)
    w = np.array([*np.linspace(10.0, 100.0, 98), 200.0])
    t = np.log(w)
    med = np.median(t)
    assert (t[-1] - med) - (t[-2] - med) < np.log(2.0)  # the rounding the rule must not trip on
    assert isolated_mask(t).tolist() == [False] * 98 + [True]
    assert 98 in Linter().evaluate_stats({"width": w}).issues  # the Linter flags it (> 171.8 px)
    assert _scan(w) == {98: {"width": 200.0}}  # before: {}
    # a pixel less is not twice the next
    assert _scan(np.array([*np.linspace(10.0, 100.0, 98), 199.0])) == {}


@pytest.mark.parametrize("nxt", [100, 125, 138, 154, 512, 1000])
def test_every_exact_factor_two_counts(nxt: int) -> None:
    w = np.array([*np.linspace(10.0, nxt, 98), 2.0 * nxt])
    assert isolated_mask(np.log(w))[-1]
    ranges, _ = scan_ranges({"width": w}, ["width"])
    assert ranges["width"][1] < 2.0 * nxt  # the report's range shows it flagged


def _widths(*extra: float) -> np.ndarray:
    """30 widths even on the log scale from 16 to 1024 px, then ``extra``."""
    return np.array([*(16.0 * 64.0 ** (np.arange(30) / 29)), *extra])


def test_against_bound_is_twice_the_next_indexed() -> None:
    """Against a collection whose 4096 px image stands apart, a new image is isolated from twice
    1024 px (the largest of the rest) on, as in a scan of both, not from just over 1024 px."""
    ref = _widths(4096.0)
    low, high = isolated_bounds(np.log(ref))
    assert np.exp(high) == pytest.approx(2048.0, rel=1e-8)  # before: 1024
    assert np.exp(low) == pytest.approx(8.0, rel=1e-8)  # no gap below: half the smallest
    new = np.array([1100.0, 1900.0, 2047.0, 2048.0, 2100.0, 4096.0])
    assert sorted(_against(new, ref)) == [3, 4, 5]  # before: [0, 1, 2, 3, 4, 5]
    # the same new image in a scan of the collection with it
    for k, x in enumerate(new):
        in_scan = len(ref) in _scan(np.array([*ref, x]))
        assert in_scan == (k in _against(new, ref)), x
    # the range shown against the index is the flags
    ranges, _ = against_ranges({"width": reference_summary(ref)}, {"width": ref}, None)
    lo, hi = ranges["width"]
    assert [bool(x < lo or x > hi) for x in new] == [False, False, False, True, True, True]


def test_a_far_indexed_image_does_not_lower_the_bar() -> None:
    # without the 4096 px image, the same bound: twice the largest indexed one
    plain, far = _widths(), _widths(4096.0)
    new = np.array([1100.0, 1900.0, 2100.0])
    assert sorted(_against(new, plain)) == sorted(_against(new, far)) == [2]


def test_report_note_states_the_group_limit(tmp_path) -> None:
    """The report's note gave the isolated group's limit as "at most 1 % of the images beyond it":
    the group holds the image itself and has at least 2 (two of 32 images beyond a gap are kept)."""
    import html
    from pathlib import Path

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.report import write_report

    widths = [int(round(x)) for x in _widths(3000.0, 4096.0)]
    rng = np.random.default_rng(3)
    audit = DataAudit(device="cpu", hashes=False)
    audit.update([rng.integers(20, 230, (1, 8, w), dtype=np.uint8) for w in widths])
    report = audit.compute()
    assert sorted(i for i, m in report.issues.items() if "width" in m) == [30, 31]  # two of 32: 1 % < 1
    page = html.unescape(Path(write_report(report, tmp_path / "out")).read_text(encoding="utf-8"))
    note = page.split("Why: the range each metric leaves unflagged", 1)[1].split("</p>", 1)[0]
    assert "it and the images beyond it, at most 1 % of the images (at least 2)" in " ".join(note.split())


def test_a_size_is_judged_rare_once(monkeypatch) -> None:
    """``(far or isolated) and rare``: the rare part (two sorts and a search of every value, 2.6 s of
    CPU for 2 million images) is computed once per size metric, not once for each of the two."""
    import dataeval_gpu.audit.lint_rules as rules

    calls = []
    real = rules.rare_mask

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "rare_mask", counted)
    w = _widths(4096.0)
    issues = Linter().evaluate_stats({"width": w}).issues
    assert rules.rare_outliers(issues, {"width": w}) == {30: {"width": 4096.0}}
    assert len(calls) == 1
    calls.clear()
    new = np.array([1100.0, 2100.0])
    issues = Linter().evaluate_against({"width": new}, {"width": reference_summary(w)}).issues
    assert sorted(rules.rare_against(issues, {"width": new}, {"width": w})) == [1]
    assert len(calls) == 1
