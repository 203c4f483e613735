"""imagestats / channelstats / the streaming accumulator against float64 references and DataEval 0.65."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from dataeval_gpu.accumulators.stats import ImageStatsAccumulator
from dataeval_gpu.errors import ImageShapeError, ImageTypeError
from dataeval_gpu.flags import ImageStat
from dataeval_gpu.functional.quality import QUALITY_KEYS
from dataeval_gpu.functional.stats import IMAGE_KEYS, image_statistics, laplacian
from dataeval_gpu.metrics import channelstats, imagestats

from .. import reference as ref

EXACT = {"width", "height", "channels", "size", "depth", "histogram"}


# the quality metrics have their own float64 reference (tests/functional/test_quality_metrics.py)
_REF_KEYS = tuple(k for k in IMAGE_KEYS if k not in QUALITY_KEYS)


def _check_image_stats(images, device, keys=_REF_KEYS, rtol=1e-9, atol=1e-9):
    st, _ = image_statistics([torch.from_numpy(ref.chw(np.asarray(i))).to(device) for i in images])
    for i, img in enumerate(images):
        want = ref.image_stats(img)
        for k in keys:
            got = st[k][i].cpu().numpy()
            if k in EXACT:
                np.testing.assert_array_equal(got, want[k], err_msg=f"{k} of image {i}")
            else:
                ok = ref.close(got, want[k], rtol=rtol, atol=atol)
                assert np.all(ok), f"{k} of image {i}: got {got}, want {want[k]}"


# ------------------------------------------------------------------ float64 references (always)


def test_photos_match_float64_reference(photos, device):
    _check_image_stats(photos, device)


def test_synthetic_match_float64_reference(synthetic, device):
    # float32 inputs are computed in float64 here and by the reference
    _check_image_stats(synthetic, device)


def test_channel_stats_match_reference(photos, synthetic, device):
    images = photos[:12] + synthetic
    _, ch = image_statistics([torch.from_numpy(ref.chw(np.asarray(i))).to(device) for i in images], per_channel=True)
    row = 0
    for i, img in enumerate(images):
        want = ref.channel_stats(img)
        c = ref.chw(np.asarray(img)).shape[0]
        assert ch["row_image"][row : row + c].tolist() == [i] * c
        assert ch["row_channel"][row : row + c].tolist() == list(range(c))
        for k, v in want.items():
            got = ch[k][row : row + c].cpu().numpy()
            if k == "histogram":
                np.testing.assert_array_equal(got, v)
            else:
                assert np.all(ref.close(got, v, rtol=1e-9, atol=1e-9)), (k, i, got, v)
        row += c


def test_nan_and_negative_values_follow_065_rules(device):
    nan_img = np.array([[[0.5, np.nan], [0.2, 0.1]]])
    neg_img = np.array([[[-1.0, 2.0], [3.0, 4.0]]])
    st, _ = image_statistics([torch.from_numpy(nan_img).to(device), torch.from_numpy(neg_img).to(device)])
    assert st["depth"].tolist() == [32, 0]
    assert st["missing"][0].item() == 0.25
    assert np.isnan(st["mean"][0].item()) and np.isnan(st["percentiles"][0].cpu().numpy()).all()
    # 0.65's rescale at depth 0 is (x + min) / (max - min): (-2, 1, 2, 3) / 5
    assert st["mean"][1].item() == pytest.approx(np.mean([-2, 1, 2, 3]) / 5)
    np.testing.assert_array_equal(st["histogram"][1].cpu().numpy().nonzero()[0], [51, 102, 153])


def test_hand_checked_small_case():
    img = torch.tensor([[[0, 255], [255, 0]]], dtype=torch.uint8)
    st, _ = image_statistics([img])
    assert st["mean"].item() == 0.5 and st["var"].item() == 0.25 and st["zero"].item() == 0.5
    assert st["histogram"][0, 0].item() == 2 and st["histogram"][0, 255].item() == 2
    assert st["entropy"].item() == pytest.approx(np.log(2))
    assert st["percentiles"][0].tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    # Laplacian of [[0,255],[255,0]] with replicate border: centre 8x - neighbours
    lap = laplacian(torch.tensor([[0, 255], [255, 0]], dtype=torch.int32)).tolist()
    assert lap == [[-1020, 1020], [1020, -1020]]


def test_bool_images_are_0_1_depth_1():
    m = torch.zeros(1, 4, 4, dtype=torch.bool)
    m[0, :2] = True
    st, _ = image_statistics([m])
    assert st["depth"].item() == 1 and st["mean"].item() == 0.5 and st["zero"].item() == 0.5


# ------------------------------------------------------------------ the compat API


def test_imagestats_output_layout(photos):
    out = imagestats(photos[:5], ImageStat.ALL_STATS)
    keys = list(out.dict())
    assert keys == [
        "width", "height", "channels", "size", "aspect_ratio", "depth", "brightness", "blurriness",
        "missing", "zero", "mean", "std", "var", "skew", "kurtosis", "percentiles", "histogram", "entropy",
    ]  # fmt: skip
    assert out.percentiles.shape == (5, 5) and out.histogram.shape == (5, 256)
    only = imagestats(photos[:3], ImageStat.BRIGHTNESS | ImageStat.SIZE).dict()
    assert list(only) == ["size", "brightness"]
    v1 = imagestats(photos[:3], ImageStat.ALL_V1).dict()
    assert list(v1) == ["darkness", "contrast", "sharpness", "zeros"]
    # uint8 images: the 0-255 sharpness is the 0.65 blurriness
    both = imagestats(photos[:3], ImageStat.BLURRINESS | ImageStat.SHARPNESS)
    np.testing.assert_allclose(both.sharpness, both.blurriness)


def test_channelstats_layout(photos):
    imgs = [photos[0], np.zeros((1, 9, 9), np.uint8), photos[1], np.ones((4, 5, 5), np.uint8)]
    c_of = [ref.chw(i).shape[0] for i in imgs]
    out = channelstats(imgs)
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(c_of):
        groups.setdefault(c, []).append(i)
    assert out.ch_idx_map == groups
    for c, idxs in groups.items():
        assert out.mean[c].shape == (c, len(idxs))
        assert out.percentiles[c].shape == (5, c, len(idxs))
        assert out.histogram[c].shape == (256, c, len(idxs))
        for j, i in enumerate(idxs):
            want = ref.channel_stats(imgs[i])
            np.testing.assert_allclose(out.mean[c][:, j], want["mean"], rtol=1e-12)
            np.testing.assert_array_equal(out.histogram[c][:, :, j].T, want["histogram"])


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_streaming_any_batch_size_and_order(photos, synthetic, batch_size):
    images = photos + synthetic
    one_shot = imagestats(images, ImageStat.ALL_STATS).dict()
    rng = np.random.default_rng(batch_size)
    order = rng.permutation(len(images))  # sizes arrive in any order
    acc = ImageStatsAccumulator(per_channel=True)
    for b0 in range(0, len(order), batch_size):
        idx = order[b0 : b0 + batch_size]
        acc.update([torch.from_numpy(ref.chw(images[i])) for i in idx], indices=torch.from_numpy(idx))
    res = acc.compute()
    assert res["index"].tolist() == list(range(len(images)))  # each index once
    for k, v in one_shot.items():
        got = res[k].numpy()
        assert np.all(ref.close(got, v, rtol=0, atol=0)), k
    assert torch.unique(res["ch_index"]).numel() == len(images)


def test_accumulator_drops_repeated_indices():
    acc = ImageStatsAccumulator()
    img = torch.arange(48, dtype=torch.uint8).reshape(3, 4, 4)
    acc.update([img, img * 2], indices=[0, 1])
    acc.update([img * 2], indices=[1])  # a DistributedSampler pad repeats an index
    res = acc.compute()
    assert res["index"].tolist() == [0, 1]


def test_dataset_and_dataloader_inputs(photos):
    from torch.utils.data import DataLoader, Dataset

    from dataeval_gpu.batching import ragged_collate

    class DS(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.from_numpy(photos[i]), i % 3

    want = imagestats(photos[:10]).mean
    np.testing.assert_array_equal(imagestats(DS()).mean, want)
    dl = DataLoader(DS(), batch_size=4, collate_fn=ragged_collate)
    np.testing.assert_array_equal(imagestats(dl).mean, want)
    stacked = np.stack([p[:, :9, :9] for p in photos[:6] if p.shape[0] == 3])
    assert imagestats(stacked).width.tolist() == [9] * len(stacked)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("bad", "exc", "text"),
    [
        (np.zeros((2, 3, 4, 5), np.uint8), ImageShapeError, "image 1: expected an image as (C, H, W)"),
        (np.zeros((3, 0, 4), np.uint8), ImageShapeError, "image 1: every side must be at least 1"),
        (np.zeros((3, 4, 4), np.complex64), ImageTypeError, "image 1: complex dtype"),
        ("not an image", ImageTypeError, "image 1: expected a numpy array"),
        (np.zeros(5, np.uint8), ImageShapeError, "image 1: expected an image"),
    ],
)
def test_bad_input_names_index(bad, exc, text):
    with pytest.raises(exc) as info:
        imagestats([np.zeros((3, 4, 4), np.uint8), bad])
    assert text in str(info.value)
    assert isinstance(info.value, (ValueError, TypeError))


def test_bad_flags():
    with pytest.raises(ValueError, match="unsupported flags"):
        channelstats([np.zeros((3, 4, 4), np.uint8)], ImageStat.WIDTH)


# ------------------------------------------------------------------ parity with dataeval 0.65


@pytest.mark.parity
def test_parity_imagestats_with_dataeval_065(photos, synthetic):
    de = pytest.importorskip("dataeval.metrics")
    from dataeval.flags import ImageStat as RefStat

    images = photos + [s for s in synthetic if s.dtype != np.int32]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = de.imagestats(images, RefStat.ALL_STATS).dict()
    got = imagestats(images, ImageStat.ALL_STATS).dict()
    assert list(got) == [k for k in want if k != "ch_idx_map"]
    for k in got:
        if k in EXACT:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
        else:
            ok = ref.close(got[k], want[k])
            assert np.all(ok), (k, np.argwhere(~ok)[:5])


@pytest.mark.parity
def test_parity_channelstats_with_dataeval_065(photos, synthetic):
    de = pytest.importorskip("dataeval.metrics")

    # 0.65 reshapes an (H, W) image by its first axis in channelstats (H "channels"): a bug we
    # do not reproduce, so 2-D inputs are left out here (covered against the float64 reference)
    images = photos[:20] + [s for s in synthetic if s.dtype != np.int32 and s.ndim == 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = de.channelstats(images).dict()
    got = channelstats(images).dict()
    assert got["ch_idx_map"] == want["ch_idx_map"]
    for k in want:
        if k == "ch_idx_map":
            continue
        assert list(got[k]) == list(want[k])
        for c in want[k]:
            ok = ref.close(got[k][c], want[k][c])
            assert got[k][c].shape == want[k][c].shape and np.all(ok), (k, c)


# ------------------------------------------------------------------ CUDA


@pytest.mark.cuda
def test_cuda_equals_cpu(photos, synthetic):
    images = [torch.from_numpy(ref.chw(i)) for i in photos + synthetic]
    cpu, cpu_ch = image_statistics(images, per_channel=True)
    gpu, gpu_ch = image_statistics([t.cuda() for t in images], per_channel=True)
    # the statistics from value counts agree to rounding; the quality metrics are float32 tensor
    # code on the device against the compiled float64 CPU kernels (on a GPU: ~1e-7 relative)
    loose = set(QUALITY_KEYS)
    bad = []
    for k in cpu:
        assert gpu[k].device.type == "cuda"
        tol = 1e-5 if k in loose else 1e-9
        g, c = gpu[k].cpu().numpy(), cpu[k].numpy()
        if not np.all(ref.close(g, c, rtol=tol, atol=tol)):
            bad.append((k, float(np.nanmax(np.abs(g.astype(np.float64) - c.astype(np.float64))))))
    for k in cpu_ch:
        if not np.all(ref.close(gpu_ch[k].cpu().numpy(), cpu_ch[k].numpy(), rtol=1e-9, atol=1e-9)):
            bad.append((f"ch_{k}", -1.0))
    assert bad == [], bad


def test_rows_stored_after_compute_count_as_an_update():
    # the feed loop computes a batch's rows first and stores them after (out-of-memory retry):
    # through the public update(), torchmetrics counts it and drops its cached result
    acc = ImageStatsAccumulator()
    a = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    acc.update(a, indices=[0, 1])
    assert acc.update_count == 1
    assert acc.compute()["index"].tolist() == [0, 1]
    rows = acc.batch_rows([torch.full((1, 4, 4), 255, dtype=torch.uint8)])
    assert acc.update_count == 1  # computing rows stores nothing
    acc.append_rows(torch.tensor([7]), rows)
    assert acc.update_count == 2
    res = acc.compute()  # not the cached result of the first compute()
    assert res["index"].tolist() == [0, 1, 7]
    assert res["mean"].tolist() == [0.0, 0.0, 1.0]


def test_accumulator_keeps_only_the_asked_metrics():
    acc = ImageStatsAccumulator(metrics=["darkness", "width"])
    acc.update(torch.full((3, 1, 4, 6), 51, dtype=torch.uint8))
    res = acc.compute()
    assert sorted(res) == ["darkness", "index", "width"]
    assert res["darkness"].tolist() == [51.0] * 3 and res["width"].tolist() == [6] * 3
    with pytest.raises(ValueError, match="unknown"):
        ImageStatsAccumulator(metrics=["colourfulness_typo"])


def test_empty_input_gives_empty_statistics_as_065() -> None:
    """No images: every statistic an empty array and no lint issues (a KeyError before)."""
    from dataeval_gpu.detectors import Linter

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torchmetrics "compute before update" warning either
        out = imagestats([], ImageStat.ALL)
        lint = Linter().evaluate([])
        ch = channelstats([])
    assert out.width.shape == (0,) and out.width.dtype == np.int64
    assert out.mean.shape == (0,) and out.mean.dtype == np.float64
    assert out.xxhash == [] and out.pchash == []
    assert lint.issues == {} and ch.dict() == {}
    dataeval = pytest.importorskip("dataeval.metrics")
    ref_out = dataeval.imagestats([])
    assert sorted(out.dict()) == sorted(ref_out.dict())  # both: nothing
    assert len(ref_out.width) == len(out.width) == 0
