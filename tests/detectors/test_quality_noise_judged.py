"""Where ``noisy`` is judged: enough Immerkær positions, and enough visible pixels on an image with
transparent parts (``detectors/quality_noise_judged.py``)."""

from __future__ import annotations

import numpy as np
import torch

from dataeval_gpu.detectors import quality_noise_judged as q_mod
from dataeval_gpu.detectors.quality import QualityIssues, issue_scores
from dataeval_gpu.functional import quality as fq_mod


def _metrics(width: list[float], height: list[float], opacity: list[float]) -> dict[str, torch.Tensor]:
    """Metrics whose noise estimates read Gaussian noise of sigma 20 (grey levels), drawn per colour
    channel, on every image."""
    n = len(width)
    m = {k: torch.zeros(n, dtype=torch.float64) for k in fq_mod.QUALITY_KEYS} | {"grain_free": torch.ones(n, dtype=torch.float64)}
    m["noise_robust"] = torch.full((n,), 20.0, dtype=torch.float64)
    m["noise"] = torch.full((n,), 22.0, dtype=torch.float64)
    m["noise_flat"] = torch.full((n,), 11.0, dtype=torch.float64)
    m["noise_chroma"] = torch.full((n,), 16.0, dtype=torch.float64)  # drawn per channel (1.45 x noise_flat)
    m["grey_entropy"] = torch.full((n,), 8.0, dtype=torch.float64)
    m["opacity"] = torch.tensor(opacity, dtype=torch.float64)
    m["width"] = torch.tensor(width, dtype=torch.float64)
    m["height"] = torch.tensor(height, dtype=torch.float64)
    m["channels"] = torch.full((n,), 4.0, dtype=torch.float64)
    return m


def test_noise_judged_counts_positions_and_visible_pixels() -> None:
    """Opaque: (min(W, 384) - 2) (min(H, 384) - 2) >= 256 Immerkær positions (16 x 16: 196, 17 x 17:
    225, 18 x 18: 256; 1000 x 19: 382 x 17 = 6494 in the window).  With transparent parts (opacity
    under 0.99) also opacity W H >= 2048 visible pixels (64 x 64 at 0.5: 2048; at 0.49: 2007.04; a
    30 x 15 sprite at 0.82: 369)."""
    w = [16, 17, 18, 1000, 64, 64, 30, 64, 20]
    h = [16, 17, 18, 19, 64, 64, 15, 64, 20]
    o = [1.0, 1.0, 1.0, 1.0, 0.5, 0.49, 0.82, 0.99, 0.985]
    m = _metrics(w, h, o)
    assert (q_mod.NOISE_MIN_SEEN, fq_mod.NOISE_WINDOW) == (2048.0, 384)
    want = [False, False, True, True, True, False, False, True, False]
    assert q_mod.noise_judged(m).tolist() == want
    # the score: min(20, 11 / 0.5) = 20 where judged, 0 elsewhere (also through QualityIssues)
    np.testing.assert_allclose(issue_scores(m)[0]["noisy"], [20.0 if j else 0.0 for j in want])
    assert QualityIssues().evaluate(m).flags["noisy"].tolist() == want
    # metrics gathered without opacity: only the positions and the sides are counted (30 x 15: 28 x 13
    # = 364 positions, but 15 px a side, under NOISE_MIN_SIDE)
    no_alpha = {k: v for k, v in m.items() if k != "opacity"}
    assert q_mod.noise_judged(no_alpha).tolist() == [False, False, True, True, True, True, False, True, True]


def test_a_strip_of_16_px_frames_is_not_judged() -> None:
    """Each side must give 16 Immerkær positions (18 px, ``NOISE_MIN_SIDE``): a 16 x 128 animation
    strip has 14 x 126 = 1764 positions but is eight 16 x 16 frames, none judged alone (196
    positions); 17 x 400 (15 x 382) neither; 18 x 128 and 128 x 18 are judged."""
    assert q_mod.NOISE_MIN_SIDE == 18.0
    m = _metrics([16, 17, 18, 128, 16], [128, 400, 128, 18, 16], [1.0] * 5)
    assert q_mod.noise_judged(m).tolist() == [False, False, True, True, False]
    np.testing.assert_allclose(issue_scores(m)[0]["noisy"], [0.0, 0.0, 20.0, 20.0, 0.0])


def test_noise_on_a_tiny_texture_or_sprite_is_not_judged() -> None:
    """Real pixels, sigma 25 noise: on a 16 x 16 tile (196 positions) and on a 40 x 40 sprite with
    transparent corners (1264 visible pixels) the estimates read it - main flagged both, as it
    flagged the clean painted tiles and sprites of that size - but too few pixels are there to tell
    it from drawing: not judged.  The same noise on a 64 x 64 picture and on a 96 x 96 sprite
    (5376 visible pixels) is flagged."""
    rng = np.random.default_rng(3)

    def picture(side: int) -> np.ndarray:
        yy, xx = np.mgrid[0:side, 0:side]
        return np.stack([60 + 1.5 * xx, 80 + yy, 140 - xx + 0.5 * yy])

    def noisy(a: np.ndarray) -> np.ndarray:
        return np.clip(a + rng.normal(0, 25, a.shape), 0, 255).round().astype(np.uint8)

    def sprite(side: int, cut: int) -> np.ndarray:
        rgb = noisy(picture(side))
        alpha = np.full((1, side, side), 255, np.uint8)
        for y in range(cut):  # transparent triangles in the four corners
            for x in range(cut - y):
                alpha[0, y, x] = alpha[0, y, side - 1 - x] = alpha[0, side - 1 - y, x] = alpha[
                    0, side - 1 - y, side - 1 - x
                ] = 0
        return np.concatenate([rgb, alpha])

    imgs = [noisy(picture(16)), sprite(40, 12), noisy(picture(64)), sprite(96, 36)]
    out = QualityIssues(issues=["noisy"]).evaluate(imgs)
    seen = out.metrics["opacity"] * out.metrics["width"] * out.metrics["height"]
    np.testing.assert_allclose(seen[[1, 3]], [1600 - 4 * 78, 9216 - 4 * 666])
    assert out.flags["noisy"].tolist() == [False, False, True, True], out.scores["noisy"]
    # the estimates are there: the rule alone leaves the two small ones unjudged
    old = dict(out.metrics)
    old.pop("opacity")
    old["width"] = np.full(4, 100.0)
    old["height"] = np.full(4, 100.0)
    assert (issue_scores(old)[0]["noisy"] > 8.5).tolist() == [True] * 4
