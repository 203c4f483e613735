"""detectors/hash_figures.py (split out of hash_pairs.py): the rules on the per-image figures,
checked against hand-computed cases, and the names hash_pairs / near_duplicates re-export being
the same objects (importers and monkeypatches of those modules keep working)."""

from __future__ import annotations

import numpy as np

import dataeval_gpu.detectors.hash_figures as hf
import dataeval_gpu.detectors.hash_pairs as hp
import dataeval_gpu.detectors.near_duplicates as nd


def test_reexported_names_are_the_same_objects() -> None:
    for name in hf.__all__:
        if hasattr(hp, name):
            assert getattr(hp, name) is getattr(hf, name), name
    for name in ("PairFigures", "plain_and_entropy", "CHROMA_TOLERANCE", "PLAIN_SHARE", "ENTROPY_RATIO"):
        assert getattr(nd, name) is getattr(hf, name), name
    # every name hash_pairs exported before the split still resolves there
    before = {
        "CHROMA_TOLERANCE", "ENTROPY_EPS", "ENTROPY_RATIO", "FLAT_ENTROPY", "LEVEL_TOLERANCE", "LOCAL_VERIFY_MIN",
        "PLAIN_RADIUS", "PLAIN_SHARE", "PROGRESS_MIN_PAIRS", "SMALL_SIDE", "SMALL_VERIFY_MIN", "thumbs_comparable",
        "SPREAD_EPS", "SPREAD_RATIO", "STRIP_SHAPE_TOLERANCE", "UNVERIFIED_RADIUS", "VERIFY_MIN", "PairFigures",
        "chroma_close", "hash_pairs", "hash_pairs_ok", "plain_and_entropy", "strip_partners",
    }  # fmt: skip
    assert before <= set(hp.__all__) and all(hasattr(hp, n) for n in before)


def test_ratio_close_by_hand() -> None:
    # (hi + eps) <= ratio * (lo + eps): 3.25 <= 1.5 * 2.25 = 3.375 yes; 3.5 > 3.375 no
    x, y = np.array([3.0, 3.25, 0.0]), np.array([2.0, 2.0, 0.0])
    assert hf.ratio_close(x, y, 1.5, 0.25).tolist() == [True, False, True]
    assert hf.ratio_close(y, x, 1.5, 0.25).tolist() == [True, False, True]  # symmetric


def test_figure_rules_by_hand() -> None:
    # image 0 the reference; 1: chroma 10 levels off (> 6 and > 35 % of 10): fails;
    # 2: entropy 3.5 against 6 (6.25 > 1.5 * 3.75): fails; 3: spread 0.1 against 0.2
    # (0.22 > 1.6 * 0.12): fails; 4: flat at a level 3/255 off: fails; 5: flat at 1/255: passes;
    # 6: every figure within its tolerance (chroma 5.7 levels off, entropy 5, spread 0.15): passes;
    # 7: flat at level 0.5
    figs = hf.PairFigures(
        chroma=np.array([[0, 0], [10, 0], [0, 0], [0, 0], [0, 0], [0, 0], [4, 4], [0, 0]]),
        entropy=np.array([6.0, 6.0, 3.5, 6.0, 0.05, 0.05, 5.0, 0.05]),
        spread=np.array([0.2, 0.2, 0.2, 0.1, 0.2, 0.2, 0.15, 0.2]),
        level=np.array([0.5, 0.5, 0.5, 0.5, 0.5 + 3 / 255, 0.5 + 1 / 255, 0.5, 0.5]),
    )
    i, j = np.zeros(6, dtype=np.int64), np.arange(1, 7)
    got = hf.figure_rules(figs, figs, i, j)
    # 4 and 5 are flat, 0 is not: the entropy ratio fails them both before the level rule
    assert got.tolist() == [False, False, False, False, False, True]
    # two flat images: 1/255 apart pair (LEVEL_TOLERANCE 2/255), 3/255 apart do not
    assert hf.figure_rules(figs, figs, np.array([7, 7]), np.array([5, 4])).tolist() == [True, False]


def test_transparent_pair_and_strip_rule_by_hand() -> None:
    figs = hf.PairFigures(opacity=np.array([1.0, 0.5, 0.2]))
    assert hf.transparent_pair(figs, figs, np.array([0, 1]), np.array([1, 2])).tolist() == [False, True]
    assert hf.transparent_pair(hf.PairFigures(), figs, np.array([1]), np.array([2])).tolist() == [False]
    # a strip view (view 3) of a wide 16:9 image pairs only with a whole tall 9:16 image
    wide = hf.PairFigures(hw=np.array([[900, 1600], [1600, 900], [900, 1600]]), strip_view=3)
    i, vi = np.array([0, 0, 0, 0]), np.array([3, 3, 3, 0])
    j, vj = np.array([1, 2, 1, 1]), np.array([0, 0, 1, 0])
    assert hf.strip_rule(wide, wide, i, vi, j, vj).tolist() == [True, False, False, True]
