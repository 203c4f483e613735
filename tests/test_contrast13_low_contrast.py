"""contrast13 (2026-12-07): ``low_contrast`` - a picture whose tones are squeezed into a narrow band
(``grey_p99 - grey_p01`` under 0.45 and under 65 % of the collection's typical range, its lower
quartile) that reaches neither black nor white, fills the levels of its band and is not colourful,
in a collection whose typical range is at least 0.6; recall12's survey: contrast 0.5 / 0.3 and
hazy copies 0 / 42 flagged before.  Pale or flat designs (a document or logo on white, a star
field on black, a two-tone texture, anything with transparent parts) are not judged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dataeval_gpu.cli_options import QUALITY_ISSUES
from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, ISSUES, QualityIssues
from dataeval_gpu.detectors.quality_contrast_rules import (
    CONTRAST_ANCHOR_HIGH,
    CONTRAST_ANCHOR_LOW,
    CONTRAST_COLOURFUL,
    CONTRAST_FILL_MIN,
    CONTRAST_GRAIN_MAX,
    CONTRAST_RANGE_MAX,
    CONTRAST_TYPICAL_MIN,
    contrast_judged,
    low_contrast_score,
    range_fill,
    typical_range,
)
from dataeval_gpu.index.quality_ref import against_quality, quality_reference


def _contrast(photo: np.ndarray, c: float) -> np.ndarray:
    """recall12's plant: every level moved towards the image's mean level by ``c``, rounded."""
    a = photo.astype(np.float64)
    return np.clip(np.round((a - a.mean()) * c + a.mean()), 0, 255).astype(np.uint8)


def _hazy(photo: np.ndarray) -> np.ndarray:
    """recall12's haze: ``0.45 x + 0.55 x 215``, rounded."""
    return np.clip(np.round(photo.astype(np.float64) * 0.45 + 0.55 * 215.0), 0, 255).astype(np.uint8)


def _level(values: np.ndarray, share: float) -> float:
    """The lowest 8-bit level whose cumulative share of ``values`` reaches ``share``, / 255."""
    counts = np.bincount(values.ravel().astype(np.int64), minlength=256)
    return float(np.searchsorted(np.cumsum(counts), share * values.size - 1e-9 * values.size)) / 255.0


