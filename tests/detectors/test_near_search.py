"""The near-duplicate hash search's parameter objects (split18): :class:`NearSearch` built once from
the user's options (command line -> ``DataAudit``, ``NearDuplicates``), :class:`HashRows` the rows
passed down; the documented ``hash_groups`` / ``hash_pairs`` give what the two objects give."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.cli_args import audit_kwargs, build_parser
from dataeval_gpu.detectors.hash_pairs import hash_pairs, search_pairs
from dataeval_gpu.detectors.near_duplicates import NearDuplicates, hash_groups, search_groups
from dataeval_gpu.detectors.near_search import HashRows, NearSearch


def _rows() -> HashRows:
    """Four hashes: 0, 1 and 3 within one bit of the next (0 and 3 two bits apart), the last 3 bits
    from all; every one valid, and one central crop, 8 bits or more from every hash but image 3's:
    2, one bit from 0 and from 3."""
    full = torch.tensor([0, 1, 3, 0b111 << 40], dtype=torch.int64)
    crop = torch.tensor([0xFF << 48, 0xFF << 32, 0xFF << 16, 2], dtype=torch.int64)
    ok = torch.ones(4, dtype=torch.bool)
    return HashRows(full, ok, [(crop, ok)])


def test_search_groups_and_pairs_equal_the_documented_functions() -> None:
    rows = _rows()
    # pairs within 1 bit: (0, 1), (1, 2); and image 3's crop (2) against the whole hashes 0 and 3
    want_pairs = [[0, 1], [0, 3], [1, 2], [2, 3]]
    assert search_pairs(rows, NearSearch(1)).tolist() == want_pairs
    assert hash_pairs(rows.full, rows.valid, rows.crops, 1).tolist() == want_pairs
    # the centre rule: every image has degree 2, the lowest index first: 0 takes 1 and 3, 2 is left alone
    assert search_groups(rows, NearSearch(1)) == [[0, 1, 3]]
    assert hash_groups(rows.full, rows.valid, rows.crops, 1) == [[0, 1, 3]]
    assert search_groups(rows, NearSearch(0)) == hash_groups(rows.full, rows.valid, rows.crops, 0) == []


def test_hash_rows_take_and_arrays() -> None:
    rows = _rows()
    part = rows.take(np.array([1, 3]))
    assert part.full.tolist() == [1, 0b111 << 40]
    assert part.crops[0][0].tolist() == [0xFF << 32, 2]
    assert part.chroma is None and part.strip is None
    arrays = rows.arrays()  # full, valid, the crop's two, 8 figures and thumbnails (no strip), hw, colour, cells
    assert len(arrays) == 2 + 2 + 8 + 3
    assert arrays[0] is rows.full and arrays[2] is rows.crops[0][0]
    figs = HashRows(rows.full, rows.valid, opacity=np.ones(4), cells=np.zeros((4, 48), np.uint8)).figures()
    assert figs.thumbs is None and figs.opacity.tolist() == [1.0] * 4 and figs.cells.shape == (4, 48)
    assert HashRows(rows.full, rows.valid, cells=np.zeros((4, 48), np.uint8)).figures(cells=False).cells is None


def test_near_search_is_frozen() -> None:
    search = NearSearch(4, windows=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        search.radius = 2  # type: ignore[misc]
    assert dataclasses.replace(search, progress=False) == NearSearch(4, True, True, False)


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        ([], NearSearch(4, windows=True)),  # the default preset: radius 4, D4 pchash
        (["--radius", "2"], NearSearch(2, windows=True)),
        (["--no-d4"], NearSearch(4, windows=False)),
        (["--hash", "dhash"], NearSearch(4, windows=False)),
        (["--preset", "dataeval-0.65"], NearSearch(0, windows=False)),
    ],
)
def test_the_command_line_options_build_the_audit_settings_once(argv: list[str], want: NearSearch) -> None:
    args = build_parser().parse_args(["scan", "some_folder", *argv])
    audit = DataAudit(**audit_kwargs(args))
    assert audit.near_search == want


def test_near_duplicates_builds_its_settings() -> None:
    assert NearDuplicates(embedding_threshold=None).search == NearSearch(4, windows=True)
    assert NearDuplicates(radius=2, hash="dhash", embedding_threshold=None).search == NearSearch(2)
