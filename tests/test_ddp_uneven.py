"""DataAudit across three spawned gloo ranks fed uneven shares: a rank fed nothing, one image
against fifty, a rank whose inputs all failed, ranks of other dtypes / channel counts / sizes,
embeddings with an empty rank, no input anywhere.  Every rank's report must equal the report of
one process fed every input (tests/ddp_ranks.py has the cases).

Before the row gather (dataeval_gpu.accumulators.sync) a rank fed nothing aborted the whole
group in compute(): gloo "Received data size doesn't match expected size" (torchmetrics' gather
sent the empty rank's 1-D float32 placeholder against the others' (n, 1024) uint8 rows).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dataeval_gpu.accumulators.sync import gather_rows
from tests import ddp_ranks
from tests.ddp_ranks import CASES, run_ranks, single_process

WORLD = 3

# one spawned group of three ranks runs every case: ~30 s of CPU time in all (three start-ups),
# paid by the first test
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ranks_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, object]]]:
    """Every case in one spawned group of three gloo ranks (one start-up for all)."""
    return run_ranks([*CASES, "gather_rows", "hash_accumulator"], tmp_path_factory.mktemp("ddp"), world=WORLD)


def _same(got, ref) -> None:
    """Equal reports: indices, statistics (float statistics of float images to 1e-12: the float64
    sums may differ in the last bit with the batch an image was measured in), hashes, linter
    issues, quality findings, duplicate groups, clusters, labels, failures."""
    np.testing.assert_array_equal(got.index, ref.index)
    assert set(got.stats) == set(ref.stats)
    for key, val in ref.stats.items():
        assert got.stats[key].dtype == val.dtype, key
        if val.dtype.kind == "f":
            np.testing.assert_allclose(got.stats[key], val, rtol=1e-12, atol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(got.stats[key], val, err_msg=key)
    assert set(got.channel_stats) == set(ref.channel_stats)
    for key, val in ref.channel_stats.items():
        np.testing.assert_allclose(got.channel_stats[key], val, rtol=1e-12, atol=1e-12, err_msg=key)
    assert got.hashes == ref.hashes
    assert got.issues.keys() == ref.issues.keys()
    for i, found in ref.issues.items():
        assert got.issues[i].keys() == found.keys()
        np.testing.assert_allclose(list(got.issues[i].values()), list(found.values()), rtol=1e-9)
    assert got.duplicates == ref.duplicates
    assert got.quality.get("why", {}) == ref.quality.get("why", {})
    for part in ("scores", "flags"):
        ref_part, got_part = ref.quality.get(part, {}), got.quality.get(part, {})
        assert got_part.keys() == ref_part.keys()
        for issue, arr in ref_part.items():
            np.testing.assert_allclose(got_part[issue], arr, rtol=1e-9, err_msg=issue)
    assert got.clusters.keys() == ref.clusters.keys()
    assert got.failed == ref.failed
    assert got.labels == ref.labels
    assert got.total == ref.total


def _check(ranks_run, case: str):
    ref = single_process(case)
    got = ranks_run[case]
    for rank, (status, report, *_) in enumerate(got):
        assert status == "ok", f"rank {rank}: {report}"
        _same(report, ref)
    n = len(CASES[case][0]())
    assert set(ref.index.tolist()) | set(ref.failed) == set(range(n))  # every index once
    return ref


def test_a_rank_fed_nothing(ranks_run) -> None:
    """The known defect: rank 0 fed six images, ranks 1 and 2 none."""
    ref = _check(ranks_run, "empty_rank")
    assert ref.index.tolist() == list(range(6))


def test_an_empty_rank_between_two(ranks_run) -> None:
    """Duplicates whose members sit on rank 0 and rank 2, rank 1 empty."""
    ref = _check(ranks_run, "empty_middle")
    assert [0, 9] in ref.duplicates["exact"]  # the planted copy (rank 0) of image 0 (rank 0 / 2 split)
    assert any({1, 10} <= set(g) for g in ref.duplicates["near"])


def test_one_image_against_fifty(ranks_run) -> None:
    ref = _check(ranks_run, "one_vs_fifty")
    assert len(ref.index) == 51 and [0, 47] in ref.duplicates["exact"]  # rank 0's image, its copy on rank 1
    assert ref.quality["why"]  # the dark / flat images: quality findings made from all ranks' rows


def test_a_rank_whose_inputs_all_failed(ranks_run) -> None:
    """Every failure of rank 1 in every rank's report, with its index and reason."""
    ref = _check(ranks_run, "failed_rank")
    assert sorted(ref.failed) == list(range(5, 11))
    assert "truncated PNG" in ref.failed[5] and "truncated PNG" in ref.failed[8]
    for _status, report, *_ in ranks_run["failed_rank"]:
        assert report.failed == ref.failed and report.index.tolist() == [0, 1, 2, 3, 4]