def _reference(image: np.ndarray) -> tuple[float, float, float, float]:
    """Independent float64 figures of an opaque CHW uint8 RGB image from its 256-level luma
    (``round((299 R + 587 G + 114 B) / 1000)``, ties to even): ``grey_p01``, ``grey_p99``, the range
    fill (the luma's entropy over ``log2`` of the levels of ``round(255 · (p99 - p01)) + 1``) and the
    Hasler-Süsstrunk colourfulness."""
    rgb = image.astype(np.int64)
    luma = np.round((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000.0).astype(np.int64)
    p01, p99 = _level(luma, 0.01), _level(luma, 0.99)
    p = np.bincount(luma.ravel(), minlength=256) / luma.size
    p = p[p > 0]
    entropy = float(-(p * np.log2(p)).sum())
    f = image.astype(np.float64)
    rg, yb = f[0] - f[1], (f[0] + f[1]) / 2 - f[2]
    colour = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    return p01, p99, entropy / max(math.log2(round(255 * (p99 - p01)) + 1), 1.0), colour


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """100 real photos and crops of them, 64-256 px a side (CHW uint8, 1 and 3 channels)."""
    from dataeval_gpu.datasets import photo_collection

    return photo_collection(100, seed=11, min_side=64, max_side=256)


def _wide_photos(photos: list[np.ndarray], n: int) -> list[np.ndarray]:
    """``n`` real colour photos (at least 64 px a side) whose own tones span black to white (range
    at least 0.7 by the reference): photos of normal contrast."""
    out = []
    for p in photos:
        if p.shape[0] != 3 or min(p.shape[1:]) < 64:
            continue
        p01, p99, _, _ = _reference(p)
        if p99 - p01 >= 0.7:
            out.append(np.ascontiguousarray(p))
    if len(out) < n:
        pytest.skip("too few colour photos of normal contrast in the bundled collection")
    return out[:n]


def test_issue_is_registered_everywhere() -> None:
    """One name in the issue list, the CLI's list and the defaults."""
    assert "low_contrast" in ISSUES and tuple(QUALITY_ISSUES) == tuple(ISSUES)
    assert DEFAULT_THRESHOLDS["low_contrast"] == 0.35


def test_rule_hand_checked() -> None:
    """Row by row, typical range 0.8: a squeezed picture (range 0.2 = 51 levels, 5.5 bits of
    log2(52) = 5.70: fill 0.965) -> score 0.75; range at the ceiling 0.45 -> 0; white reached
    (p99 0.96) -> 0; black reached (p01 0.04) -> 0; few tones (2 bits) -> 0; transparent parts ->
    0; colourful (45) -> 0; a range of 0.44 scores 0.45; grain (fine_sharpness 1.3) -> 0.  A
    typical range under 0.6: nothing."""
    p01 = np.array([0.4, 0.3, 0.76, CONTRAST_ANCHOR_LOW, 0.4, 0.4, 0.4, 0.3, 0.4])
    p99 = np.array([0.6, 0.3 + CONTRAST_RANGE_MAX, CONTRAST_ANCHOR_HIGH, 0.24, 0.6, 0.6, 0.6, 0.74, 0.6])
    m = {
        "grey_p01": p01,
        "grey_p99": p99,
        "grey_entropy": np.array([5.5, 6.5, 5.5, 5.5, 2.0, 5.5, 5.5, 6.5, 5.5]),
        "opacity": np.array([1, 1, 1, 1, 1, 0.98, 1, 1, 1.0]),
        "colourfulness": np.array([10, 10, 10, 10, 10, 10, CONTRAST_COLOURFUL, 44.9, 10]),
        "fine_sharpness": np.array([0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 1.29, CONTRAST_GRAIN_MAX]),
    }
    fill = range_fill(m)
    assert fill[0] == pytest.approx(5.5 / math.log2(52), rel=1e-12)
    assert fill[4] == pytest.approx(2.0 / math.log2(52), rel=1e-12) and fill[4] < CONTRAST_FILL_MIN
    assert contrast_judged(m).tolist() == [True, True, False, False, False, False, False, True, False]
    score = low_contrast_score(m, 0.8)
    assert score == pytest.approx([0.75, 0, 0, 0, 0, 0, 0, 1 - 0.44 / 0.8, 0], abs=1e-12)
    assert score[7] > DEFAULT_THRESHOLDS["low_contrast"]
    # the typical range: the lower quartile (numpy's linear interpolation) of the ranges
    assert typical_range(m) == pytest.approx(float(np.quantile(p99 - p01, 0.25)), rel=1e-12)
    assert not low_contrast_score(m, CONTRAST_TYPICAL_MIN - 1e-9).any()
    assert low_contrast_score(m, CONTRAST_TYPICAL_MIN)[0] == pytest.approx(1 - 0.2 / 0.6)
    # no typical range (an index written before it): nothing judged
    assert not low_contrast_score(m, None).any() and not low_contrast_score(m, float("nan")).any()


def _expected(ref: list[tuple[float, float, float, float]], typical: float, fine: np.ndarray) -> list[bool]:
    """The rule on independent figures (``fine``: the images' ``fine_sharpness``, measured)."""
    return [
        typical >= CONTRAST_TYPICAL_MIN
        and (p99 - p01) < CONTRAST_RANGE_MAX
        and 1 - (p99 - p01) / typical > DEFAULT_THRESHOLDS["low_contrast"]
        and p99 < CONTRAST_ANCHOR_HIGH
        and p01 > CONTRAST_ANCHOR_LOW
        and fill >= CONTRAST_FILL_MIN
        and colour < CONTRAST_COLOURFUL
        and grain < CONTRAST_GRAIN_MAX
        for (p01, p99, fill, colour), grain in zip(ref, fine)
    ]


def test_low_contrast_copies_of_real_photos(photos: list[np.ndarray]) -> None:
    """15 real photos of normal contrast, contrast-0.3 copies of two and a hazy copy of one: the
    copies are flagged ``low_contrast``, no source is, and the flags are the rule's on independent
    float64 figures (the typical range: the lower quartile of the reference ranges)."""
    src = _wide_photos(photos, 15)
    images = src + [_contrast(p, 0.3) for p in src[:2]] + [_hazy(src[2])]
    out = QualityIssues().evaluate(images)
    ref = [_reference(im) for im in images]
    ranges = np.array([r[1] - r[0] for r in ref])
    typical = float(np.quantile(ranges, 0.25))
    assert out.metrics["grey_p01"] == pytest.approx([r[0] for r in ref], abs=1e-6)
    assert out.metrics["grey_p99"] == pytest.approx([r[1] for r in ref], abs=1e-6)
    assert range_fill(out.metrics) == pytest.approx([r[2] for r in ref], rel=1e-6)
    assert out.metrics["colourfulness"] == pytest.approx([r[3] for r in ref], rel=1e-4)
    assert out.reference["contrast"] == pytest.approx(typical, abs=1e-6)
    expected = _expected(ref, typical, out.metrics["fine_sharpness"])
    assert expected == [False] * 15 + [True] * 3
    assert out.flags["low_contrast"].tolist() == expected
    why = out.why(15)
    assert len(why) == 1 and why[0].startswith("low_contrast: score ")
    assert f"{ranges[15]:.3f} vs the dataset's typical range {typical:.3f}" in why[0]


def test_pale_and_flat_designs_are_not_low_contrast(photos: list[np.ndarray]) -> None:
    """Among photos of normal contrast: a white document page (grey text lines on white: p99 is
    paper white), a pale logo page (a light grey disc on white), a dark star field (points on
    black: p01 is black), a two-tone texture (levels 120 / 140: range 0.078, 1 bit of its 4.4), a
    squeezed photo cut out on a transparent canvas, a grainy pale texture (a smooth level-200 ground
    with +-8-level white noise: fine_sharpness far over 1.3), judged against the typical range of a collection
    of photos.  None is flagged; the contrast-0.3 copy beside them is."""
    src = _wide_photos(photos, 12)
    typical = QualityIssues().evaluate(src).reference["contrast"]
    assert typical >= CONTRAST_TYPICAL_MIN
    rng = np.random.default_rng(5)
    page = np.full((3, 96, 80), 250, np.uint8)
    for y in range(10, 90, 6):  # text lines: mid-grey strokes on white
        page[:, y : y + 2, 8:72] = rng.integers(90, 160, (1, 2, 64)).astype(np.uint8)
    yy, xx = np.mgrid[:96, :96]
    logo = np.where(((yy - 48) ** 2 + (xx - 48) ** 2) <= 30**2, 215, 255).astype(np.uint8)
    logo = np.repeat(logo[None], 3, axis=0)
    stars = np.zeros((3, 96, 96), np.uint8)
    stars[:, rng.integers(0, 96, 60), rng.integers(0, 96, 60)] = 200
    texture = np.repeat(np.where((yy // 6 + xx // 6) % 2 == 0, 120, 140).astype(np.uint8)[None], 3, axis=0)
    alpha = ((((yy - 48) ** 2 + (xx - 48) ** 2) <= 40**2) * 255).astype(np.uint8)
    cutout = np.concatenate([_contrast(src[0][:, :96, :96], 0.3), alpha[None]], axis=0)
    grain = np.clip(200 + rng.integers(-8, 9, (1, 96, 96)), 0, 255).astype(np.uint8).repeat(3, axis=0)
    designs = [page, logo, stars, texture, cutout, grain]
    out = QualityIssues(reference={"contrast": typical}).evaluate([*src, *designs, _contrast(src[1], 0.3)])
    m = out.metrics
    assert m["grey_p99"][12] == pytest.approx(250 / 255) and m["grey_p99"][13] == 1.0  # paper white
    assert m["grey_p01"][14] == 0.0  # black sky
    assert m["grey_p99"][15] - m["grey_p01"][15] == pytest.approx(20 / 255)
    assert range_fill(m)[15] == pytest.approx(1.0 / math.log2(21), rel=1e-6)
    assert m["opacity"][16] < 0.99
    assert m["fine_sharpness"][17] >= CONTRAST_GRAIN_MAX and range_fill(m)[17] >= CONTRAST_FILL_MIN
    assert out.flags["low_contrast"].tolist() == [False] * 18 + [True]


def test_collection_relative(photos: list[np.ndarray]) -> None:
    """A collection of contrast-0.3 copies alone: narrow tones are typical there (typical range
    under 0.6), nothing is flagged; the same copies against the sources' typical range are."""
    src = _wide_photos(photos, 6)
    low = [_contrast(p, 0.3) for p in src]
    alone = QualityIssues().evaluate(low)
    ranges = [r[1] - r[0] for r in map(_reference, low)]
    assert alone.reference["contrast"] == pytest.approx(float(np.quantile(ranges, 0.25)), abs=1e-6)
    assert alone.reference["contrast"] < CONTRAST_TYPICAL_MIN and max(ranges) < CONTRAST_RANGE_MAX
    assert not alone.flags["low_contrast"].any()
    sources = QualityIssues().evaluate(src)
    with_ref = QualityIssues(reference={"contrast": sources.reference["contrast"]}).evaluate(low)
    assert with_ref.flags["low_contrast"].tolist() == _expected(
        list(map(_reference, low)), sources.reference["contrast"], with_ref.metrics["fine_sharpness"]
    )
    assert with_ref.flags["low_contrast"].sum() >= 5  # one copy keeps a black (anchored: a black corner)


def test_against_an_index_old_and_new(photos: list[np.ndarray]) -> None:
    """New images judged against an indexed collection of normal photos: the reference keeps the
    typical range and a contrast-0.3 copy is flagged with the index's words; a reference written
    before the key (no ``contrast``) judges none, without error."""
    src = _wide_photos(photos, 6)
    collection = QualityIssues().evaluate(src)
    ref = quality_reference(collection.metrics)
    r = collection.metrics["grey_p99"] - collection.metrics["grey_p01"]
    assert ref["contrast"] == pytest.approx(float(np.quantile(r, 0.25)))
    new = QualityIssues().evaluate([src[0], _contrast(src[1], 0.3)]).metrics
    found = against_quality(new, np.array([10, 11]), ref)
    assert list(found) == [11] and found[11]["issues"] == ["low_contrast"]
    assert "the indexed collection's typical range" in found[11]["why"][0]
    old = {k: v for k, v in ref.items() if k != "contrast"}
    assert against_quality(new, np.array([10, 11]), old) == {}


def test_audit_reports_it_as_quality_issues_do(photos: list[np.ndarray]) -> None:
    """``DataAudit`` (the CLI's and the Lightning callback's engine) flags ``low_contrast`` as
    ``QualityIssues`` does, and its table has the issue's columns and the reason's issue name."""
    import torch

    from dataeval_gpu.audit import DataAudit

    src = _wide_photos(photos, 15)
    images = [*src, _contrast(src[3], 0.3)]
    tensors = [torch.from_numpy(np.ascontiguousarray(x)) for x in images]
    direct = QualityIssues().evaluate(tensors)
    audit = DataAudit(hashes=False)
    audit.update(tensors)
    report = audit.compute()
    flags = np.asarray(report.quality["flags"]["low_contrast"]).tolist()
    assert flags == direct.flags["low_contrast"].tolist() == [False] * 15 + [True]
    df = report.to_pandas()
    assert df["is_low_contrast_issue"].tolist() == flags
    assert df["low_contrast_score"].to_numpy() == pytest.approx(direct.scores["low_contrast"], abs=1e-9)
    assert "low_contrast" in df["quality_issues"].iloc[15]
