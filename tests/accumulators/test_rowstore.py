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


def test_row_store_keeps_crop_hashes_like_the_metric() -> None:
    # the scan's central-crop hashes: the same rows in the row store, its torchmetrics copy and
    # the hashing engine applied to the crops directly
    from dataeval_gpu.accumulators.hash_rows import centre_crop, hash_rows

    g = torch.Generator().manual_seed(5)
    imgs = torch.randint(0, 256, (3, 3, 64, 80), dtype=torch.uint8, generator=g)
    rows = ImageStatsRows(hashes=True, d4=True, crops=(0.9, 0.8))
    rows.update(imgs, indices=[2, 0, 1])
    got = rows.compute()
    metric = rows.to_metric().compute()
    assert set(got) == set(metric)
    for key in got:
        assert torch.equal(got[key], metric[key]), key
    order = [1, 2, 0]  # dataset index 0, 1, 2 -> batch position
    for j, frac in enumerate((0.9, 0.8)):
        ref = hash_rows([centre_crop(imgs[i], frac) for i in order], rows.near_kind, exact=False)
        assert torch.equal(got["pchash_crops"][:, j], ref["near"])
    assert centre_crop(imgs[0], 0.8).shape[-2:] == (52, 64)  # round(0.1 * 64) = 6, round(0.1 * 80) = 8 off each side


