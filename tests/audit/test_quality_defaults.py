"""The main job's defaults: quality issues and D4 hashes on by default, and a preset that
reproduces DataEval 0.65's findings exactly."""

from __future__ import annotations

from html import escape as html_escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.audit import PRESETS, DataAudit, scan
from dataeval_gpu.cli_args import build_parser
from dataeval_gpu.detectors import Linter
from dataeval_gpu.detectors.near_duplicates import DEFAULT_CROPS, DEFAULT_RADIUS
from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, QualityIssues
from dataeval_gpu.errors import InvalidArgumentError


def _photos(n: int = 8, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = ndimage.gaussian_filter(rng.normal(128, 60, (3, 48, 64)), sigma=(0, 1.5, 1.5))
        out.append(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8))
    return out


def _corpus() -> list[np.ndarray]:
    imgs = _photos()
    imgs.append(np.zeros((3, 48, 64), np.uint8))  # 8: constant black
    imgs.append(np.ascontiguousarray(imgs[1][:, :, ::-1]))  # 9: mirrored copy of 1
    imgs.append((imgs[2] // 8).astype(np.uint8))  # 10: dark copy of 2
    return imgs


def _feed(audit: DataAudit, imgs: list[np.ndarray]) -> None:
    for s in range(0, len(imgs), 4):
        audit.update([torch.from_numpy(i) for i in imgs[s : s + 4]])


def test_defaults_score_quality_and_find_a_mirrored_copy(tmp_path: Path) -> None:
    imgs = _corpus()
    audit = DataAudit()
    assert (audit.preset, audit.quality, audit.d4, audit.embedding_duplicates) == ("default", True, True, True)
    _feed(audit, imgs)
    rep = audit.compute()
    # the quality scores equal QualityIssues on the same images, one score per image per issue
    ref = QualityIssues().evaluate(imgs)
    for issue in ref.scores:
        np.testing.assert_allclose(rep.quality["scores"][issue], ref.scores[issue], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(rep.quality["flags"][issue], ref.flags[issue])
    assert rep.quality["flags"]["low_information"][8] and rep.quality["flags"]["dark"][10]
    assert not rep.quality["flags"]["dark"][2]
    assert rep.quality["why"][10][0].startswith("dark: score ")
    assert f"threshold {DEFAULT_THRESHOLDS['dark']:.4g}" in rep.quality["why"][10][0]
    # D4: the mirrored copy is a near duplicate of its original
    assert [1, 9] in rep.duplicates["near"]
    # results table: a score column and a flag column per issue, the flagged issue names
    df = rep.to_pandas()
    assert {"dark_score", "is_dark_issue", "blurry_score", "quality_issues"} <= set(df.columns)
    assert df.loc[10, "is_dark_issue"] and df.loc[10, "dark_score"] == pytest.approx(ref.scores["dark"][10], rel=1e-5)
    # files: the findings file lists score and threshold; results.csv and findings.json carry them
    written = rep.save(tmp_path)
    table = pd.read_csv(written["quality"])
    row = table[(table["index"] == 10) & (table["issue"] == "dark")].iloc[0]
    assert row["threshold"] == DEFAULT_THRESHOLDS["dark"]
    assert row["score"] == pytest.approx(ref.scores["dark"][10], rel=1e-5)
    assert "dark_score" in pd.read_csv(tmp_path / "results.csv").columns
    assert "quality issues:" in rep.summary()


def test_preset_065_reproduces_dataeval_065() -> None:
    dataeval = pytest.importorskip("dataeval")
    from dataeval.detectors import Duplicates as RefDuplicates
    from dataeval.detectors import Linter as RefLinter

    assert dataeval.__version__.startswith("0.65")
    imgs = _corpus()
    audit = DataAudit(preset="0.65")
    assert (audit.quality, audit.d4, audit.embedding_duplicates) == (False, False, False)
    _feed(audit, imgs)
    rep = audit.compute()
    ref_dup = RefDuplicates().evaluate(imgs)
    assert rep.duplicates == {"exact": sorted(sorted(g) for g in ref_dup.exact), "near": sorted(sorted(g) for g in ref_dup.near)}
    assert [1, 9] not in rep.duplicates["near"]  # 0.65's pchash is not flip invariant
    # the Linter: 0.65 rounds its float statistics to float16 as it stores them (blurriness moves
    # image 2's modified z-score of this tiny corpus across 3.5 in float64): the preset's scan and
    # the guide API's Linter.evaluate lint the values rounded so (as_stored_by_065) and agree with
    # 0.65; the float64 statistics (Linter.evaluate_stats on them) would flag image 2 as well
    from dataeval_gpu.flags import ImageStat
    from dataeval_gpu.metrics import imagestats

    ref_lint = RefLinter().evaluate(imgs)
    ref_issues = {int(k): {m: float(v) for m, v in d.items()} for k, d in ref_lint.issues.items()}
    assert Linter().evaluate(imgs).issues == ref_issues
    assert rep.issues == ref_issues and set(rep.issues) == {8, 10}
    f64 = Linter().evaluate_stats(imagestats(imgs, ImageStat.ALL_PROPERTIES | ImageStat.ALL_VISUALS)).issues
    assert set(f64) == {2, 8, 10}
    assert rep.quality == {} and "dark_score" not in rep.to_pandas().columns
    assert "pchash" in rep.hashes


def test_explicit_settings_override_the_preset_and_bad_names_raise() -> None:
    a = DataAudit(preset="dataeval-0.65", d4=True, quality=True)
    assert (a.d4, a.quality, a.embedding_duplicates) == (True, True, False)
    b = DataAudit(quality=False, quality_thresholds={"blurry": 0.9})
    assert b.config()["quality"] is False and b.config()["preset"] == "default"
    assert PRESETS["dataeval-0.65"] == {
        "quality": False,
        "d4": False,
        "embedding_duplicates": False,
        "near_radius": 0,
        "near_crops": (),
    }
    # the default radius and crops need the colour check (quality metrics): without it, 0.65's
    assert (b.near_radius, b.near_crops) == (0, ())
    c = DataAudit()
    assert (c.near_radius, c.near_crops) == (4, (0.9, 0.8))
    assert c.near_radius == DEFAULT_RADIUS and c.near_crops == DEFAULT_CROPS  # the same as NearDuplicates
    assert (DataAudit(preset="0.65").near_radius, DataAudit(preset="0.65").near_crops) == (0, ())
    d = DataAudit(near_radius=5, near_crops=(0.7,), quality=False)
    assert (d.near_radius, d.near_crops) == (5, (0.7,))
    with pytest.raises(InvalidArgumentError, match="near_crops"):
        DataAudit(near_crops=(1.2,))
    with pytest.raises(InvalidArgumentError, match="preset"):
        DataAudit(preset="0.7")
    with pytest.raises(InvalidArgumentError, match="unknown quality issue"):
        DataAudit(quality_thresholds={"fuzzy": 1.0})


def test_quality_threshold_override_reaches_the_report() -> None:
    imgs = _corpus()
    rep = scan(imgs, quality_thresholds={"dark": 1.0})  # a score of at most 1 is never above 1
    assert rep.quality["thresholds"]["dark"] == 1.0
    # the absolute floor (highlights under 0.03) still flags the black image
    assert not rep.quality["flags"]["dark"][10] and rep.quality["flags"]["dark"][8]


def test_cli_preset_and_switches() -> None:
    p = build_parser()
    args = p.parse_args(["scan", "x"])
    assert (args.preset, args.d4, args.quality) == ("default", None, None)
    args = p.parse_args(["scan", "x", "--preset", "dataeval-0.65", "--no-quality"])
    assert (args.preset, args.quality) == ("dataeval-0.65", False)
    assert p.parse_args(["scan", "x", "--no-d4"]).d4 is False
    assert p.parse_args(["scan", "x", "--d4"]).d4 is True


def test_the_html_report_says_score_and_threshold(tmp_path: Path) -> None:
    from dataeval_gpu.report import write_report

    imgs = _corpus()
    rep = scan(imgs)
    html = write_report(rep, tmp_path, images=imgs).read_text()
    section = html[html.index('<section id="quality">') :]
    section = section[: section.index("</section>")]
    n_flagged = len(rep.quality["why"])
    assert f'<b id="quality-flagged">{n_flagged}</b>' in section
    reason = rep.quality["why"][10][0]  # "dark: score ... > threshold 0.78 (...)"
    assert html_escape(reason.split(" (")[0]) in section  # "&gt;" in the page
    assert '<th class="rowname">dark</th><td class="num">0.78</td>' in section
    assert scan(imgs, preset="0.65").quality == {}


def test_near_groups_drop_same_hash_pairs_whose_colours_differ() -> None:
    """Two pictures with one grey image (the hash sees grey only) but opposite colour casts
    (red vs blue, as different planets on black space) are no near duplicates by default;
    a mirrored copy with the same colours still is."""
    imgs = _photos(6, seed=3)
    # one grey picture g (30..185) tinted red (g + 70, g - 30, g - 30) and blue (g - 9, g - 9, g + 70):
    # both have the BT.601 luma (the D4 hash's grey) g exactly, as Pillow rounds it:
    # 19595 x 70 - (38470 + 7471) x 30 = -6580 and -(19595 + 38470) x 9 + 7471 x 70 = 385, both
    # within (-2**15, 2**15) of 2**16 g
    g = 30 + imgs[0].astype(np.int64).sum(0) * 155 // (3 * 255)
    red = np.stack([g + 70, g - 30, g - 30]).astype(np.uint8)
    blue = np.stack([g - 9, g - 9, g + 70]).astype(np.uint8)
    imgs += [red, blue, np.ascontiguousarray(red[:, :, ::-1])]  # 6: red, 7: blue, 8: mirrored red
    default = scan(imgs)
    plain = scan(imgs, quality=False)  # D4 hash, no colour check
    assert default.hashes["pchash_d4"][6] == default.hashes["pchash_d4"][7]  # same hash ...
    assert any({6, 7} <= set(g) for g in plain.duplicates["near"])
    assert not any({6, 7} <= set(g) for g in default.duplicates["near"])  # ... colours disagree
    assert any({6, 8} <= set(g) for g in default.duplicates["near"])
    cast = default.stats
    assert cast["chroma_rg"][6] == pytest.approx(float(np.mean(red[0].astype(float) - red[1])), rel=1e-5)
    assert cast["chroma_bg"][7] == pytest.approx(float(np.mean(blue[2].astype(float) - blue[1])), rel=1e-5)


def _textures(n: int = 6, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = ndimage.gaussian_filter(rng.normal(128, 80, (3, 120, 160)), sigma=(0, 5, 5))
        base += rng.normal(0, 25, (3, 1, 1))  # a colour cast per picture
        out.append(np.clip(128 + (base - 128) * 3, 0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize("compiled", [True, False])
def test_default_scan_hashes_central_crops_as_near_duplicates(compiled: bool, monkeypatch) -> None:
    """The scan's default finds a 10 % (and 5 %) crop per side as NearDuplicates does: its crop
    hashes are the near hashes of the central 90 % / 80 % views (the compiled CPU kernels and
    the tensor path of the CUDA kernels, forced on the CPU, alike); 0.65's preset hashes none."""
    import dataeval_gpu.functional.hashing as H
    from dataeval_gpu.accumulators.hashes import centre_crop
    from dataeval_gpu.detectors import NearDuplicates

    imgs = _textures()
    imgs.append(np.ascontiguousarray(imgs[0][:, 12:108, 16:144]))  # 6: 10 % crop per side of 0
    imgs.append(np.ascontiguousarray(imgs[1][:, 6:114, 8:152]))  # 7: 5 % crop per side of 1
    tens = [torch.from_numpy(i) for i in imgs]
    # the reference: the tensor path's D4 pchash of each central view, computed here
    want = [H.near_hash([centre_crop(t, f) for t in tens], "pchash_d4", device_type="cuda") for f in (0.9, 0.8)]
    if not compiled:
        monkeypatch.setattr(H._rcpu, "AVAILABLE", False)
    audit = DataAudit()
    _feed(audit, imgs)
    res = audit._stats.compute()  # noqa: SLF001 - the accumulated crop hash rows
    assert res["pchash_crops"].shape == (len(imgs), 2)
    for k in range(2):
        assert res["pchash_crops"][:, k].tolist() == want[k][0].tolist()
        assert res["pchash_crops_valid"][:, k].tolist() == want[k][1].tolist()
    rep = audit.compute()
    assert [0, 6] in rep.duplicates["near"] and [1, 7] in rep.duplicates["near"]
    assert rep.duplicates["near"] == NearDuplicates(embedding_threshold=None).evaluate(tens).hash
    # 0.65's preset: no crop hashes, the crops are not found
    old = DataAudit(preset="0.65")
    _feed(old, imgs)
    assert "pchash_crops" not in old._stats.compute()  # noqa: SLF001
    assert [0, 6] not in old.compute().duplicates["near"]
