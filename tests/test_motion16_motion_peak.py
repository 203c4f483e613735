"""motion16: ``motion_peak`` (the weakest direction's fine-to-coarse ratio at its sharpest 8 x 8 tile) and
the ``blurry`` motion term's bound on it - a box blur of L px along a line leaves no sharp step along it
anywhere (its step-2 second difference is at most 2 / L of the step-8 one), while planks, corrugated
metal or bars drawn one way keep sharp steps where something crosses their streaks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.detectors.quality import DEFAULT_THRESHOLDS, MOTION_MAX_PEAK, QualityIssues, motion_blurred
from dataeval_gpu.detectors.quality_rules import motion_judged
from dataeval_gpu.functional import quality_compiled
from dataeval_gpu.functional.quality import quality_metrics
from dataeval_gpu.functional.quality_motion import MOTION_TILE, motion_figures, motion_rows, motion_rows_u8

from .reference import grey_levels_ref, motion_ref
from .test_motion11_motion_metric import line_blur, sample


def _planks(h: int = 256, w: int = 320, seed: int = 0) -> np.ndarray:
    """A plank texture: grain drawn along the rows (white noise smoothed along them, Gaussian sigma 3
    px, RMS 40 grey levels about 120) and a 1-px seam 80 levels darker every 64 columns (the planks'
    ends: sharp steps along the rows), as RGB."""
    grain = ndimage.gaussian_filter1d(np.random.default_rng(seed).normal(0.0, 1.0, (h, w)), 3.0, axis=1, mode="wrap")
    g = 120.0 + grain * 40.0 / grain.std()
    g[:, 5::64] -= 80.0
    g = np.clip(np.round(g), 0, 255).astype(np.uint8)
    return np.stack([g, g, g])


def _with_shape(m: dict, imgs: list[np.ndarray]) -> dict:
    out = dict(m)
    out["channels"], out["height"], out["width"] = (
        torch.tensor([float(a.shape[j]) for a in imgs], dtype=torch.float64) for j in range(3)
    )
    return out


def test_a_ramp_hand_checked() -> None:
    """One step of 200 levels at column 40 of a 64 x 64 image, box-blurred over 5 px along the rows:
    a ramp 0, 40, 80, 120, 160, 200 over columns 37-42 (exact integers).  Along the rows the step-2
    second difference is 40, 80, 40 at columns 36-38 and -40, -80, -40 at 41-43 (at most 2 h / L = 80
    anywhere), the step-8 one 120, 160, 200, 200, 200, 200, 120, 40 at columns 32-39 (up to h = 200).
    The 8 x 8 tiles of positions start at column 8: the tile of columns 32-39 holds both greatest
    energies, (1600 + 6400 + 1600) / 8 = 1200 and 216000 / 8 = 27000 (less 1/2 each), so
    ``motion_peak`` = sqrt(1199.5 / 26999.5) = 0.211, under 2 / 5; the float64 reference and the
    metric agree."""
    x = np.arange(64)
    row = np.clip((x - 37) * 40, 0, 200)
    img = np.tile(row.astype(np.uint8), (64, 1))
    ref = motion_ref(img)
    assert ref["motion_angle"] == 0.0
    assert ref["motion_peak"] == pytest.approx(math.sqrt(1199.5 / 26999.5), rel=1e-12)
    assert ref["motion_peak"] < 2 / 5
    m = quality_metrics([img[None]])
    assert float(m["motion_peak"][0]) == pytest.approx(ref["motion_peak"], rel=1e-6)


def test_tile_rows_hand_checked() -> None:
    """Rows of hand-set sums (one position; tiles of 64 positions): the peak is the weakest direction's
    (the rows, q 0.3 overall) greatest tile energies, not another direction's; a direction's tile energy
    at its step 8 under the rounding noise reads the clamp (a huge ratio: no evidence of a blur)."""
    noise = 0.5
    e2, e8 = [0.09 * 100, 1.0 * 100, 0.64 * 100, 0.81 * 100], [100.0] * 4
    t2, t8 = [36.0, 1.0, 4.0, 9.0], [400.0, 4.0, 16.0, 25.0]  # rows' sharpest tile: sqrt(36 / 400) = 0.3
    sums = [v + noise for pair in zip(e2, e8) for v in pair]
    tiles = [MOTION_TILE**2 * (v + noise) for pair in zip(t2, t8) for v in pair]
    got = motion_figures(torch.tensor([sums + tiles + [1.0]], dtype=torch.float64), torch.float64)
    assert got["motion_angle"].item() == 0.0
    assert got["motion_peak"].item() == pytest.approx(0.3, rel=1e-12)
    t2[0] = 100.0  # a sharp step along the rows somewhere: sqrt(100 / 400)
    tiles = [MOTION_TILE**2 * (v + noise) for pair in zip(t2, t8) for v in pair]
    got = motion_figures(torch.tensor([sums + tiles + [1.0]], dtype=torch.float64), torch.float64)
    assert got["motion_peak"].item() == pytest.approx(0.5, rel=1e-12)
    flat = motion_figures(torch.zeros((1, 17), dtype=torch.int64))  # no positions: nothing to judge
    assert flat["motion_peak"].item() == 1.0


def test_planks_are_not_a_blur_but_blurred_planks_are() -> None:
    """The plank texture reads as a blur along the rows by the octave ratio (``motion_ratio`` 0.29, under
    0.42 - the motion term's flag without ``motion_peak``), but its seams are sharp steps along the rows:
    ``motion_peak`` 0.51, not under :data:`MOTION_MAX_PEAK`.  The same planks box-blurred over 9 px
    along the rows lose the seams' steps too: ``motion_peak`` under it, flagged.  Values as the
    float64 reference computes them; the compiled and torch paths give the same tile sums."""
    planks = _planks()
    blurred = line_blur(planks, 9, 0)
    imgs = [planks, blurred]
    m = _with_shape(quality_metrics(imgs), imgs)
    for j, img in enumerate(imgs):
        ref = motion_ref(grey_levels_ref(img.astype(np.int64)))
        for k in ("motion_ratio", "motion_angle", "motion_peak"):
            assert float(m[k][j]) == pytest.approx(ref[k], rel=1e-6, abs=1e-6), k
    assert MOTION_MAX_PEAK == 0.4
    assert float(m["motion_angle"][0]) == 0.0 and 0.25 < float(m["motion_ratio"][0]) < 0.35
    assert 0.45 < float(m["motion_peak"][0]) < 0.6
    assert float(m["motion_peak"][1]) < 0.25 and float(m["motion_angle"][1]) == 0.0
    t = DEFAULT_THRESHOLDS["blurry"]
    before = {k: v for k, v in m.items() if k != "motion_peak"}  # metrics gathered without the key
    assert motion_blurred(before, t).tolist() == [True, True]
    assert motion_blurred(m, t).tolist() == [False, True]
    flags = QualityIssues(issues=["blurry"]).evaluate(m).flags["blurry"]
    assert flags.tolist() == [False, True]
    x = torch.from_numpy(np.stack(imgs))
    if quality_compiled.ready():
        assert motion_rows_u8(x).tolist() == motion_rows(x.float() / 255.0).tolist()


@pytest.mark.parametrize("length", [5, 9, 15])
def test_a_photo_blurred_along_a_line_has_no_sharp_place(length) -> None:
    """A photo box-blurred along the rows or the columns: its weakest direction's sharpest tile keeps
    at most about 2 / L of the step-8 detail at step 2 (0.10-0.27 here), under the bound: the motion term
    still flags what it flagged."""
    pic = sample("skimage_astronaut")
    imgs = [line_blur(pic, length, a) for a in (0, 90)]
    m = quality_metrics(imgs)
    assert (m["motion_peak"] < 0.3).all()
    assert m["motion_angle"].tolist() == [0.0, 90.0]


def test_bound_hand_checked() -> None:
    """Rows alike but for ``motion_peak``: under the bound, just under, at it, above it.  Metrics
    gathered without the key: not checked (judged as before)."""
    n = 4
    m = {
        "grey_p99": np.full(n, 0.9),
        "motion_ratio": np.full(n, 0.3),
        "motion_energy": np.full(n, 200.0),
        "motion_cross": np.ones(n),
        "motion_peak": np.array([0.1, 0.399, MOTION_MAX_PEAK, 0.8]),
        "occupancy": np.full(n, 0.5),
        "width": np.full(n, 300.0),
        "height": np.full(n, 200.0),
        "opacity": np.ones(n),
    }
    assert motion_judged(m).tolist() == [True, True, False, False]
    assert motion_blurred(m, 0.555).tolist() == [True, True, False, False]
    assert motion_judged({k: v for k, v in m.items() if k != "motion_peak"}).all()


def test_reason_names_motion_blur_only_where_the_term_is_judged() -> None:
    """A photo blurred by a Gaussian (sigma 4: ``blurry`` by its isotropic terms) with its motion figures
    set to a blur along the rows: the reason names motion blur where the term is judged, and not where
    ``occupancy`` (under ``MOTION_MIN_OCCUPANCY``) or ``motion_peak`` (at the bound) keeps it out - the
    reason once read ``occupancy`` nowhere and named motion blur on such an image."""
    pic = sample("skimage_astronaut")
    soft = np.stack([np.round(ndimage.gaussian_filter(c.astype(np.float64), 4.0)) for c in pic]).astype(np.uint8)
    qi = QualityIssues()
    base = qi.metrics([soft, soft, soft])
    m = {k: v.clone() for k, v in base.items()}
    m["motion_ratio"][:], m["motion_energy"][:], m["motion_angle"][:] = 0.3, 200.0, 0.0
    m["motion_cross"][:], m["motion_peak"][:] = 1.0, 0.1
    m["occupancy"][:] = 0.5
    m["occupancy"][1] = 0.05
    m["motion_peak"][2] = MOTION_MAX_PEAK
    out = qi.evaluate(m)
    assert out.flags["blurry"].tolist() == [True, True, True]
    assert motion_blurred(out.metrics, out.thresholds["blurry"]).tolist() == [True, False, False]
    assert out.why(0)[0].startswith("blurry: motion blur along the rows")
    assert not any("motion blur" in line for i in (1, 2) for line in out.why(i))


def test_an_index_written_before_the_metric_is_refused(tmp_path) -> None:
    """An index whose rows lack ``motion_peak`` (written before motion16) is refused by an update's
    save, ``--against`` and ``report()``, naming the metric and the way out."""
    import json

    import pyarrow.parquet as pq

    from dataeval_gpu.audit import DataAudit
    from dataeval_gpu.index import DatasetIndex, IndexMismatchError, against_index, save_index

    audit = DataAudit(device="cpu")
    audit.update(torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    folder = tmp_path / "idx"
    save_index(audit, folder)
    doc = json.loads((folder / "manifest.json").read_text())
    assert "motion_peak" in doc["settings"]["metrics"]
    doc["settings"]["metrics"] = [m for m in doc["settings"]["metrics"] if m != "motion_peak"]
    doc["settings"]["metric_digest"] = "0" * 32
    rows = folder / doc["files"]["rows"]
    pq.write_table(pq.read_table(rows).drop(["motion_peak"]), rows)
    (folder / "manifest.json").write_text(json.dumps(doc))
    index = DatasetIndex(folder)
    for refused in (lambda: index.report(), lambda: against_index(audit, index), lambda: save_index(audit, folder)):
        with pytest.raises(IndexMismatchError) as err:
            refused()
        said = str(err.value)
        assert "only this run has ['motion_peak']" in said and "rebuild it (scan its files again" in said
