"""Grey and under-exposed copies of a colour photo pair with it (copies10): a pair with an opaque
grey side skips the colour-cast rule, and one picture at another exposure (every level times k)
passes the cast and spread rules, which compare absolute values; sprites on transparent keep
both rules (recoloured states of one icon are not copies)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit, scan_files
from dataeval_gpu.detectors import NearDuplicates
from dataeval_gpu.detectors.hash_figures import (
    EXPOSURE_MAX,
    GREY_SPREAD,
    PairFigures,
    exposure_pair,
    figure_rules,
    grey_side,
)
from dataeval_gpu.detectors.pair_figures import channel_spread

PIL = pytest.importorskip("PIL.Image")
skdata = pytest.importorskip("skimage.data")


def _luma_grey(a: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` (BT.601 luma, what Pillow / OpenCV / torchvision make), as RGB."""
    return np.stack([np.asarray(PIL.fromarray(a).convert("L"))] * 3, -1)


def _dim(a: np.ndarray, f: float) -> np.ndarray:
    return np.round(a.astype(np.float64) * f).astype(np.uint8)


@pytest.fixture(scope="module")
def copies() -> dict[str, np.ndarray]:
    pics = {n: getattr(skdata, n)()[..., :3] for n in ("chelsea", "coffee", "astronaut", "rocket")}
    return {
        "chelsea": pics["chelsea"],
        "chelsea_grey": _luma_grey(pics["chelsea"]),
        "chelsea_x03": _dim(pics["chelsea"], 0.3),
        "coffee": pics["coffee"],
        "coffee_grey": _luma_grey(pics["coffee"]),
        "coffee_x05": _dim(pics["coffee"], 0.5),
        "astronaut": pics["astronaut"],
        "astronaut_x03": _dim(pics["astronaut"], 0.3),
        "rocket": pics["rocket"],
    }


# chelsea's luma grey hashed 20 bits from chelsea while the D4 hash read 0.65's grey, the channel
# mean, beyond the radius; coffee's 2 bits.  Since luma13 the D4 hash reads BT.601 luma: 0 bits,
# grouped.  Before copies10: no group.
EXPECTED = [
    ["chelsea", "chelsea_grey", "chelsea_x03"],
    ["coffee", "coffee_grey", "coffee_x05"],
    ["astronaut", "astronaut_x03"],
]


def _tensors(copies: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(np.ascontiguousarray(v)).permute(2, 0, 1) for v in copies.values()]


def test_grey_and_dark_copies_grouped_by_near_duplicates_and_the_audit(copies) -> None:
    names = list(copies)
    images = _tensors(copies)
    out = NearDuplicates().evaluate(images)
    assert [[names[i] for i in g] for g in out.hash] == EXPECTED
    audit = DataAudit(device="cpu")
    audit.update(images)
    report = audit.compute()
    assert [[names[i] for i in g] for g in report.duplicates["near"]] == EXPECTED


def test_channel_spread_matches_a_float64_reference_and_the_quality_metric(copies) -> None:
    images = _tensors(copies)
    ref = [float((v.max(axis=2).astype(np.float64) - v.min(axis=2)).mean() / 255.0) for v in copies.values()]
    np.testing.assert_allclose(channel_spread(images), ref, rtol=0, atol=1e-12)
    assert channel_spread(images)[1] == 0.0  # the grey copy
    from dataeval_gpu.functional.quality import quality_metrics

    q = quality_metrics(images)["channel_spread"].to(torch.float64).numpy()
    np.testing.assert_allclose(q, ref, rtol=0, atol=1e-6)


def test_exposure_pair_hand_checked() -> None:
    c, s, m = np.array([[20.0, -10.0]]), np.array([0.25]), np.array([0.45])
    assert exposure_pair((c, 0.3 * c), (s, 0.3 * s), (m, 0.3 * m)).tolist() == [True]
    assert exposure_pair((0.5 * c, c), (0.5 * s, s), (0.5 * m, m)).tolist() == [True]  # either side darker
    # the darker one's cast not scaled: two pictures of other colours (20 x 3.33 - 20 = 46.7 levels off)
    assert exposure_pair((c, c), (s, 0.3 * s), (m, 0.3 * m)).tolist() == [False]
    # spread not scaled with the level: 0.25 against 0.25 x 3.33 = 0.83 (> SPREAD_RATIO)
    assert exposure_pair((c, 0.3 * c), (s, s), (m, 0.3 * m)).tolist() == [False]
    f = 1.0 / (EXPOSURE_MAX + 0.5)  # darker than EXPOSURE_MAX allows
    assert exposure_pair((c, f * c), (s, f * s), (m, f * m)).tolist() == [False]
    zero = np.zeros(1)  # a black image: no ratio
    assert exposure_pair((c, 0 * c), (s, zero), (m, zero)).tolist() == [False]


def test_grey_side_hand_checked() -> None:
    colour = np.array([0.0, 0.02, 0.02, 0.03, 0.025])
    level = np.array([0.5, 0.5, 0.1, 0.5, 0.5])
    # 0.02 <= 0.08 x 0.5 = 0.04; 0.02 > 0.08 x 0.1 = 0.008 (a dark colour picture); 0.03 > 0.025
    assert grey_side(colour, level).tolist() == [True, True, False, False, True]
    assert grey_side(colour, None).tolist() == [True, True, True, False, True]
    assert GREY_SPREAD == (0.025, 0.08)


