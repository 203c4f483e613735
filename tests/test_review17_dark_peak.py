"""review17: dark8's ``bright_p9999`` on the edge cases, the same on every path, and its rules
the same through ``DataAudit`` (what the Lightning callback and the CLI run) as through
``QualityIssues``.

Reference: numpy float64 - the bright channel ``max(R, G, B)`` at 256 levels (``round(255 v)``
of the bit-depth-scaled value), counted with the alpha as weight, the lowest level whose
cumulative share reaches 99.99 %.  Paths: the compiled CPU kernels, the torch code (what a GPU
runs: ``quality_compiled.ready`` off) and the stacked device plan forced on CPU tensors
(``backend="cuda"``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors.quality import QualityIssues
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import QUALITY_KEYS
from dataeval_gpu.functional.stats import image_statistics

from .reference import bright_peak_ref


def _peak_reference(img: np.ndarray) -> float:
    x = img.astype(np.float64)
    c = x.shape[0]
    full = 65535.0 if img.dtype == np.uint16 else 255.0
    alpha = c in (2, 4)
    colour = x[: c - 1] if alpha else x
    hi = np.round(colour[:3].max(axis=0) / full * 255.0).astype(np.int64)
    w = x[-1] / full if alpha else np.ones(hi.shape)  # one opaque pixel weighs 1
    return bright_peak_ref(np.bincount(hi.ravel(), weights=w.ravel(), minlength=256))


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(17)
    out = {"1x1 RGB": np.full((3, 1, 1), 200, np.uint8)}
    out["1x1 RGBA transparent"] = np.array([200, 10, 10, 0], np.uint8).reshape(4, 1, 1)
    out["all transparent"] = np.concatenate([rng.integers(0, 256, (3, 20, 20)), np.zeros((1, 20, 20))]).astype(np.uint8)
    ga = np.zeros((2, 50, 50), np.uint8)  # grey + alpha: a star in the seen half, a brighter one hidden
    ga[0], ga[1, 25:] = 20, 255
    ga[0, 40, 40], ga[0, 5, 5] = 230, 255
    out["grey+alpha star"] = ga
    s16 = np.zeros((3, 60, 60), np.uint16)
    s16[:, 3, 3] = 60000  # round(60000 / 65535 * 255) = 233
    out["16-bit star"] = s16
    for n, hot in ((100, 1), (100, 2), (1000, 3), (20000, 3), (30000, 3), (50000, 6)):  # review18: spare pixels
        im = np.full((3, n // 100, 100), 20, np.uint8)
        flat = im.reshape(3, -1)
        flat[:, :hot], flat[:, hot] = 255, 180  # ``hot`` hot pixels, then one at 180
        out[f"{n} px {hot} hot"] = im
    faint = np.zeros((4, 100, 100), np.uint8)
    faint[3] = 255
    faint[:3, 10, 10], faint[3, 10, 10] = 255, 1  # the one white pixel nearly transparent
    out["white pixel nearly transparent"] = faint
    return out


def test_peak_on_edge_cases_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hand-checked (review18: up to 3 seen pixels spared under 30,000, never under the 99 % level):
    100 px - 1 hot pixel is within the top 1 %, the next brightest 180 is the peak; 2 hot pixels
    reach past it: 255; 1,000 px - 3 hot pixels spared: 180; 20,000 px - 3 hot pixels spared
    (99.99 % spared 2 of them: 255); 30,000 px - 3 hot within the 0.01 % as before: 180; 50,000 px -
    6 hot pixels over the 5 of 0.01 %: 255; the 16-bit star, one pixel among 3,600: spared, 0; the
    hidden star (alpha 0) not seen, the seen one among 1,250 seen pixels spared: 20/255."""
    cases = _cases()
    imgs = [torch.from_numpy(np.ascontiguousarray(v)) for v in cases.values()]
    want = np.array([_peak_reference(v) for v in cases.values()])
    by_name = dict(zip(cases, want, strict=True))
    assert by_name["100 px 1 hot"] == pytest.approx(180 / 255) and by_name["100 px 2 hot"] == 1.0
    assert by_name["1000 px 3 hot"] == pytest.approx(180 / 255) and by_name["50000 px 6 hot"] == 1.0
    assert by_name["20000 px 3 hot"] == pytest.approx(180 / 255) == by_name["30000 px 3 hot"]
    assert by_name["16-bit star"] == 0.0 and by_name["grey+alpha star"] == pytest.approx(20 / 255)
    assert by_name["all transparent"] == by_name["1x1 RGBA transparent"] == 0.0
    keys = list(QUALITY_KEYS)
    compiled, _ = image_statistics(imgs, metrics=keys)
    device, _ = image_statistics(imgs, metrics=keys, backend="cuda")  # the stacked plan, forced on CPU
    monkeypatch.setattr(quality_compiled.ready, "state", False)
    plain, _ = image_statistics(imgs, metrics=keys)
    for got in (compiled, device, plain):
        np.testing.assert_allclose(got["bright_p9999"].numpy(), want, atol=1e-6)


