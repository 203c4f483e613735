"""Batches of grey ``(H, W)`` images from a DataLoader: the default collate stacks them into an
``(N, H, W)`` tensor, which the batch parser must read as N one-channel images (not as one image
of N channels, nor the batch's labels and indices as more images)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from dataeval_gpu.audit import DataAudit, scan
from dataeval_gpu.batching import split_batch
from dataeval_gpu.distributed import IndexedDataset
from dataeval_gpu.errors import InvalidArgumentError


def _grey(n: int = 10) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 20, 24), dtype=torch.uint8, generator=g)


def test_split_batch_reads_an_n_h_w_batch_with_labels_as_grey_images() -> None:
    x = _grey(4)
    images, labels, idx = split_batch((x, torch.tensor([0, 1, 0, 1]), torch.tensor([7, 3, 4, 5])))
    assert tuple(images.shape) == (4, 1, 20, 24)
    assert torch.equal(images[:, 0], x)
    assert labels.tolist() == [0, 1, 0, 1]
    assert idx.tolist() == [7, 3, 4, 5]
    # a last batch of one: still one grey image with its label and index
    images, labels, idx = split_batch((x[:1], torch.tensor([1]), torch.tensor([9])))
    assert tuple(images.shape) == (1, 1, 20, 24) and idx.tolist() == [9]


@pytest.mark.parametrize("indexed", [False, True])
def test_scan_of_a_loader_of_grey_h_w_images_accounts_for_every_image(indexed: bool) -> None:
    x = _grey(10)
    y = torch.arange(10) % 3
    ds = TensorDataset(x, y)
    report = scan(DataLoader(IndexedDataset(ds) if indexed else ds, batch_size=4))
    table = report.to_pandas()
    # before: 6 (or 9) rows, 3 (or 6) failed ("got shape (4,)": the labels and indices measured as images)
    assert report.total == 10 and not report.failed
    assert table.index.tolist() == list(range(10))
    assert table["channels"].tolist() == [1] * 10
    want = x.double().mean(dim=(1, 2)).numpy() / 255  # independent float64 reference
    np.testing.assert_allclose(table["brightness"].to_numpy(float), want, rtol=1e-6)
    assert table["label"].tolist() == y.tolist()
    # the same rows as the dataset itself, read one item at a time
    direct = scan(ds).to_pandas()
    np.testing.assert_array_equal(direct["brightness"].to_numpy(float), table["brightness"].to_numpy(float))


def test_update_with_an_n_h_w_tensor_says_how_to_pass_grey_images() -> None:
    x = _grey(16)
    audit = DataAudit()
    with pytest.raises(InvalidArgumentError, match=r"got 1 images but 16 indices.*\(16, 1, H, W\).*images\[:, None\]"):
        audit.update(x, indices=torch.arange(16))
    with pytest.raises(InvalidArgumentError, match=r"got 1 images but 16 labels.*\(16, 1, H, W\)"):
        audit.update(x, labels=torch.arange(16) % 2)
    audit.update(x[:, None], indices=torch.arange(16), labels=torch.arange(16) % 2)
    assert audit.compute().total == 16


def _first(batch: list) -> torch.Tensor:
    return batch[0]


def test_scan_of_a_loader_of_bare_h_w_images_accounts_for_every_image() -> None:
    """A Dataset of bare (H, W) arrays: the default collate stacks a batch into (B, H, W), which
    was read as one B-channel image (3 rows for 10 images, no failure, no warning)."""
    rng = np.random.default_rng(0)
    xs = [rng.integers(0, 256, (20, 24), dtype=np.uint8) for _ in range(10)]
    table = scan(DataLoader(xs, batch_size=4)).to_pandas()
    assert table.index.tolist() == list(range(10))
    assert table["channels"].tolist() == [1] * 10
    want = np.array([x.astype(np.float64).mean() / 255 for x in xs])
    np.testing.assert_allclose(table["brightness"].to_numpy(float), want, rtol=1e-6)
    # a loader that does not stack items (its own collate, or no automatic batching) gives
    # (C, H, W) images as they are: 3-channel images stay 3-channel
    rgb = [rng.integers(0, 256, (3, 20, 24), dtype=np.uint8) for _ in range(4)]
    for loader in (DataLoader(rgb, batch_size=1, collate_fn=_first), DataLoader(rgb, batch_size=None)):
        got = scan(loader).to_pandas()
        assert got["channels"].tolist() == [3] * 4 and len(got) == 4


def test_a_stacking_loader_of_grey_items_in_every_batch_form() -> None:
    """Items (image,), (image, "name") and {"image": image, "label": k} of (H, W) images, stacked by
    the default collate: B grey images each, with their labels."""
    rng = np.random.default_rng(1)
    xs = [rng.integers(0, 256, (12, 14), dtype=np.uint8) for _ in range(6)]
    want = np.array([x.astype(np.float64).mean() / 255 for x in xs])
    forms = {
        "tensor dataset": TensorDataset(torch.from_numpy(np.stack(xs))),
        "string labels": [(x, f"c{k % 2}") for k, x in enumerate(xs)],
        "dicts": [{"image": x, "label": k % 3} for k, x in enumerate(xs)],
    }
    for name, ds in forms.items():
        table = scan(DataLoader(ds, batch_size=4)).to_pandas()
        assert table["channels"].tolist() == [1] * 6, name
        np.testing.assert_allclose(table["brightness"].to_numpy(float), want, rtol=1e-6, err_msg=name)
        if name != "tensor dataset":
            assert table["label"].tolist() == [f"c{k % 2}" if name == "string labels" else k % 3 for k in range(6)], name
