"""scripts/survey_recall.py: the logic its tables rest on - which files a scan grouped together
(exact and near groups merged, -1 meaning none), the pairs of two distinct sources, the first
pair rule a planted copy fails, and the planted variants it draws (checked against numpy)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "survey_recall.py"


@pytest.fixture(scope="module")
def survey():
    spec = importlib.util.spec_from_file_location("survey_recall", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(near="-1", exact="-1", **kw):
    r = {"near_duplicate_group": near, "exact_duplicate_group": exact, "quality_issues": "", "lint_flags": ""}
    r.update(kw)
    return r


def test_groups_merge_exact_and_near_and_ignore_minus_one(survey):
    rows = {
        "a": _row(near="0"),
        "b": _row(near="0", exact="3"),
        "c": _row(exact="3"),
        "d": _row(),
        "e": _row(),
    }
    g = survey.groups_of(rows)
    assert g["a"] == g["c"] == {"a", "b", "c"}  # b links a (near 0) and c (exact 3)
    assert g["d"] == {"d"} and g["e"] == {"e"}  # -1 is no group: d and e are not together


def test_score_counts_recall_and_pairs_of_distinct_sources(survey, tmp_path):
    entries = [
        {"file": "s0.png", "source": 0, "role": "photo", "kind": "photo"},
        {"file": "s1.png", "source": 1, "role": "photo", "kind": "photo"},
        {"file": "v0.png", "source": 0, "role": "outlier", "kind": "dark"},
        {"file": "v1.png", "source": 1, "role": "outlier", "kind": "dark"},
    ]
    (tmp_path / "manifest.json").write_text(json.dumps({"entries": entries}))
    scan = tmp_path / "scan"
    scan.mkdir()
    cols = ["path", "near_duplicate_group", "exact_duplicate_group", "quality_issues", "lint_flags"]
    lines = [
        ",".join(cols),
        "/x/s0.png,0,-1,,",
        "/x/s1.png,0,-1,,",  # s1 wrongly grouped with s0: one false pair (s0, s1), and v0 ~ s1 nothing
        "/x/v0.png,0,-1,dark,",
        "/x/v1.png,-1,-1,,zero",
    ]
    (scan / "results.csv").write_text("\n".join(lines) + "\n")
    res = survey.score(tmp_path, scan)
    d = res["per_kind"]["dark"]
    assert (d["n"], d["quality"], d["lint"], d["any"], d["grouped"]) == (2, 1, 1, 2, 1)
    # the group {s0, s1, v0}: pairs s0-s1, s0-v0, s1-v0; of two distinct sources: s0-s1 and s1-v0
    assert res["pairs"] == 3
    assert sorted(res["false_pairs"]) == [("s0.png", "s1.png"), ("s1.png", "v0.png")]


def _fig(h="0", rg=10.0, bg=-5.0, ent=7.0, std=0.2, dc=0.0, bc=0.0):
    return {"pchash_d4": h, "chroma_rg": rg, "chroma_bg": bg, "grey_entropy": ent, "std": std,
            "dark_clipped": dc, "bright_clipped": bc}  # fmt: skip


def test_why_not_grouped_names_the_first_failing_rule(survey):
    src = _fig()
    assert survey.why_not_grouped(src, _fig(h="1f")) == "hash>4"  # 5 bits apart
    assert survey.why_not_grouped(src, _fig(h="f", rg=30.0)) == "colour cast"  # |20| > max(6, 0.35 * 30.4)
    assert survey.why_not_grouped(src, _fig(h="f", ent=4.0)) == "entropy"  # 7.25 > 1.5 * 4.25
    assert survey.why_not_grouped(src, _fig(std=0.1)) == "spread"  # 0.22 > 1.6 * 0.12
    assert survey.why_not_grouped(src, _fig(std=0.14)) == "thumbnail check"  # 0.22 <= 1.6 * 0.16
    assert survey.why_not_grouped(_fig(dc=0.5), _fig(h="1", dc=0.5)) == "plain background"
    assert survey.why_not_grouped(_fig(dc=0.5), _fig(dc=0.5)) == "thumbnail check"  # hashes equal: radius 0


def test_why_not_grouped_states_the_pair_rules_copies10_applies(survey):
    """review18: the reasons come from the library's pair rules, so copies10's exceptions hold - an
    opaque grey side (mean channel spread 0.01 <= 0.025 and <= 0.08 x its level 0.45) skips the
    colour-cast rule; an x0.5 copy (cast, spread and level all halved: k = 2) passes cast and
    spread; neither with transparent parts.  The survey's restated rules said "colour cast"."""
    src = dict(_fig(rg=30.0, bg=-20.0), mean=0.45, channel_spread=0.1, opacity=1.0)
    grey = dict(_fig(h="3", rg=0.3, bg=0.2), mean=0.45, channel_spread=0.01, opacity=1.0)
    assert (
        survey.why_not_grouped(src, grey) == "thumbnail check"
    )  # cast |(29.7, 20.2)| = 35.9 > 12.6: skipped
    assert survey.why_not_grouped(src, dict(grey, opacity=0.9)) == "colour cast"  # not opaque: judged
    assert (
        survey.why_not_grouped(src, dict(grey, channel_spread=0.04)) == "colour cast"
    )  # 0.04 > 0.025: colour
    dim = dict(_fig(h="3", rg=15.0, bg=-10.0, std=0.1), mean=0.225, channel_spread=0.05, opacity=1.0)
    assert survey.why_not_grouped(src, dim) == "thumbnail check"  # (30, -20) = 2 x (15, -10), 0.2 = 2 x 0.1
    # k = 0.45 / 0.375 = 1.2: 1.2 x (15, -10) is 14.4 off (30, -20), over max(6, 0.35 x 36.1): not one exposure
    assert survey.why_not_grouped(src, dict(dim, mean=0.375)) == "colour cast"


