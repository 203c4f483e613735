"""The detectors' ``compute(progress=...)`` reaches the near pairs' bar (``search_groups``' settings):
``dataeval-gpu scan --no-progress`` showed the 'near pairs' bar on a terminal."""

import numpy as np
import torch

from dataeval_gpu.audit import DataAudit
from dataeval_gpu.detectors import near_duplicates


def _images():
    rng = np.random.default_rng(0)
    base = [torch.from_numpy(rng.integers(0, 256, (3, 48, 64), dtype=np.uint8)) for _ in range(4)]
    return base + [base[0].clone()]  # an exact copy: the near step runs on real pairs


def _progress_seen(monkeypatch, progress):
    seen = []
    real = near_duplicates.search_groups

    def spy(rows, search, *args, **kwargs):
        seen.append(search.progress)
        return real(rows, search, *args, **kwargs)

    monkeypatch.setattr(near_duplicates, "search_groups", spy)
    audit = DataAudit()
    audit.update(_images())
    report = audit.compute(progress=progress)
    return seen, report


def test_compute_without_progress_turns_the_pair_bar_off(monkeypatch):
    seen, report = _progress_seen(monkeypatch, False)
    assert seen == [False]
    assert report.duplicates["exact"] == [[0, 4]]


def test_compute_with_progress_passes_it_on(monkeypatch):
    seen, _ = _progress_seen(monkeypatch, True)
    assert seen == [True]
