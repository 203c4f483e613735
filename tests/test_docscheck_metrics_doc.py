"""docs/metrics.md's ```python block (how a metric is registered) builds the ``Metric`` that is
registered under that name: same fields, and its functions give the registered metric's values."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import torch

from dataeval_gpu.functional import registry
from dataeval_gpu.functional.registry import Metric

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_registration_example_is_the_registered_metric() -> None:
    assert len(BLOCKS) == 1
    captured: list[Metric] = []
    exec(
        compile(BLOCKS[0], "docs/metrics.md:block0", "exec"),
        {"register": captured.append, "Metric": Metric, "torch": torch},
    )
    (doc_metric,) = captured
    real = registry.get(doc_metric.name)
    for field in ("name", "flag", "group", "unit", "dtype", "kind"):
        assert getattr(doc_metric, field) == getattr(real, field), field
    # its two functions give the registered ones' values on the same rows (a stand-in that holds
    # the value-count moments both read)
    rows = SimpleNamespace(moments={"mean": torch.tensor([0.25, 0.5]), "std": torch.tensor([0.1, 0.2])})
    for fn in ("compute", "compute_float"):
        torch.testing.assert_close(getattr(doc_metric, fn)(rows), getattr(real, fn)(rows), rtol=0, atol=0)