def test_motion_blur_is_a_box_filter_with_replicated_edges(survey):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(6, 11, 3), dtype=np.uint8)
    out = np.asarray(survey._motion(Image.fromarray(a), 5, horizontal=True)).astype(np.float64)
    p = np.pad(a.astype(np.float64), ((0, 0), (2, 2), (0, 0)), mode="edge")
    ref = np.stack([p[:, x : x + 5].mean(axis=1) for x in range(11)], axis=1)
    np.testing.assert_array_equal(out, np.clip(np.round(ref), 0, 255))


def test_pad_and_photo_like(survey):
    im = Image.new("RGB", (40, 30), (200, 10, 10))
    padded = survey._pad(im, 2.0, (0, 0, 0))
    assert padded.size == (60, 30)
    a = np.asarray(padded)
    assert a[:, :10].max() == 0 and a[:, 50:].max() == 0 and (a[:, 10:50] == (200, 10, 10)).all()
    flat = np.zeros((128, 128, 3), dtype=np.uint8)
    flat[..., 0] = 200
    assert not survey.photo_like(flat)  # one colour: not a photo
    rng = np.random.default_rng(1)
    assert survey.photo_like(rng.integers(0, 256, size=(128, 128, 3), dtype=np.uint8))


def test_frames_and_thin_bars(survey):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, size=(50, 80, 3), dtype=np.uint8)
    im = Image.fromarray(a)
    f = np.asarray(survey._border(im, 0.06, (255, 255, 255)))  # round(0.06 * 50) = 3 px around
    assert f.shape == (56, 86, 3)
    inner = np.zeros((56, 86), dtype=bool)
    inner[3:53, 3:83] = True
    assert (f[~inner] == 255).all() and (f[3:53, 3:83] == a).all()
    g = np.asarray(survey._border(im, 0.08, (10, 200, 30), inset=True))  # 4 px, the photo scaled in
    assert g.shape == a.shape and (g[:4] == (10, 200, 30)).all() and (g[:, -4:] == (10, 200, 30)).all()
    b = np.asarray(survey._thin_bars(im, 2, (0, 0, 0), horizontal=True))
    assert b.shape == (54, 80, 3) and b[:2].max() == 0 and b[52:].max() == 0 and (b[2:52] == a).all()
    w = np.asarray(survey._thin_bars(im, 3, (255, 255, 255), horizontal=False))
    assert w.shape == (50, 86, 3) and w[:, :3].min() == 255 and (w[:, 3:83] == a).all()
    s = np.asarray(survey._stroke(im, 1, (0, 0, 0)))
    assert s.shape == a.shape and s[0].max() == s[-1].max() == s[:, 0].max() == s[:, -1].max() == 0
    assert (s[1:-1, 1:-1] == a[1:-1, 1:-1]).all()
    p = np.asarray(survey._passepartout(im))  # max(3, round(0.04 * 50)) = 3 px of mat, a 2-px line
    assert (
        p.shape == (56, 86, 3) and (p[0] == (238, 234, 224)).all() and (p[1:3, 1:85] == (120, 116, 110)).all()
    )
    assert (p[3:53, 3:83] == a).all()
    assert set(survey.DUP_KINDS) >= {"frame_white3", "frame_white6", "bars2_black", "stroke1"}
    assert all(k in survey.DESCRIBE for k in survey.DUP_KINDS)
