"""``--against``'s printout of the index's outliers: where the new images' channel counts differ,
each image's ``zero`` is shown against the bound for its own count, and the images' positions are
looked up once per printout (it rebuilt a lookup of every image for each flagged value: ~140 s of
CPU for 5,000 outliers among 100,000 images)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dataeval_gpu.cli_index import index_lines


class _Index:
    def __init__(self, values: list[int]) -> None:
        self.values, self.calls = values, 0

    def tolist(self) -> list[int]:
        self.calls += 1
        return list(self.values)


def test_zero_bound_per_channel_count_looked_up_once() -> None:
    index = _Index([10, 11, 12])
    outliers = {10: {"zero": 0.5}, 11: {"zero": 0.6}, 12: {"zero": 0.7, "brightness": 0.9}}
    report = SimpleNamespace(
        config={},
        against={
            "index": "idx",
            "outliers": outliers,
            "ranges": {"zero": (0.0, 0.1), "brightness": (0.1, 0.8)},
            "ranges_zero": {1: (0.0, 0.2), "3": (0.0, 0.3)},
        },
        stats={"channels": np.array([1, 3, 4])},
        index=index,
        paths={10: "a.png", 11: "b.png", 12: "c.png"},
        issue_values=lambda flagged: flagged,
        duplicates=None,
        quality=None,
    )
    lines = [line for line in index_lines(report) if line.startswith("  1")]
    assert lines == [
        "  10:a.png: zero=0.5 (> 0.2)",  # one channel: its own bound
        "  11:b.png: zero=0.6 (> 0.3)",  # three: the key as JSON wrote it ("3")
        "  12:c.png: zero=0.7 (> 0.1), brightness=0.9 (> 0.8)",  # four: no bound of its own, the common one
    ]
    assert index.calls == 1
