"""quality7: ``dark`` judged on the highlights of ``max(R, G, B)`` too (a saturated colour's low luma
is not an under-exposure), and ``dark`` / ``blurry`` not judged on a see-through image with fewer
than ``OBJECT_MIN_PIXELS`` visible pixels - on real photos (scikit-image / scikit-learn's samples)
and images made of them.  Held-out figures: docs/quality.md ("Why dark looks at max(R, G, B)")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dataeval_gpu.detectors.quality import (
    OBJECT_MIN_PIXELS,
    SATURATED_HIGHLIGHTS,
    QualityIssues,
    few_seen,
    issue_scores,
)
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics, quality_metrics_batch
from dataeval_gpu.functional.quality_dark import bright_highlights, bright_level

pytest.importorskip("skimage")
from dataeval_gpu.datasets import sample_photos  # noqa: E402


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [a for _, a in sample_photos() if a.shape[0] == 3]


def _luma(a: np.ndarray) -> np.ndarray:
    return 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2]


def _tinted(a: np.ndarray, channel: int) -> np.ndarray:
    """The photo in one saturated ink: its grey at 60 % in one channel, the others 0 (deep blue /
    red: luma p99 0.07-0.13, max(R, G, B) p99 0.43-0.58)."""
    out = np.zeros_like(a)
    out[channel] = np.round(_luma(a) * 0.6).astype(np.uint8)
    return out


def _dot(a: np.ndarray, side: float, frame: int = 21, soft: float = 1.5) -> np.ndarray:
    """A soft dot of ``side`` px in a ``frame`` px transparent frame, coloured by the photo
    (downscaled): a password / progress dot, a tiny sprite."""
    im = Image.fromarray(np.moveaxis(a, 0, -1)).resize((frame, frame), Image.Resampling.BOX)
    out = np.zeros((4, frame, frame), np.uint8)
    out[:3] = np.moveaxis(np.asarray(im), -1, 0)
    yy, xx = np.mgrid[:frame, :frame] - (frame - 1) / 2
    out[3] = np.clip((side / 2 - np.hypot(yy, xx)) / soft + 0.5, 0, 1) * 255
    return out


def _flat(a: np.ndarray) -> np.ndarray:
    return np.broadcast_to(a.reshape(3, -1).mean(1).round().astype(np.uint8)[:, None, None], a.shape).copy()


def _dim_warm(a: np.ndarray) -> np.ndarray:
    """The photo in dim warm light: its grey at 25 / 16 / 12 % in R / G / B (max(R, G, B) 1.37 x
    the luma: the highlights of a hand under a lamp, not a saturated colour)."""
    g = _luma(a)
    return np.stack([np.round(g * f) for f in (0.25, 0.16, 0.12)]).astype(np.uint8)


def test_a_saturated_colour_is_not_dark_but_under_exposure_is(photos: list[np.ndarray]) -> None:
    """Among the sample photos, a photo in deep blue and one in deep red (low luma, a channel at
    0.4-0.6) are not dark (before: dark, scores 0.91 and 0.82); the same photos divided by 8
    (the planted under-exposure) are, the deep blue one too (every channel under 32/255); a photo
    in dim warm light is dark by its luma (its highlights not saturated: max(R, G, B) at 0.25, not
    dark against the photos' 0.99, does not rescue it)."""
    blue, red = _tinted(photos[0], 2), _tinted(photos[1], 0)
    imgs = [*photos, blue, red, photos[2] // 8, blue // 8, _dim_warm(photos[3])]
    out = QualityIssues().evaluate(imgs)
    n = len(photos)
    flags = [("dark" in out.issues(i)) for i in range(n, n + 5)]
    assert flags == [False, False, True, True, True], [out.why(i) for i in range(n, n + 5)]
    warm = out.metrics["bright_p99"][n + 4]
    assert warm < SATURATED_HIGHLIGHTS * out.metrics["grey_p99"][n + 4] and 1 - warm / out.reference["bright_p99"] < 0.78
    assert not any("dark" in out.issues(i) for i in range(n))
    # the grey highlights alone still read dark (what the old rule flagged)
    g = out.metrics["grey_p99"][n : n + 2] / out.reference["grey_p99"]
    assert (1.0 - g > 0.78).all()
    # bright_p99: the 99 % level of max(R, G, B), a float64 numpy reference
    for i, a in enumerate(imgs):
        v = a.max(axis=0).ravel()
        want = int(np.argmax(np.cumsum(np.bincount(v, minlength=256)) / v.size >= 0.99 - 1e-9)) / 255.0
        assert out.metrics["bright_p99"][i] == pytest.approx(want, abs=1e-7)
    # the score: the grey one, for saturated highlights the smaller of the two relative scores
    m = out.metrics
    s, ref = issue_scores(m)
    grey, value = 1.0 - m["grey_p99"] / ref["grey_p99"], 1.0 - m["bright_p99"] / ref["bright_p99"]
    saturated = m["bright_p99"] >= 1.5 * m["grey_p99"]
    assert saturated[[n, n + 1, n + 3]].all() and not saturated[[n + 2, n + 4]].any()
    want = np.where(saturated, np.minimum(grey, value), grey)
    # dark8: an image with highlights (peak bright_p9999 >= 0.5) is not judged: score 0
    np.testing.assert_allclose(s["dark"], np.where(np.asarray(m["bright_p9999"]) >= 0.5, 0.0, want))


def test_the_value_part_needs_its_own_reference(photos: list[np.ndarray]) -> None:
    """Judged against a reference of the grey highlights alone (an index written before the key),
    ``dark`` stays the grey rule: the darkened photos are dark among themselves against it."""
    imgs = [p // 8 for p in photos[:4]]
    m = QualityIssues().metrics(imgs)
    out = QualityIssues(reference={"grey_p99": 0.9}).evaluate(m)
    assert out.flags["dark"].all() and "bright_p99" not in out.reference
    both = QualityIssues(reference={"grey_p99": 0.9, "bright_p99": 0.95}).evaluate(m)
    assert both.flags["dark"].all() and both.reference["bright_p99"] == 0.95
    # metrics gathered without the key: the grey rule, as before
    old = {k: v for k, v in m.items() if k != "bright_p99"}
    np.testing.assert_allclose(issue_scores(old)[0]["dark"], 1.0 - m["grey_p99"].double().numpy() / np.median(m["grey_p99"].double().numpy()))


def test_few_visible_pixels_are_not_judged_dark_or_blurry(photos: list[np.ndarray]) -> None:
    """A soft dot of 6 px in a 21 px transparent frame (30 visible pixels: a password dot) was
    blurry (its edge is all in the octave the finest one is compared with), a 5 px dot of a photo
    divided by 8 was dark (a few dark pixels: a colour, not an exposure); under OBJECT_MIN_PIXELS
    visible pixels neither is judged.  A 12 px dot (113 pixels) still is."""
    dots = [_dot(_flat(p), 6, soft=2.5) for p in photos[:3]]
    darks = [_dot(p // 8, 5) for p in photos[:3]]
    imgs = [*photos, *dots, *darks]
    out = QualityIssues().evaluate(imgs)
    n = len(photos)
    seen = out.metrics["opacity"] * 21 * 21
    assert (seen[n:] < OBJECT_MIN_PIXELS).all() and few_seen(out.metrics)[n:].all() and not few_seen(out.metrics)[:n].any()
    for i in range(n, len(imgs)):
        assert "blurry" not in out.issues(i) and "dark" not in out.issues(i), out.why(i)
        assert out.scores["blurry"][i] == 0.0 and out.scores["dark"][i] == 0.0
    # the same dots' scores without the visible-pixel check: blurry / dark (the old flags)
    m = dict(out.metrics)
    m["opacity"] = np.ones_like(m["opacity"])
    s, _ = issue_scores(m)
    assert (s["blurry"][n : n + 3] > 0.555).all() and (s["dark"][n + 3 :] > 0.78).all()
    big = QualityIssues().evaluate([*photos, _dot(photos[0] // 8, 12)])
    assert big.metrics["opacity"][-1] * 441 >= OBJECT_MIN_PIXELS and "dark" in big.issues(n)


@pytest.mark.parametrize("alpha", [False, True])
def test_bright_p99_paths_agree(photos: list[np.ndarray], alpha: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled (numba) and torch paths (what a GPU runs) count the same bright-channel levels,
    uint8 and float, with alpha weighted by what is seen; the float64 reference agrees."""
    a = np.stack([p[:, :200, :200] for p in photos[:3]])
    a[1] //= 8
    if alpha:
        yy, xx = np.mgrid[:200, :200]
        al = np.clip(255 - np.hypot(yy - 100, xx - 100) * 3, 0, 255).astype(np.uint8)
        a = np.concatenate([a, np.broadcast_to(al, (3, 1, 200, 200))], axis=1)
    x = torch.from_numpy(np.ascontiguousarray(a))
    fast = quality_metrics_batch(x)["bright_p99"]
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    slow = quality_metrics_batch(x)["bright_p99"]
    flt = quality_metrics([t.to(torch.float64) for t in x])["bright_p99"]
    assert fast.tolist() == slow.tolist() == bright_highlights(x).tolist()
    np.testing.assert_allclose(flt.numpy(), fast.numpy(), atol=1e-6)
    for i in range(3):
        v = a[i, :3].max(axis=0).ravel().astype(np.int64)
        w = a[i, 3].ravel().astype(np.float64) if alpha else np.ones(v.size)
        cdf = np.cumsum(np.bincount(v, weights=w, minlength=256)) / w.sum()
        assert float(fast[i]) == pytest.approx(int(np.argmax(cdf >= 0.99 - 1e-9)) / 255.0, abs=1e-7)
    hist = torch.from_numpy(np.stack([np.bincount(a[i, :3].max(axis=0).ravel(), minlength=256) for i in range(3)]))
    if not alpha:
        assert bright_level(hist).tolist() == fast.tolist()