def _led_figures(opacity: float) -> PairFigures:
    """kstars' green and grey LED (one drawing in two states) on transparent: their figures."""
    return PairFigures(
        chroma=np.array([[-27.0, -33.6], [0.0, 0.0]]),
        entropy=np.array([5.0, 4.9]),
        spread=np.array([0.345, 0.361]),
        opacity=np.array([opacity, opacity]),
        level=np.array([160.8, 176.6]) / 255.0,
        colour=np.array([0.132, 0.0]),
    )


def test_grey_side_skips_the_cast_rule_of_opaque_pairs_only() -> None:
    i, j = np.array([0]), np.array([1])
    assert figure_rules(_led_figures(1.0), _led_figures(1.0), i, j).tolist() == [True]
    led = _led_figures(0.785)
    assert figure_rules(led, led, i, j).tolist() == [False]
    no_colour = _led_figures(1.0)
    no_colour.colour = None  # rows without the figure (an index written without it): the cast rule
    assert figure_rules(no_colour, no_colour, i, j).tolist() == [False]


def test_exposure_exception_not_for_transparent_pairs() -> None:
    figs = PairFigures(
        chroma=np.array([[20.0, -10.0], [6.0, -3.0]]),
        entropy=np.array([7.0, 6.0]),
        spread=np.array([0.25, 0.075]),
        level=np.array([0.45, 0.135]),
        opacity=np.array([1.0, 1.0]),
    )
    i, j = np.array([0]), np.array([1])
    assert figure_rules(figs, figs, i, j).tolist() == [True]
    figs.opacity = np.array([0.7, 0.7])
    assert figure_rules(figs, figs, i, j).tolist() == [False]


def test_against_an_index_finds_grey_and_dark_copies(copies, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    from dataeval_gpu.index import scan_against, update_index

    kw = {"workers": 0, "progress": False}
    indexed, new = tmp_path / "indexed", tmp_path / "new"
    indexed.mkdir()
    new.mkdir()
    for n in ("chelsea", "coffee", "rocket"):
        PIL.fromarray(copies[n]).save(indexed / f"{n}.png")
    for n in ("chelsea_x03", "coffee_grey", "astronaut"):
        PIL.fromarray(copies[n]).save(new / f"{n}.png")
    update_index(tmp_path / "idx", sorted(str(p) for p in indexed.iterdir()), **kw)
    report = scan_against(tmp_path / "idx", sorted(str(p) for p in new.iterdir()), **kw)
    got = {
        (Path(report.paths[m["image"]]).name, Path(m["partner_path"]).name)
        for m in report.against["matches"]
        if "near" in m["methods"]
    }
    assert got == {("chelsea_x03.png", "chelsea.png"), ("coffee_grey.png", "coffee.png")}
    # the same pairs as a scan of both sets together
    audit = DataAudit(near_radius=4)
    scan_files(sorted(str(p) for p in indexed.iterdir()) + sorted(str(p) for p in new.iterdir()), audit=audit, **kw)
    near = audit.compute().duplicates["near"]
    assert sorted(map(sorted, near)) == [[0, 4], [1, 5]]


def test_grey_copy_at_another_scale_skips_the_cast_rule_too() -> None:
    """review18: a small picture (under 33 px) and a larger grey copy pair only through
    ``scale_pairs`` (their hashes at their own square sizes lie far apart), whose figures lost the
    mean channel spread: the cast rule was asked of the grey side there (in the audit,
    ``NearDuplicates`` and ``--against`` alike), so the pair was not grouped.  The grey copy is
    Pillow's ``L`` (BT.601 luma, what the D4 hash reads since luma13), stored as RGB."""
    from dataeval_gpu.functional.hashing import hamming_distance, perceptual_hash_d4
    from tests.test_pairs5_scale_pairs import _icon

    a = np.asarray(_icon(0)).astype(np.float64)  # pairs5's picture, at half its saturation (spreads
    mean = a.mean(axis=2, keepdims=True)  # within SPREAD_RATIO of its grey copy's; cast |(-7, 7)| > 6)
    big = PIL.fromarray(np.round(mean + 0.5 * (a - mean)).clip(0, 255).astype(np.uint8))
    small = np.asarray(big.resize((16, 16), PIL.LANCZOS)).copy()  # 32 bits from the grey 100 px copy
    large = np.asarray(big.resize((100, 100), PIL.LANCZOS)).astype(np.float64)
    grey_l = np.asarray(PIL.fromarray(large.astype(np.uint8)).convert("L"))  # Pillow's luma: what the D4 hash reads
    grey = np.repeat(grey_l[..., None], 3, axis=2)
    images = [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1) for a in (small, grey)]
    assert int(hamming_distance(*perceptual_hash_d4(images)[0].split(1))[0]) > 4  # only at one scale
    spread = channel_spread(images)
    assert spread[0] > GREY_SPREAD[0] and spread[1] == 0.0  # a colour picture, a grey copy
    out = NearDuplicates(embedding_threshold=None).evaluate(images)
    assert out.hash == [[0, 1]]
    audit = DataAudit(device="cpu")
    audit.update(images)
    assert audit.compute().duplicates["near"] == [[0, 1]]
    # the colour copy pairs as before (the cast rule passes it)
    colour = [images[0], torch.from_numpy(np.ascontiguousarray(large.astype(np.uint8))).permute(2, 0, 1)]
    assert NearDuplicates(embedding_threshold=None).evaluate(colour).hash == [[0, 1]]