def test_every_input_failed_on_every_rank(ranks_run) -> None:
    ref = _check(ranks_run, "all_failed")
    assert len(ref.index) == 0 and sorted(ref.failed) == [0, 1, 2, 3, 4]


def test_ranks_of_other_dtypes_channels_and_sizes(ranks_run) -> None:
    ref = _check(ranks_run, "mixed_kinds")
    assert len(ref.index) == 12 and set(ref.stats["channels"].tolist()) == {1, 3, 4}


def test_padded_shards_find_what_one_process_finds(ranks_run) -> None:
    """DistributedSampler-like strided shards (two indices fed twice), DataEval 0.65's findings."""
    ref = _check(ranks_run, "compat_findings")
    assert ref.issues and ref.duplicates["exact"] == [[0, 12]]


def test_embeddings_with_empty_ranks(ranks_run) -> None:
    ref = _check(ranks_run, "embeddings_empty_rank")
    assert ref.clusters and "embedding" in ref.duplicates
    for _status, report, *_ in ranks_run["embeddings_empty_rank"]:
        assert report.clusters == ref.clusters
    # rank 0 read the rows again alone (measured_rows): the embeddings gathered at compute()
    _, _, again = ranks_run["embeddings_empty_rank"][0]
    ref_idx, _, ref_emb = ddp_ranks.audit_of("embeddings_empty_rank").measured_rows()
    assert again["index"] == ref_idx.tolist() == list(range(12))
    np.testing.assert_allclose(again["embeddings"], ref_emb, rtol=1e-6, atol=1e-6)


def test_no_input_on_any_rank(ranks_run) -> None:
    ref = _check(ranks_run, "nothing_anywhere")
    assert ref.total == 0


def test_gather_rows_outside_a_group() -> None:
    t = torch.arange(6, dtype=torch.uint8).reshape(3, 2)
    (same,) = gather_rows(t)
    assert same is t


def test_gather_rows_across_ranks(ranks_run) -> None:
    """Rows of each rank in its own dtype and an empty rank: every rank gets every rank's rows in
    the promoted dtype, the empty one shaped (0, 3); rows of other shapes: the same error everywhere."""
    want = [
        ((2, 3), "torch.int64", [[1, 2, 3], [4, 5, 6]]),
        ((0, 3), "torch.int64", []),
        ((1, 3), "torch.int64", [[-7, 8, 9]]),
    ]
    for rank, (status, got) in enumerate(ranks_run["gather_rows"]):
        assert status == "ok", f"rank {rank}: {got}"
        assert got["parts"] == want
        assert (
            got["refused"]
            == "the ranks hold rows of different shapes for one state (rank 0: 2 x (3,), rank 1: 1 x (4,))"
        )


def test_hash_accumulator_with_empty_ranks(ranks_run) -> None:
    """HashAccumulator.compute() gathers: rank 0's rows on every rank, and no rows anywhere gives
    the empty int64 result of one process (not the float32 placeholder)."""
    from dataeval_gpu.accumulators.hashes import HashAccumulator

    one = HashAccumulator()
    one.update([torch.from_numpy(im) for im in ddp_ranks.rgb_images(8, 3)], indices=[2, 0, 1])
    want = {k: (str(v.dtype), v.tolist()) for k, v in one.compute().items()}
    with pytest.warns(UserWarning, match="called before the ``update`` method"):  # torchmetrics' own
        empty = {k: (str(v.dtype), v.tolist()) for k, v in HashAccumulator().compute().items()}
    assert want["index"] == ("torch.int64", [0, 1, 2]) and empty["index"] == ("torch.int64", [])
    for rank, (status, got) in enumerate(ranks_run["hash_accumulator"]):
        assert status == "ok", f"rank {rank}: {got}"
        assert got == {"some": want, "none": empty}
