"""The plain row store (no torchmetrics) against the torchmetrics accumulator it stands in for:
same rows, same results, same checkpoints, for one process (issue 14: start-up)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.accumulators.rowstore import RowStore
from dataeval_gpu.accumulators.stats import ImageStatsAccumulator, ImageStatsRows
from dataeval_gpu.audit.state import load_metric_state, metric_state

SETTINGS = {"per_channel": True, "hashes": True, "hash": "pchash", "d4": True, "metrics": None}


def _batches() -> list[tuple[list[torch.Tensor], list[int]]]:
    g = torch.Generator().manual_seed(0)
    imgs = [torch.randint(0, 256, (c, h, w), dtype=torch.uint8, generator=g) for c, h, w in
            [(3, 20, 30), (1, 17, 9), (3, 40, 40), (4, 12, 12), (3, 33, 21)]]  # fmt: skip
    imgs.append(imgs[0].clone())  # an exact duplicate
    return [(imgs[:2], [4, 0]), (imgs[2:5], [3, 1, 5]), (imgs[5:], [2])]


def _fed(cls: type, **kw) -> object:
    acc = cls(**{**SETTINGS, **kw})
    for imgs, idx in _batches():
        acc.update(imgs, indices=torch.tensor(idx))
    return acc


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert torch.equal(a[k], b[k]) or np.array_equal(a[k].numpy(), b[k].numpy(), equal_nan=True), k


def test_rows_and_metric_give_the_same_results() -> None:
    rows, metric = _fed(ImageStatsRows), _fed(ImageStatsAccumulator)
    assert not isinstance(rows, torch.nn.Module) and isinstance(rows, RowStore)
    res = rows.compute()
    _same(res, metric.compute())
    assert res["index"].tolist() == [0, 1, 2, 3, 4, 5]
    assert res["width"].tolist() == [9, 12, 30, 40, 30, 21]  # by dataset index
    assert res["xxhash"][2] == res["xxhash"][4] and res["xxhash"][0] != res["xxhash"][4]
    assert rows.update_count == metric.update_count == 3


def test_one_image_is_squeezed_as_torchmetrics_does() -> None:
    one = [torch.full((1, 4, 6), 255, dtype=torch.uint8)]
    a, b = ImageStatsRows(), ImageStatsAccumulator()
    for acc in (a, b):
        acc.update(one, indices=[7])
    ra, rb = a.compute(), b.compute()
    assert ra["index"].ndim == 0 and int(ra["index"]) == 7 and float(ra["mean"]) == 1.0
    _same(ra, rb)


@pytest.mark.parametrize("cls", [ImageStatsRows, ImageStatsAccumulator])
def test_stored_rows_count_as_an_update_and_drop_the_cached_result(cls: type) -> None:
    acc = cls()
    acc.update(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), indices=[0, 1])
    assert acc.update_count == 1 and acc.compute()["index"].tolist() == [0, 1]
    rows = acc.batch_rows([torch.full((1, 4, 4), 255, dtype=torch.uint8)])
    assert acc.update_count == 1
    acc.append_rows(torch.tensor([7]), rows)
    assert acc.update_count == 2
    res = acc.compute()
    assert res["index"].tolist() == [0, 1, 7] and res["mean"].tolist() == [0.0, 0.0, 1.0]
    acc.reset()
    assert acc.update_count == 0 and acc.index == []


def test_checkpoints_load_across_the_two_kinds() -> None:
    """A checkpoint written from the row store restores into the torchmetrics accumulator and back."""
    rows, metric = _fed(ImageStatsRows), _fed(ImageStatsAccumulator)
    st_rows, st_metric = metric_state(rows), metric_state(metric)
    assert sorted(st_rows) == sorted(st_metric)
    for k in st_rows:
        assert len(st_rows[k]) == len(st_metric[k]) == 1 and torch.equal(st_rows[k][0], st_metric[k][0]), k
    back_rows, back_metric = ImageStatsRows(**SETTINGS), ImageStatsAccumulator(**SETTINGS)
    load_metric_state(back_rows, st_metric)
    load_metric_state(back_metric, st_rows)
    back_rows._update_count = back_metric._update_count = 1  # noqa: SLF001 - as a resumed audit counts
    _same(back_rows.compute(), metric.compute())
    _same(back_metric.compute(), rows.compute())


def test_merge_state_and_to_metric_match_torchmetrics() -> None:
    (a_imgs, a_idx), (b_imgs, b_idx), _ = _batches()
    merged = {}
    for cls in (ImageStatsRows, ImageStatsAccumulator):
        a, b = cls(**SETTINGS), cls(**SETTINGS)
        a.update(a_imgs, indices=a_idx)
        b.update(b_imgs + [a_imgs[0]], indices=b_idx + [a_idx[0]])  # index 4 on both "ranks"
        a.merge_state(b)
        merged[cls] = a
    _same(merged[ImageStatsRows].compute(), merged[ImageStatsAccumulator].compute())
    as_metric = merged[ImageStatsRows].to_metric()
    assert isinstance(as_metric, ImageStatsAccumulator) and as_metric.update_count == 1
    _same(as_metric.compute(), merged[ImageStatsAccumulator].compute())
    with pytest.raises(ValueError, match="ImageStatsRows"):
        merged[ImageStatsRows].merge_state(RowStore())


def test_the_audit_keeps_its_rows_in_the_row_store_outside_torch_distributed() -> None:
    from dataeval_gpu.audit import DataAudit

    audit = DataAudit()
    assert isinstance(audit.make_accumulator("cpu"), ImageStatsRows)
    with pytest.raises(ValueError, match="cat"):
        RowStore().add_state("s", default=torch.zeros(1), dist_reduce_fx="sum")


def test_the_row_store_pickles_with_its_rows_for_spawned_workers() -> None:
    import pickle

    acc = ImageStatsRows(hashes=True)
    acc.update(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    copy = pickle.loads(pickle.dumps(acc))
    copy.update(torch.full((1, 3, 8, 8), 255, dtype=torch.uint8))
    res = copy.compute()
    assert res["index"].tolist() == [0, 1, 2] and res["mean"].tolist() == [0.0, 0.0, 1.0]
    assert copy.update_count == 2 and acc.update_count == 1
