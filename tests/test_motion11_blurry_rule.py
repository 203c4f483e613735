"""motion11: the ``blurry`` rule's motion term - ``motion_ratio`` with its energy, ratio and
visible-pixel floors - and its reason, in ``QualityIssues`` and the scan."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from dataeval_gpu.detectors.quality import (
    DEFAULT_THRESHOLDS,
    MOTION_JUDGE_SIDE,
    MOTION_MIN_ENERGY,
    MOTION_MIN_RATIO,
    MOTION_OFFSET,
    OPTIONAL_KEYS,
    QualityIssues,
    issue_scores,
    motion_blurred,
)
from dataeval_gpu.functional.quality import QUALITY_KEYS
from dataeval_gpu.functional.quality_motion import MOTION_KEYS

from .test_motion11_motion_metric import line_blur, sample


def _metrics(**motion: float) -> dict[str, np.ndarray]:
    """One sharp 640 x 480 image's metrics with the given motion keys."""
    m = {k: np.array([0.8]) for k in QUALITY_KEYS if k not in MOTION_KEYS}
    m.update(width=np.array([640.0]), height=np.array([480.0]), channels=np.array([3.0]), opacity=np.array([1.0]))
    m.update({k: np.array([v]) for k, v in motion.items()})
    return m


def test_blurry_rule_reads_the_motion_ratio_with_its_energy_floor() -> None:
    """``blurry`` scores ``1 - (motion_ratio + MOTION_OFFSET)`` where ``motion_energy`` is at least
    the floor: ratio 0.41 flagged (0.42 is the bar), 0.43 not; under the floor, or from metrics
    gathered without the keys, the score is the isotropic one (0.2) as before."""
    t = DEFAULT_THRESHOLDS["blurry"]
    assert 1.0 - t - MOTION_OFFSET == pytest.approx(0.42)
    assert set(MOTION_KEYS) <= set(OPTIONAL_KEYS) and MOTION_JUDGE_SIDE == 128
    cases = [
        (0.41, 20.0, True), (0.43, 20.0, False), (0.41, MOTION_MIN_ENERGY - 0.1, False), (MOTION_MIN_RATIO, 16.0, True),
        (MOTION_MIN_RATIO - 0.01, 30.0, False),  # no fine detail at all along it: a design
    ]  # fmt: skip
    for ratio, energy, flagged in cases:
        m = _metrics(motion_ratio=ratio, motion_energy=energy, motion_angle=90.0)
        s = issue_scores(m)[0]["blurry"][0]
        judged = energy >= MOTION_MIN_ENERGY and ratio >= MOTION_MIN_RATIO
        want = 1.0 - ratio - MOTION_OFFSET if judged else 0.2
        assert s == pytest.approx(want)
        assert bool(QualityIssues(issues=["blurry"]).evaluate(m).flags["blurry"][0]) is flagged
        assert bool(motion_blurred(m, t)[0]) is flagged
    assert issue_scores(_metrics())[0]["blurry"][0] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("opacity", "side", "flagged"),
    [(1.0, 128, True), (1.0, 127, False), (0.5, 200, True), (0.4, 200, False), (0.98, 128, False)],
)
def test_blurry_motion_term_needs_a_side_and_visible_pixels(opacity, side, flagged) -> None:
    """The motion term is judged on images of 128 px a side or more, with transparent parts only
    with at least 128² visible pixels (a sprite's outline on the backdrop is a design): an opaque
    128 px image yes, 127 px no; 0.5 x 200² = 20,000 yes, 0.4 x 200² = 16,000 and 0.98 x 128² no."""
    m = _metrics(motion_ratio=0.3, motion_energy=100.0, motion_angle=0.0)
    m.update(opacity=np.array([opacity]), width=np.array([float(side)]), height=np.array([float(side)]))
    assert bool(QualityIssues(issues=["blurry"]).evaluate(m).flags["blurry"][0]) is flagged


def test_reason_says_motion_blur_and_its_direction() -> None:
    """A 9-px horizontal / vertical blur of a photo, which the isotropic ratios do not flag, is
    ``blurry`` with a reason naming motion blur and its direction; the photo is not flagged."""
    pic = sample("skimage_astronaut")
    imgs = [pic, line_blur(pic, 9, 0), line_blur(pic, 9, 90)]
    out = QualityIssues(issues=["blurry"]).evaluate(imgs)
    assert out.flags["blurry"].tolist() == [False, True, True]
    iso = {k: v for k, v in out.metrics.items() if k not in MOTION_KEYS}
    assert QualityIssues(issues=["blurry"]).evaluate(iso).flags["blurry"].tolist() == [False] * 3  # before
    assert out.why(1)[0].startswith("blurry: motion blur along the rows (horizontal, 0°): fine detail along it 0.379")
    assert out.why(2)[0].startswith("blurry: motion blur along the columns (vertical, 90°)")
    assert "under 0.42; score" in out.why(2)[0]


def test_the_scan_gathers_the_motion_metrics_through_the_registry(tmp_path, capsys) -> None:
    """``dataeval-gpu scan``: results.csv holds the motion columns (the values ``QualityIssues``
    measures) and flags the blurred copy ``blurry`` with the motion reason in findings.json."""
    from PIL import Image

    from dataeval_gpu.cli import main

    pic = sample("skimage_astronaut")
    imgs = [pic, line_blur(pic, 9, 0), sample("skimage_chelsea")]
    (tmp_path / "images").mkdir()
    for i, im in enumerate(imgs):
        Image.fromarray(im.transpose(1, 2, 0)).save(tmp_path / "images" / f"im{i}.png")
    direct = QualityIssues().evaluate(imgs)
    out = tmp_path / "o"
    status = main(["scan", str(tmp_path / "images"), "--out", str(out), "--no-plots", "--no-progress", "--workers", "0"])
    assert status == 0, capsys.readouterr().err
    with open(out / "results.csv", newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["path"])
    for key in MOTION_KEYS:
        assert [float(r[key]) for r in rows] == pytest.approx(direct.metrics[key].tolist(), rel=1e-6)
    assert [r["is_blurry_issue"] == "True" for r in rows] == [False, True, False]
    assert "motion blur along the rows" in json.dumps(json.loads((out / "findings.json").read_text()))
