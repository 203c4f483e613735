"""The text summary (the CLI's printout): the metric table's name column fits the longest
metric name, and a run without hashes says the duplicates were not searched (printout,
summary.json / findings.json, report.html) instead of counting 0 groups."""

from __future__ import annotations

import numpy as np

from dataeval_gpu.audit import AuditReport
from dataeval_gpu.functional import registry


def _report(**kw) -> AuditReport:
    rng = np.random.default_rng(0)
    n = 6
    stats = {k: rng.uniform(0, 1, n) for k in registry.scalar_names()}
    return AuditReport(index=np.arange(n), stats=stats, **kw)


def test_summary_table_columns_line_up_with_long_names() -> None:
    text = _report().summary()
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    table = lines[head:]
    names = [line.split()[0] for line in table[1:]]
    assert "coarse_sharpness" in names and len(names) == len(registry.scalar_names())
    # the header's and every row's columns end at the same places (right-aligned numbers)
    assert len({len(line) for line in table}) == 1, table
    width = len(max(names, key=len))
    for line, name in zip(table[1:], names):
        assert line[:width] == name.ljust(width) and line[width] == " ", line
        assert len(line.split()) == 5, line  # name, min, median, max, flagged: none run together
