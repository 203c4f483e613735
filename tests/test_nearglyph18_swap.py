"""scripts/pair_methods.py (a measuring tool, nearglyph18): where two paired thumbnails disagree,
the figures docs/duplicates.md ("One template, another glyph") reports, against brute-force
float64 references (every window, ``np.linalg.lstsq``) and hand-checked pictures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pair_methods.py"
_spec = importlib.util.spec_from_file_location("pair_methods", SCRIPT)
pm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pm)  # type: ignore[union-attr]


def _template() -> np.ndarray:
    x = np.zeros((32, 32))
    x[4:28, 4:28] = 100.0  # a grey tile on a transparent (0) ground
    x[6:9, 6:26] = 180.0  # a bar along its top
    x[12:26, 6:8] = 40.0  # and a darker one down its left side: no turn of it is itself
    return x


def _swap_reference(x: np.ndarray, y: np.ndarray, w: int = 8) -> tuple[float, float]:
    """Brute force: fit on all, find the worst window, refit without it, find it again."""
    keep = np.ones(x.shape, dtype=bool)
    for _ in range(2):
        a, c = np.linalg.lstsq(np.stack([x[keep], np.ones(keep.sum())], 1), y[keep], rcond=None)[0]
        e = (y - (a * x + c)) ** 2
        best, at = -1.0, (0, 0)
        for r in range(x.shape[0] - w + 1):
            for q in range(x.shape[1] - w + 1):
                if e[r : r + w, q : q + w].sum() > best + 1e-9:
                    best, at = e[r : r + w, q : q + w].sum(), (r, q)
        keep = np.ones(x.shape, dtype=bool)
        keep[at[0] : at[0] + w, at[1] : at[1] + w] = False
    return float(np.sqrt(e[~keep].sum() / w**2)), float(np.sqrt(e[keep].sum() / (x.size - w**2)))


def test_an_emblem_swapped_on_one_template_differs_inside_only():
    x, y = _template(), _template()
    x[14:20, 14:20] = 255.0  # one emblem ...
    y[14:20, 13:21] = 20.0  # ... another, wider, darker (both within one 8 x 8 window)
    y[15:19, 15:19] = 255.0
    inside, outside = pm.swap_residual(x[None], y[None])
    np.testing.assert_array_equal(pm.best_turn(x[None], y[None])[0], y)  # compared as they lie
    ref = _swap_reference(x, y)
    np.testing.assert_allclose([inside[0], outside[0]], ref, rtol=1e-9, atol=1e-9)
    assert inside[0] > 60.0 and outside[0] < 1e-6  # the template agrees exactly


def test_the_hand_checked_emblem_value():
    # a 6 x 6 emblem of 255 on a flat 100 tile: refitted without the window the fit is exact, and
    # the window holds 36 pixels 155 off: sqrt(36 * 155^2 / 64) = 155 * 6 / 8 = 116.25
    x = np.zeros((1, 32, 32))
    x[:, 4:28, 4:28] = 100.0
    y = x.copy()
    y[:, 10:16, 10:16] = 255.0
    inside, outside = pm.swap_residual(x, y)
    assert abs(inside[0] - 116.25) < 1e-9 and outside[0] < 1e-9


def test_brightness_and_recompression_copies_differ_a_little_everywhere():
    rng = np.random.default_rng(0)
    x = _template()
    bright = 0.8 * x + 20.0  # one global change: nothing left
    noisy = np.clip(np.round(x + rng.normal(0.0, 1.5, x.shape)), 0, 255)  # re-encode-like noise
    inside, outside = pm.swap_residual(np.stack([x, x]), np.stack([bright, noisy]))
    assert inside[0] < 1e-6 and outside[0] < 1e-6
    ref = _swap_reference(x, pm.best_turn(x[None], noisy[None])[0])
    np.testing.assert_allclose([inside[1], outside[1]], ref, rtol=1e-9)
    assert inside[1] < 4.0 and outside[1] < 2.0  # a few levels, spread over the picture


def test_a_faint_overlay_differs_in_proportion_to_its_opacity():
    x = _template()
    glyph = np.zeros_like(x)
    glyph[12:20, 12:20] = 255.0 - x[12:20, 12:20]  # white ink over the tile
    strong, faint = x + glyph, x + 0.2 * glyph  # the glyph opaque, then at 20 % as a watermark
    inside, outside = pm.swap_residual(np.stack([x, x]), np.stack([strong, faint]))
    assert outside[1] < 1e-6 and outside[0] < 1e-6
    np.testing.assert_allclose(inside[1], 0.2 * inside[0], rtol=1e-6)  # linear in the overlay's alpha


def test_the_second_thumbnail_is_compared_in_its_best_turn():
    x = _template()
    y = np.rot90(x, 1).T.copy()  # turned and mirrored
    inside, outside = pm.swap_residual(x[None], y[None])
    assert inside[0] < 1e-9 and outside[0] < 1e-9
    np.testing.assert_array_equal(pm.best_turn(x[None], y[None])[0], x)


def _unexplained_reference(x: np.ndarray, y: np.ndarray, w: int = 8) -> float:
    worst = 0.0
    for r in range(x.shape[0] - w + 1):
        for q in range(x.shape[1] - w + 1):
            a, b = x[r : r + w, q : q + w].ravel(), y[r : r + w, q : q + w].ravel()
            left = []
            for u, v in ((a, b), (b, a)):
                if u.var() < 1e-12:  # a flat side explains nothing
                    left.append(((v - v.mean()) ** 2).sum())
                    continue
                coef = np.linalg.lstsq(np.stack([u, np.ones(u.size)], 1), v, rcond=None)[0]
                left.append(((v - np.stack([u, np.ones(u.size)], 1) @ coef) ** 2).sum())
            worst = max(worst, min(left))
    return float(np.sqrt(worst / w**2))


def test_a_recoloured_part_is_explained_in_its_window_another_shape_is_not():
    x = np.zeros((32, 32))
    x[3:9, 3:12] = 150.0  # a part on the transparent ground ...
    x[18:29, 14:29] = 80.0  # ... and another, more than a window away
    x[20:24, 16:26] = 200.0
    recolour = x.copy()
    recolour[3:9, 3:12] = 220.0  # the first part in another colour: every window sees 0 and one level
    other = x.copy()
    other[21:27, 17:21] = 10.0  # a new shape inside the second part
    un = pm.local_unexplained(np.stack([x, x]), np.stack([recolour, other]))
    for k, y in enumerate((recolour, other)):
        yt = pm.best_turn(x[None], y[None])[0]
        np.testing.assert_array_equal(yt, y)  # compared as they lie
        np.testing.assert_allclose(un[k], _unexplained_reference(x, y), rtol=1e-7, atol=1e-6)
    assert un[0] < 1e-6  # explained in every window by its own a x + c
    assert un[1] > 25.0


def test_random_pairs_equal_the_brute_force_references():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (3, 32, 32)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255)
    y[1, 5:12, 20:30] = 0.0
    inside, outside = pm.swap_residual(x, y)
    for k in range(3):
        yt = pm.best_turn(x[k : k + 1], y[k : k + 1])[0]
        np.testing.assert_allclose([inside[k], outside[k]], _swap_reference(x[k], yt), rtol=1e-9)
    un = pm.local_unexplained(x[:1], y[:1])
    np.testing.assert_allclose(un[0], _unexplained_reference(x[0], pm.best_turn(x[:1], y[:1])[0]), rtol=1e-7)
