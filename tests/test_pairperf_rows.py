"""The pair checks at scale (hash_pairs_ok / hash_pairs): per-image views computed once
(ThumbViews / check_rows), the pairs scored in slices, the figure rules before the thumbnails,
the interior check only where the plain-background rule reads it, crop views skipped for image
pairs kept whole.  Each must keep exactly the pairs of the former computation: the pair
functions (detail_check, local_detail_check, interior_detail_check) on gathered thumbnails, every
rule on every pair (:func:`_reference_ok`, the former hash_pairs_ok), including pairs sitting
exactly on a threshold.  The checks run on the CPU in float64 whatever the thumbnails' device
(a CUDA tensor is copied to the host first): a torch input is covered here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dataeval_gpu.detectors.hash_pairs as hp
from dataeval_gpu.detectors.hash_figures import strip_rule
from dataeval_gpu.detectors.hash_pairs import PairFigures, hash_pairs, hash_pairs_ok, thumbs_comparable
from dataeval_gpu.functional.hashing.thumbs import (
    PAIRS_PER_STEP,
    ThumbViews,
    check_rows,
    detail_check,
    detail_energy,
    interior_detail_check,
    local_detail_check,
)


def _thumbs(rng: np.random.Generator, n: int, views: int) -> np.ndarray:
    """``(n, views, 32, 32)`` uint8 of many kinds: noise, smooth blobs, icons on a plain ground,
    flat, all zero, and near copies (noise added) of earlier ones."""
    out = np.zeros((n, views, 32, 32), dtype=np.uint8)
    yy, xx = np.mgrid[:32, :32]
    for k in range(n):
        for v in range(views):
            kind = (k + v) % 6
            if kind == 0:
                t = rng.integers(0, 256, (32, 32))
            elif kind == 1:
                cy, cx = rng.uniform(8, 24, 2)
                t = 255 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(20, 80))
            elif kind == 2:  # a drawing on a plain ground
                t = np.where((yy - 16) ** 2 + (xx - 16) ** 2 < rng.uniform(40, 150), rng.integers(20, 230, (32, 32)), 0)
            elif kind == 3:
                t = np.full((32, 32), rng.integers(0, 256))
            elif kind == 4 and k > 6:
                t = out[k - 6, v].astype(np.int64) + rng.integers(-4, 5, (32, 32))
            else:
                t = np.zeros((32, 32))
            out[k, v] = np.clip(t, 0, 255)
    return out


def test_check_rows_equals_the_pair_functions_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    table = _thumbs(rng, 60, 2)
    views = ThumbViews(table)
    rows = table.reshape(-1, 32, 32)
    # many pairs per image, more than one step, rows repeated and in any order
    rx, ry = rng.integers(0, rows.shape[0], 2 * PAIRS_PER_STEP + 77), rng.integers(0, rows.shape[0], 2 * PAIRS_PER_STEP + 77)
    for kind, func in (("detail", detail_check), ("local", local_detail_check), ("interior", interior_detail_check)):
        score, checked = check_rows(views, rx, views, ry, kind)
        ref_score, ref_checked = func(rows[rx], rows[ry])
        assert np.array_equal(score, ref_score) and np.array_equal(checked, ref_checked), kind
        assert checked.any() and (~checked).any()  # both outcomes occur
    with pytest.raises(ValueError, match="kind"):
        check_rows(views, rx, views, ry, "look")
    with pytest.raises(ValueError, match="rx and ry"):
        check_rows(views, rx, views, ry[:3], "detail")


def test_thumb_views_compute_each_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _thumbs(np.random.default_rng(0), 10, 1)
    views = ThumbViews(table)
    a = views.get("detail", np.array([1, 1, 2]))
    views.table = np.zeros_like(views.table)  # a second call must not recompute rows 1 and 2
    b = views.get("detail", np.array([2, 1]))
    assert np.array_equal(a[[2, 1]], b)
    assert views.done["detail"].sum() == 2
    some = ThumbViews(table, rows=np.array([7, 3, 7]))  # views kept for rows 3 and 7 only
    assert np.array_equal(some.get("local", np.array([7, 3])), ThumbViews(table).get("local", np.array([7, 3])))
    assert some.values["local"].shape[0] == 2
    with pytest.raises(ValueError, match="only the rows"):
        some.get("detail", np.array([4]))
    with pytest.raises(ValueError, match="rows: between"):
        ThumbViews(table, rows=np.array([10]))


def _ratio_close(x, y, ratio, eps):  # noqa: ANN001, ANN202
    return np.maximum(x, y) + eps <= ratio * (np.minimum(x, y) + eps)


def _reference_ok(first: PairFigures, second: PairFigures, i, vi, j, vj, dist, radius):  # noqa: ANN001, ANN202
    """The former hash_pairs_ok: every rule on every pair, the pair functions on gathered thumbnails."""
    dist = np.asarray(dist)
    keep = strip_rule(first, second, i, vi, j, vj)
    verified, detail_ok = np.ones(i.shape, bool), np.zeros(i.shape, bool)
    comparable, small = thumbs_comparable(first.side[i], second.side[j])
    transparent = (first.opacity[i] < 1.0) & (second.opacity[j] < 1.0)
    tx, ty = first.thumbs, second.thumbs
    verified = dist <= hp.UNVERIFIED_RADIUS
    at = np.nonzero((vi < tx.shape[1]) & (vj < ty.shape[1]) & comparable)[0]
    x, y = tx[i[at], vi[at]], ty[j[at], vj[at]]
    score, checked = detail_check(x, y)
    # pairsprec16: a flat central crop of an image whose whole thumbnail varies is kept
    # unverified only with a view about as flat (detail rms at most FLAT_PARTNER_RMS)
    ex, ey = detail_energy(x), detail_energy(y)
    wx, wy = tx[i[at], 0].reshape(at.size, -1), ty[j[at], 0].reshape(at.size, -1)
    crop_x = (vi[at] >= 1) & (ex < hp.FLAT_VIEW_EPS) & (wx.max(axis=1) > wx.min(axis=1))
    crop_y = (vj[at] >= 1) & (ey < hp.FLAT_VIEW_EPS) & (wy.max(axis=1) > wy.min(axis=1))
    lone = ~checked & ~small[at] & (vi[at] != first.strip_view) & (vj[at] != second.strip_view)
    flat_alone = lone & ((crop_x & (ey > hp.FLAT_PARTNER_RMS)) | (crop_y & (ex > hp.FLAT_PARTNER_RMS)))
    passed = score >= np.where(small[at], hp.SMALL_VERIFY_MIN, hp.VERIFY_MIN)
    strong = np.nonzero(checked & passed)[0]
    local, _ = local_detail_check(x[strong], y[strong])
    passed[strong] = local >= hp.LOCAL_VERIFY_MIN
    verified[at] = np.where(checked, passed, verified[at] & ~flat_alone)
    detail_ok[at] = checked & passed
    drawn = np.nonzero(detail_ok & transparent)[0]
    inner, inner_ok = interior_detail_check(tx[i[drawn], vi[drawn]], ty[j[drawn], vj[drawn]])
    detail_ok[drawn] = inner_ok & (inner >= hp.VERIFY_MIN)
    keep &= verified
    if radius > 0:
        is_plain = (first.plain[i] >= hp.PLAIN_SHARE) | (second.plain[j] >= hp.PLAIN_SHARE)
        is_plain &= ~(transparent & detail_ok)
        keep &= (dist <= hp.PLAIN_RADIUS) | ~is_plain
    keep &= ~small | (dist <= hp.UNVERIFIED_RADIUS)
    d = np.linalg.norm(first.chroma[i] - second.chroma[j], axis=1)
    big = np.maximum(np.linalg.norm(first.chroma[i], axis=1), np.linalg.norm(second.chroma[j], axis=1))
    # copies10: an opaque pair that is one picture at another exposure (the brighter side's cast
    # and spread the darker's times k, the ratio of the levels, k <= 5) passes cast and spread
    up = first.level[i] >= second.level[j]
    k = np.where(up, first.level[i] / second.level[j], second.level[j] / first.level[i])
    c_hi, c_lo = np.where(up[:, None], first.chroma[i], second.chroma[j]), np.where(up[:, None], second.chroma[j], first.chroma[i])
    s_hi, s_lo = np.where(up, first.spread[i], second.spread[j]), np.where(up, second.spread[j], first.spread[i])
    dk = np.linalg.norm(c_hi - k[:, None] * c_lo, axis=1)
    bigk = np.maximum(np.linalg.norm(c_hi, axis=1), np.linalg.norm(k[:, None] * c_lo, axis=1))
    exposed = (first.opacity[i] >= 1) & (second.opacity[j] >= 1) & (k <= 5.0)
    exposed &= (dk <= np.maximum(6.0, 0.35 * bigk)) & _ratio_close(s_hi, k * s_lo, 1.6, 0.02)
    keep &= (d <= np.maximum(hp.CHROMA_TOLERANCE[0], hp.CHROMA_TOLERANCE[1] * big)) | exposed
    keep &= _ratio_close(first.entropy[i], second.entropy[j], hp.ENTROPY_RATIO, hp.ENTROPY_EPS)
    flat = (first.entropy[i] < hp.FLAT_ENTROPY) | (second.entropy[j] < hp.FLAT_ENTROPY)
    keep &= ~flat | (np.abs(first.level[i] - second.level[j]) <= hp.LEVEL_TOLERANCE)
    keep &= _ratio_close(first.spread[i], second.spread[j], hp.SPREAD_RATIO, hp.SPREAD_EPS) | exposed
    return keep


def _figures(rng: np.random.Generator, n: int, views: int, as_tensor: bool = False) -> PairFigures:
    thumbs = _thumbs(rng, n, views)
    return PairFigures(
        chroma=rng.normal(0, 6, (n, 2)),
        plain=rng.choice([0.0, 0.3, 0.4, 0.7], n),  # 0.4: exactly PLAIN_SHARE
        entropy=rng.choice([0.05, 3.0, 4.0, 5.0, 7.0], n),
        spread=rng.choice([0.1, 0.12, 0.2], n),
        thumbs=torch.from_numpy(thumbs) if as_tensor else thumbs,
        opacity=rng.choice([0.5, 1.0], n),
        level=rng.choice([0.2, 0.2 + 2 / 255, 0.3], n),
        side=rng.choice([16.0, 20.0, 32.0, 33.0, 64.0, 300.0], n),
        hw=rng.choice([64.0, 300.0], (n, 2)),
        strip_view=views - 1,
    )


@pytest.mark.parametrize(("seed", "as_tensor"), [(0, False), (1, True), (2, False)])
def test_hash_pairs_ok_keeps_the_former_pairs(seed: int, as_tensor: bool) -> None:
    rng = np.random.default_rng(seed)
    n, views, p = 90, 4, 6000
    figs = _figures(rng, n, views, as_tensor)
    i, j = rng.integers(0, n, p), rng.integers(0, n, p)
    vi, vj = rng.integers(0, views + 1, p), rng.integers(0, views + 1, p)  # views + 1: no thumbnail
    dist = rng.integers(0, 9, p)
    for radius in (0, 8):
        calls: list[int] = []
        got = hash_pairs_ok(figs, figs, i, vi, j, vj, dist, radius, calls.append)
        ref = _reference_ok(figs, figs, i, vi, j, vj, dist, radius)
        assert np.array_equal(got, ref)
        assert sum(calls) == p  # every pair counted once by the progress steps
        assert 0 < ref.sum() < p


def test_pairs_exactly_at_the_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thresholds moved onto the scores of actual pairs: a score equal to its threshold passes,
    the next float below fails, as before."""
    rng = np.random.default_rng(7)
    n, views, p = 60, 2, 3000
    figs = _figures(rng, n, views)
    figs.opacity[:] = 0.5  # every pair a drawing on transparent: the interior check runs
    figs.plain[:] = 0.7
    i, j = rng.integers(0, n, p), rng.integers(0, n, p)
    vi, vj = np.zeros(p, np.int64), np.zeros(p, np.int64)
    dist = rng.integers(1, 3, p)
    t = figs.thumbs
    det, ok = detail_check(t[i, 0], t[j, 0])
    loc, _ = local_detail_check(t[i, 0], t[j, 0])
    inn, inn_ok = interior_detail_check(t[i, 0], t[j, 0])
    for name, values in (("VERIFY_MIN", det[ok & (det < 1)]), ("LOCAL_VERIFY_MIN", loc[ok]), ("VERIFY_MIN", inn[inn_ok & (inn < 1)])):
        for value in (np.median(values), np.nextafter(np.median(values), 1.0)):
            monkeypatch.setattr(hp, name, float(value))
            got = hash_pairs_ok(figs, figs, i, vi, j, vj, dist, 4)
            assert np.array_equal(got, _reference_ok(figs, figs, i, vi, j, vj, dist, 4)), name
            assert 0 < got.sum() < p


