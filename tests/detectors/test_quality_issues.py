"""Scored quality issues and the hash + embedding near-duplicate finder."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors import quality as q_mod
from dataeval_gpu.detectors.near_duplicates import (
    NearDuplicates,
    chroma_signature,
    embedding_groups,
    hash_groups,
)
from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, ISSUES, QualityIssues, issue_scores
from dataeval_gpu.errors import InvalidArgumentError
from dataeval_gpu.functional import quality as fq_mod
from dataeval_gpu.functional.knn import faiss_available


def _photo(rng: np.random.Generator, h: int = 96, w: int = 128) -> np.ndarray:
    base = ndimage.gaussian_filter(rng.normal(128, 70, (3, h, w)), sigma=(0, 1.0, 1.0))
    base += rng.normal(0, 3, base.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def _planted() -> tuple[list[np.ndarray], dict[int, str]]:
    rng = np.random.default_rng(0)
    imgs = [_photo(rng) for _ in range(12)]
    src = imgs[0]
    planted = {
        12: ("dark", src // 8),
        13: ("blurry", ndimage.gaussian_filter(src.astype(float), (0, 4, 4)).round().astype(np.uint8)),
        14: ("grayscale", np.repeat(src.mean(axis=0, keepdims=True).round().astype(np.uint8), 3, axis=0)),
        15: ("low_information", np.full_like(src, 90)),
        16: ("odd_size", _photo(rng, 8, 10)),
        17: ("odd_aspect_ratio", _photo(rng, 12, 128)),
        18: ("noisy", np.clip(src + rng.normal(0, 40, src.shape), 0, 255).astype(np.uint8)),
        19: ("light", np.clip(src.astype(float) * 2.5 + 60, 0, 255).astype(np.uint8)),
    }
    kinds = {}
    for i, (kind, img) in planted.items():
        imgs.append(img)
        kinds[i] = kind
    return imgs, kinds


def test_planted_issues_are_flagged_with_reasons() -> None:
    imgs, kinds = _planted()
    out = QualityIssues().evaluate(imgs)
    for i, kind in kinds.items():
        assert kind in out.issues(i), (i, kind, out.issues(i))
        assert any(line.startswith(f"{kind}: score") for line in out.why(i))
    for i in range(12):  # the clean images
        assert out.issues(i) == [], (i, out.why(i))
    df = out.to_pandas()
    assert list(df.columns[:2]) == ["dark_score", "is_dark_issue"]
    assert len(df) == len(imgs) and df.shape[1] == 2 * len(ISSUES)


def test_scores_follow_their_definitions() -> None:
    # hand-made metrics: the scores are the documented formulas, the relative ones against medians
    m = {k: torch.zeros(4, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(4, dtype=torch.float64)}
    m["grey_p99"] = torch.tensor([1.0, 0.8, 0.8, 0.1], dtype=torch.float64)
    m["norm_sharpness"] = torch.tensor([0.7, 0.4, 0.9, 0.9], dtype=torch.float64)
    m["coarse_sharpness"] = torch.tensor([0.7, 0.9, 0.2, 0.9], dtype=torch.float64)
    m["fine_sharpness"] = torch.tensor([1.0, 1.0, 1.0, 0.3], dtype=torch.float64)
    m["channel_spread"] = torch.tensor([0.1, 0.0, 0.0, 0.0], dtype=torch.float64)
    m["width"] = torch.tensor([100.0, 100.0, 400.0, 100.0], dtype=torch.float64)
    m["height"] = torch.tensor([100.0, 100.0, 100.0, 100.0], dtype=torch.float64)
    m["channels"] = torch.tensor([3.0, 3.0, 3.0, 1.0], dtype=torch.float64)
    m["opacity"] = torch.ones(4, dtype=torch.float64)  # no transparency
    s, ref = issue_scores(m)
    assert ref["grey_p99"] == pytest.approx(0.8)
    np.testing.assert_allclose(s["dark"], [1 - 1 / 0.8, 0.0, 0.0, 1 - 0.1 / 0.8])
    # 1 - min(norm, coarse + 0.11, fine + 0.075 where the short side is over 256 px): the last
    # image's low fine_sharpness does not count at 100 px (the working resolution sees its pixels)
    np.testing.assert_allclose(s["blurry"], [0.3, 0.6, 1 - 0.31, 0.1])
    big = dict(m, width=m["width"] * 10, height=m["height"] * 10)
    np.testing.assert_allclose(issue_scores(big)[0]["blurry"], [0.3, 0.6, 1 - 0.31, 1 - 0.375])
    np.testing.assert_allclose(s["grayscale"], [0.9, 1.0, 1.0, 0.0])  # one channel: not an issue
    side = np.sqrt([1e4, 1e4, 4e4, 1e4])
    np.testing.assert_allclose(s["odd_size"], np.abs(np.log2(side / 100.0)))
    np.testing.assert_allclose(s["odd_aspect_ratio"], [0.0, 0.0, 2.0, 0.0])
    np.testing.assert_allclose(s["low_information"], [8.0] * 4)


def _icon(rng: np.random.Generator, colour: np.ndarray | None = None, h: int = 96, w: int = 96) -> np.ndarray:
    """RGBA: a picture (or one ``colour``) in a soft-edged disc, transparent around it."""
    col = _photo(rng, h, w) if colour is None else np.broadcast_to(colour.reshape(3, 1, 1), (3, h, w)).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    a = np.clip((1.0 - np.hypot(yy - h / 2, xx - w / 2) / (0.4 * h)) * 10.0, 0.0, 1.0)
    return np.concatenate([col, np.round(a * 255)[None].astype(np.uint8)])


def test_transparent_scores_hand_checked() -> None:
    """Hand-made metrics of four images: opaque; a black glyph on transparent (opacity 1/4, one
    ink: entropy 0, p99 0); a dark picture with alpha (opacity 1/2, 3 bits, p99 0.1); a fully
    transparent image (opacity 0)."""
    m = {k: torch.zeros(4, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(4, dtype=torch.float64)}
    m["opacity"] = torch.tensor([1.0, 0.25, 0.5, 0.0], dtype=torch.float64)
    m["grey_entropy"] = torch.tensor([6.0, 0.0, 3.0, 0.0], dtype=torch.float64)
    m["grey_p99"] = torch.tensor([0.9, 0.0, 0.1, 0.0], dtype=torch.float64)
    # the dark picture's body above black (black ink, a median at black, is a shadow: alpha15)
    m["grey_p50"] = torch.tensor([0.5, 0.0, 0.05, 0.0], dtype=torch.float64)
    m["grey_p001"] = torch.tensor([0.3, 0.0, 0.3, 0.0], dtype=torch.float64)
    m["grey_p0001"] = m["grey_p001"].clone()  # no darker tail: washed out
    m["dark_p001"] = m["grey_p001"].clone()  # grey: the darkest channel is the grey level
    m["bright_clipped"] = torch.tensor([0.5, 0.0, 0.5, 0.0], dtype=torch.float64)
    for k in ("width", "height"):
        m[k] = torch.full((4,), 64.0, dtype=torch.float64)
    m["channels"] = torch.tensor([3.0, 4.0, 4.0, 4.0], dtype=torch.float64)
    s, ref = issue_scores(m)
    # what is seen: H_b(o) + o H; H_b(1/4) = 0.811278 bits, H_b(1/2) = 1
    hb = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    np.testing.assert_allclose(s["low_information"], [8 - 6.0, 8 - hb, 8 - (1 + 0.5 * 3), 8.0], atol=1e-12)
    # dark: the glyph and the blank are silhouettes (transparent, under 1 bit): not judged
    assert ref["grey_p99"] == pytest.approx(0.05)
    np.testing.assert_allclose(s["dark"], [1 - 0.9 / 0.05, 0.0, 1 - 0.1 / 0.05, 0.0])
    # light: no black point of its own where transparent
    np.testing.assert_allclose(s["light"], [0.3, 0.0, 0.0, 0.0])
    out = QualityIssues().evaluate(m)
    assert out.flags["dark"].tolist() == [False, False, False, False]  # absolute floor: not for silhouettes
    assert out.flags["low_information"].tolist() == [False, False, False, True]
    assert out.flags["light"].tolist() == [True, False, False, False]
    # metrics gathered without the key (before it existed): every image opaque
    old = {k: v for k, v in m.items() if k != "opacity"}
    np.testing.assert_allclose(issue_scores(old)[0]["low_information"], [2.0, 8.0, 5.0, 8.0])


def test_icons_are_judged_as_seen() -> None:
    """A collection of pictures with alpha: a near-black glyph and a white glyph on transparent are
    clean (composited on black they were dark, blurry and without information), a darkened
    picture (colour // 8, alpha kept) is dark, a fully transparent one has no information, a
    noisy one (σ 30 on the colour) is noisy and a blurred one blurry."""
    rng = np.random.default_rng(7)
    icons = [_icon(rng) for _ in range(10)]
    glyph = np.zeros((4, 96, 96), np.uint8)
    glyph[3, 20:76, 30:44] = 255  # a "T" in one ink: near black (a grey ink would be grayscale)
    glyph[3, 20:34, 20:76] = 255
    glyph[2] = 40
    white = glyph.copy()
    white[:3] = np.array([255, 250, 235], np.uint8).reshape(3, 1, 1)
    dark = np.concatenate([icons[0][:3] // 8, icons[0][3:]])
    blank = np.zeros_like(icons[0])
    noisy = icons[1].copy()
    noisy[:3] = np.clip(noisy[:3] + rng.normal(0, 30, noisy[:3].shape), 0, 255).astype(np.uint8)
    blur = np.concatenate([ndimage.gaussian_filter(icons[2][:3].astype(float), (0, 3, 3)).round().astype(np.uint8), icons[2][3:]])
    imgs = [*icons, glyph, white, dark, blank, noisy, blur]
    out = QualityIssues().evaluate(imgs)
    for i in range(12):  # the clean pictures and both glyphs
        assert out.issues(i) == [], (i, out.why(i))
    assert "dark" in out.issues(12), out.why(12)
    assert "low_information" in out.issues(13), out.why(13)
    assert "noisy" in out.issues(14), out.why(14)
    assert "blurry" in out.issues(15), out.why(15)
    # before: composited on black, the dark glyph was a near-black picture: dark by its grey
    # highlights (its brightest channel, the T's blue 40/255 = 0.157, is at the threshold's edge:
    # 22 % of these icons' median max(R, G, B) highlights is 0.151)
    on_black = [np.concatenate([(i[:3].astype(np.int32) * i[3] // 255).astype(np.uint8), np.full_like(i[3:], 255)]) for i in imgs]
    seen_black = QualityIssues().evaluate(on_black)
    assert 1.0 - seen_black.metrics["grey_p99"][10] / seen_black.reference["grey_p99"] > DEFAULT_THRESHOLDS["dark"]
    assert seen_black.metrics["bright_p99"][10] == pytest.approx(40 / 255)


def test_relative_dark_uses_the_reference() -> None:
    # an image with highlights at 0.15 is dark among bright photos, not among dark ones
    imgs, _ = _planted()
    m = QualityIssues().metrics(imgs[:3])
    m["grey_p99"] = torch.tensor([0.15, 0.9, 0.95], dtype=m["grey_p99"].dtype)
    m["bright_p99"] = m["grey_p99"].clone()  # grey pictures: max(R, G, B) is the grey
    m["bright_p9999"] = m["grey_p99"].clone()  # and no highlights above them (a peak under 0.5)
    bright = QualityIssues().evaluate(m)
    dark_set = QualityIssues(reference={"grey_p99": 0.18, "bright_p99": 0.18}).evaluate(m)
    assert bool(bright.flags["dark"][0]) and not bool(dark_set.flags["dark"][0])


def test_grayscale_is_flagged_only_where_grey_images_are_a_minority() -> None:
    """A grey image stored as RGB is flagged among colour photos; in a collection where grey
    images are half or more of the colour-stored ones (scans, X-rays, MNIST as RGB) none is,
    and the score is reported either way; a reference share decides instead when given."""
    rng = np.random.default_rng(5)
    colour = [_photo(rng) for _ in range(6)]
    grey = [np.repeat(_photo(rng)[:1], 3, axis=0) for _ in range(6)]
    # independent check of what the images are: channels equal in the grey ones only
    assert all(int(np.ptp(g.astype(int), axis=0).max()) == 0 for g in grey)
    assert all(int(np.ptp(c.astype(int), axis=0).max()) > 50 for c in colour)
    few = QualityIssues().evaluate(colour + grey[:2])  # 2 of 8 grey: flagged
    assert few.flags["grayscale"].tolist() == [False] * 6 + [True] * 2
    assert few.reference["grey_share"] == pytest.approx(0.25)
    assert "grey images are 25.0% of the dataset" in few.why(6)[0]
    many = QualityIssues().evaluate(colour[:2] + grey)  # 6 of 8 grey: the norm, none flagged
    assert not many.flags["grayscale"].any() and many.reference["grey_share"] == pytest.approx(0.75)
    np.testing.assert_allclose(many.scores["grayscale"][2:], 1.0)  # scores still there
    half = QualityIssues().evaluate(colour[:3] + grey[:3])  # exactly half: not a minority
    assert not half.flags["grayscale"].any()
    ref = QualityIssues(reference={"grey_share": 0.01}).evaluate(colour[:2] + grey)
    assert ref.flags["grayscale"].tolist() == [False] * 2 + [True] * 6
    # one-channel images are not "grey stored as RGB" and do not count in the share: 1 of 3
    one_channel = QualityIssues().evaluate([g[:1] for g in grey] + colour[:2] + grey[:1])
    assert one_channel.flags["grayscale"].tolist() == [False] * 8 + [True]
    assert one_channel.reference["grey_share"] == pytest.approx(1 / 3)


def test_thresholds_override_and_validation() -> None:
    imgs, _ = _planted()
    strict = QualityIssues(thresholds={"noisy": 1000.0}, issues=["noisy", "blurry"]).evaluate(imgs)
    assert list(strict.scores) == ["noisy", "blurry"]
    assert not strict.flags["noisy"].any()
    assert strict.thresholds["blurry"] == DEFAULT_THRESHOLDS["blurry"]
    with pytest.raises(InvalidArgumentError, match="unknown quality issue"):
        QualityIssues(thresholds={"fuzzy": 1.0})
    with pytest.raises(InvalidArgumentError, match="finite number"):
        QualityIssues(thresholds={"dark": float("nan")})
    with pytest.raises(InvalidArgumentError, match="lack the keys"):
        QualityIssues().evaluate({"noise": np.zeros(2)})
    with pytest.raises(InvalidArgumentError, match="empty"):
        QualityIssues().evaluate([])


# ----------------------------------------------------------------- near duplicates


def test_embedding_groups_centre_rule_does_not_chain() -> None:
    # a chain a-b-c-d with neighbours at cos 0.95 but a, d far apart: the centre rule stops it
    ang = np.deg2rad([0.0, 18.0, 36.0, 54.0, 150.0])
    x = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    groups = embedding_groups(x, threshold=0.94, k=3, backend="torch")
    # degrees: b and c have two neighbours each; b (lower index) is the first centre: {a, b, c}
    assert groups == [[0, 1, 2]]
    assert embedding_groups(x, threshold=0.999, k=3, backend="torch") == []
    if faiss_available():
        faiss_groups = embedding_groups(x, threshold=0.94, k=3, backend="auto")
        assert faiss_groups == groups
    with pytest.raises(InvalidArgumentError, match="cosine similarity"):
        embedding_groups(x, threshold=1.5)


def test_combined_pairs_say_which_method_found_them() -> None:
    rng = np.random.default_rng(1)
    imgs = [_photo(rng) for _ in range(5)]
    imgs.append(imgs[0].copy())  # byte copy of 0
    imgs.append(np.ascontiguousarray(imgs[1][:, :, ::-1]))  # flip of 1: the D4 hash
    noisy = imgs[2].astype(float) + rng.normal(0, 20, imgs[2].shape)
    imgs[4] = np.clip(noisy, 0, 255).astype(np.uint8)  # 4: 2 with noise (its hash moves, it still looks alike)
    emb = rng.normal(size=(7, 16))
    emb[4] = emb[2] + 0.01 * rng.normal(size=16)  # 2 and 4: only the embeddings
    out = NearDuplicates(radius=0, embedding_threshold=0.95).evaluate(imgs, embeddings=emb)
    assert out.groups == [[0, 5], [1, 6], [2, 4]]
    found = {
        (int(a), int(b)): out.methods(p)
        for p, (a, b) in enumerate(zip(out.pairs["first"], out.pairs["second"]))
    }
    assert found[(0, 5)][0] == "exact"
    assert "hash" in found[(1, 6)] and "exact" not in found[(1, 6)]
    assert found[(2, 4)] == ["embedding"]
    p24 = [p for p in range(len(out.pairs["first"])) if out.pairs["first"][p] == 2][0]
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    assert out.pairs["cosine"][p24] == pytest.approx(float(e[2] @ e[4]))
    assert out.to_pandas().shape[0] == 3


def test_docstring_examples_run() -> None:
    for mod in (q_mod, fq_mod):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert res.failed == 0 and res.attempted > 0, mod.__name__


def test_hash_groups_match_a_crop_against_the_centre_of_its_original() -> None:
    # hand-made hashes: image 1 (a crop) equals the 80 % centre hash of image 0; image 2's
    # crop hashes equal image 3's crop hashes, which is not compared (crop against crop)
    full = torch.tensor([0b1111, 0b0000_1111_0000, 0b1010_1010_1010_1010, 0b0101_0101_0101_0101])
    crop90 = torch.tensor([0b1, 0b10, 0b111_000_111, 0b111_000_111])
    crop80 = torch.tensor([0b0000_1111_0000, 0b100, 0b1000, 0b1000])
    ok = torch.ones(4, dtype=torch.bool)
    groups = hash_groups(full, ok, [(crop90, ok), (crop80, ok)], radius=0)
    assert groups == [[0, 1]]
    # one flipped bit: found at radius 1, not at 0
    near = full.clone()
    near[1] ^= 1 << 20
    assert hash_groups(near, ok, [(crop90, ok), (crop80, ok)], radius=0) == []
    assert hash_groups(near, ok, [(crop90, ok), (crop80, ok)], radius=1) == [[0, 1]]
    # an invalid crop hash is left out
    bad = ok.clone()
    bad[0] = False
    assert hash_groups(full, ok, [(crop90, ok), (crop80, bad)], radius=0) == []


def test_near_duplicates_find_a_ten_percent_crop() -> None:
    rng = np.random.default_rng(7)
    imgs = [_photo(rng, 120, 160) for _ in range(6)]
    imgs.append(imgs[0][:, 12:108, 16:144].copy())  # 10 % off every side: the 80 % centre
    out = NearDuplicates(radius=0, embedding_threshold=None).evaluate(imgs)
    assert out.groups == [[0, 6]]
    assert out.methods(0) == ["hash"]
    with pytest.raises(InvalidArgumentError, match="central fractions"):
        NearDuplicates(crops=(1.2,))


def test_chroma_confirms_hash_pairs() -> None:
    # three images with one hash: 0 and 1 share their colour, 2 is another colour
    red = np.zeros((3, 8, 8), np.uint8)
    red[0] = 200
    blue = np.zeros((3, 8, 8), np.uint8)
    blue[2] = 200
    sig = chroma_signature([torch.from_numpy(red), torch.from_numpy((red * 0.7).astype(np.uint8)), torch.from_numpy(blue)])
    np.testing.assert_allclose(sig, [[200.0, 0.0], [140.0, 0.0], [0.0, 200.0]])
    h = torch.tensor([7, 7, 7])
    ok = torch.ones(3, dtype=torch.bool)
    assert hash_groups(h, ok, [], 0) == [[0, 1, 2]]
    # red vs its contrast x0.7: 60 apart, within 35 % of 200; red vs blue: 283 apart
    assert hash_groups(h, ok, [], 0, chroma=sig) == [[0, 1]]


def test_blur_of_a_large_photo_is_found_at_native_resolution() -> None:
    """A 2-px blur on a 1024 px image is invisible at the 256 px working resolution; the native
    windows (fine_sharpness) flag it, and why() gives the three sharpness values."""
    rng = np.random.default_rng(21)
    sharp = [
        np.clip(
            ndimage.zoom(rng.normal(128, 50, (3, 256, 256)), (1, 4, 4), order=1) + rng.normal(0, 8, (3, 1024, 1024)),
            0,
            255,
        )
        .round()
        .astype(np.uint8)
        for _ in range(3)
    ]
    blurred = ndimage.gaussian_filter(sharp[0].astype(np.float64), sigma=(0, 2, 2)).round().astype(np.uint8)
    out = QualityIssues().evaluate([*sharp, blurred])
    assert out.flags["blurry"].tolist() == [False, False, False, True]
    assert out.metrics["norm_sharpness"][3] > 0.445  # the working resolution alone misses it
    (line,) = [w for w in out.why(3) if w.startswith("blurry")]
    assert "native" in line and f"{out.metrics['fine_sharpness'][3]:.3g}" in line


def test_noisy_needs_noise_like_estimates() -> None:
    """The MAD estimate counts as Gaussian noise only while the Immerkær mean estimate is within
    NOISE_GAUSS_RATIO of it (texture raises the mean above the median), and at most
    ``noise_flat / NOISE_FLAT_SHARE`` (noise reaches the flattest blocks); impulse noise counts
    through the mean estimate less the texture floor while at least IMPULSE_MIN_SHARE of the
    pixels are isolated impulses."""
    m = {k: torch.zeros(6, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(6, dtype=torch.float64)}
    m["noise_robust"] = torch.tensor([10.0, 10.0, 2.0, 10.0, 10.0, 2.0], dtype=torch.float64)
    m["noise"] = torch.tensor([11.0, 14.0, 25.0, 13.0, 11.0, 25.0], dtype=torch.float64)
    m["noise_flat"] = torch.tensor([100.0, 100.0, 100.0, 100.0, 3.0, 100.0], dtype=torch.float64)
    m["impulse_share"] = torch.tensor([0.02, 0.02, 0.02, 0.02, 0.02, 0.005], dtype=torch.float64)
    m["grey_entropy"] = torch.full((6,), 8.0, dtype=torch.float64)  # enough grey levels for any of these σ
    m["opacity"] = torch.ones(6, dtype=torch.float64)  # opaque (0: nothing seen, not judged: quality_noise_judged)
    for k, v in (("width", 100.0), ("height", 100.0), ("channels", 3.0)):
        m[k] = torch.full((6,), v, dtype=torch.float64)
    s, _ = issue_scores(m)
    assert (q_mod.NOISE_GAUSS_RATIO, q_mod.NOISE_FLAT_SHARE, q_mod.IMPULSE_MIN_SHARE) == (1.3, 0.5, 0.01)
    # 11 <= 13: Gaussian-like -> 10; 14 > 13: texture -> impulse 14 - max(11, 1.3 * 10); impulse: 25 - 11;
    # 13 <= 13 -> 10; flattest blocks at 3: min(10, 3 / 0.5); 0.5 % isolated impulses: not impulse noise -> 0
    np.testing.assert_allclose(s["noisy"], [10.0, 1.0, 14.0, 10.0, 6.0, 0.0])
    # metrics gathered before noise_flat / impulse_share existed: scored without those checks
    old = {k: v for k, v in m.items() if k not in ("noise_flat", "impulse_share")}
    np.testing.assert_allclose(issue_scores(old)[0]["noisy"], [10.0, 3.0, 14.0, 10.0, 10.0, 14.0])
    out = QualityIssues().evaluate(m)
    assert out.flags["noisy"].tolist() == [True, False, True, True, False, False]
    assert any("flattest blocks σ 100, isolated impulses 2.00%" in line for line in out.why(0))


def test_noise_is_told_from_texture_and_line_art() -> None:
    """Real pixels: a pixel-scale texture on a smooth ground and a dense 1-px line drawing are not
    noisy; the texture and a photo with Gaussian noise (σ 25) are, and the photo with 5 %
    salt-and-pepper.  (Noise on the dense line drawing is not found: its mean estimate is over 1.3x
    the MAD one, and it has no isolated impulses.  Salt-and-pepper on the texture is not found
    either since the impulse branch counts the mean estimate only beyond 1.3x the MAD one: the
    texture's median response, raised by the impulses too, explains the mean - as a print's does.)"""
    rng = np.random.default_rng(11)
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    ground = 60 + 0.3 * xx + 0.2 * yy  # smooth ramp
    texture = ground + np.where((xx > 24) & (xx < 136), (rng.random((h, w)) < 0.5) * 90.0, 0.0)
    lines = np.full((h, w), 230.0)
    lines[::4, :] = 20  # a 1-px grid: every pixel next to a stroke
    lines[:, ::5] = 20
    lines[(yy - 60) ** 2 + (xx - 80) ** 2 < 30**2] = 230
    lines[np.abs(np.hypot(yy - 60, xx - 80) - 25) < 0.7] = 20  # a circle's thin outline
    clean = [np.repeat(np.clip(a, 0, 255).round().astype(np.uint8)[None], 3, axis=0) for a in (texture, lines)]
    pictures = [clean[0], _photo(rng, h, w)]
    noisy = [np.clip(c + rng.normal(0, 25, c.shape), 0, 255).round().astype(np.uint8) for c in pictures]
    salted = []
    for c in pictures:
        u = rng.random((h, w))
        sp = c.copy()
        sp[:, u < 0.025], sp[:, u > 0.975] = 0, 255
        salted.append(sp)
    out = QualityIssues(issues=["noisy"]).evaluate([*clean, *noisy, *salted])
    assert out.flags["noisy"].tolist() == [False, False, True, True, False, True], out.scores["noisy"]
    # without the flattest blocks and the isolated impulses (metrics gathered before them) the
    # texture and the line drawing were noisy too
    old = {k: v for k, v in out.metrics.items() if k not in ("noise_flat", "impulse_share")}
    assert (issue_scores(old)[0]["noisy"] > 8.5).tolist() == [True] * 6


def test_low_information_leaves_line_diagrams_alone() -> None:
    """Under 0.5 bit of grey entropy is low information, unless the image has detail of at least
    LOW_INFO_DETAIL (strokes: a line diagram on white); a blank page with a faint smudge stays."""
    m = {k: torch.zeros(4, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(4, dtype=torch.float64)}
    m["grey_entropy"] = torch.full((4,), 0.3, dtype=torch.float64)
    m["detail"] = torch.tensor([0.0, 0.049, 0.05, 0.1], dtype=torch.float64)
    m["opacity"] = torch.ones(4, dtype=torch.float64)
    for k, v in (("width", 100.0), ("height", 100.0), ("channels", 3.0)):
        m[k] = torch.full((4,), v, dtype=torch.float64)
    assert q_mod.LOW_INFO_DETAIL == 0.05
    np.testing.assert_allclose(issue_scores(m)[0]["low_information"], [7.7, 7.7, 0.0, 0.0])
    page = np.full((1, 300, 400), 255, np.uint8)
    diagram = page.copy()
    for y in range(40, 280, 60):
        diagram[0, y : y + 2, 50:350] = 0  # boxes' edges: 3 % ink
        diagram[0, y : y + 40, 50:52] = 0
    smudge = page.copy()
    smudge[0, 100:140, 100:160] = 250  # a faint smudge: no strokes
    out = QualityIssues(issues=["low_information"]).evaluate([diagram, smudge, page])
    assert out.metrics["grey_entropy"][0] < 0.5 and out.metrics["detail"][0] >= 0.05
    assert out.flags["low_information"].tolist() == [False, True, True]


def test_odd_size_needs_a_rare_size() -> None:
    """An icon theme: 30 images of 32 px, 5 of 512 px (16x the median side: score 4) and one of
    2 px (score 4).  Within an octave of 512 px lie 5 images = 14 % of 36, at least 5 %
    (``ODD_MAX_SHARE``): a size of the collection, not flagged; the 2 px image is alone: flagged.
    The same for shapes: 5 strips 20:1 among squares are a shape of the collection."""
    sides = np.array([32.0] * 30 + [512.0] * 5 + [2.0])
    n = len(sides)
    m = {k: torch.zeros(n, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(n, dtype=torch.float64)}
    m["opacity"] = torch.ones(n, dtype=torch.float64)
    m["grey_p99"] = torch.full((n,), 0.9, dtype=torch.float64)
    m["grey_entropy"] = torch.full((n,), 6.0, dtype=torch.float64)
    m["width"] = torch.from_numpy(sides.copy())
    m["height"] = torch.from_numpy(sides.copy())
    m["channels"] = torch.full((n,), 3.0, dtype=torch.float64)
    out = QualityIssues().evaluate(m)
    np.testing.assert_allclose(out.scores["odd_size"][30:], [4.0] * 6)
    assert np.nonzero(out.flags["odd_size"])[0].tolist() == [35]
    assert q_mod.octave_neighbours(sides).tolist() == [30] * 30 + [5] * 5 + [1]
    # shapes: 5 strips of 640 x 32 (aspect 20: log2 20 = 4.3 octaves off) among 31 squares
    w = np.array([32.0] * 31 + [640.0] * 5)
    m2 = dict(m, width=torch.from_numpy(w), height=torch.full((n,), 32.0, dtype=torch.float64))
    out2 = QualityIssues().evaluate(m2)
    assert not out2.flags["odd_aspect_ratio"].any() and out2.scores["odd_aspect_ratio"][35] > 2.8
    m3 = dict(m2, width=torch.from_numpy(np.array([32.0] * 35 + [640.0])))
    assert np.nonzero(QualityIssues().evaluate(m3).flags["odd_aspect_ratio"])[0].tolist() == [35]


def _white_plot(h: int = 240, w: int = 320) -> np.ndarray:
    """A plot as a documentation page shows it: white ground, three thin anti-aliased grey curves
    (levels 76, 94, 128: Gaussian line profile, σ 0.6 px) and a small black label (6 marks of 3 x 2
    px, 36 pixels: 0.05 % of the image, the only black ink)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = np.full((3, h, w), 255.0)
    for k, ink in enumerate(((76, 76, 76), (94, 94, 94), (128, 128, 128))):
        curve = h / 2 + (h / 3) * np.sin(xx / (25.0 + 9 * k) + k)
        cover = np.exp(-((yy - curve) ** 2) / (2 * 0.6**2))
        for c in range(3):
            img[c] = img[c] * (1 - cover) + ink[c] * cover
    for j in range(6):
        img[:, 10:13, 20 + 4 * j : 22 + 4 * j] = 0.0
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_white_ground_plot_is_not_light_but_a_brightened_photo_is() -> None:
    """``light``: a plot's black point is high (thin coloured strokes, anti-aliased) and most of it
    is clipped white, as in an overexposed photo - but below its black point lies a sparse tail
    of darker stroke cores (here the black label), which a washed-out picture has lost."""
    rng = np.random.default_rng(3)
    plot = _white_plot()
    bright = np.clip(_photo(rng, 240, 320).astype(float) * 2.5 + 60, 0, 255).astype(np.uint8)
    out = QualityIssues().evaluate([plot, bright, _photo(rng, 240, 320)])
    m = out.metrics
    # both pass the old conditions: black point >= 0.2 and >= 15 % of the pixels clipped white
    assert m["grey_p001"][0] >= 0.2 and m["bright_clipped"][0] >= 0.15
    assert m["grey_p001"][1] >= 0.2 and m["bright_clipped"][1] >= 0.15
    # the plot's darkest 0.01 % is its black label; the brightened photo's ends at the lift (60)
    assert m["grey_p0001"][0] == 0.0
    assert m["grey_p0001"][1] >= 60 / 255 - 1e-9
    assert out.flags["light"].tolist() == [False, True, False]
    assert q_mod.ink_tails(m).tolist() == [True, False, False]
    assert any("no darker tail" in line for line in out.why(1))


def test_light_without_the_tail_metric_is_judged_as_before() -> None:
    """Metrics gathered before ``grey_p0001`` and ``dark_p001`` existed (an index, a saved table): no
    ink tail known, the grey black point judged."""
    m = {k: np.zeros(2) for k in fq_mod.QUALITY_KEYS if k not in ("grey_p0001", "dark_p001")}
    m.update(width=np.full(2, 64.0), height=np.full(2, 64.0), channels=np.full(2, 3.0), opacity=np.ones(2))
    m["grey_p001"] = np.array([0.3, 0.1])
    m["bright_clipped"] = np.array([0.5, 0.5])
    out = QualityIssues().evaluate(m)
    assert out.flags["light"].tolist() == [True, False]
    # the sentence names the black point judged: the grey one here (no dark channel measured)
    light = next(line for line in out.why(0) if line.startswith("light"))
    assert "(grey black point)" in light and "min(R, G, B)" not in light
    m["dark_p001"] = m["grey_p001"]
    assert any("(black point of min(R, G, B))" in line for line in QualityIssues().evaluate(m).why(0))
    m["grey_p0001"] = np.array([0.1, 0.1])  # a tail under 0.8 of the black point: ink, not washed out
    assert QualityIssues().evaluate(m).flags["light"].tolist() == [False, False]


def test_flat_image_has_no_blur_to_judge() -> None:
    """``blurry`` is not judged on a flat image (no detail at either working resolution: both
    octave ratios 0): a blank texture or a one-colour UI tile is low information, not blurred.
    A blurred photo keeps some detail and stays blurry."""
    rng = np.random.default_rng(5)
    photo = _photo(rng, 200, 260)
    flat = np.full((3, 200, 260), 40, np.uint8)
    grey_tile = np.full((1, 64, 64), 200, np.uint8)
    smeared = ndimage.gaussian_filter(photo.astype(float), (0, 2, 2)).round().astype(np.uint8)
    out = QualityIssues().evaluate([photo, flat, grey_tile, smeared, _photo(rng, 200, 260)])
    assert out.metrics["norm_sharpness"][1] == 0.0 and out.metrics["coarse_sharpness"][1] == 0.0
    assert out.scores["blurry"][1] == 0.0 and out.scores["blurry"][2] == 0.0
    assert out.flags["blurry"].tolist() == [False, False, False, True, False]
    assert out.flags["low_information"].tolist() == [False, True, True, False, False]


def test_saturated_object_on_white_is_not_light() -> None:
    """``light`` takes the black point of the darkest channel (``dark_p001``): a red object on a
    white ground (a product photo) has a luma black point of 0.3 and no darker tail, but its red
    has the other channels near 0 - not a washed-out tone.  The same object brightened
    (``x * 2.5 + 60``: every channel lifted) is light."""
    h, w = 200, 240
    yy, xx = np.mgrid[0:h, 0:w]
    disc = np.hypot(yy - h / 2, xx - w / 2) < 60
    shade = np.clip(1.0 - (yy - h / 2 + 60) / 400.0, 0.7, 1.0)  # a soft shading of the red
    img = np.full((3, h, w), 255.0)
    img[0][disc] = 255 * shade[disc]
    img[1][disc] = 10.0
    img[2][disc] = 20.0
    red = img.round().astype(np.uint8)
    bright = np.clip(red.astype(float) * 2.5 + 60, 0, 255).astype(np.uint8)
    out = QualityIssues().evaluate([red, bright])
    m = out.metrics
    assert m["grey_p001"][0] >= 0.2 and m["bright_clipped"][0] >= 0.15  # the grey black point alone: light
    assert not q_mod.ink_tails(m)[0]  # no thin ink either: a solid object
    assert m["dark_p001"][0] == pytest.approx(10 / 255, abs=1e-6) and m["dark_p001"][1] >= 60 / 255 - 1e-6
    assert out.flags["light"].tolist() == [False, True]
    assert "min(R, G, B)" in out.why(1)[0]


def test_images_too_small_to_judge_exposure_or_structure() -> None:
    """A 1 x 1 grey-5 pixel was flagged ``dark`` (the absolute floor) and, among 64 px images,
    ``dark`` by the relative rule: under JUDGE_MIN_SIDE (9 px) a side dark, light, blurry, noisy
    and jpeg_blocking score 0 and are not flagged; low_information, grayscale and odd_size still
    are.  A 9 x 9 dark image is judged as before."""
    from dataeval_gpu.detectors.quality import JUDGE_MIN_SIDE, QualityIssues

    rng = np.random.default_rng(0)
    others = [torch.from_numpy(rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)) for _ in range(3)]
    one = torch.full((3, 1, 1), 5, dtype=torch.uint8)
    out = QualityIssues().evaluate([one, *others])
    assert JUDGE_MIN_SIDE == 9
    assert out.issues(0) == ["grayscale", "low_information", "odd_size"]
    assert [float(out.scores[k][0]) for k in ("dark", "light", "blurry", "noisy", "jpeg_blocking")] == [0.0] * 5
    alone = QualityIssues().evaluate([one])
    assert alone.issues(0) == ["low_information"]
    nine = QualityIssues().evaluate([torch.full((3, 9, 9), 5, dtype=torch.uint8), *others])
    assert "dark" in nine.issues(0)


def test_dark_by_the_absolute_floor_says_so() -> None:
    """A one-image set's dataset median is the image itself (relative score 0): a dark image is
    flagged by the absolute floor (grey p99 under 0.03), and the reason says that, not
    'score 0 > threshold 0.78'."""
    from dataeval_gpu.detectors.quality import QualityIssues

    im = torch.from_numpy(np.random.default_rng(0).integers(0, 6, (3, 64, 64), dtype=np.uint8))
    out = QualityIssues().evaluate([im])
    assert out.issues(0) == ["dark"]
    p99 = float(out.metrics["grey_p99"][0])
    assert p99 < 0.03 and float(out.scores["dark"][0]) == 0.0
    peak = float(out.metrics["bright_p9999"][0])
    assert peak == pytest.approx(5 / 255, abs=1e-7)  # the brightest 0.01 % of 4,096 pixels: the brightest pixel, level 5
    assert out.why(0) == [f"dark: grey p99 {p99:.3f} < 0.03, dark in any dataset (score 0), no highlights (peak {peak:.3f} < 0.5)"]