def test_audit_and_quality_issues_agree(photos: list[np.ndarray]) -> None:
    """``DataAudit`` (the Lightning callback's and the CLI's engine) flags ``dark`` and
    ``grayscale`` as ``QualityIssues`` does on the same images: photos, a star field (dark by
    nature), a darkened photo, a grey photo stored as RGB, and the same grey photo cut out on a
    transparent canvas (not judged)."""
    colour = [p[:3, :96, :96] for p in photos if p.shape[0] == 3 and min(p.shape[1:]) >= 96][:6]
    if len(colour) < 6:
        pytest.skip("too few colour photos")
    field = np.zeros((3, 96, 96), np.uint8)
    field[:, [10, 40, 80, 60], [10, 70, 30, 15]] = 255  # four stars (review18: one pixel is a hot pixel)
    grey = np.repeat(np.round(colour[0].astype(np.float64).mean(axis=0)).astype(np.uint8)[None], 3, axis=0)
    alpha = np.zeros((1, 96, 96), np.uint8)
    alpha[:, 20:70, 20:70] = 255
    images = [*colour, field, colour[1] // 8, grey, np.concatenate([grey, alpha])]
    tensors = [torch.from_numpy(np.ascontiguousarray(x)) for x in images]
    direct = QualityIssues().evaluate(tensors)
    audit = DataAudit(hashes=False)
    audit.update(tensors)
    report = audit.compute()
    for issue in ("dark", "grayscale"):
        assert np.asarray(report.quality["flags"][issue]).tolist() == direct.flags[issue].tolist(), issue
    # the 4th crop, a pylon against a dusk sky (peak 0.455 under 0.55 x the set's median 0.904, a
    # photo's tones under it), reads as an under-exposed picture since dark10's rule (as in
    # test_dark8_quality's dusk-sky crop); the darkened photo is dark; the star field is not
    assert direct.flags["dark"].tolist() == [False, False, False, True, False, False] + [False, True, False, False]
    # the star field is grey stored as RGB too; the cut-out is not judged
    assert direct.flags["grayscale"].tolist() == [False] * 6 + [True, False, True, False]


def test_grayscale_reason_names_the_images_its_share_counts() -> None:
    """Hand-checked: six RGB images - two grey and opaque, one grey cut-out (opacity 0.5: not
    judged), three colour: grey share 2 / 5 = 40 % (a minority), both opaque grey ones flagged.  The
    reason says whose share it is (it said "of the dataset", where grey opaque images are 2 of 6)."""
    m = {
        "channels": np.full(6, 3.0),
        "opacity": np.array([1.0, 1.0, 0.5, 1.0, 1.0, 1.0]),
        "channel_spread": np.array([0.0, 0.0, 0.0, 0.3, 0.3, 0.3]),
    }
    base = {k: np.zeros(6) for k in QUALITY_KEYS if k not in m}
    out = QualityIssues().evaluate({**base, **m, "width": np.full(6, 64.0), "height": np.full(6, 64.0)})
    assert out.reference["grey_share"] == pytest.approx(2 / 5)
    assert out.flags["grayscale"].tolist() == [True, True, False, False, False, False]
    why = [line for line in out.why(0) if line.startswith("grayscale")][0]
    assert "grey images are 40.0% of the dataset's opaque colour-stored images" in why
