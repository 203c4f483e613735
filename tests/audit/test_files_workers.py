"""``run_in_workers``: results in order, and at most ``ahead`` items handed out beyond the
result the caller takes next (results the caller has not taken wait in the main process:
with every item submitted at once they piled up for a whole collection when the main
process fed rows more slowly than the workers measured them)."""

from __future__ import annotations

import pytest

from dataeval_gpu.audit import workers  # run_in_workers' module (files re-exports it)
from dataeval_gpu.audit.files import can_fork, items_ahead, run_in_workers

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this platform")


def _square(x: int) -> int:
    return x * x


class _Counting(workers.ProcessPoolExecutor):
    submitted = 0

    def submit(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        type(self).submitted += 1
        return super().submit(*args, **kwargs)


def test_results_in_order_with_a_bounded_number_of_items_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "ProcessPoolExecutor", _Counting)
    _Counting.submitted = 0
    seen = []
    handed_out = []
    for r in run_in_workers(_square, list(range(40)), workers=2, ahead=3):
        seen.append(r)
        handed_out.append(_Counting.submitted)
    assert seen == [x * x for x in range(40)]
    # when the k-th result is taken: the first 3 items, then one more per result taken
    assert handed_out == [min(40, 3 + k + 1) for k in range(40)]


def test_fewer_items_than_ahead_and_none() -> None:
    assert list(run_in_workers(_square, [5, 6], workers=2, ahead=8)) == [25, 36]
    assert list(run_in_workers(_square, [], workers=2)) == []


def test_items_ahead_keeps_every_worker_busy() -> None:
    assert items_ahead(1) == 4 and items_ahead(16) == 64
    assert items_ahead(0) == 4
