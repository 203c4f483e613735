"""Every Linter flag in the report has its reason and range, ``zero`` included where the images'
channel counts differ (grey, RGB and RGBA mixed): the default preset judges ``zero`` (zero pixel
values per pixel, over every channel) per channel, so its range depends on the image's count.  The
report's ranges table left ``zero`` out and the flagged-images table showed ``zero=2.7`` with no
reason; now a row per channel count and each image's own bound."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.report import write_report
from dataeval_gpu.report.linter_ranges import ranges_table, report_ranges_table

CHANNELS = [1, 3, 4]


def _images() -> list[np.ndarray]:
    """60 noise images 32 x 32 (levels 20-229), channels 1 / 3 / 4 in turn, a share of their
    pixels black in every channel 0.5-3 %; then image 60 (RGB) and 61 (grey) 90 % black."""
    rng = np.random.default_rng(6)
    images = []
    for k in range(62):
        c = CHANNELS[k % 3] if k < 60 else (3 if k == 60 else 1)
        img = rng.integers(20, 230, (c, 32, 32), dtype=np.uint8)
        share = 0.9 if k >= 60 else rng.uniform(0.005, 0.03)
        flat = img.reshape(c, -1)
        flat[:, rng.choice(1024, int(round(share * 1024)), replace=False)] = 0
        images.append(img)
    return images


def _cells(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


def _modz_high(t: np.ndarray) -> float:
    med = np.median(t)
    return float(med + 3.5 * np.median(np.abs(t - med)) / 0.6745)


def _zero_high(zero: np.ndarray, channels: np.ndarray, count: int) -> float:
    """The default preset's high bound of ``zero`` for an image of ``count`` channels, by hand: on
    arcsin(sqrt(zero / channels)) the outer of the modified z-score 3.5 and "at most 3 (5 % of 62)
    values as far out within 10 %" (the 4th furthest over 0.9), back to a share times ``count``; and
    at least the Linter's own bound (the modified z-score 3.5 of the linear values)."""
    s = np.arcsin(np.sqrt(zero / channels))
    rare = np.median(s) + np.sort(s - np.median(s))[::-1][3] / 0.9
    return max(_modz_high(zero), float(count * np.sin(max(_modz_high(s), rare)) ** 2))


@pytest.fixture(scope="module")
def report():
    audit = DataAudit(device="cpu", hashes=False)
    audit.update(_images())
    return audit.compute()


def test_zero_has_a_row_per_channel_count(report) -> None:
    stats = report.stats
    channels = np.asarray(stats["channels"])
    assert sorted(np.unique(channels).tolist()) == [1, 3, 4]
    zero_flagged = sorted(i for i, m in report.issues.items() if "zero" in m)
    assert zero_flagged == [60, 61]  # the two 90 % black images, grey and RGB
    zero = np.asarray(stats["zero"], dtype=np.float64)
    table = report_ranges_table(report, report.issue_values())
    assert "zero (1 channel)" in table.index and "zero (3 channels)" in table.index
    assert "zero (4 channels)" not in table.index  # none of them flagged
    assert table.loc["zero (3 channels)", "high"] == pytest.approx(_zero_high(zero, channels, 3), rel=1e-12)
    assert table.loc["zero (1 channel)", "high"] == pytest.approx(_zero_high(zero, channels, 1), rel=1e-12)
    assert table.loc["zero (3 channels)", "flagged above"] == 1 == table.loc["zero (1 channel)", "flagged above"]
    # 0.9 of the pixels black in all 3 channels: 2.7; the bound (by hand) lies under it, over the others
    assert 3 * 0.03 < table.loc["zero (3 channels)", "high"] < 2.7
    # without the channel counts, ranges_table gives the plain ranges only (as before)
    assert "zero (3 channels)" not in ranges_table({}, report.issue_values(), {3: (0.0, 1.0)})


def test_report_page_gives_every_flag_its_reason(report, tmp_path: Path) -> None:
    page = Path(write_report(report, tmp_path / "out")).read_text(encoding="utf-8")
    stats = report.stats
    channels = np.asarray(stats["channels"])
    zero = np.asarray(stats["zero"], dtype=np.float64)
    rows = {row[0]: row for row in _cells(page, "table-linter-ranges")[1:]}
    assert float(rows["zero (3 channels)"][3]) == pytest.approx(_zero_high(zero, channels, 3), rel=1e-3)
    assert float(rows["zero (1 channel)"][3]) == pytest.approx(_zero_high(zero, channels, 1), rel=1e-3)
    flagged = {int(row[0]): row[-1] for row in _cells(page, "table-flagged")[1:]}
    m60 = re.search(r"zero=2\.7\d* \(> ([0-9.]+)\)", flagged[60])
    m61 = re.search(r"zero=0\.9\d* \(> ([0-9.]+)\)", flagged[61])
    assert m60 and m61, flagged
    assert float(m60.group(1)) == pytest.approx(_zero_high(zero, channels, 3), rel=1e-3)
    assert float(m61.group(1)) == pytest.approx(_zero_high(zero, channels, 1), rel=1e-3)
    for i, text in flagged.items():  # every flagged value says which side of its range it lies on
        for part in text.split("), "):
            assert re.search(r"=\S+ \([<>] ", part), (i, part)
