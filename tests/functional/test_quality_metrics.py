"""Quality metrics against independent float64 numpy / scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dataeval_gpu.errors import ImageShapeError
from dataeval_gpu.functional.quality import QUALITY_KEYS, quality_metrics, quality_metrics_batch

from ..reference import (
    bright_peak_ref,
    chroma_noise_ref,
    colour_free_ref,
    grain_free_ref,
    grey_levels_ref,
    motion_ref,
    seam_ref,
    texture_noise_ref,
)
from ..test_quality5_blocking import ref_grid_excess, ref_spread_factor
from ..test_quality_occupancy import occupancy_of_levels_ref
from ..test_softblur17_edge_span import edge_span_ref

LUMA = np.array([0.299, 0.587, 0.114])


def _ref_sharpness(g: np.ndarray, working_side: int) -> tuple[float, float]:
    h, w = g.shape
    wg = g
    if min(h, w) > working_side:
        f = min(h, w) // working_side  # the tests use integer factors: area = block mean
        wg = g[: h // f * f, : w // f * f].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    k = np.array([1, 4, 6, 4, 1]) / 16.0

    def band(a: np.ndarray) -> float:
        blur = ndimage.convolve1d(ndimage.convolve1d(a, k, axis=1, mode="mirror"), k, axis=0, mode="mirror")
        return float(((a - blur) ** 2).mean())

    e0 = band(wg)
    hh, ww = (wg.shape[0] // 2) * 2, (wg.shape[1] // 2) * 2
    d = wg[:hh, :ww].reshape(hh // 2, 2, ww // 2, 2).mean(axis=(1, 3))
    e1 = band(d)
    return (math.sqrt(e0 / e1) if e1 > 1e-12 else 0.0), math.sqrt(e0)


def ref_metrics(img: np.ndarray, working_side: int = 256) -> dict[str, float]:
    """float64 numpy/scipy re-implementation of every metric from its written definition."""
    x = img.astype(np.float64) / 255.0
    g = np.tensordot(LUMA, x[:3], axes=1) if x.shape[0] >= 3 else x[0]
    out: dict[str, float] = {}
    if x.shape[0] >= 3:
        r, gg, b = x[0] * 255, x[1] * 255, x[2] * 255
        rg, yb = r - gg, 0.5 * (r + gg) - b
        out["colourfulness"] = math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
        out["channel_spread"] = float((x[:3].max(0) - x[:3].min(0)).mean())
        out["chroma_rg"], out["chroma_bg"] = float((r - gg).mean()), float((b - gg).mean())
    else:
        out["colourfulness"] = out["channel_spread"] = out["chroma_rg"] = out["chroma_bg"] = 0.0
    # sharpness: two Laplacian-pyramid bands of the working image (scipy's 'mirror' = reflect)
    h, w = g.shape
    out["norm_sharpness"], out["detail"] = _ref_sharpness(g, working_side)
    out["coarse_sharpness"] = _ref_sharpness(g, 64)[0]
    # Immerkaer on 0..255 grey, valid positions only, in the central window (offsets on the 8-px grid)
    dy, dx = max(0, (h - 384) // 2) // 8 * 8, max(0, (w - 384) // 2) // 8 * 8
    gw = g[dy : dy + min(h, 384), dx : dx + min(w, 384)]
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    conv = np.abs(ndimage.correlate(gw * 255, n)[1:-1, 1:-1])
    out["noise"] = conv.sum() * math.sqrt(math.pi / 2) / (6 * (gw.shape[1] - 2) * (gw.shape[0] - 2))
    srt = np.sort(conv.ravel())  # the lower middle value for an even count (torch.median)
    out["noise_robust"] = float(srt[(srt.size - 1) // 2]) / (6 * 0.6744897501960817)
    q = np.clip(np.round(g * 255), 0, 255).astype(int).ravel()
    hist = np.bincount(q, minlength=256) / q.size
    cdf = np.cumsum(hist)
    for key, share in (("grey_p0001", 1e-4), ("grey_p001", 0.001), ("grey_p01", 0.01), ("grey_p50", 0.5), ("grey_p99", 0.99)):
        out[key] = int(np.argmax(cdf >= share - 1e-9)) / 255.0
    # dark_p001: the same 0.1 % level of min over the colour channels (the value of one channel)
    dq = np.clip(np.round(x[:3].min(0) * 255), 0, 255).astype(int).ravel()
    dcdf = np.cumsum(np.bincount(dq, minlength=256) / dq.size)
    out["dark_p001"] = int(np.argmax(dcdf >= 0.001 - 1e-9)) / 255.0
    # bright_p99: the 99 % level of max over the colour channels (the value of one channel)
    bq = np.clip(np.round(x[:3].max(0) * 255), 0, 255).astype(int).ravel()
    out["bright_p99"] = int(np.argmax(np.cumsum(np.bincount(bq, minlength=256) / bq.size) >= 0.99 - 1e-9)) / 255.0
    out["bright_p9999"] = bright_peak_ref(np.bincount(bq, minlength=256))
    nz = hist[hist > 0]
    out["grey_entropy"] = float(-(nz * np.log2(nz)).sum())
    out["dark_clipped"] = float(hist[:6].sum())
    out["bright_clipped"] = float(hist[250:].sum())
    g255 = gw * 255
    num = den = nb = no = 0.0
    for axis, size in ((1, gw.shape[1]), (0, gw.shape[0])):
        if size < 64:  # too small to tell blocks apart
            continue
        steps = np.abs(np.diff(g255, axis=axis)).mean(axis=1 - axis)  # one mean per border line
        border = (np.arange(1, size) % 8) == 0
        num, nb = num + steps[border].sum(), nb + border.sum()
        den, no = den + steps[~border].sum(), no + (~border).sum()
    out["blockiness"] = (
        ref_grid_excess((num / nb) / max(den / no, 0.5) * ref_spread_factor(g255), g255) if nb and den > 0 else 1.0
    )
    out["fine_sharpness"] = _ref_fine(np.clip(np.round(g * 255), 0, 255))
    out["opacity"] = 1.0  # no alpha channel
    out["colour_free"] = 1.0  # no alpha channel: all of the colour its own
    out.update(texture_noise_ref(grey_levels_ref(img)[dy : dy + gw.shape[0], dx : dx + gw.shape[1]]))
    chans = np.clip(np.round(np.asarray(img, np.float64)), 0, 255)[:, dy : dy + gw.shape[0], dx : dx + gw.shape[1]]
    out["noise_chroma"] = chroma_noise_ref(chans)
    out["grain_free"] = grain_free_ref(chans)
    out["occupancy"] = occupancy_of_levels_ref(grey_levels_ref(img))
    out["edge_span"] = edge_span_ref(img)
    out.update(seam_ref(grey_levels_ref(img)))
    out.update(motion_ref(np.clip(np.round(g * 255), 0, 255)))
    return out


def _ref_fine(levels: np.ndarray, side: int = 384) -> float:
    """fine_sharpness from its written definition: native-resolution windows of the 256-level grey
    image, band energies less the 8-bit rounding noise's, the window with most next-octave energy."""
    h, w = levels.shape
    if min(h, w) < 16:
        return 1.0
    k = np.array([1, 4, 6, 4, 1]) / 16.0
    gain = ((np.outer(k, k) * -1.0 + np.pad([[1.0]], 2)) ** 2).sum()  # energy gain of 1 - B (x) B
    floor = gain / 12.0

    def band(a: np.ndarray) -> float:
        blur = ndimage.convolve1d(ndimage.convolve1d(a, k, axis=1, mode="mirror"), k, axis=0, mode="mirror")
        return float(((a - blur) ** 2).mean())

    wh, ww = min(h, side), min(w, side)
    centres = [(h / 2, w / 2)]
    if max(h, w) >= 2 * side:
        centres += [(h * a, w * b) for a in (0.25, 0.75) for b in (0.25, 0.75)]
    best = None
    for cy, cx in centres:
        y0 = int(min(max(cy - wh / 2, 0), h - wh)) // 8 * 8
        x0 = int(min(max(cx - ww / 2, 0), w - ww)) // 8 * 8
        win = levels[y0 : y0 + wh, x0 : x0 + ww]
        hh, w2 = wh // 2 * 2, ww // 2 * 2
        d = win[:hh, :w2].reshape(hh // 2, 2, w2 // 2, 2).mean(axis=(1, 3))
        e0, e1 = band(win), band(d)
        if best is None or e1 > best[1]:
            best = (e0, e1)
    e0, e1 = best
    e1c = e1 - floor / 4
    return math.sqrt(max(e0 - floor, 0.0) / e1c) if e1c >= 0.05 else 1.0


def _photo_like(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    base = ndimage.gaussian_filter(rng.normal(128, 60, (c, h, w)), sigma=(0, 2, 2))
    return np.clip(base + rng.normal(0, 6, (c, h, w)), 0, 255).astype(np.uint8)


def _float64_tol(key: str, want: float) -> float:
    """Tolerance of the float64 path against the float64 reference for one metric."""
    if key in ("occupancy", "edge_span"):
        # maxima and minima of the 256-level grey image: a float luma tie may move a cell's span by one level
        return 2.0 / 256
    if key in ("noise_flat", "impulse_share"):
        # on the 256-level grey image: float luma may round an exact tie either way (one level)
        return 0.25 if key == "noise_flat" else 2e-3
    if key in ("dark_p001", "bright_p99", "bright_p9999", "grey_p0001", "grey_p001", "grey_p01", "grey_p50", "grey_p99", "grey_entropy", "dark_clipped", "bright_clipped"):
        # 256-level histogram: float32 luma may round a level differently on ties
        return 2e-3 if key == "grey_entropy" else 1.0 / 255 + 1e-9
    if key in ("seam_ratio", "seam_corr"):
        # sums over the ~2,600 border pixels of the 256-level grey image: an exact luma tie that float
        # rounding sends to the other level moves a sum by one pixel's share (1e-4 seen); uint8 is exact
        return 1e-3 * max(1.0, abs(want))
    if key in ("fine_sharpness", "motion_ratio", "motion_energy", "motion_cross", "motion_peak", "colour_free"):
        # on the 256-level grey image too: ~0.1 % of the pixels are exact luma ties
        # (299 R + 587 G + 114 B = 500 mod 1000) that float rounding may send either way
        return 1e-4 * max(1.0, abs(want))
    return 1e-6 * max(1.0, abs(want))


@pytest.mark.parametrize("shape", [(3, 48, 64), (1, 40, 40), (3, 512, 520), (3, 128, 192), (3, 512, 784)])
def test_every_metric_matches_float64_reference(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    imgs = [_photo_like(rng, *shape) for _ in range(3)]
    got = quality_metrics([torch.from_numpy(i).to(torch.float64) * 1.0 for i in imgs])  # float64 path
    got8 = quality_metrics(imgs)  # the uint8 -> float32 path
    for j, img in enumerate(imgs):
        ref = ref_metrics(img.astype(np.float64))
        for key in QUALITY_KEYS:
            tol = _float64_tol(key, ref[key])
            assert float(got[key][j]) == pytest.approx(ref[key], abs=tol), key
            assert float(got8[key][j]) == pytest.approx(ref[key], rel=2e-3, abs=max(tol, 2e-4)), key


def test_float64_input_scaled_by_bit_depth() -> None:
    # floats in [0, 1] are taken as they are; uint16 by 2**16 - 1
    rng = np.random.default_rng(1)
    img = _photo_like(rng, 3, 32, 32)
    as_float = quality_metrics([img.astype(np.float64) / 255.0])
    as_u16 = quality_metrics([img.astype(np.int32) * 257])
    ref = ref_metrics(img)
    assert float(as_float["colourfulness"][0]) == pytest.approx(ref["colourfulness"], rel=1e-9)
    assert float(as_u16["colourfulness"][0]) == pytest.approx(ref["colourfulness"], rel=1e-5)


def test_hand_checked_cases() -> None:
    grey = np.repeat(np.arange(64, dtype=np.uint8).reshape(1, 8, 8), 3, axis=0)
    const = np.full((3, 20, 20), 77, np.uint8)
    red = np.zeros((3, 10, 10), np.uint8)
    red[0] = 255
    m = quality_metrics([grey, const, red])
    # 64 distinct equally frequent levels: 6 bits; a constant: 0 bits
    assert m["grey_entropy"].tolist()[:2] == [6.0, 0.0]
    assert m["channel_spread"].tolist() == [0.0, 0.0, 1.0]
    # pure red: rg = 255, yb = 127.5 everywhere: no spread, mean term 0.3 * hypot(255, 127.5)
    assert float(m["colourfulness"][2]) == pytest.approx(0.3 * math.hypot(255, 127.5), rel=1e-6)
    assert float(m["colourfulness"][0]) == 0.0
    for key in ("norm_sharpness", "detail", "noise", "noise_robust"):
        assert float(m[key][1]) == 0.0, key
    assert float(m["grey_p50"][1]) == pytest.approx(77 / 255)
    assert float(m["blockiness"][1]) == 1.0  # flat: no steps anywhere


def test_blockiness_floor_on_faint_steps() -> None:
    # 64x64 grey: +4 levels at every 8-px column border, rows 0, 4, 8, ... one level brighter.
    # Border steps: 7 columns x 4 and 7 rows x 1 -> mean 2.5.  Elsewhere: 56 column steps of 0
    # and 24 of the 56 row steps are 1 -> mean 24 / 112 = 0.214, below the 0.5-level floor,
    # so blockiness = 2.5 / 0.5 = 5 (without the floor it would be 11.7).
    r, c = np.mgrid[0:64, 0:64]
    g = (4 * (c // 8) + (r % 4 == 0)).astype(np.uint8)
    m = quality_metrics([np.repeat(g[None], 3, axis=0)])
    assert float(m["blockiness"][0]) == pytest.approx(5.0, rel=1e-6)


def test_resolution_normalised_sharpness() -> None:
    # the same scene at 1024 px and at 256 px (2x2... block means) scores the same sharpness
    rng = np.random.default_rng(3)
    small = _photo_like(rng, 1, 256, 256).astype(np.float64)
    big = np.repeat(np.repeat(small, 4, axis=1), 4, axis=2)  # area-downscales back to `small`
    m = quality_metrics([torch.from_numpy(small), torch.from_numpy(big)])
    assert float(m["norm_sharpness"][0]) == pytest.approx(float(m["norm_sharpness"][1]), rel=1e-9)
    assert float(m["norm_sharpness"][0]) == pytest.approx(ref_metrics(small)["norm_sharpness"], rel=1e-9)


def test_blur_lowers_sharpness_and_noise_is_measured() -> None:
    rng = np.random.default_rng(4)
    img = _photo_like(rng, 3, 200, 240)
    blurred = ndimage.gaussian_filter(img.astype(np.float64), sigma=(0, 3, 3)).round().astype(np.uint8)
    flat = np.full((1, 200, 240), 128.0)
    noisy = np.clip(flat + rng.normal(0, 10, flat.shape), 0, 255).round().astype(np.uint8)
    m = quality_metrics([img, blurred, noisy])
    assert float(m["norm_sharpness"][1]) < 0.5 * float(m["norm_sharpness"][0])
    # Immerkaer on pure Gaussian noise of sigma 10 (rounding adds ~0.3): within 5 %
    assert float(m["noise"][2]) == pytest.approx(10.0, rel=0.05)
    assert float(m["noise_robust"][2]) == pytest.approx(10.0, rel=0.05)


def test_batched_equals_per_image_and_input_untouched() -> None:
    rng = np.random.default_rng(5)
    imgs = [_photo_like(rng, 3, 40, 50) for _ in range(4)] + [_photo_like(rng, 3, 30, 30)]
    copies = [i.copy() for i in imgs]
    together = quality_metrics(imgs)
    for j, img in enumerate(imgs):
        alone = quality_metrics([img])
        for key in QUALITY_KEYS:
            assert float(together[key][j]) == pytest.approx(float(alone[key][0]), rel=1e-6, abs=1e-7), key
    for a, b in zip(imgs, copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stack_input_and_errors() -> None:
    x = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    m = quality_metrics(x)
    assert m["noise"].shape == (2,)
    assert quality_metrics([])["noise"].shape == (0,)
    with pytest.raises(ImageShapeError, match="expected a \\(B, C, H, W\\)"):
        quality_metrics_batch(torch.zeros(3, 16, 16))


@pytest.mark.cuda
def test_cuda_path_equals_cpu() -> None:
    """The device path is the same tensor code; on a GPU it must match the CPU (skipped without)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(6)
    imgs = [_photo_like(rng, 3, 300, 280) for _ in range(3)]
    imgs += [_icon(rng, 4, 300, 280), _icon(rng, 2, 96, 128)]  # with alpha: measured as seen
    cpu = quality_metrics(imgs)
    gpu = quality_metrics(imgs, device="cuda")
    for key in QUALITY_KEYS:
        np.testing.assert_allclose(
            gpu[key].cpu().numpy(), cpu[key].numpy(), rtol=1e-4, atol=1e-5, err_msg=key
        )


def test_fine_sharpness_hand_checked() -> None:
    """White noise far above the rounding floor has the same energy per pixel in every band: the
    2x2 mean keeps a quarter of it, so the ratio is sqrt(4) = 2; a flat image is not judged (1);
    a 2-px blur of a large photo-like image falls under the blurry line at native resolution while
    the working resolution (a quarter of the side) still sees it sharp."""
    rng = np.random.default_rng(11)
    noise = np.clip(128 + rng.normal(0, 30, (1, 384, 384)), 0, 255).round().astype(np.uint8)
    flat = np.full((3, 100, 120), 77, np.uint8)
    big = np.clip(ndimage.zoom(rng.normal(128, 50, (3, 256, 256)), (1, 4, 4), order=1)
                  + rng.normal(0, 8, (3, 1024, 1024)), 0, 255).round().astype(np.uint8)
    blurred = ndimage.gaussian_filter(big.astype(np.float64), sigma=(0, 2, 2)).round().astype(np.uint8)
    m = quality_metrics([noise, flat, big, blurred])
    assert float(m["fine_sharpness"][0]) == pytest.approx(2.0, rel=0.03)
    assert float(m["fine_sharpness"][1]) == 1.0
    assert float(m["fine_sharpness"][2]) > 0.6
    assert float(m["fine_sharpness"][3]) < 0.37
    assert float(m["norm_sharpness"][3]) > 0.445  # the working resolution alone would not see it


def test_fine_sharpness_takes_the_most_detailed_window() -> None:
    """A large image whose centre is flat and whose top-left quadrant holds texture is judged on
    that quadrant (the window with the most next-octave energy), not called flat."""
    rng = np.random.default_rng(12)
    img = np.full((1, 800, 800), 90.0)
    img[0, 8:392, 8:392] += rng.normal(0, 20, (384, 384))
    img = np.clip(img, 0, 255).round().astype(np.uint8)
    m = quality_metrics([img])
    ref = ref_metrics(img.astype(np.float64))["fine_sharpness"]
    assert float(m["fine_sharpness"][0]) == pytest.approx(ref, rel=1e-5)
    assert 1.5 < ref < 2.1  # white noise in the quadrant window (its border with the flat part lowers it a little)


def ref_alpha_metrics(img: np.ndarray, rounded: bool = False) -> dict[str, float]:
    """float64 reference of an image with alpha (last channel, 0..255 scale) from the written
    definitions: the metrics of the composite on grey 128 (no rounding), with the levels over
    the visible pixels (alpha-weighted histogram), ``opacity`` the mean alpha, the noise over
    the fully opaque 3x3 positions (0 under 256 of them) and the median-based blockiness over
    opaque pixel pairs."""
    x = img.astype(np.float64)
    col, a = x[:-1], x[-1] / 255.0
    comp = col * a + 128.0 * (1.0 - a)
    out = ref_metrics(comp)
    g = np.tensordot(LUMA, col[:3] / 255.0, axes=1) if col.shape[0] >= 3 else col[0] / 255.0
    q = np.clip(np.round(g * 255), 0, 255).astype(int).ravel()
    hist = np.bincount(q, weights=a.ravel(), minlength=256)
    if hist.sum() <= 0:
        hist[0] = 1.0
    hist = hist / hist.sum()
    cdf = np.cumsum(hist)
    for key, share in (("grey_p0001", 1e-4), ("grey_p001", 0.001), ("grey_p01", 0.01), ("grey_p50", 0.5), ("grey_p99", 0.99)):
        out[key] = int(np.argmax(cdf >= share - 1e-9)) / 255.0
    dq = np.clip(np.round(col[:3].min(0)), 0, 255).astype(int).ravel()  # the visible darkest channel
    dh = np.bincount(dq, weights=a.ravel(), minlength=256)
    if dh.sum() <= 0:
        dh[0] = 1.0
    out["dark_p001"] = int(np.argmax(np.cumsum(dh / dh.sum()) >= 0.001 - 1e-9)) / 255.0
    bh = np.bincount(np.clip(np.round(col[:3].max(0)), 0, 255).astype(int).ravel(), weights=a.ravel(), minlength=256)
    if bh.sum() <= 0:
        bh[0] = 1.0
    out["bright_p99"] = int(np.argmax(np.cumsum(bh / bh.sum()) >= 0.99 - 1e-9)) / 255.0
    out["bright_p9999"] = bright_peak_ref(bh)
    nz = hist[hist > 0]
    out["grey_entropy"] = float(-(nz * np.log2(nz)).sum())
    out["dark_clipped"], out["bright_clipped"] = float(hist[:6].sum()), float(hist[250:].sum())
    out["opacity"] = float(a.mean())
    # the colour's levels against the alpha's bins; an alpha opaque everywhere: as the colour alone (1)
    out["colour_free"] = colour_free_ref(q, a.ravel() * 255.0) if a.min() < 1.0 else 1.0
    h, w = a.shape
    dy, dx = max(0, (h - 384) // 2) // 8 * 8, max(0, (w - 384) // 2) // 8 * 8
    gc = np.tensordot(LUMA, comp[:3], axes=1) if comp.shape[0] >= 3 else comp[0]
    gw = gc[dy : dy + min(h, 384), dx : dx + min(w, 384)]
    ow = a[dy : dy + min(h, 384), dx : dx + min(w, 384)] >= 1.0
    n = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    conv = np.abs(ndimage.correlate(gw, n)[1:-1, 1:-1])
    ok = ndimage.minimum_filter(ow.astype(np.uint8), size=3)[1:-1, 1:-1].astype(bool)
    r = np.sort(conv[ok])
    if r.size >= 256:
        out["noise"] = r.mean() * math.sqrt(math.pi / 2) / 6
        out["noise_robust"] = float(r[(r.size - 1) // 2]) / (6 * 0.6744897501960817)
    else:
        out["noise"] = out["noise_robust"] = 0.0
    levels = grey_levels_ref(comp)[dy : dy + min(h, 384), dx : dx + min(w, 384)]
    out.update(texture_noise_ref(levels, ow) if not ow.all() else {})
    out["edge_span"] = edge_span_ref(img)  # the composite on mid grey, integer (as the kernels see it)
    if not ow.all():
        out["noise_chroma"] = chroma_noise_ref(np.round(comp)[:, dy : dy + min(h, 384), dx : dx + min(w, 384)], ow)
        out["grain_free"] = grain_free_ref(np.round(comp)[:, dy : dy + min(h, 384), dx : dx + min(w, 384)], ow)
    border_lines, other_lines = [], []
    for axis, size in ((1, gw.shape[1]), (0, gw.shape[0])):
        if size < 64:
            continue
        step = np.abs(np.diff(gw, axis=axis))
        pair = np.logical_and(np.delete(ow, -1, axis=axis), np.delete(ow, 0, axis=axis))
        cnt, tot = pair.sum(axis=1 - axis), (step * pair).sum(axis=1 - axis)
        for j in range(size - 1):
            if cnt[j] >= 8:
                (border_lines if (j + 1) % 8 == 0 else other_lines).append(tot[j] / cnt[j])
    if border_lines and other_lines:
        at, off = np.sort(border_lines), np.sort(other_lines)
        at, off = at[(at.size - 1) // 2], off[(off.size - 1) // 2]  # the lower middle value
        # the spread factor of the composite (``rounded``: as the kernels see a uint8 image, whose
        # composite is rounded to integer levels; the border segments that step are counted)
        g8 = gw
        if rounded:
            c8 = (img[:-1].astype(np.int64) * img[-1] + 128 * (255 - img[-1].astype(np.int64)) + 127) // 255
            g8 = np.tensordot(LUMA, c8[:3].astype(np.float64), axes=1) if c8.shape[0] >= 3 else c8[0].astype(np.float64)
            g8 = g8[dy : dy + min(h, 384), dx : dx + min(w, 384)]
        factor = ref_spread_factor(g8)
        out["blockiness"] = ref_grid_excess(at / max(off, 0.5) * factor, g8) if at > 1e-12 or off > 1e-12 else 1.0
    else:
        out["blockiness"] = 1.0
    return out


def _icon(rng: np.random.Generator, c: int, h: int, w: int) -> np.ndarray:
    """A photo-like picture with alpha: an opaque ellipse, a soft edge, transparent outside,
    and random colours left under the transparent pixels."""
    col = _photo_like(rng, c - 1, h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.hypot((yy - h / 2) / (0.42 * h), (xx - w / 2) / (0.42 * w))
    a = np.clip((1.0 - d) * 8.0, 0.0, 1.0)
    return np.concatenate([col, np.round(a * 255)[None]]).astype(np.uint8)


@pytest.mark.parametrize("shape", [(4, 128, 192), (2, 64, 96), (4, 512, 768)])  # integer area factors (the reference)
def test_alpha_metrics_match_float64_reference(shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    imgs = [_icon(rng, *shape) for _ in range(2)]
    got = quality_metrics([torch.from_numpy(i).to(torch.float64) for i in imgs])  # float64 path
    got8 = quality_metrics(imgs)  # uint8: the composite rounded to integers
    for j, img in enumerate(imgs):
        ref = ref_alpha_metrics(img)
        ref8 = ref_alpha_metrics(img, rounded=True)["blockiness"]  # the spread counted on the rounded composite
        for key in QUALITY_KEYS:
            tol = _float64_tol(key, ref[key])
            assert float(got[key][j]) == pytest.approx(ref[key], abs=tol), key
            # uint8: the composite is rounded to integer levels (up to half a level per pixel)
            loose = 0.05 if key in ("noise", "noise_robust", "blockiness", "detail") else 2e-2
            floor = 0.05 if key in ("colourfulness", "chroma_rg", "chroma_bg") else 2e-3  # 0..255 scale
            want = ref8 if key == "blockiness" else ref[key]
            assert float(got8[key][j]) == pytest.approx(want, rel=loose, abs=max(tol, floor)), key
        assert 0.4 < ref["opacity"] < 0.7 and ref["noise"] > 0  # the test exercises both parts


def test_alpha_is_measured_as_seen() -> None:
    """RGBA / grey + alpha: what lies under fully transparent pixels (an encoder's blocky
    left-overs) changes nothing, an opaque alpha changes nothing, and the levels are those of
    the visible pixels (half transparency keeps them; the composite on grey 128 is exact)."""
    rng = np.random.default_rng(13)
    rgb = _photo_like(rng, 3, 96, 128)
    alpha = np.full((1, 96, 128), 255, np.uint8)
    alpha[:, :, :48] = 0  # the left part fully transparent
    junk = rgb.copy()
    junk[:, :, :48] = np.kron(rng.integers(0, 256, (3, 12, 6)), np.ones((1, 8, 8))).astype(np.uint8)  # 8-px blocks
    zeroed = rgb.copy()
    zeroed[:, :, :48] = 0
    m = quality_metrics([np.concatenate([junk, alpha]), np.concatenate([zeroed, alpha]), np.concatenate([rgb, np.full_like(alpha, 255)]), rgb])
    for key in QUALITY_KEYS:
        assert float(m[key][0]) == pytest.approx(float(m[key][1]), rel=1e-6, abs=1e-7), key  # junk unseen
        assert float(m[key][2]) == pytest.approx(float(m[key][3]), rel=1e-6, abs=1e-7), key  # opaque = RGB
    assert float(m["opacity"][0]) == pytest.approx(80 / 128) and float(m["opacity"][3]) == 1.0
    # the visible part's levels: those of the right 80 columns of the picture
    g = np.clip(np.round(np.tensordot(LUMA, rgb[:, :, 48:] / 255.0, axes=1) * 255), 0, 255)
    assert float(m["grey_p50"][0]) == pytest.approx(np.sort(g.ravel())[math.ceil(0.5 * g.size) - 1] / 255, abs=1 / 255)
    # half transparency: the composite on grey in exact integers, the levels of the colour
    half = np.concatenate([rgb[:1], np.full((1, 96, 128), 128, np.uint8)])
    x = torch.from_numpy(half)[None]
    from dataeval_gpu.functional.quality import composite_on_grey

    want = (rgb[:1].astype(np.int64) * 128 + 128 * 127 + 127) // 255
    np.testing.assert_array_equal(composite_on_grey(x)[0].numpy(), want)
    got = quality_metrics([half, rgb[:1]])
    for key in ("grey_p50", "grey_p99", "grey_entropy"):
        assert float(got[key][0]) == pytest.approx(float(got[key][1]), abs=1e-6), key
    assert float(got["opacity"][0]) == pytest.approx(128 / 255)
    # float images: everything scaled by the bit depth first, then c a + 128/255 (1 - a)
    xf = torch.from_numpy(np.concatenate([rgb, alpha]).astype(np.float64) / 255.0)[None]
    a = alpha / 255.0
    np.testing.assert_allclose(composite_on_grey(xf)[0].numpy(), rgb / 255.0 * a + 128 / 255 * (1 - a), atol=1e-12)


def test_alpha_hand_checked_glyph_and_blank() -> None:
    """A black glyph (a 32x32 square) on a transparent 64x64 canvas: opacity 1/4, the visible
    pixels all black (entropy 0, p99 0); on grey its edges are sharp (the composite is
    128 outside, 0 inside: not a black square as on black).  A fully transparent image: opacity
    0, measured as one black pixel."""
    glyph = np.zeros((4, 64, 64), np.uint8)
    glyph[3, 16:48, 16:48] = 255
    blank = np.zeros((4, 64, 64), np.uint8)
    m = quality_metrics([glyph, blank])
    assert m["opacity"].tolist() == [0.25, 0.0]
    assert m["grey_entropy"].tolist() == [0.0, 0.0]
    assert m["grey_p99"].tolist() == [0.0, 0.0]
    assert m["dark_clipped"].tolist() == [1.0, 1.0]
    assert float(m["norm_sharpness"][0]) > 0.6  # a sharp edge, seen
    assert float(m["norm_sharpness"][1]) == 0.0  # flat grey: nothing seen
    # the noise: 30 x 30 opaque 3x3 positions, all inside the flat square: 0; the blank: none
    assert m["noise"].tolist() == [0.0, 0.0] and m["noise_robust"].tolist() == [0.0, 0.0]


def test_alpha_blockiness_counts_lines_not_shape_edges() -> None:
    """Flat shapes on an 8-px grid (an icon drawn on a pixel grid, never JPEG-compressed) with a
    1-level column texture: a few border lines carry the shapes' edges, the median border line
    only the texture -> 1; the mean-based definition of opaque images scores the same picture far above the
    2.4 threshold.  An 8x8 mosaic of flat tiles (what JPEG blocking looks like at its worst):
    every border line steps, no other line does -> median step / the 0.5 floor."""
    shapes = np.full((3, 128, 128), 200, np.uint8)
    shapes[:, 16:112, 16:112] = 90
    shapes[:, 40:64, 32:96] = 30
    shapes += (np.arange(128) % 2).astype(np.uint8)  # a fine texture: every column step 1 level
    alpha = np.full((1, 128, 128), 255, np.uint8)
    alpha[:, :8] = 0  # some transparency
    tiles = np.kron(np.arange(256).reshape(16, 16) % 7 * 30, np.ones((8, 8))).astype(np.uint8)
    m = quality_metrics([np.concatenate([shapes, alpha]), shapes, np.concatenate([np.repeat(tiles[None], 3, 0), alpha])])
    # lines: the median column line steps 1 level, the median row line 0 (rows without an edge):
    # 1, times the spread factor (few border segments step: the shapes' edges)
    want = ref_alpha_metrics(np.concatenate([shapes, alpha]), rounded=True)["blockiness"]
    assert float(m["blockiness"][0]) == pytest.approx(want, rel=1e-4) and want < 1.0
    # the opaque definition (mean over the lines) scored ~40 before jpeg9: every edge of the shapes
    # lies on the grid, an eighth of the border segments step (factor (0.125 / 0.2)^2); those edges
    # lie on lines of one phase (16, 32, 64, 96, 112): the pattern weight (pattern share 0.65) takes it to 0
    assert float(m["blockiness"][1]) == 0.0
    assert float(m["blockiness"][1]) == pytest.approx(ref_metrics(shapes.astype(np.float64))["blockiness"], rel=1e-4)
    ref = ref_alpha_metrics(np.concatenate([np.repeat(tiles[None], 3, 0), alpha]))["blockiness"]
    assert float(m["blockiness"][2]) == pytest.approx(ref, rel=1e-6)
    assert ref > 50  # tiles 0..180 apart: median border step tens of levels over the 0.5 floor


def test_alpha_of_16_bit_images_is_composited_in_their_own_scale() -> None:
    """A 16-bit RGBA / grey+alpha PNG (uint16): alpha scaled by the image's bit depth, as the
    colour is.  It used to be cast back to uint16 (0 or 1), so every such image but the fully
    opaque ones measured black: dark, blurry and low information."""
    rng = np.random.default_rng(3)
    rgb8 = _photo_like(rng, 3, 64, 80)
    rgb16 = rgb8.astype(np.uint16) * 257
    opaque = np.full((1, 64, 80), 65535, np.uint16)
    half = np.full((1, 64, 80), 32768, np.uint16)
    m = quality_metrics([np.concatenate([rgb16, opaque]), rgb16, np.concatenate([rgb16, half])])
    for key in QUALITY_KEYS:  # opaque 16-bit RGBA = its RGB
        assert float(m[key][0]) == pytest.approx(float(m[key][1]), rel=1e-5, abs=1e-6), key
    levels = np.sort(np.round(np.tensordot(LUMA, rgb8 / 255.0, axes=1) * 255).ravel())
    for key, share in (("grey_p50", 0.5), ("grey_p99", 0.99)):  # half alpha: the visible levels as they are
        want = levels[math.ceil(share * levels.size) - 1] / 255
        assert float(m[key][2]) == pytest.approx(want, abs=1.01 / 255), key
    assert float(m["opacity"][2]) == pytest.approx(32768 / 65535, rel=1e-6)
    # the composite on grey in the image's own scale: the same sharpness as the float64 reference
    ref = ref_alpha_metrics(np.concatenate([rgb8, np.full((1, 64, 80), 32768 / 65535 * 255)]))
    assert float(m["norm_sharpness"][2]) == pytest.approx(ref["norm_sharpness"], rel=1e-3)
    la = np.concatenate([rgb16[:1], np.full((1, 64, 80), 40000, np.uint16)])
    got = quality_metrics([la])
    assert float(got["grey_p50"][0]) == pytest.approx(np.sort(rgb8[0].ravel())[(rgb8[0].size - 1) // 2] / 255.0, abs=1.01 / 255)
    assert float(got["opacity"][0]) == pytest.approx(40000 / 65535, rel=1e-6)


@pytest.mark.parametrize("kind", ["u8", "u16", "f32"])
def test_alpha_and_torch_path_rows_equal_stacked_and_alone_bit_for_bit(kind: str) -> None:
    """Icons of 256-500 px with transparent corners (and the torch path of 16-bit / float
    images): a stack's rows equal each image measured alone, under 1 or 3 torch threads, bit
    for bit.  ``noise`` over the opaque pixels (a float32 sum) and the torch path's colour means
    differed by a float32 ulp, so a scan measuring in its main process (stacks, the device path's
    route) and one measuring in DataLoader workers (one image each) wrote different rows for one
    file (the bad-input corpus' palette_transparent.png)."""
    rng = np.random.default_rng(0)
    dtype, scale = {"u8": (np.uint8, 1), "u16": (np.uint16, 257), "f32": (np.float32, 1 / 255)}[kind]
    threads = torch.get_num_threads()
    for side in (256, 384, 500):
        yy, xx = np.mgrid[0:side, 0:side]
        alpha = (np.hypot(yy - side / 2, xx - side / 2) < side * 0.45) * 255
        imgs = [np.concatenate([rng.integers(0, 256, (3, side, side)), alpha[None]]) for _ in range(4)]
        imgs.append(rng.integers(0, 256, (3, side, side)))  # opaque RGB, without alpha
        ts = [torch.from_numpy((a * scale).astype(dtype)) for a in imgs]
        stacked = quality_metrics_batch(torch.stack(ts[:4]))
        try:
            alone = []
            for n in (1, 3):
                torch.set_num_threads(n)
                alone.append([quality_metrics_batch(t[None]) for t in ts])
        finally:
            torch.set_num_threads(threads)
        for key in QUALITY_KEYS:
            one = torch.cat([r[key] for r in alone[0]])
            assert torch.equal(one[:4], stacked[key]), (side, key)
            assert torch.equal(one, torch.cat([r[key] for r in alone[1]])), (side, key)
        assert float(stacked["opacity"][0]) < 0.99 and float(stacked["noise"][0]) > 0.0  # opaque-pixel noise