def test_packed_rows_equal_the_rows_computed_batch_by_batch() -> None:
    """Many small updates (the file scan's chunks): the store packs its parts into blocks, and
    compute returns exactly the rows batch_rows gave, in index order, sharing the packed memory."""
    from dataeval_gpu.accumulators.rowstore import PACK_EVERY

    g = torch.Generator().manual_seed(3)
    acc = ImageStatsRows(hashes=True, per_channel=True)
    batches, n = [], 0
    for b in range(PACK_EVERY * 2 + 5):
        imgs = [torch.randint(0, 256, (1 + 2 * (b % 2), 8 + b % 5, 9), dtype=torch.uint8, generator=g) for _ in range(3)]
        rows = acc.batch_rows(imgs)
        batches.append({k: v.clone() for k, v in rows.items()})
        acc.append_rows(torch.arange(n, n + 3), rows)
        n += 3
    assert len(acc.index) < PACK_EVERY  # packed into blocks along the way
    res = acc.compute()
    assert res["index"].tolist() == list(range(n))
    for key in acc.metric_names + acc.hash_keys:
        want = torch.cat([b[key] for b in batches])
        _same({key: res[key]}, {key: want})
        assert len(getattr(acc, key)) == 1 and res[key].data_ptr() == getattr(acc, key)[0].data_ptr(), key
    want_ch = torch.cat([b["ch_mean"] for b in batches])
    assert torch.equal(res["ch_mean"], want_ch)
    assert res["ch_index"].tolist() == [i for i in range(n) for _ in range(1 + 2 * ((i // 3) % 2))]
    # more rows after compute: appended after the packed block, the earlier result unchanged
    acc.update([torch.full((1, 8, 9), 255, dtype=torch.uint8)], indices=[n])
    again = acc.compute()
    assert again["index"].tolist() == list(range(n + 1)) and float(again["mean"][-1]) == 1.0
    assert torch.equal(again["mean"][:n], res["mean"]) and res["index"].numel() == n


def test_rows_fed_out_of_order_are_sorted_and_a_repeat_dropped() -> None:
    acc = ImageStatsRows()
    for v, i in [(10, 5), (20, 2), (30, 5), (40, 0)]:  # index 5 twice: the first row is kept
        acc.update([torch.full((1, 4, 4), v, dtype=torch.uint8)], indices=[i])
    res = acc.compute()
    assert res["index"].tolist() == [0, 2, 5]
    assert [round(x * 255) for x in res["mean"].tolist()] == [40, 20, 10]
    assert [round(x * 255) for x in acc.compute()["mean"].tolist()] == [40, 20, 10]  # cached


class Rows(RowStore):
    """A row store of one state ``x``: its parts appended as given, packed at compute()."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("x", default=[])

    def update(self, x: torch.Tensor) -> None:
        self.x.append(x)

    def compute(self) -> torch.Tensor:
        return self.pack("x")


def test_pack_promotes_as_torch_cat_and_frees_nothing_it_needs() -> None:
    parts = [torch.tensor([[1, 2]], dtype=torch.int32), torch.zeros(0, 2), torch.tensor([[0.5, 1.5], [3.0, 4.0]], dtype=torch.float64)]
    rows = Rows()
    for p in parts:
        rows.update(p)
    got = rows.compute()
    want = torch.cat(parts)
    assert got.dtype == want.dtype == torch.float64 and torch.equal(got, want)
    assert len(rows.x) == 1 and rows.pack("x") is rows.x[0]
    assert Rows().pack("x") is None
    bad = Rows()
    bad.update(torch.zeros(1, 2))
    bad.update(torch.zeros(1, 3))
    with pytest.raises(RuntimeError):
        bad.compute()
    assert len(bad.x) == 2  # a failed pack leaves the parts as they were


def test_rows_of_another_shape_are_not_packed_while_feeding() -> None:
    from dataeval_gpu.accumulators.rowstore import PACK_EVERY

    rows = Rows()
    for k in range(PACK_EVERY - 1):
        rows.update(torch.full((1, 2), float(k)))
    rows.update(torch.zeros(1, 3))  # the update itself stores the rows, as torch.cat would fail later
    assert len(rows.x) == PACK_EVERY and rows.update_count == PACK_EVERY
    with pytest.raises(RuntimeError):
        rows.compute()


def test_reserved_rows_are_allocated_once_and_a_growth_keeps_the_values() -> None:
    """With reserve(n) each state's buffer holds n rows from the first packing on (the result
    is a view of it, no copy); without, the buffer grows and the rows stay the same."""
    from dataeval_gpu.accumulators.rowstore import PACK_EVERY

    g = torch.Generator().manual_seed(1)
    imgs = [torch.randint(0, 256, (1, 6, 7), dtype=torch.uint8, generator=g) for _ in range(2)]
    n_updates = PACK_EVERY * 3
    results = {}
    for reserve in (0, 2 * n_updates):
        acc = ImageStatsRows(metrics=["mean", "width"])
        acc.reserve(reserve)
        storages = set()
        for k in range(n_updates):
            acc.update(imgs, indices=[2 * k, 2 * k + 1])
            if k >= PACK_EVERY - 1 and len(acc.mean) == 1:  # packed
                storages.add(acc.mean[0].untyped_storage().data_ptr())
        res = acc.compute()
        results[reserve] = res
        assert res["index"].tolist() == list(range(2 * n_updates))
        nbytes = res["mean"].untyped_storage().nbytes()
        if reserve:
            assert len(storages) == 1 and nbytes == reserve * 8  # one buffer, allocated once
        else:
            assert len(storages) >= 2 and 2 * n_updates * 8 <= nbytes <= 4 * n_updates * 8
    want = ImageStatsRows(metrics=["mean", "width"])
    want.update(imgs, indices=[0, 1])
    one = want.compute()
    for res in results.values():
        assert torch.equal(res["mean"], one["mean"].repeat(n_updates)) and torch.equal(res["width"], one["width"].repeat(n_updates))
    import pickle

    copy = pickle.loads(pickle.dumps(acc))  # a view pickles its rows only
    assert torch.equal(copy.compute()["mean"], results[2 * n_updates]["mean"])
    assert copy.mean[0].untyped_storage().nbytes() == 2 * n_updates * 8


def test_a_pickle_after_compute_holds_the_rows_not_the_reserved_buffer() -> None:
    """compute() keeps views of the store's buffer; pickling them wrote the whole reserved
    buffer (50 images, reserve 200,000: 122 kB before compute, 455 MB after)."""
    import pickle

    rng = np.random.default_rng(0)
    imgs = [torch.from_numpy(rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)) for _ in range(50)]
    acc = ImageStatsRows(metrics=["mean", "width"])
    acc.reserve(200_000)
    acc.update(imgs, indices=list(range(50)))
    before = len(pickle.dumps(acc))
    res = acc.compute()
    after = len(pickle.dumps(acc))
    assert after < 2 * before, (before, after)
    copy = pickle.loads(pickle.dumps(acc))
    assert torch.equal(copy.compute()["mean"], res["mean"])
    want = np.array([float(np.mean(i.numpy() / 255.0)) for i in imgs])
    np.testing.assert_allclose(res["mean"].numpy(), want, rtol=1e-6)


def test_pack_copies_cpu_rows_without_torch_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows of a part are copied into the buffer as plain memory (numpy), not by
    ``Tensor.copy_`` (which runs copies of over 32,768 elements on torch's threads: 0.15-1.5 ms
    of CPU time each on a busy machine); the packed rows equal ``torch.cat``'s."""
    from dataeval_gpu.accumulators import rowstore

    calls = []
    real = torch.Tensor.copy_
    monkeypatch.setattr(torch.Tensor, "copy_", lambda self, src, *a, **k: calls.append(1) or real(self, src, *a, **k))

    class Rows(RowStore):
        def __init__(self) -> None:
            super().__init__()
            self.add_state("thumbs", default=[], dist_reduce_fx="cat")

        def update(self, x: torch.Tensor) -> None:
            self.thumbs.append(x)

        def compute(self) -> torch.Tensor:
            return self.pack("thumbs")

    g = torch.Generator().manual_seed(0)
    parts = [torch.randint(0, 256, (16, 3, 1024), dtype=torch.uint8, generator=g) for _ in range(rowstore.PACK_EVERY + 5)]
    rows = Rows()
    rows.reserve(16 * len(parts))
    for p in parts:
        rows.update(p)
    assert torch.equal(rows.compute(), torch.cat(parts))
    assert calls == []


def test_copy_rows_falls_back_to_torch_for_other_dtypes() -> None:
    from dataeval_gpu.accumulators.rowstore import copy_rows

    dst = torch.zeros(3, dtype=torch.float64)
    copy_rows(dst[1:], torch.tensor([1, 2], dtype=torch.int32))  # promoted, as torch.cat does
    assert dst.tolist() == [0.0, 1.0, 2.0]
    half = torch.zeros(2, dtype=torch.bfloat16)  # no numpy view
    copy_rows(half, torch.tensor([1.5, -2.0], dtype=torch.bfloat16))
    assert half.tolist() == [1.5, -2.0]
