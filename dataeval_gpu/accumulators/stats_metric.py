""":class:`ImageStatsAccumulator`: the statistics accumulator as a ``torchmetrics.Metric``.

For ``torch.distributed`` (``compute`` gathers every rank's rows), Lightning and any code that
wants a torchmetrics object; one process can use
:class:`~dataeval_gpu.accumulators.stats.ImageStatsRows` (same logic and answers, no
torchmetrics import).  ``from dataeval_gpu.accumulators.stats import ImageStatsAccumulator``
imports this module on first use.
"""

from __future__ import annotations

from torchmetrics import Metric

from .stats import StatsRows
from .sync import RowSync

__all__ = ["ImageStatsAccumulator"]


class ImageStatsAccumulator(RowSync, StatsRows, Metric):
    """Per-image statistics (and hashes, and per-channel statistics) over a stream of batches,
    with torchmetrics' ``.to(device)``, ``reset``, ``merge_state``, ``state_dict`` and
    ``torch.distributed`` sync.  Parameters: :class:`~dataeval_gpu.accumulators.stats.StatsRows`.

    Examples
    --------
    >>> import torch
    >>> acc = ImageStatsAccumulator()
    >>> acc.update(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), indices=torch.tensor([5, 3]))
    >>> acc.update([torch.full((1, 4, 6), 255, dtype=torch.uint8)], indices=torch.tensor([4]))
    >>> res = acc.compute()
    >>> res["index"].tolist(), res["width"].tolist(), res["mean"].tolist()
    ([3, 4, 5], [8, 6, 8], [0.0, 1.0, 0.0])
    """

    higher_is_better = None
    is_differentiable = False
