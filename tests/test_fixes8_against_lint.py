"""``--against`` lints as the scan does.

* default preset: ``zero`` is judged per channel on its robust scale on both sides (before, the
  index's rows were read without ``channels``, so ``rare_against`` kept every Linter flag of
  ``zero``: 5 flagged against the index where the scan of the same images keeps 2);
* ``--preset dataeval-0.65``: the index's reference figures are over every value as 0.65 stores
  it, an inf included (a kurtosis over 65504 is inf in float16: 0.65's mean is inf, its std NaN,
  so with ``zscore`` it flags no image for kurtosis; the reference over the finite values alone
  flagged the spiked image).  Of the default Linter flags only an aspect ratio over 65504 can be
  inf; the test lints kurtosis too (``linter_flags``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataeval_gpu.detectors.linter import as_stored_by_065
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.index import DatasetIndex, scan_against, update_index

pytest.importorskip("pyarrow")
PIL = pytest.importorskip("PIL.Image")

KW = {"workers": 0, "progress": False, "device": "cpu"}


def _zero_folder(root: Path) -> list[str]:
    """40 noise images (every 4th grey), a share of their pixels black: 34 at 0.5-4 %, then 8, 10,
    12, 16, 30 and 60 %."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(3)
    shares = [*np.round(rng.uniform(0.005, 0.04, 34), 3), 0.08, 0.1, 0.12, 0.16, 0.3, 0.6]
    files = []
    for k, p in enumerate(shares):
        img = rng.integers(20, 230, (40, 40) if k % 4 == 0 else (40, 40, 3), dtype=np.uint8)
        flat = img.reshape(1600, -1)
        flat[rng.choice(1600, int(round(p * 1600)), replace=False)] = 0
        PIL.fromarray(img).save(root / f"im{k:02d}.png")
        files.append(str(root / f"im{k:02d}.png"))
    return files


def _named(report, issues, metric: str | None = None) -> dict[str, dict[str, float]]:
    return {Path(report.paths[i]).name: m for i, m in issues.items() if metric is None or metric in m}


def test_against_judges_zero_per_channel_as_the_scan(tmp_path: Path) -> None:
    files = _zero_folder(tmp_path / "data")
    own = update_index(tmp_path / "idx", files, **KW)  # the scan of these images
    again = scan_against(tmp_path / "idx", files, **KW)
    scanned = _named(own, own.issues, "zero")
    assert sorted(scanned) == ["im38.png", "im39.png"]  # 30 % and 60 %: far out per channel
    assert sorted(_named(again, again.against["outliers"], "zero")) == sorted(scanned)
    # every flag of the Linter alone (linear, not per channel) would be 5
    col = DatasetIndex(tmp_path / "idx").rows(["zero"])["zero"].astype(np.float64)
    dev = np.abs(col - np.median(col))
    assert int((0.6745 * dev / np.median(dev) > 3.5).sum()) == 5


def _kurtosis_folder(root: Path) -> list[str]:
    """20 noise images and one 320 x 320 black image with one white pixel (kurtosis ~ 102,400:
    inf in float16)."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(9)
    files = []
    for k in range(20):
        PIL.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(root / f"n{k:02d}.png")
        files.append(str(root / f"n{k:02d}.png"))
    spike = np.zeros((320, 320), dtype=np.uint8)
    spike[100, 100] = 255
    PIL.fromarray(spike).save(root / "spike.png")
    return [*files, str(root / "spike.png")]


@pytest.mark.parametrize("method", ["zscore", "modzscore"])
def test_against_065_keeps_infinite_values_as_065(tmp_path: Path, method: str) -> None:
    files = _kurtosis_folder(tmp_path / "data")
    flags = ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS | ImageStat.KURTOSIS  # kurtosis linted too
    kw = {**KW, "preset": "dataeval-0.65", "outlier_method": method, "linter_flags": flags}
    own = update_index(tmp_path / "idx", files, **kw)  # the 0.65 preset's scan of these images
    index = DatasetIndex(tmp_path / "idx")
    kurt = index.rows(["kurtosis"])["kurtosis"].astype(np.float64)
    assert kurt[-1] > 65504 and np.isinf(as_stored_by_065({"kurtosis": kurt})["kurtosis"][-1])
    again = scan_against(tmp_path / "idx", files, **kw)
    assert _named(again, again.against["outliers"]) == _named(own, own.issues)
    ref = index.reference_065["kurtosis"]
    assert ref["mean"] == np.inf and np.isnan(ref["std"])  # as 0.65's Linter computes them
    assert ref["median"] == pytest.approx(float(np.median(as_stored_by_065({"kurtosis": kurt})["kurtosis"])))
    spike_065 = _named(own, own.issues).get("spike.png", {})
    # 0.65 itself: with zscore every kurtosis score is NaN (nothing flagged for it); modzscore flags the inf
    assert ("kurtosis" in spike_065) == (method == "modzscore")