def test_hash_pairs_skips_crops_of_kept_pairs_and_keeps_the_same_set(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n = 120
    figs = _figures(rng, n, 3)
    figs.opacity[:] = 1.0
    base = torch.from_numpy(rng.integers(0, 2**63 - 1, n // 4, dtype=np.int64))
    full = base.repeat(4) ^ torch.from_numpy(rng.integers(0, 2, n) << rng.integers(0, 64, n))  # near groups
    crops = [(full ^ 1, torch.ones(n, dtype=torch.bool)), (full ^ 3, torch.ones(n, dtype=torch.bool))]
    valid = torch.ones(n, dtype=torch.bool)
    args = (figs.chroma, figs.plain, figs.entropy, figs.spread, figs.thumbs, figs.opacity, figs.level, figs.side)
    seen: list[int] = []
    real = hp.hash_pairs_ok

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        seen.append(len(a[2]))
        return real(*a, **k)

    monkeypatch.setattr(hp, "hash_pairs_ok", spy)
    got = hash_pairs(full, valid, crops, 4, *args)
    # the former result: every view pair through the former rules
    h = torch.cat([full, crops[0][0], crops[1][0]])
    from dataeval_gpu.functional.hashing import hamming_distance, near_pairs

    pairs = near_pairs(h, 4)
    keep = ((pairs[:, 0] < n) | (pairs[:, 1] < n)) & (pairs[:, 0] % n != pairs[:, 1] % n)
    pairs = pairs[keep]
    a, b = pairs[:, 0].numpy(), pairs[:, 1].numpy()
    dist = hamming_distance(h[pairs[:, 0]], h[pairs[:, 1]]).numpy()
    ref_figs = PairFigures(*args)
    ok = _reference_ok(ref_figs, ref_figs, a % n, a // n, b % n, b // n, dist, 4)
    code = np.unique(np.minimum(a[ok] % n, b[ok] % n) * n + np.maximum(a[ok] % n, b[ok] % n))
    assert np.array_equal(got, np.stack([code // n, code % n], axis=1)) and len(got) > 0
    assert sum(seen) < len(a)  # crop views of image pairs kept whole were not checked


def test_hash_pairs_progress_bar_when_long(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    n = 40
    full = torch.zeros(n, dtype=torch.int64)
    valid = torch.ones(n, dtype=torch.bool)
    monkeypatch.setattr(hp, "PROGRESS_MIN_PAIRS", 10)
    hash_pairs(full, valid, [], 2, progress=True)
    assert "near pairs" in capsys.readouterr().err
    monkeypatch.setattr(hp, "PROGRESS_MIN_PAIRS", 10_000)
    hash_pairs(full, valid, [], 2, progress=True)
    assert "near pairs" not in capsys.readouterr().err
